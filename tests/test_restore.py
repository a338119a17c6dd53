"""Restoration models through the registry, weights, zoo downloads, tiling and the CLI."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from uirbench.errors import ChecksumError, UirbenchError
from uirbench.models.registry import build_restorer
from uirbench.restore import (
    build_daclip_context,
    build_network,
    fetch_zoo_weights,
    load_model_config,
    tiled,
)

TINY = {
    "ours": "irsde_daclip_tiny",
    "irsde": "irsde_tiny",
    "nafnet": "nafnet_tiny",
    "nafnet-daclip": "nafnet_daclip_tiny",
}
# A purely local NAFNet (the channel attention's global pooling is switched off below), so tiled
# and untiled outputs must agree exactly away from tile borders.
LOCAL_NAFNET = {
    "arch": "nafnet",
    "net": {"width": 8, "middle_blk_num": 1, "enc_blk_nums": [1, 1], "dec_blk_nums": [1, 1]},
}


@pytest.fixture(scope="module")
def daclip():
    return build_daclip_context({"config": "daclip_tiny", "seed": 0})


def _fast(cfg_name: str, steps: int = 2) -> dict:
    cfg = load_model_config(cfg_name)
    if cfg["arch"] == "irsde":
        cfg = {**cfg, "sde": {**cfg["sde"], "T": steps}}
    return cfg


@pytest.mark.parametrize("name", list(TINY))
def test_registered_models_restore(name: str, daclip) -> None:
    r = build_restorer(name, config=_fast(TINY[name]), daclip=daclip, random_init=True)
    x = torch.rand(2, 3, 37, 50)
    y = r.restore(x)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    if name in ("ours", "nafnet-daclip"):
        assert r.uses_daclip
        assert r.last_degradation[0][0] in {
            "motion-blurry", "hazy", "jpeg-compressed", "low-light", "noisy", "raindrop",
            "rainy", "shadowed", "snowy", "uncompleted",
        }  # fmt: skip
    else:
        assert not r.uses_daclip


def test_daclip_model_without_daclip_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "official.pth"  # network weights only: nothing says which DA-CLIP
    torch.save(build_network(load_model_config("irsde_daclip_tiny")).state_dict(), path)
    with pytest.raises(UirbenchError, match="needs DA-CLIP"):
        build_restorer("ours", weights=str(path), config="irsde_daclip_tiny")


@pytest.mark.parametrize("name", ["ours", "irsde", "nafnet", "nafnet-daclip"])
def test_no_weights_is_refused_unless_random_init(name: str) -> None:
    with pytest.raises(UirbenchError, match=r"has no weights: pass --weights .* --random-init"):
        build_restorer(name, config=TINY[name])
    r = build_restorer(name, config=TINY[name], random_init=True)
    assert r.random_init and (r.uses_daclip == (name in ("ours", "nafnet-daclip")))
    assert not build_restorer("identity").random_init


def test_a_daclip_spec_without_weights_is_refused_unless_random_init(tmp_path: Path) -> None:
    path = tmp_path / "official.pth"
    torch.save(build_network(load_model_config("irsde_daclip_tiny")).state_dict(), path)
    spec = {"config": "daclip_tiny", "weights": None}
    with pytest.raises(UirbenchError, match=r"DA-CLIP spec has no weights: pass --daclip"):
        build_restorer("ours", weights=str(path), config="irsde_daclip_tiny", daclip=spec)


def test_official_pth_with_module_prefix_loads_strictly(tmp_path: Path) -> None:
    net = build_network(load_model_config("irsde_tiny"))
    path = tmp_path / "official.pth"
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, path)
    r = build_restorer("irsde", weights=str(path), config="irsde_tiny")
    for k, v in net.state_dict().items():
        assert torch.equal(r.model.state_dict()[k], v)
    with pytest.raises(UirbenchError, match="do not fit the model config"):
        build_restorer("irsde", weights=str(path), config=LOCAL_NAFNET)


def test_irsde_sampling_is_seeded(daclip) -> None:
    cfg = _fast("irsde_daclip_tiny", steps=3)
    torch.manual_seed(0)
    net = build_network(cfg)
    x = torch.rand(1, 3, 32, 32)
    outs = []
    for seed in (1, 1, 2):
        r = build_restorer("ours", config=cfg, daclip=daclip, seed=seed, random_init=True)
        r.model.load_state_dict(net.state_dict())
        outs.append(r.restore(x))
    assert torch.equal(outs[0], outs[1])
    assert not torch.equal(outs[0], outs[2])


def _u8(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


def test_ours_output_of_an_image_does_not_depend_on_its_batch(daclip) -> None:
    """Image X restores to the same uint8 (and float) output alone, in a batch of 3 at any
    position, beside other neighbours, and as a batch of 1 vs N; before per-image noise, the
    batch's one generator gave X different noise in each case."""
    cfg = _fast("irsde_daclip_tiny", steps=2)
    torch.manual_seed(0)
    r = build_restorer("ours", config=cfg, daclip=daclip, random_init=True, seed=3)
    g = torch.Generator().manual_seed(0)
    imgs = {k: torch.rand(1, 3, 16, 24, generator=g) for k in "xabcd"}

    def run(keys: str, restorer=r) -> torch.Tensor:
        return restorer.restore(torch.cat([imgs[k] for k in keys]), keys=list(keys))

    alone = run("x")
    for keys, pos in (("axb", 1), ("cdx", 2)):
        out = run(keys)[pos : pos + 1]
        assert torch.equal(out, alone), keys  # bit-identical floats, so identical uint8
    # without keys, the noise is keyed by the image's pixels: still batch-independent
    solo = r.restore(imgs["x"])
    assert torch.equal(r.restore(torch.cat([imgs["a"], imgs["x"]]))[1:], solo)
    assert not torch.equal(
        run("x", build_restorer("ours", config=cfg, daclip=daclip, random_init=True, seed=4)), alone
    )

    # The whole batch through the network at once (the GPU default): CPU kernels chosen per
    # batch size round differently (~1e-7 per output), so equality is up to that, not bitwise.
    rb = build_restorer("ours", config=cfg, daclip=daclip, random_init=True, seed=3, net_batch=3)
    rb.model.load_state_dict(r.model.state_dict())
    diff = (run("axb", rb)[1:2] - alone).abs().max().item()
    assert diff < 1e-4, diff


def test_sampling_steps_option(daclip) -> None:
    """--steps S: S network calls at the official sample_T times; the default is the config's T."""
    cfg = _fast("irsde_daclip_tiny", steps=6)
    r = build_restorer("ours", config=cfg, daclip=daclip, random_init=True)
    assert r.steps == 6 and r.info["sample_steps"] == 6
    times: list[float] = []
    forward = r.model.forward
    r.model.forward = lambda x, mu, t, **kw: (times.append(t), forward(x, mu, t, **kw))[1]
    steps: list[tuple[int, int, int]] = []
    r.on_step = lambda n, done, total: steps.append((n, done, total))
    short = build_restorer("ours", config=cfg, daclip=daclip, random_init=True, steps=3)
    short.model = r.model
    short.on_step = r.on_step
    short.restore(torch.rand(2, 3, 16, 16))
    assert times == [6.0, 6.0, 4.0, 4.0, 2.0, 2.0]  # one image per call on CPU, t * 6 / 3
    assert steps == [(2, 1, 3), (2, 2, 3), (2, 3, 3)]
    with_cfg = build_restorer(
        "ours",
        config={**cfg, "sde": {**cfg["sde"], "sample_steps": 2}},
        daclip=daclip,
        random_init=True,
    )
    assert with_cfg.steps == 2


def test_tiled_equals_whole_for_a_local_function() -> None:
    x = torch.rand(1, 2, 70, 93)
    conv = torch.nn.Conv2d(2, 3, 5, padding=2)
    with torch.no_grad():
        whole = conv(x)
        tiles = tiled(conv, [x], tile=32, overlap=16)
    # a 5x5 conv sees 2 px past a tile edge; the ramps give edge pixels some weight,
    # so compare where every tile covering a pixel is exact, i.e. away from tile edges.
    mask = _away_from_edges(70, 93, tile=32, overlap=16, band=2)
    assert mask.float().mean() > 0.5
    torch.testing.assert_close(tiles[..., mask], whole[..., mask], rtol=0, atol=1e-5)


def _away_from_edges(h: int, w: int, tile: int, overlap: int, band: int) -> torch.Tensor:
    from uirbench.restore import _starts

    keep = torch.ones(h, w, dtype=torch.bool)
    for starts, size, dim in ((_starts(h, tile, overlap), h, 0), (_starts(w, tile, overlap), w, 1)):
        for s in starts:
            for edge in (s, s + tile):
                if 0 < edge < size:
                    lo, hi = max(0, edge - band), min(size, edge + band)
                    if dim == 0:
                        keep[lo:hi] = False
                    else:
                        keep[:, lo:hi] = False
    return keep


def _local_nafnet_restorer(**kw):
    torch.manual_seed(0)
    r = build_restorer("nafnet", config=LOCAL_NAFNET, random_init=True, **kw)
    with torch.no_grad():
        for name, p in r.model.named_parameters():
            if name.endswith(("beta", "gamma")):
                p.fill_(0.5)
            elif ".sca.1.weight" in name:
                p.zero_()  # channel attention = its bias: no global pooling left
    return r


@pytest.mark.slow
def test_restore_cli_2000x1500_tiled_matches_untiled(tmp_path: Path) -> None:
    """`uirbench restore` on a 2000x1500 image tiles it (512 px tiles, 64 px overlap); the
    result equals the untiled one except within 32 px of a tile edge (the receptive field of
    this network is ~16 px): there, float outputs agree to ~1e-7, so the PNGs differ by at most
    one grey level where that flips a rounding (tolerance: <= 1 level on < 0.1% of pixels)."""
    from typer.testing import CliRunner

    from uirbench.cli.app import app
    from uirbench.io import read_image, write_png
    from uirbench.restore import to_tensor

    g = torch.Generator().manual_seed(1)
    img = torch.nn.functional.interpolate(torch.rand(1, 3, 30, 40, generator=g), (1500, 2000))
    img = (img * 255).round().byte()[0].permute(1, 2, 0).numpy()
    src = tmp_path / "in" / "big.png"
    write_png(src, img)

    r = _local_nafnet_restorer()
    weights = tmp_path / "w.pth"
    torch.save(r.model.state_dict(), weights)
    cfg_path = tmp_path / "local.json"
    import json

    cfg_path.write_text(json.dumps(LOCAL_NAFNET))
    res = CliRunner().invoke(
        app,
        ["restore", str(src), "--model", "nafnet", "--weights", str(weights),
         "--config", str(cfg_path), "--out", str(tmp_path / "out"), "--tile", "512",
         "--overlap", "64"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "tiles" in res.output
    tiled_png = read_image(tmp_path / "out" / "big.png")
    assert tiled_png.shape == (1500, 2000, 3)

    r.tile = 0
    whole = r.restore(to_tensor(img))
    whole_png = (whole[0].permute(1, 2, 0) * 255).round().byte().numpy()
    mask = _away_from_edges(1500, 2000, tile=512, overlap=64, band=32).numpy()
    assert mask.mean() > 0.5
    diff = np.abs(tiled_png.astype(int) - whole_png.astype(int))
    assert diff[mask].max() <= 1
    assert (diff[mask] > 0).mean() < 1e-3
    assert diff.max() > 0  # the network does see the tile edges: the test has teeth


def test_irsde_tiling_runs_per_step_and_stays_close(daclip) -> None:
    """IR-SDE tiles the network at every step with whole-image noise: same seed, small image,
    tiled vs untiled differ only through the network's global operations (linear attention)."""
    cfg = _fast("irsde_tiny", steps=2)
    torch.manual_seed(0)
    r = build_restorer("irsde", config=cfg, seed=3, tile=0, random_init=True)
    x = torch.rand(1, 3, 80, 96)
    whole = r.restore(x)
    r.tile, r.overlap = 48, 16
    t = r.restore(x)
    assert t.shape == whole.shape
    assert (t - whole).abs().mean() < 0.05


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_zoo_download_verifies_and_pins(tmp_path: Path, monkeypatch) -> None:
    served = tmp_path / "srv"
    served.mkdir()
    (served / "w.pth").write_bytes(b"weights-bytes")
    handler = functools.partial(_Quiet, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/w.pth"
    home = tmp_path / "home"
    (home / "zoo").mkdir(parents=True)
    monkeypatch.setenv("UIRBENCH_HOME", str(home))
    import hashlib

    good = hashlib.sha256(b"weights-bytes").hexdigest()
    try:
        for name, sha in (("unpinned", None), ("pinned", good), ("wrong", "'" + "0" * 64 + "'")):
            card = f"name: {name}\nweights:\n  - {{role: model, file: w.pth, url: {url}, "
            card += f"sha256: {sha or 'null'}}}\n"
            (home / "zoo" / f"{name}.yaml").write_text(card)
        files = fetch_zoo_weights("unpinned", cache_dir=tmp_path / "c1")
        assert files["model"].read_bytes() == b"weights-bytes"
        assert fetch_zoo_weights("pinned", cache_dir=tmp_path / "c1")["model"] == files["model"]
        with pytest.raises(ChecksumError, match="differs from the pinned"):
            fetch_zoo_weights("wrong", cache_dir=tmp_path / "c2")
        (home / "zoo" / "none.yaml").write_text("name: none\nrecipe: x.yaml\nweights: []\n")
        (home / "zoo" / "bad.yaml").write_text(
            f"name: bad\nweights:\n  - {{file: w.pth, url: {url}, sha256: {'0' * 64}}}\n"
        )
        with pytest.raises(UirbenchError, match="quoted 64-character"):
            fetch_zoo_weights("bad", cache_dir=tmp_path / "c1")
        with pytest.raises(UirbenchError, match="no released weights"):
            fetch_zoo_weights("none")
    finally:
        server.shutdown()


def test_zoo_cards_are_complete() -> None:
    import yaml

    from uirbench.paths import recipes_dir, zoo_dir

    for name in TINY:
        card = yaml.safe_load((zoo_dir() / f"{name}.yaml").read_text())
        assert card["name"] == name
        load_model_config(card["architecture"]["config"])
        assert (recipes_dir() / card["recipe"]).exists()
        rep = card["reported"]
        assert len(rep["psnr"]) == 10
        # the paper's averages are its own (Ours: mean of the printed row is 26.997, not 27.01)
        assert abs(sum(rep["psnr"]) / 10 - rep["average"]["psnr"]) < 0.05
    ours = yaml.safe_load((zoo_dir() / "ours.yaml").read_text())
    files = {w["file"] for w in ours["weights"]}
    assert files == {"universal-ir.pth", "daclip_ViT-B-32.pt"}


def test_restore_cli_without_weights_exits_with_one_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from uirbench.io import write_png

    src = tmp_path / "a.png"
    write_png(src, np.zeros((20, 30, 3), np.uint8))
    env = {**os.environ, "COLUMNS": "300"}
    cmd = [sys.executable, "-m", "uirbench", "restore", str(src), "--model", "nafnet"]
    res = subprocess.run(
        [*cmd, "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env
    )
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert res.returncode != 0 and len(lines) == 1, res.stderr
    assert "--weights" in lines[0] and "--random-init" in lines[0]
    assert not (tmp_path / "out").exists()
    res = subprocess.run(
        [*cmd, "--config", "nafnet_tiny", "--random-init", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "out" / "a.png").exists()


def test_autocast_runs_only_the_network_in_low_precision(daclip) -> None:
    """autocast="bf16": the UNet under torch.autocast, the SDE state and noise in fp32 (so the
    noise stream, drawn in fp32, is the fp32 run's); outputs stay float32 and near fp32's."""
    cfg = _fast("irsde_daclip_tiny", steps=2)
    torch.manual_seed(0)
    r32 = build_restorer("ours", config=cfg, daclip=daclip, random_init=True)
    r16 = build_restorer("ours", config=cfg, daclip=daclip, random_init=True, autocast="bf16")
    r16.model.load_state_dict(r32.model.state_dict())
    x = torch.rand(1, 3, 16, 16)
    a, b = r32.restore(x, keys=["k"]), r16.restore(x, keys=["k"])
    assert b.dtype == torch.float32 and not torch.equal(a, b)
    assert (a - b).abs().max() < 0.1
    with pytest.raises(UirbenchError, match="bf16 or fp16"):
        build_restorer("ours", config=cfg, daclip=daclip, random_init=True, autocast="fp8")
