"""PSNR exactly as MATLAB ``psnr`` / the official test script: 10 log10(255^2 / MSE) in float64.

The MSE pools every pixel and channel of the (cropped) image; identical images give +inf.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

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


def psnr_tensor(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of images in [0, 1] quantised to uint8 (training-time validation): the MSE is
    a float32 torch mean (as the trainer always logged it), computed where the tensors are."""
    a8 = (a.clamp(0, 1) * 255).round()
    b8 = (b.clamp(0, 1) * 255).round()
    mse = ((a8 - b8) ** 2).mean().item()
    return float("inf") if mse == 0 else 10 * math.log10(255**2 / mse)
