"""Inpainting mask banks: the real RePaint thin masks (uir10) or a seeded procedural bank (demo).

The 100 RePaint masks are CC BY-NC-SA and are fetched, never shipped; the demo draws its own
thin free-form strokes so that it stays offline and freely redistributable.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from uirbench.errors import UirbenchError
from uirbench.io import read_image


def load_mask_files(paths: list[Path]) -> tuple[list[np.ndarray], list[str]]:
    """Read mask images (in the given order) as HxW uint8 masks (255 keep, 0 hole); ids = stems."""
    if not paths:
        raise UirbenchError("empty inpainting mask bank")
    return [read_image(p)[:, :, 0].copy() for p in paths], [Path(p).stem for p in paths]


def procedural_thin_masks(
    n: int = 100, size: int = 256, seed: int = 0
) -> tuple[list[np.ndarray], list[str]]:
    """``n`` masks of thin random brush strokes (2-6 px wide, 4-9 strokes), like RePaint 'thin'."""
    rng = np.random.Generator(np.random.PCG64(seed))
    masks = []
    for _ in range(n):
        m = np.full((size, size), 255, np.uint8)
        for _ in range(int(rng.integers(4, 10))):
            pts = [rng.uniform(0, size, 2)]
            for _ in range(int(rng.integers(3, 8))):
                step = rng.normal(0, size / 6, 2)
                pts.append(np.clip(pts[-1] + step, 0, size - 1))
            width = int(rng.integers(2, 7))
            poly = np.rint(np.array(pts)).astype(np.int32)
            cv2.polylines(m, [poly], False, 0, width)
        masks.append(m)
    return masks, [f"proc{i:03d}" for i in range(n)]
