"""SSIM exactly as Wang et al.'s MATLAB ``ssim_index`` (and BasicSR's ``calculate_ssim``).

11x11 Gaussian window (sigma 1.5, normalised), 'valid' filtering (no padding), K1=0.01, K2=0.03,
L=255, all in float64; colour images average the per-channel SSIM maps. Unlike pyiqa's SSIM the
contrast-structure term is not clamped at zero, which changes scores of very noisy images.

Speed: the 2-D window is separable, so each local moment (mu_x, mu_y, E[x^2 + y^2], E[xy]) is
two 1-D passes of 11 taps (OpenCV ``sepFilter2D``, float64 accumulation) instead of one 121-tap
2-D pass per channel, all channels in one call; uint8 inputs go through exact float32 copies
(OpenCV's fastest path). OpenCV releases the GIL, so :func:`ssim_many` (and the runner) score
several pairs at once on a thread pool.
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
    """Gaussian-weighted local means (float64) on the 'valid' region, any input depth.

    Inputs holding integers (float32 copies of uint8 data) are widened to float64 exactly inside
    OpenCV, so the result has the same bits as filtering float64 copies.
    """
    out = cv2.sepFilter2D(x, cv2.CV_64F, _KERNEL, _KERNEL, borderType=cv2.BORDER_REFLECT)
    return out[_HALF:-_HALF, _HALF:-_HALF]


def _second_moments(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local E[x^2 + y^2] and E[xy].

    SSIM only needs sigma_x^2 + sigma_y^2, and filtering is linear, so x^2 + y^2 is filtered once
    (four filterings instead of five).
    """
    if x.dtype == np.float32:  # integer-valued (from uint8): products exact below 2^24
        sq = cv2.add(cv2.multiply(x, x), cv2.multiply(y, y))
        return _filter_valid(sq), _filter_valid(cv2.multiply(x, y))
    return _filter_valid(x * x + y * y), _filter_valid(x * y)


def check_pair(pred: np.ndarray, target: np.ndarray, window: int = WINDOW) -> None:
    """The SSIM variants' one input check: equal shapes, and at least one ``window`` each way."""
    if pred.shape != target.shape:
        raise ValueError(f"ssim: shapes differ: {pred.shape} vs {target.shape}")
    if pred.shape[0] < window or pred.shape[1] < window:
        raise ValueError(
            f"ssim: image {pred.shape[:2]} is smaller than the {window}x{window} window"
        )


def ssim(pred: np.ndarray, target: np.ndarray) -> float:
    """SSIM of two equal-shape HxW or HxWxC images with values in [0, 255]; mean over channels."""
    check_pair(pred, target)
    if pred.dtype == target.dtype == np.uint8:
        # uint8 values, their squares and products (<= 130050 < 2^24) are exact in float32, and
        # OpenCV's float32 -> float64 filtering path is the fastest; accumulation is float64.
        x, y = pred.astype(np.float32), target.astype(np.float32)
    else:
        x, y = pred.astype(np.float64), target.astype(np.float64)
    mu_x, mu_y = _filter_valid(x), _filter_valid(y)
    e_sq, e_xy = _second_moments(x, y)
    # In place, to keep the memory traffic of this memory-bound step low:
    mu_xy = mu_x * mu_y
    mu_x *= mu_x
    mu_y *= mu_y
    mu_x += mu_y  # mu_x^2 + mu_y^2
    e_xy -= mu_xy  # sigma_xy
    e_xy *= 2.0
    e_xy += C2
    mu_xy *= 2.0
    mu_xy += C1
    mu_xy *= e_xy  # numerator: (2 mu_x mu_y + C1)(2 sigma_xy + C2)
    e_sq -= mu_x  # sigma_x^2 + sigma_y^2
    e_sq += C2
    mu_x += C1
    mu_x *= e_sq  # denominator: (mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)
    mu_xy /= mu_x
    if mu_xy.ndim == 2:
        return float(mu_xy.mean())
    # Mean per channel first (as the reference loops do), then over channels.
    return float(np.mean(mu_xy.mean(axis=(0, 1))))


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
