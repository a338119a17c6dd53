"""Metric catalogue: uirbench's own PSNR/SSIM, and any pyiqa metric by name.

``OWN`` metrics run on the profile-prepared uint8 arrays (crop, colour); everything else is a
pyiqa metric (see :mod:`uirbench.evaluate.metrics.pyiqa_metric`). ``higher_better`` drives the
radar plots and the bold/ranking in tables.
"""

from __future__ import annotations

from uirbench.evaluate.metrics.psnr import psnr
from uirbench.evaluate.metrics.ssim import ssim, ssim_many

OWN = {"psnr": psnr, "ssim": ssim}
# Direction of the metrics uirbench knows by name; other pyiqa metrics ask pyiqa.
HIGHER_BETTER = {
    "psnr": True,
    "ssim": True,
    "ssim-pyiqa": True,
    "lpips": False,
    "fid": False,
    "accuracy": True,
}
# Dataset-level metrics (one number per task, not a mean over images).
DATASET_LEVEL = {"fid"}

__all__ = ["DATASET_LEVEL", "HIGHER_BETTER", "OWN", "psnr", "ssim", "ssim_many"]


def higher_is_better(metric: str) -> bool:
    """True when a larger value of ``metric`` is better."""
    if metric in HIGHER_BETTER:
        return HIGHER_BETTER[metric]
    try:
        from pyiqa.default_model_configs import DEFAULT_CONFIGS
    except ImportError:
        return True
    return not DEFAULT_CONFIGS.get(metric, {}).get("lower_better", False)
