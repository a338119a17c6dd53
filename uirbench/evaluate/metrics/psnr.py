"""PSNR exactly as MATLAB ``psnr`` / the official test script: 10 log10(255^2 / MSE) in float64.

The MSE pools every pixel and channel of the (cropped) image; identical images give +inf.
"""

from __future__ import annotations

import numpy as np

PEAK = 255.0


def psnr(pred: np.ndarray, target: np.ndarray) -> float:
    """PSNR of two equal-shape images with values in [0, 255] (uint8 or float)."""
    if pred.shape != target.shape:
        raise ValueError(f"psnr: shapes differ: {pred.shape} vs {target.shape}")
    diff = pred.astype(np.float64) - target.astype(np.float64)
    mse = float(np.mean(np.square(diff)))
    if mse == 0.0:
        return float("inf")
    return 10.0 * np.log10(PEAK * PEAK / mse)
