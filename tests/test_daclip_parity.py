"""DA-CLIP equals the official implementation: same keys, same outputs (fixtures from the official
code, see tests/fixtures/daclip/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

pytest.importorskip("open_clip", reason="DA-CLIP needs the optional [train] extra")
from safetensors.torch import load_file

from uirbench.models.daclip import DaCLIP, build_clip, load_config

FIX = Path(__file__).parent / "fixtures" / "daclip"
TOL = 1e-5


@pytest.fixture(scope="module")
def official():
    cfg = json.loads((FIX / "tiny_config.json").read_text())
    model = DaCLIP(build_clip(cfg)).eval()
    weights = load_file(str(FIX / "tiny_official_weights.safetensors"))
    return model, weights, load_file(str(FIX / "tiny_official_io.safetensors"))


def test_tiny_keys_equal_official(official):
    model, weights, _ = official
    assert sorted(model.state_dict()) == sorted(weights)  # safetensors stores keys sorted
    result = model.load_state_dict(weights, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_forward_equals_official(official):
    model, weights, io = official
    model.load_state_dict(weights, strict=True)
    with torch.no_grad():
        out = model(io["image"], io["text"])
        plain = model.encode_image(io["image"], control=False)
        degradation, controls = model.encode_control(io["image"])
    for key in ("image_features", "text_features", "image_degra_features", "text_degra_features"):
        torch.testing.assert_close(out[key], io[key], atol=TOL, rtol=0, msg=key)
    torch.testing.assert_close(out["logit_scale"], io["logit_scale"], atol=TOL, rtol=0)
    torch.testing.assert_close(plain, io["plain_image_features"], atol=TOL, rtol=0)
    torch.testing.assert_close(degradation, io["control_degra_features"], atol=TOL, rtol=0)
    for i, control in enumerate(controls):
        torch.testing.assert_close(control, io[f"control_hidden.{i}"], atol=TOL, rtol=0)


def test_control_order_matters(official):
    """The fixture discriminates: consuming the controls in block order gives other features."""
    model, weights, io = official
    model.load_state_dict(weights, strict=True)
    with torch.no_grad():
        _, controls = model.encode_control(io["image"])
        wrong = model.encode_content(io["image"], controls[::-1])
    assert (wrong - model.encode_content(io["image"], controls)).abs().max() > 1e-2
    assert not torch.allclose(torch.nn.functional.normalize(wrong, dim=-1), io["image_features"])


def test_vitb32_has_the_official_631_keys():
    model = DaCLIP(build_clip(load_config("daclip_ViT-B-32")))
    official_keys = (FIX / "official_keys_ViT-B-32.txt").read_text().split()
    assert len(official_keys) == 631
    assert list(model.state_dict()) == official_keys


def test_untrained_daclip_equals_clip():
    """Zero-initialised connections: the controlled encoder starts as plain CLIP."""
    from uirbench.models.daclip import build_daclip

    torch.manual_seed(0)
    model = build_daclip("daclip_tiny", clip_weights="none").eval()
    image = torch.randn(2, 3, 64, 64)
    # 1e-5 (the parity tolerance): other tests change torch's thread count, which changes the
    # summation order of the two towers' kernels by ~1e-6; a broken zero-init differs by O(1).
    with torch.no_grad():
        content, _ = model.encode_image(image, control=True)
        torch.testing.assert_close(content, model.encode_image(image), atol=1e-5, rtol=0)
        # controller starts as a copy of the CLIP visual tower
        torch.testing.assert_close(model.encode_control(image)[0], content, atol=1e-5, rtol=0)
    trainable = {n.split(".")[0] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"visual_control", "logit_scale"}
