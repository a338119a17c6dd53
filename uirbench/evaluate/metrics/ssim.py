"""SSIM exactly as Wang et al.'s MATLAB ``ssim_index`` (and BasicSR's ``calculate_ssim``).

11x11 Gaussian window (sigma 1.5, normalised), 'valid' filtering (no padding), K1=0.01, K2=0.03,
L=255, all in float64; colour images average the per-channel SSIM maps. Unlike pyiqa's SSIM the
contrast-structure term is not clamped at zero, which changes scores of very noisy images.

Speed: the 2-D window is separable, so each of the five local moments (mu_x, mu_y, E[x^2],
E[y^2], E[xy]) is two 1-D passes of 11 taps (OpenCV ``sepFilter2D`` in float64) instead of one
121-tap 2-D pass per channel; all channels are filtered in one call. OpenCV releases the GIL, so
:func:`ssim_many` scores several pairs at once on a thread pool.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

WINDOW = 11
SIGMA = 1.5
C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2
_KERNEL = cv2.getGaussianKernel(WINDOW, SIGMA, cv2.CV_64F)  # normalised, = fspecial('gaussian')
_HALF = WINDOW // 2


def _filter_valid(x: np.ndarray) -> np.ndarray:
    """Gaussian-weighted local means on the 'valid' region (border pixels never enter a window)."""
    out = cv2.sepFilter2D(x, cv2.CV_64F, _KERNEL, _KERNEL, borderType=cv2.BORDER_REFLECT)
    return out[_HALF:-_HALF, _HALF:-_HALF]


def ssim(pred: np.ndarray, target: np.ndarray) -> float:
    """SSIM of two equal-shape HxW or HxWxC images with values in [0, 255]; mean over channels."""
    if pred.shape != target.shape:
        raise ValueError(f"ssim: shapes differ: {pred.shape} vs {target.shape}")
    if pred.shape[0] < WINDOW or pred.shape[1] < WINDOW:
        raise ValueError(
            f"ssim: image {pred.shape[:2]} is smaller than the {WINDOW}x{WINDOW} window"
        )
    x = pred.astype(np.float64)
    y = target.astype(np.float64)
    if x.ndim == 2:
        x, y = x[:, :, None], y[:, :, None]
    c = x.shape[2]
    # One filtering call over all moments and channels (OpenCV handles up to 512 channels).
    moments = _filter_valid(np.concatenate([x, y, x * x, y * y, x * y], axis=2))
    if moments.ndim == 2:
        moments = moments[:, :, None]
    mu_x, mu_y = moments[..., 0:c], moments[..., c : 2 * c]
    mu_xy = mu_x * mu_y
    mu_xx = np.square(mu_x)
    mu_yy = np.square(mu_y)
    num = (2.0 * mu_xy + C1) * (2.0 * (moments[..., 4 * c : 5 * c] - mu_xy) + C2)
    var_sum = moments[..., 2 * c : 3 * c] + moments[..., 3 * c : 4 * c] - mu_xx - mu_yy
    den = (mu_xx + mu_yy + C1) * (var_sum + C2)
    # Mean per channel first (as the reference loops do), then over channels.
    return float(np.mean((num / den).mean(axis=(0, 1))))


def ssim_many(
    preds: Sequence[np.ndarray], targets: Sequence[np.ndarray], threads: int = 0
) -> list[float]:
    """SSIM of many pairs (sizes may differ), on ``threads`` threads (0 = one per CPU core)."""
    if len(preds) != len(targets):
        raise ValueError(f"ssim_many: {len(preds)} predictions but {len(targets)} targets")
    if threads == 1 or len(preds) < 2:
        return [ssim(p, t) for p, t in zip(preds, targets, strict=True)]
    with ThreadPoolExecutor(threads or os.cpu_count() or 1) as pool:
        return list(pool.map(ssim, preds, targets))
