"""End-to-end parity with the official DA-CLIP test pipeline (tests/fixtures/official_pipeline,
made by its make.py from the official code on four real CBSD68 crops, portrait and landscape,
sizes not multiples of 8 or 16): same DA-CLIP embeddings, same uint8 outputs of
``evaluate --model ours`` with the same weights and SDE noise, same per-image PSNR/SSIM, and
``classify`` logits equal to the official ``da-clip/src/evaluate.py``'s. Posterior sampling
with T 20 (the paper: 100). Caveat: the random UNet saturates 99.8% of the output values, so the
uint8 comparison mostly checks the saturation pattern (see docs/models.md)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("open_clip", reason="DA-CLIP needs the optional [train] extra")

from uirbench.data.index import to_table, write_index
from uirbench.data.layout import pair_relpaths, sample_key
from uirbench.data.shards import write_shards
from uirbench.evaluate import run
from uirbench.io import read_image, sha256_file, write_png
from uirbench.models.daclip import build_daclip, export_official
from uirbench.models.daclip_context import build_daclip_context
from uirbench.models.images import to_tensor
from uirbench.models.irsde import ConditionalUNet
from uirbench.tasks import get_task
from uirbench.train.checkpoint import save_checkpoint

FIX = Path(__file__).parent / "fixtures" / "official_pipeline"
REC = json.loads((FIX / "official.json").read_text())
STEMS = sorted(REC["images"])
EMBED_TOL = 1e-5  # DA-CLIP embeddings and classify logits (float32, CPU)
# uint8 outputs: float32 rounding of two CPU implementations (1e-7 per op) over 20 SDE steps
# flips a .5 rounding now and then: at most 1 grey level, on at most 0.1% of the values (an earlier
# fixture run: one value of 17,019 in one photo)
OUTPUT_TOL, OUTPUT_FRACTION = 1, 1e-3


def _make_module():
    spec = importlib.util.spec_from_file_location("official_pipeline_make", FIX / "make.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def inputs() -> dict[str, dict[str, np.ndarray]]:
    """The four GT crops and their noisy LQ, rebuilt from the CBSD68 mirror as make.py made them
    (CBSD68 content is not committed) and checked against the digests make.py recorded."""
    data = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (data / "CBSD68").is_dir():
        pytest.skip(f"real upstream mirror not present at {data} (the inputs are CBSD68 crops)")
    mk = _make_module()
    out = {}
    for stem, gt in mk.photos(data):
        lq = mk.noisy(stem, gt)
        for name, img in (("gt", gt), ("lq", lq)):
            digest = hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest()
            assert digest == REC["images"][stem][f"{name}_pixels_sha256"], (stem, name)
        out[stem] = {"GT": gt, "LQ": lq}
    assert sorted(out) == STEMS
    return out


@pytest.fixture(scope="module")
def setup(tmp_path_factory, inputs) -> dict:
    """The fixture's DA-CLIP and UNet regenerated in uirbench (sha256-checked), saved as a
    uirbench restoration checkpoint, and a built val root of the rebuilt LQ/GT crops."""
    mk = _make_module()
    tmp = tmp_path_factory.mktemp("official")
    torch.manual_seed(0)
    daclip = build_daclip(mk.DACLIP_CFG, clip_weights="none").eval()
    assert mk.fill_daclip(daclip, mk.DACLIP_SEED) == REC["daclip_sha256"], "DA-CLIP weights"
    cfg_path = tmp / "daclip_config.json"
    cfg_path.write_text(json.dumps(mk.DACLIP_CFG))
    export_official(daclip, tmp / "daclip.pt")
    unet = ConditionalUNet(**mk.UNET_NET)
    assert mk.fill_unet(unet, mk.UNET_SEED) == REC["unet_sha256"], "UNet weights"
    model_cfg = {
        "arch": "irsde",
        "net": mk.UNET_NET,
        "sde": {**mk.SDE, "sampling_mode": "posterior"},
    }
    meta = {
        "model_config": model_cfg,
        "daclip": {"config": str(cfg_path), "weights": str(tmp / "daclip.pt")},
    }
    save_checkpoint(
        tmp / "ckpt" / "last", {f"net.{k}": v for k, v in unet.state_dict().items()}, meta
    )

    root = tmp / "root"
    task = get_task("noisy")
    rows = []
    for stem in STEMS:
        lq_rel, gt_rel = pair_relpaths("val", task, stem)
        for rel, sub in ((lq_rel, "LQ"), (gt_rel, "GT")):
            write_png(root / rel, inputs[stem][sub])
        h, w = REC["images"][stem]["size"]
        rows.append(
            {"key": sample_key("val", task, stem), "split": "val", "task": task.id, "stem": stem,
             "lq_path": lq_rel, "gt_path": gt_rel, "source": "test", "source_image": "",
             "synth": "test", "params": "{}", "seed": 0, "lq_sha256": sha256_file(root / lq_rel),
             "gt_sha256": sha256_file(root / gt_rel), "width": w, "height": h, "caption": None}
        )  # fmt: skip
    index = to_table(rows)
    write_index(root, index)
    write_shards(root, index.to_pandas() if hasattr(index, "to_pandas") else index, workers=1)
    return {"tmp": tmp, "root": root, "ckpt": tmp / "ckpt" / "last.safetensors", "daclip": daclip}


def test_photos_are_portrait_and_landscape_not_multiples_of_8():
    sizes = {tuple(REC["images"][s]["size"]) for s in STEMS}
    assert {(61, 93), (93, 61)} <= sizes
    assert all(h % 8 and w % 8 for h, w in sizes)


def test_daclip_embeddings_equal_the_official_ones(setup, inputs) -> None:
    ctx = build_daclip_context({"config": str(setup["tmp"] / "daclip_config.json"),
                                "weights": str(setup["tmp"] / "daclip.pt")})  # fmt: skip
    for stem in STEMS:
        lq = to_tensor(inputs[stem]["LQ"])
        content, degradation = ctx.encode(lq)
        want = REC["images"][stem]
        torch.testing.assert_close(
            content[0], torch.tensor(want["content"]), rtol=0, atol=EMBED_TOL
        )
        torch.testing.assert_close(
            degradation[0], torch.tensor(want["degradation"]), rtol=0, atol=EMBED_TOL
        )


@pytest.mark.slow
def test_evaluate_gives_the_official_outputs(setup) -> None:
    out = setup["tmp"] / "eval"
    res = run(root=setup["root"], model="ours", weights=str(setup["ckpt"]), out=out,
              metrics="psnr,ssim", batch_size=1, workers=0, save_images=True)  # fmt: skip
    assert res["random_init"] is False
    per_image = pd.read_csv(out / "per_image.csv", dtype={"stem": str}).set_index("stem")
    for stem in STEMS:
        ours = read_image(out / "images" / "noisy" / f"{stem}.png").astype(int)
        official = read_image(FIX / "out" / f"{stem}.png").astype(int)
        diff = np.abs(ours - official)
        assert diff.max() <= OUTPUT_TOL, (stem, diff.max())
        assert (diff > 0).mean() <= OUTPUT_FRACTION, (stem, (diff > 0).mean())
        want = REC["images"][stem]
        if diff.max() == 0:  # identical outputs: identical scores
            assert per_image.loc[stem, "psnr"] == pytest.approx(want["psnr"], abs=1e-6)
            assert per_image.loc[stem, "ssim"] == pytest.approx(want["ssim"], abs=1e-6)


def test_metrics_on_the_official_outputs_equal_the_official_scores(setup) -> None:
    """uirbench's PSNR/SSIM (profile daclip: RGB, 4 px crop) on the official uint8 outputs equal
    the official calculate_psnr/calculate_ssim per image."""
    outputs = setup["tmp"] / "official_out"
    for stem in STEMS:
        write_png(outputs / "noisy" / f"{stem}.png", read_image(FIX / "out" / f"{stem}.png"))
    scored = run(
        root=setup["root"],
        outputs=outputs,
        out=setup["tmp"] / "scored",
        metrics="psnr,ssim",
        workers=0,
    )
    assert scored["per_task"]
    table = pd.read_csv(setup["tmp"] / "scored" / "per_image.csv", dtype={"stem": str}).set_index(
        "stem"
    )
    for stem in STEMS:
        assert table.loc[stem, "psnr"] == pytest.approx(REC["images"][stem]["psnr"], abs=1e-6)
        assert table.loc[stem, "ssim"] == pytest.approx(REC["images"][stem]["ssim"], abs=1e-6)


def test_classify_logits_equal_the_official_evaluate(setup) -> None:
    from uirbench.evaluate.classify import predict_logits

    logits, _, keys = predict_logits(setup["daclip"], setup["root"], "val", batch_size=4)
    for row, key in zip(logits, keys, strict=True):
        want = REC["images"][key.rsplit("/", 1)[-1]]
        torch.testing.assert_close(
            row, torch.tensor(want["classify_logits"]), rtol=0, atol=EMBED_TOL
        )
        assert int(row.argmax()) == want["classify_pred"]


def test_exported_daclip_holds_the_official_state_dict_bytes(setup) -> None:
    """The official state_dict (keys in order, the visual.* alias included) hashed by the
    official code: the exported .pt has the same bytes in the same order."""
    import hashlib

    got = torch.load(setup["tmp"] / "daclip.pt", map_location="cpu", weights_only=True)
    h = hashlib.sha256()
    for v in got.values():
        h.update(v.contiguous().numpy().tobytes())
    assert h.hexdigest() == REC["daclip_sha256"]
