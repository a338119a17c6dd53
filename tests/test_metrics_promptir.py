"""Profile ``promptir`` (the aio3 setting) against a copy of AirNet's / PromptIR's formula.

The copy below is written from ``utils/val_utils.py: compute_psnr_ssim`` and
``utils/image_utils.py: crop_img`` (va1shn9v/PromptIR @ 106159ab, XLearning-SCU/2022-CVPR-AirNet
@ bedea82) and scikit-image 0.19's ``structural_similarity`` / ``peak_signal_noise_ratio`` with
the arguments those files pass, so the calibration does not depend on the installed skimage.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from uirbench.evaluate.profiles import crop_to_multiple, get_profile
from uirbench.evaluate.runner import score_pair
from uirbench.io import read_image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def official_crop_img(image: np.ndarray, base: int = 64) -> np.ndarray:
    h, w = image.shape[0], image.shape[1]
    crop_h, crop_w = h % base, w % base
    return image[crop_h // 2 : h - crop_h + crop_h // 2, crop_w // 2 : w - crop_w + crop_w // 2, :]


def official_ssim_channel(x: np.ndarray, y: np.ndarray, data_range: float = 1.0) -> float:
    # skimage 0.19 structural_similarity defaults: win_size 7, uniform filter,
    # use_sample_covariance True, K1 0.01, K2 0.03; float32 in -> float32 arithmetic
    win = 7
    ndim = x.ndim
    np_ = win**ndim
    cov_norm = np_ / (np_ - 1)
    ux = uniform_filter(x, size=win)
    uy = uniform_filter(y, size=win)
    uxx = uniform_filter(x * x, size=win)
    uyy = uniform_filter(y * y, size=win)
    uxy = uniform_filter(x * y, size=win)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    a1, a2 = 2 * ux * uy + c1, 2 * vxy + c2
    b1, b2 = ux**2 + uy**2 + c1, vx + vy + c2
    s = (a1 * a2) / (b1 * b2)
    pad = (win - 1) // 2
    return float(s[pad:-pad, pad:-pad].mean(dtype=np.float64))


def official_compute_psnr_ssim(
    restored_u8: np.ndarray, clean_u8: np.ndarray
) -> tuple[float, float]:
    """The official loop for one image: crop_img(base=16), ToTensor (/255, float32), clip, then
    peak_signal_noise_ratio(clean, restored, data_range=1) and
    structural_similarity(clean, restored, data_range=1, multichannel=True)."""
    clean = np.clip(official_crop_img(clean_u8, 16).astype(np.float32) / 255.0, 0, 1)
    rec = np.clip(official_crop_img(restored_u8, 16).astype(np.float32) / 255.0, 0, 1)
    mse = np.mean((clean - rec) ** 2, dtype=np.float64)
    psnr = 10 * np.log10(1.0 / mse)
    ssim = np.mean([official_ssim_channel(clean[..., c], rec[..., c]) for c in range(3)])
    return float(psnr), float(ssim)


def _pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    out = []
    for h, w in ((321, 481), (35, 50), (64, 48)):
        gt = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        smooth = np.clip(gt.astype(float) * 0.6 + 50 + rng.normal(0, 12, gt.shape), 0, 255).astype(
            np.uint8
        )
        out.append((smooth, gt))
    if (SHARED / "CBSD68" / "3096.png").is_file():
        gt = read_image(SHARED / "CBSD68" / "3096.png")
        noisy = np.clip(gt + rng.normal(0, 25, gt.shape), 0, 255).astype(np.uint8)
        out.append((noisy, gt))
    return out


def test_promptir_profile_matches_the_official_formula() -> None:
    prof = get_profile("promptir")
    for out, gt in _pairs():
        want_psnr, want_ssim = official_compute_psnr_ssim(out, gt)
        got = score_pair(out, gt, prof, ("psnr", "ssim"))
        assert got["psnr"] == pytest.approx(want_psnr, abs=1e-4)
        # the official computes in float32; ours in float64
        assert got["ssim"] == pytest.approx(want_ssim, abs=2e-6)
        # and it is not the daclip profile's SSIM (Gaussian 11x11, 4 px crop)
        assert abs(score_pair(out, gt, get_profile("daclip"), ("ssim",))["ssim"] - want_ssim) > 1e-4


def test_promptir_ssim_matches_installed_skimage() -> None:
    metrics = pytest.importorskip("skimage.metrics", reason="scikit-image not installed")
    prof = get_profile("promptir")
    for out, gt in _pairs():
        c, r = crop_to_multiple(gt, 16), crop_to_multiple(out, 16)
        want = metrics.structural_similarity(
            c.astype(np.float64) / 255, r.astype(np.float64) / 255, data_range=1, channel_axis=-1
        )
        assert score_pair(out, gt, prof, ("ssim",))["ssim"] == pytest.approx(want, abs=1e-9)


def test_crop_to_multiple_is_crop_img() -> None:
    for h, w in ((321, 481), (35, 50), (32, 16), (500, 413)):
        img = np.arange(h * w * 3, dtype=np.int64).reshape(h, w, 3)
        np.testing.assert_array_equal(crop_to_multiple(img, 16), official_crop_img(img, 16))
    assert crop_to_multiple(np.zeros((321, 481, 3)), 16).shape == (320, 480, 3)


def test_promptir_profile_says_where_it_was_read() -> None:
    d = get_profile("promptir").as_dict()
    assert d["crop_multiple"] == 16 and d["crop_border"] == 0 and d["ssim"] == "skimage"
    text = " ".join(d["source"]["read_from"])
    assert "va1shn9v/PromptIR @ 106159ab809101f2e25b6714195cd6fa9a938d36" in text
    assert "utils/val_utils.py" in text and "XLearning-SCU/2022-CVPR-AirNet @ bedea82" in text


def test_onerestore_profile_is_the_skimage_formula_without_crop() -> None:
    # img_file/cal_psnr_ssim.py: cv2.imread / 255 (float64), skimage PSNR and SSIM(win_size=7)
    prof = get_profile("onerestore")
    assert prof.crop_multiple == 0 and prof.crop_border == 0
    assert "img_file/cal_psnr_ssim.py" in " ".join(prof.source["read_from"])
    for out, gt in _pairs():
        a, b = gt.astype(np.float64) / 255, out.astype(np.float64) / 255
        want_psnr = 10 * np.log10(1.0 / np.mean((a - b) ** 2))
        want_ssim = np.mean([official_ssim_channel(a[..., c], b[..., c]) for c in range(3)])
        got = score_pair(out, gt, prof, ("psnr", "ssim"))
        assert got["psnr"] == pytest.approx(want_psnr, abs=1e-9)
        assert got["ssim"] == pytest.approx(want_ssim, abs=1e-9)
