"""Loading and exporting DA-CLIP weights: official .pt (raw, DDP, wrapped), our safetensors,
CLIP from a file or a tag; never unpickling arbitrary objects."""

from __future__ import annotations

import collections

import pytest
import torch

pytest.importorskip("open_clip", reason="DA-CLIP needs the optional [train] extra")

from uirbench.errors import UirbenchError
from uirbench.models import daclip as dc
from uirbench.train.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def trained():
    """A tiny DA-CLIP with all-random weights (so every tensor matters)."""
    torch.manual_seed(0)
    model = dc.build_daclip("daclip_tiny", clip_weights="none").eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)
    return model


def _features(model, seed=3):
    image = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return torch.cat(model.encode_image(image, control=True, normalize=True), dim=-1)


def _assert_same(model, path):
    loaded = dc.build_daclip("daclip_tiny", weights=path).eval()
    torch.testing.assert_close(_features(loaded), _features(model), atol=0, rtol=0)


def test_export_official_roundtrip(trained, tmp_path):
    path = dc.export_official(trained, tmp_path / "daclip.pt")
    state = torch.load(path, weights_only=True)
    assert set(state) == set(trained.state_dict())
    assert any(k.startswith("visual.") for k in state) and "logit_scale" in state
    _assert_same(trained, path)


def test_ddp_prefixed_and_wrapped_official(trained, tmp_path):
    state = dc.official_state_dict(trained)
    torch.save(
        collections.OrderedDict(("module." + k, v) for k, v in state.items()), tmp_path / "a.pt"
    )
    _assert_same(trained, tmp_path / "a.pt")
    torch.save({"epoch": 50, "name": "x", "state_dict": state}, tmp_path / "b.pt")
    _assert_same(trained, tmp_path / "b.pt")


def test_own_safetensors_checkpoint(trained, tmp_path):
    compact = dc.compact_state_dict(trained)
    assert not any(k.startswith("visual.") for k in compact)
    stem = save_checkpoint(tmp_path / "ours", {f"model.{k}": v for k, v in compact.items()}, {})
    _assert_same(trained, stem.with_suffix(".safetensors"))
    stem = save_checkpoint(tmp_path / "plain", compact, {"arch": "daclip_tiny"})
    _assert_same(trained, tmp_path / "plain.safetensors")


class _Payload:
    def __reduce__(self):
        return (print, ("this would run on load",))


def test_pickle_payload_refused(trained, tmp_path):
    state = dc.official_state_dict(trained)
    torch.save({"state_dict": state, "extra": _Payload()}, tmp_path / "evil.pt")
    with pytest.raises(UirbenchError, match="refusing to load"):
        dc.build_daclip("daclip_tiny", weights=tmp_path / "evil.pt")


def test_wrong_config_names_the_keys(trained, tmp_path):
    path = dc.export_official(trained, tmp_path / "daclip.pt")
    cfg = dc.load_config("daclip_tiny")
    cfg["vision_cfg"]["layers"] = 3
    with pytest.raises(UirbenchError, match="unexpected"):
        dc.build_daclip(cfg, weights=path)
    cfg = dc.load_config("daclip_tiny")
    cfg["embed_dim"] = 32
    with pytest.raises(UirbenchError, match="wrong shape"):
        dc.build_daclip(cfg, weights=path)


def test_clip_from_local_file_initialises_controller(trained, tmp_path):
    clip_state = {"module." + k: v for k, v in trained.clip.state_dict().items()}
    torch.save(clip_state, tmp_path / "clip.bin")
    model = dc.build_daclip("daclip_tiny", clip_weights=str(tmp_path / "clip.bin")).eval()
    for key, value in trained.clip.state_dict().items():
        assert torch.equal(model.clip.state_dict()[key], value), key
    image = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.encode_control(image)[0], model.encode_image(image))
    assert torch.equal(model.logit_scale, trained.clip.logit_scale)
    assert all(not p.requires_grad for p in model.clip.parameters())


def test_pretrained_tag_offline_names_the_cache(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    cfg = dc.load_config("daclip_ViT-B-32")
    with pytest.raises(UirbenchError, match=str(tmp_path)) as err:
        dc.resolve_clip_weights(cfg, "laion2b_s34b_b79k", cache_dir=str(tmp_path))
    assert "laion/CLIP-ViT-B-32-laion2B-s34B-b79K" in str(err.value)
    with pytest.raises(UirbenchError, match="neither a file nor"):
        dc.resolve_clip_weights(cfg, "no_such_tag")


def test_unknown_config_lists_packaged():
    with pytest.raises(UirbenchError, match="daclip_ViT-B-32"):
        dc.load_config("ViT-Q-99")
    assert {"daclip_ViT-B-32", "daclip_ViT-L-14", "daclip_tiny"} <= set(dc.list_configs())
