"""The DA-CLIP input view: the official ``clip_transform`` (truncate to uint8, PIL bicubic of the
short side, centre crop, CLIP mean/std), checked against PIL directly."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from uirbench.models.daclip import CLIP_MEAN, CLIP_STD
from uirbench.models.daclip_view import official_view


def _by_hand(arr: np.ndarray, size: int) -> np.ndarray:
    """PIL steps written out: long side int(size*long/short), crop offsets round((n-size)/2)."""
    h, w = arr.shape[:2]
    if h <= w:
        new_w, new_h = int(size * w / h), size
    else:
        new_w, new_h = size, int(size * h / w)
    img = Image.fromarray(arr).resize((new_w, new_h), Image.BICUBIC)
    top, left = round((new_h - size) / 2), round((new_w - size) / 2)
    out = np.asarray(img, dtype=np.float32)[top : top + size, left : left + size] / 255
    return (out - np.array(CLIP_MEAN, np.float32)) / np.array(CLIP_STD, np.float32)


def test_official_view_of_portrait_and_landscape_uint8():
    g = np.random.default_rng(0)
    for shape in [(37, 53, 3), (53, 37, 3), (20, 20, 3)]:  # landscape, portrait, upscaled
        arr = g.integers(0, 256, shape, dtype=np.uint8)
        x = torch.from_numpy(arr).permute(2, 0, 1)[None]
        got = official_view(x, 24)[0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(got, _by_hand(arr, 24), rtol=0, atol=1e-6)
        # floats that came from uint8 pixels give the same view
        torch.testing.assert_close(official_view(x.float() / 255, 24), official_view(x, 24))


def test_floats_are_truncated_not_rounded():
    # 0.999 * 255 = 254.7: the official (x * 255).astype(uint8) gives 254, rounding would give 255
    x = torch.full((1, 3, 8, 8), 0.999)
    view = official_view(x, 8)
    expect = (254 / 255 - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    torch.testing.assert_close(view[0, :, 0, 0], expect, rtol=0, atol=1e-6)
