"""No-reference scoring (``evaluate --outputs DIR --no-reference``) of real photos without GT.

Offline, every absent weight file of the four metrics is named in one message. With a NIQE
parameter file in pyiqa's cache, a folder of real photos is scored and every metric option is
in results.json. Oracle for the scores: pyiqa's NIQE called directly on the same files with the
same options (what uirbench adds is the folder handling, explicit options and records; the NIQE
formula itself is pyiqa's). The parameter file is a synthetic prior (the real one is a download):
its scores are not NIQE values to report.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import scipy.io

pytest.importorskip("pyiqa", reason="no-reference metrics need the optional [eval] extra")

from uirbench.errors import UirbenchError
from uirbench.evaluate.no_reference import NO_REFERENCE_METRICS, PROFILE, score_no_reference


@pytest.fixture
def offline_caches(tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    import huggingface_hub.constants as hc

    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "hf"))
    return tmp_path


@pytest.fixture
def photos(shared_data, tmp_path):
    folder = tmp_path / "wild"
    folder.mkdir()
    for name in ("101085.png", "102061.png", "103070.png"):
        shutil.copy(shared_data / "CBSD68" / name, folder / name)
    return folder


def _direct_scores(metric, photos) -> list[float]:
    """The oracle: pyiqa's metric called directly on each photo (sorted), as [0, 1] RGB."""
    import torch

    from uirbench.io import read_image

    xs = [torch.from_numpy(read_image(f)).permute(2, 0, 1)[None].float() / 255
          for f in sorted(photos.iterdir())]  # fmt: skip
    return [float(metric(x)) for x in xs]


def _scored(out) -> list[float]:
    """uirbench's per-image scores (last column of per_image.csv), in file order."""
    lines = (out / "per_image.csv").read_text().splitlines()
    return [float(line.split(",")[-1]) for line in lines[1:]]


def test_all_missing_weights_named_at_once(offline_caches, photos, tmp_path):
    with pytest.raises(UirbenchError) as err:
        score_no_reference(photos, tmp_path / "out")
    msg = str(err.value)
    for f in (
        "niqe_modelparameters.mat",
        "musiq_koniq_ckpt",
        "RN50.pt",
        "ckpt_koniq10k.pt",
        "vit_base_patch8_224",
    ):
        assert f in msg, f
    assert "uirbench weights fetch niqe musiq clipiqa maniqa" in msg
    assert not (tmp_path / "out").exists()


def test_niqe_scores_real_photos_with_options_recorded(offline_caches, photos, tmp_path):
    import pyiqa

    from uirbench.evaluate.metrics.pyiqa_metric import pyiqa_cache_dir

    rng = np.random.default_rng(0)
    a = rng.standard_normal((36, 36))
    params = pyiqa_cache_dir() / "niqe_modelparameters.mat"
    params.parent.mkdir(parents=True)
    scipy.io.savemat(params, {"mu_prisparam": rng.random((1, 36)), "cov_prisparam": a @ a.T})

    res = score_no_reference(photos, tmp_path / "out", metrics="niqe", name="mine")
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["profile"]["pyiqa"]["niqe"] == {"type": "NIQE", **PROFILE["niqe"]}
    assert saved["per_task"]["wild"]["n"] == 3 and saved["method"] == "mine"
    direct = pyiqa.create_metric(
        "niqe", as_loss=False, device="cpu", pretrained_model_path=str(params), **PROFILE["niqe"]
    )
    want = _direct_scores(direct, photos)
    assert _scored(tmp_path / "out") == pytest.approx(want, rel=1e-6)
    assert res["per_task"]["wild"]["niqe"] == pytest.approx(np.mean(want), rel=1e-9)


def test_full_reference_metric_refused(photos, tmp_path):
    with pytest.raises(UirbenchError, match="need GT"):
        score_no_reference(photos, tmp_path / "out", metrics="psnr")
    assert set(PROFILE) == set(NO_REFERENCE_METRICS)


def test_clipiqa_builds_and_scores_with_a_tiny_clip_in_the_cache(
    offline_caches, photos, tmp_path, monkeypatch
):
    """CLIP-IQA is importable in the [eval] environment (openai-clip needs pkg_resources, hence
    the setuptools < 81 pin) and scores through uirbench exactly as pyiqa called directly does.
    The CLIP is a tiny random ResNet CLIP, a TorchScript archive as OpenAI's RN50.pt is, saved
    where pyiqa looks for it; uirbench and pyiqa check its sha256 against the URL, so the URL is
    pointed at that file's digest. (Before, uirbench opened it as a tensors-only pickle and so
    refused every real RN50.pt.) A file of another digest is refused by name. Random weights:
    the scores are not CLIP-IQA values, only the plumbing and the recorded options are tested."""
    import hashlib

    import clip.model
    import pyiqa
    import pyiqa.archs.clip_model as pyiqa_clip
    import torch

    torch.manual_seed(0)
    tiny = clip.model.CLIP(
        embed_dim=32, image_resolution=224, vision_layers=(1, 1, 1, 1), vision_width=8,
        vision_patch_size=None, context_length=77, vocab_size=49408, transformer_width=64,
        transformer_heads=1, transformer_layers=1,
    )  # fmt: skip
    path = offline_caches / "torch" / "hub" / "clip" / "RN50.pt"
    path.parent.mkdir(parents=True)
    # a TorchScript archive, as OpenAI's RN50.pt is (pyiqa reads its state dict from it)
    example = (torch.zeros(1, 3, 224, 224), torch.zeros(1, 77, dtype=torch.long))
    torch.jit.save(torch.jit.trace(tiny.eval(), example, check_trace=False), str(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setitem(pyiqa_clip._MODELS, "RN50", f"https://example.invalid/{digest}/RN50.pt")

    score_no_reference(photos, tmp_path / "out", metrics="clipiqa", name="mine")
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["profile"]["pyiqa"]["clipiqa"] == {"type": "CLIPIQA", **PROFILE["clipiqa"]}
    direct = pyiqa.create_metric("clipiqa", as_loss=False, device="cpu", **PROFILE["clipiqa"])
    got = _scored(tmp_path / "out")
    assert got == pytest.approx(_direct_scores(direct, photos), rel=1e-6)
    assert len(set(got)) == 3  # three photos, three scores
    other = "0" * 64
    monkeypatch.setitem(pyiqa_clip._MODELS, "RN50", f"https://example.invalid/{other}/RN50.pt")
    with pytest.raises(UirbenchError, match="is not the published file"):
        score_no_reference(photos, tmp_path / "out2", metrics="clipiqa")
