"""Offline, a model that is not in the cache fails in seconds with a message naming the flag.

Was: caption 213 s and classify 53 s of client retries, and a hint with a flag that does not
exist (clip_weights=/path instead of --clip-weights).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from uirbench.errors import UirbenchError


@pytest.fixture
def empty_hub(tmp_path: Path, monkeypatch) -> Path:
    """An empty Hugging Face cache and HF_HUB_OFFLINE=1 (the constants are read at import)."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_clip_weights_missing_offline_fails_fast_and_names_the_flag(empty_hub: Path) -> None:
    pytest.importorskip("open_clip", reason="the train extra (open_clip) builds DA-CLIP")
    from uirbench.models.daclip import load_config, resolve_clip_weights

    cfg = load_config("daclip_ViT-B-32")
    t0 = time.monotonic()
    with pytest.raises(UirbenchError) as exc:
        resolve_clip_weights(cfg, cfg["clip_pretrained"], cache_dir=str(empty_hub))
    assert time.monotonic() - t0 < 10
    msg = str(exc.value)
    assert "--clip-weights" in msg and "HF_HUB_OFFLINE" in msg, msg


def test_blip_missing_offline_fails_fast(empty_hub: Path) -> None:
    pytest.importorskip("transformers", reason="the caption extra (transformers) runs BLIP")
    from uirbench.caption.backends.transformers_blip import load_blip

    t0 = time.monotonic()
    with pytest.raises(UirbenchError) as exc:
        load_blip("Salesforce/blip-image-captioning-large", "cpu", None)
    assert time.monotonic() - t0 < 10
    assert "not in the Hugging Face cache" in str(exc.value)
