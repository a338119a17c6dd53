"""LPIPS and FID through pyiqa: clear errors without weights; the real code path with tiny
random weights placed in a temporary $TORCH_HOME (such scores are never results)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from uirbench.errors import UirbenchError

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pyiqa") is None, reason="pyiqa not installed (extra: eval)"
)

_here = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("_evalfix", _here / "test_evaluate_outputs.py")
_fix = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fix)
make_root, copy_lq_as_outputs = _fix.make_root, _fix.copy_lq_as_outputs


def tiny(sd: dict[str, torch.Tensor], seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights stored in a few KB: each tensor is a strided view of a short random base."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in sd.items():
        if not v.is_floating_point():
            out[k] = v.clone()
        elif k.endswith("running_var"):
            out[k] = torch.ones_like(v)
        elif k.endswith(("running_mean", "bn.bias")) or v.dim() == 1:
            out[k] = torch.zeros_like(v) if not k.endswith("bn.weight") else torch.ones_like(v)
        else:
            # He-scaled so that activations neither vanish nor explode through deep nets.
            std = (1.0 / (v[0].numel() or 1)) ** 0.5
            base = torch.randn(sum(s - 1 for s in v.shape) + 1, generator=g) * std
            out[k] = base.as_strided(v.shape, (1,) * v.dim())
    return out


@pytest.fixture()
def torch_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


def place_lpips_weights(home: Path) -> None:
    from torchvision.models import alexnet

    (home / "hub" / "checkpoints").mkdir(parents=True)
    (home / "hub" / "pyiqa").mkdir(parents=True)
    torch.save(tiny(alexnet().state_dict()), home / "hub/checkpoints/alexnet-owt-7be5be79.pth")
    sd = {
        f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1) * 0.1
        for i, c in enumerate([64, 192, 384, 256, 256])
    }
    torch.save(sd, home / "hub/pyiqa/LPIPS_v0.1_alex-df73285e.pth")


def place_fid_weights(home: Path, monkeypatch) -> None:
    from pyiqa.archs import inception

    monkeypatch.setattr(inception, "load_pretrained_network", lambda *a, **k: None)
    sd = tiny(inception.fid_inception_v3().state_dict(), seed=1)
    monkeypatch.undo()  # restores TORCH_HOME too: set it again
    monkeypatch.setenv("TORCH_HOME", str(home))
    (home / "hub" / "pyiqa").mkdir(parents=True, exist_ok=True)
    torch.save(sd, home / "hub/pyiqa/pt_inception-2015-12-05-6726825d.pth")


def test_missing_lpips_weights_name_file_and_cache_path(torch_home):
    from uirbench.evaluate.metrics.pyiqa_metric import PyiqaFullReference
    from uirbench.evaluate.profiles import get_profile

    with pytest.raises(UirbenchError) as e:
        PyiqaFullReference("lpips", get_profile("daclip").pyiqa["lpips"])
    msg = str(e.value)
    assert "LPIPS_v0.1_alex-df73285e.pth" in msg
    assert str(torch_home / "hub" / "pyiqa") in msg and "https://" in msg


def test_missing_fid_weights_stop_the_run_before_scoring(torch_home, tmp_path):
    from uirbench.evaluate import run

    root = make_root(tmp_path / "root")
    with pytest.raises(UirbenchError, match=r"pt_inception-2015-12-05-6726825d\.pth"):
        run(root=root, model="identity", out=tmp_path / "r", metrics="psnr,fid")
    assert not (tmp_path / "r").exists()


def test_lpips_real_code_path_with_random_weights(torch_home, tmp_path):
    import pyiqa

    from uirbench.evaluate import run
    from uirbench.io import read_image

    place_lpips_weights(torch_home)
    root = make_root(tmp_path / "root")
    outs = copy_lq_as_outputs(root, tmp_path / "outs")
    res = run(
        root=root, outputs=outs, out=tmp_path / "r", metrics="psnr,lpips", workers=0, batch_size=2
    )
    opts = res["metric_options"]["lpips"]
    assert opts["net"] == "alex" and opts["version"] == "0.1"
    # Same weights, same images, called directly: the runner's batching changes nothing.
    direct = pyiqa.create_metric(
        "lpips",
        as_loss=False,
        device="cpu",
        net="alex",
        version="0.1",
        pretrained_model_path=str(torch_home / "hub/pyiqa/LPIPS_v0.1_alex-df73285e.pth"),
    )
    per_image = _fix.pd.read_csv(tmp_path / "r" / "per_image.csv")
    for r in per_image.itertuples():
        a = read_image(outs / r.task / f"{r.stem}.png")
        b = read_image(
            root / f"val/{'noisy' if r.task == 'noisy' else 'jpeg-compressed'}/GT/{r.stem}.png"
        )
        t = [torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255 for x in (a, b)]
        assert r.lpips == pytest.approx(float(direct(t[0], t[1])), rel=1e-5, abs=1e-7)
        assert r.lpips > 0
        # a distance, whatever the weights: symmetric (|a - b| of unit-normalised features)
        assert float(direct(t[1], t[0])) == pytest.approx(float(direct(t[0], t[1])), rel=1e-5)
    # ...and zero between an image and itself: outputs that are the GT score exactly 0 through
    # the runner (a pairing or colour-order slip would make them positive)
    same = tmp_path / "gt-as-outputs"
    for r in _fix.pd.read_parquet(root / "index.parquet").itertuples():
        (same / r.task).mkdir(parents=True, exist_ok=True)
        shutil.copy(root / r.gt_path, same / r.task / f"{r.stem}.png")
    run(root=root, outputs=same, out=tmp_path / "r0", metrics="lpips", workers=0, batch_size=2)
    zero = _fix.pd.read_csv(tmp_path / "r0" / "per_image.csv")["lpips"]
    assert (zero.abs() < 1e-7).all(), zero.tolist()  # fp32 |f - f| of identical inputs: 0


def test_fid_real_code_path_with_random_weights(torch_home, tmp_path, monkeypatch):
    from uirbench.evaluate import run
    from uirbench.evaluate.profiles import get_profile

    place_fid_weights(torch_home, monkeypatch)
    root = make_root(tmp_path / "root")
    outs = copy_lq_as_outputs(root, tmp_path / "outs")
    # The full Inception is loaded (strictly) but features are taken after its first block
    # (64-d) to keep this CPU test short; the 2048-d path differs only in depth.
    base = get_profile("daclip")
    prof = type(base)(**{**base.__dict__, "pyiqa": {"fid": {**base.pyiqa["fid"], "dims": 64}}})
    cache = tmp_path / "features"
    kw = {"metrics": "fid", "workers": 0, "profile": prof, "feature_cache": cache}
    lq = run(root=root, outputs=outs, out=tmp_path / "lq", **kw)
    assert lq["fid_feature_cache"]["misses"] == 5 and lq["fid_feature_cache"]["hits"] == 0
    for task in ("noisy", "jpeg"):  # outputs identical to GT: FID 0
        for stem in {"noisy": ["no00", "no01", "no02"], "jpeg": ["jp00", "jp01"]}[task]:
            folder = "noisy" if task == "noisy" else "jpeg-compressed"
            shutil.copy(root / f"val/{folder}/GT/{stem}.png", outs / task / f"{stem}.png")
    gt = run(root=root, outputs=outs, out=tmp_path / "gt", **kw)
    assert gt["fid_feature_cache"]["hits"] == 5  # GT features were not computed again
    for task in ("noisy", "jpeg"):
        assert lq["per_task"][task]["fid"] > 0
        assert abs(gt["per_task"][task]["fid"]) < 1e-6 * lq["per_task"][task]["fid"]
    assert lq["fid_samples"]["noisy"]["n"] == 3
    assert any("3 samples < 64" in w for w in lq["warnings"])
    j = json.loads((tmp_path / "lq" / "results.json").read_text())
    assert j["metric_options"]["fid"]["mode"] == "legacy_pytorch"
    assert j["per_task"]["Average (micro)"]["fid"] is None  # FID has no pooled mean
    assert np.isfinite(j["per_task"]["Average (macro)"]["fid"])


def test_frechet_distance_equals_pytorch_fid_formula():
    from pyiqa.archs.fid_arch import frechet_distance as pyiqa_fd

    from uirbench.evaluate.metrics.fid import frechet_distance

    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 64)) @ rng.normal(size=(64, 64))
    b = rng.normal(0.3, 1.2, size=(250, 64)) @ rng.normal(size=(64, 64))
    want = pyiqa_fd(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert frechet_distance(a, b) == pytest.approx(want, rel=1e-7)
    # Fewer samples than dimensions (most tasks here): finite, symmetric, zero on itself.
    c, d = rng.normal(size=(15, 2048)), rng.normal(size=(15, 2048)) + 0.1
    assert frechet_distance(c, c) == pytest.approx(0, abs=1e-8)
    assert frechet_distance(c, d) == pytest.approx(frechet_distance(d, c), rel=1e-10)
    assert np.isnan(frechet_distance(c[:1], d))


def test_ssim_pyiqa_is_available_and_clamps(tmp_path):
    from skimage import data as skdata

    from uirbench.evaluate import run
    from uirbench.evaluate.metrics.pyiqa_metric import PyiqaFullReference
    from uirbench.evaluate.profiles import get_profile
    from uirbench.evaluate.runner import score_pair

    root = make_root(tmp_path / "root")
    outs = copy_lq_as_outputs(root, tmp_path / "outs")
    res = run(root=root, outputs=outs, out=tmp_path / "r", metrics="ssim,ssim-pyiqa", workers=0)
    assert res["metric_options"]["ssim-pyiqa"]["crop_border"] == 4
    df = _fix.pd.read_csv(tmp_path / "r" / "per_image.csv")
    # Mild noise: no negative contrast-structure values, so pyiqa agrees with the MATLAB SSIM.
    assert np.allclose(df["ssim-pyiqa"], df["ssim"], atol=1e-4)
    # sigma=50 noise on a smooth photo: pyiqa clamps the negative values and scores higher.
    gt = np.ascontiguousarray(skdata.astronaut()[:96, 300:396])
    rng = np.random.default_rng(0)
    lq = np.clip(np.round(gt + rng.normal(0, 50, gt.shape)), 0, 255).astype(np.uint8)
    prof = get_profile("daclip")
    ours = score_pair(lq, gt, prof, ("ssim",))["ssim"]
    theirs = PyiqaFullReference("ssim-pyiqa", prof.pyiqa["ssim-pyiqa"])([lq], [gt])[0]
    assert theirs > ours + 1e-4
