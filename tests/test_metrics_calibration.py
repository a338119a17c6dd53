"""PSNR/SSIM of both profiles equal an independent NumPy transcription of the MATLAB formulas.

The reference below deliberately imports nothing from uirbench: a direct 2-D 'valid' Gaussian
correlation (fspecial('gaussian', 11, 1.5)), MATLAB's rgb2ycbcr Y on uint8, and 10 log10(255^2/MSE).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from skimage import data as skdata

from uirbench.evaluate.profiles import get_profile
from uirbench.evaluate.runner import score_pair

CBSD68 = Path(__file__).resolve().parents[2] / "shared" / "data/CBSD68"


# ---------------------------------------------------------------- independent reference
def ref_gaussian(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    ax = np.arange(size, dtype=np.float64) - (size - 1) / 2
    xx, yy = np.meshgrid(ax, ax)
    g = np.exp(-(xx**2 + yy**2) / (2 * sigma**2))
    return g / g.sum()


def ref_filter_valid(img: np.ndarray, win: np.ndarray) -> np.ndarray:
    return np.einsum("ijkl,kl->ij", sliding_window_view(img, win.shape), win)


def ref_ssim_channel(a: np.ndarray, b: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    w = ref_gaussian()
    mu1, mu2 = ref_filter_valid(a, w), ref_filter_valid(b, w)
    s11 = ref_filter_valid(a * a, w) - mu1 * mu1
    s22 = ref_filter_valid(b * b, w) - mu2 * mu2
    s12 = ref_filter_valid(a * b, w) - mu1 * mu2
    m = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s11 + s22 + c2))
    return float(m.mean())


def ref_y(rgb: np.ndarray) -> np.ndarray:
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    return np.round(y)  # MATLAB's uint8 output (values are positive: round == half away)


def ref_scores(out: np.ndarray, gt: np.ndarray, crop: int, y: bool) -> tuple[float, float]:
    if crop:
        out, gt = out[crop:-crop, crop:-crop], gt[crop:-crop, crop:-crop]
    if y:
        chans = [(ref_y(out), ref_y(gt))]
    else:
        chans = [(out[..., i].astype(np.float64), gt[..., i].astype(np.float64)) for i in range(3)]
    mse = np.mean([np.mean((a - b) ** 2) for a, b in chans])
    psnr = 10 * np.log10(255.0**2 / mse)
    return float(psnr), float(np.mean([ref_ssim_channel(a, b) for a, b in chans]))


# ---------------------------------------------------------------- real photos, degraded here
def degrade(gt: np.ndarray, kind: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "noise50":
        return np.clip(np.round(gt + rng.normal(0, 50, gt.shape)), 0, 255).astype(np.uint8)
    if kind == "jpeg10":
        ok, buf = cv2.imencode(".jpg", gt[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 10])
        assert ok
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].copy()
    if kind == "blur":
        return cv2.GaussianBlur(gt, (0, 0), 2.0)
    raise ValueError(kind)


def photos() -> list[tuple[str, np.ndarray]]:
    # Odd, non-square crops so a transposed or off-by-one window would show.
    out = [
        ("astronaut", skdata.astronaut()[100:229, 150:311]),
        ("coffee", skdata.coffee()[50:201, 200:317]),
        ("chelsea", skdata.chelsea()[30:141, 100:273]),
    ]
    return [(n, np.ascontiguousarray(a)) for n, a in out]


CASES = [(n, k) for n, _ in photos() for k in ("noise50", "jpeg10", "blur")]


@pytest.mark.parametrize("profile_name", ["daclip", "y"])
@pytest.mark.parametrize("crop", [0, 4])
@pytest.mark.parametrize(("photo", "kind"), CASES)
def test_own_metrics_equal_matlab_reference(photo, kind, crop, profile_name):
    gt = dict(photos())[photo]
    out = degrade(gt, kind, seed=zlib.crc32(f"{photo}-{kind}".encode()))
    base = get_profile(profile_name)
    prof = type(base)(**{**base.__dict__, "crop_border": crop})
    got = score_pair(out, gt, prof, metrics=("psnr", "ssim"))
    want_psnr, want_ssim = ref_scores(out, gt, crop, y=profile_name == "y")
    assert abs(got["psnr"] - want_psnr) < 1e-4
    assert abs(got["ssim"] - want_ssim) < 1e-5
    # A metric that ignored the crop or the colour space would not pass both crops: check the
    # test can fail by comparing against the other crop's reference.
    other = ref_scores(out, gt, 4 - crop, y=profile_name == "y")
    assert abs(got["psnr"] - other[0]) > 1e-4 or abs(got["ssim"] - other[1]) > 1e-5


def test_identical_images_are_inf_psnr_and_unit_ssim():
    gt = photos()[0][1]
    got = score_pair(gt, gt.copy(), get_profile("daclip"), metrics=("psnr", "ssim"))
    assert got["psnr"] == float("inf")
    assert got["ssim"] == pytest.approx(1.0, abs=1e-12)


@pytest.mark.skipif(not CBSD68.is_dir(), reason=f"{CBSD68} absent (real CBSD68 photos)")
@pytest.mark.parametrize("profile_name", ["daclip", "y"])
def test_cbsd68_sigma50_matches_reference(profile_name):
    files = sorted(CBSD68.glob("*.png"))[:3]
    rng = np.random.default_rng(0)
    prof = get_profile(profile_name)
    for f in files:
        gt = cv2.imread(str(f), cv2.IMREAD_COLOR)[..., ::-1].copy()
        lq = np.clip(np.round(gt + rng.normal(0, 50, gt.shape)), 0, 255).astype(np.uint8)
        got = score_pair(lq, gt, prof, metrics=("psnr", "ssim"))
        want = ref_scores(lq, gt, prof.crop_border, y=profile_name == "y")
        assert abs(got["psnr"] - want[0]) < 1e-4, f.name
        assert abs(got["ssim"] - want[1]) < 1e-5, f.name


def test_float_and_uint8_paths_agree_and_unrounded_y_matches_reference():
    from uirbench.evaluate.metrics import psnr, ssim

    gt = photos()[1][1]
    out = degrade(gt, "noise50", seed=3)
    assert ssim(out, gt) == pytest.approx(ssim(out.astype(np.float64), gt.astype(float)), abs=1e-12)
    # BasicSR-style unrounded Y (profile option y_round: false) on the float path.
    base = get_profile("y")
    prof = type(base)(**{**base.__dict__, "y_round": False})
    got = score_pair(out, gt, prof)

    def y(rgb):
        r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
        return 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255

    assert got["ssim"] == pytest.approx(ref_ssim_channel(y(out), y(gt)), abs=1e-5)
    assert got["psnr"] == pytest.approx(
        10 * np.log10(255**2 / np.mean((y(out) - y(gt)) ** 2)), abs=1e-4
    )
    assert psnr(out, gt) != got["psnr"]
