"""SSIM as scikit-image's ``structural_similarity`` with its defaults, the all-in-one papers' SSIM.

AirNet and PromptIR score with ``structural_similarity(clean, restored, data_range=1,
multichannel=True)`` (``utils/val_utils.py: compute_psnr_ssim``): a 7x7 *uniform* window (not
Wang et al.'s 11x11 Gaussian), the sample covariance (N / (N - 1) with N = 49), K1 = 0.01,
K2 = 0.03, the SSIM map's 3-pixel border dropped before the mean, and colour images the mean of
the per-channel SSIMs. On [0, 1] data with data_range 1 this is the same number as on [0, 255]
with L = 255 (SSIM is scale-free when C1, C2 scale with L^2), so uint8 arrays are scored here.

Border handling never reaches the mean: the map is cropped by the window's radius, so the box
filter (OpenCV, any border mode) gives the interior skimage keeps.
"""

from __future__ import annotations

import cv2
import numpy as np

from uirbench.evaluate.metrics.ssim import check_pair

WINDOW = 7
_NP = WINDOW * WINDOW
_COV_NORM = _NP / (_NP - 1)  # use_sample_covariance=True
_PAD = (WINDOW - 1) // 2
C1 = (0.01 * 255) ** 2
C2 = (0.03 * 255) ** 2


def _mean(x: np.ndarray) -> np.ndarray:
    return cv2.blur(x, (WINDOW, WINDOW), borderType=cv2.BORDER_REFLECT)


def _ssim_channel(x: np.ndarray, y: np.ndarray) -> float:
    ux, uy = _mean(x), _mean(y)
    vx = _COV_NORM * (_mean(x * x) - ux * ux)
    vy = _COV_NORM * (_mean(y * y) - uy * uy)
    vxy = _COV_NORM * (_mean(x * y) - ux * uy)
    s = ((2 * ux * uy + C1) * (2 * vxy + C2)) / ((ux * ux + uy * uy + C1) * (vx + vy + C2))
    return float(s[_PAD:-_PAD, _PAD:-_PAD].mean(dtype=np.float64))


def ssim_skimage(pred: np.ndarray, target: np.ndarray) -> float:
    """skimage-default SSIM of two equal-shape HxW or HxWxC images in [0, 255]."""
    check_pair(pred, target, WINDOW)
    x, y = pred.astype(np.float64), target.astype(np.float64)
    if x.ndim == 2:
        return _ssim_channel(x, y)
    return float(np.mean([_ssim_channel(x[..., c], y[..., c]) for c in range(x.shape[2])]))
