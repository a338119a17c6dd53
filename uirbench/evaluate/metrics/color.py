"""RGB -> Y (BT.601 limited range), as MATLAB's ``rgb2ycbcr`` computes it.

MATLAB on uint8 input returns a rounded uint8 Y; BasicSR's ``to_y_channel`` keeps it as float.
Profiles choose with ``y_round`` so both conventions are reproducible.
"""

from __future__ import annotations

import numpy as np

# Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 for R, G, B in [0, 255].
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966], dtype=np.float64) / 255.0


def rgb_to_y(rgb: np.ndarray, round_to_uint8: bool = True) -> np.ndarray:
    """HxWx3 uint8 RGB -> HxWx1 Y in [16, 235]: uint8 rounded like MATLAB, or float64 unrounded."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb_to_y expects an HxWx3 image, got shape {rgb.shape}")
    y = rgb.astype(np.float64) @ _Y_WEIGHTS + 16.0
    if round_to_uint8:
        # MATLAB rounds half away from zero; Y is positive so floor(y + 0.5) is the same.
        return np.floor(y + 0.5).clip(0, 255).astype(np.uint8)[:, :, None]
    return y[:, :, None]
