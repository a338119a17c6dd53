"""`--profile basicsr` equals BasicSR's calculate_psnr / calculate_ssim(test_y_channel=True).

The oracle below is a transcription of BasicSR's code (basicsr/metrics/psnr_ssim.py,
metric_util.to_y_channel, utils/color_util.bgr2ycbcr at XPixelGroup/BasicSR), written here and
importing no uirbench metric code: BGR images as cv2 reads them, crop, Y in float32 via
img/255 -> dot with the BGR weights + 16 -> /255 -> float32 -> *255 (not rounded), then
float64 PSNR and the 11x11 Gaussian SSIM with cv2.filter2D. Data: LIVE1's 29 photos (real files,
when present) compressed to JPEG quality 10 with cv2 in the test.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from uirbench.evaluate import run
from uirbench.evaluate.profiles import get_profile

LIVE1 = Path(__file__).resolve().parents[2] / "shared" / "data" / "LIVE1"


# ---------------------------------------------------------------- BasicSR, transcribed
def _bgr2ycbcr_y(img: np.ndarray) -> np.ndarray:
    img = img.astype(np.float32)  # float32 input in [0, 1]: _convert_input_type_range keeps it
    out = np.dot(img, [24.966, 128.553, 65.481]) + 16.0
    out /= 255.0  # _convert_output_type_range(out, np.float32)
    return out.astype(np.float32)


def _to_y_channel(img: np.ndarray) -> np.ndarray:
    img = img.astype(np.float32) / 255.0
    img = _bgr2ycbcr_y(img)[..., None]
    return img * 255.0


def _basicsr_psnr(img, img2, crop_border):
    img = img[crop_border:-crop_border, crop_border:-crop_border, ...] if crop_border else img
    img2 = img2[crop_border:-crop_border, crop_border:-crop_border, ...] if crop_border else img2
    img, img2 = _to_y_channel(img).astype(np.float64), _to_y_channel(img2).astype(np.float64)
    mse = np.mean((img - img2) ** 2)
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 * 255.0 / mse)


def _basicsr_ssim_1(img, img2):
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    kernel = cv2.getGaussianKernel(11, 1.5)
    window = np.outer(kernel, kernel.transpose())
    mu1 = cv2.filter2D(img, -1, window)[5:-5, 5:-5]
    mu2 = cv2.filter2D(img2, -1, window)[5:-5, 5:-5]
    mu1_sq, mu2_sq, mu1_mu2 = mu1**2, mu2**2, mu1 * mu2
    sigma1_sq = cv2.filter2D(img**2, -1, window)[5:-5, 5:-5] - mu1_sq
    sigma2_sq = cv2.filter2D(img2**2, -1, window)[5:-5, 5:-5] - mu2_sq
    sigma12 = cv2.filter2D(img * img2, -1, window)[5:-5, 5:-5] - mu1_mu2
    num = (2 * mu1_mu2 + c1) * (2 * sigma12 + c2)
    return (num / ((mu1_sq + mu2_sq + c1) * (sigma1_sq + sigma2_sq + c2))).mean()


def _basicsr_ssim(img, img2, crop_border):
    img = img[crop_border:-crop_border, crop_border:-crop_border, ...] if crop_border else img
    img2 = img2[crop_border:-crop_border, crop_border:-crop_border, ...] if crop_border else img2
    img, img2 = _to_y_channel(img).astype(np.float64), _to_y_channel(img2).astype(np.float64)
    return float(np.mean([_basicsr_ssim_1(img[..., i], img2[..., i]) for i in range(img.shape[2])]))


# ---------------------------------------------------------------- the test
@pytest.fixture(scope="module")
def live1_q10(tmp_path_factory) -> tuple[Path, Path]:
    if not LIVE1.is_dir():
        pytest.skip(f"{LIVE1} absent (real LIVE1 photos)")
    tmp = tmp_path_factory.mktemp("live1")
    gt_dir, lq_dir = tmp / "gt", tmp / "q10"
    gt_dir.mkdir()
    lq_dir.mkdir()
    files = sorted(LIVE1.glob("*.bmp"))
    assert len(files) == 29
    for f in files:
        bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
        cv2.imwrite(str(gt_dir / f"{f.stem}.png"), bgr)
        ok, enc = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 10])
        assert ok
        cv2.imwrite(str(lq_dir / f"{f.stem}.png"), cv2.imdecode(enc, cv2.IMREAD_COLOR))
    return gt_dir, lq_dir


def test_basicsr_profile_equals_basicsr_formula_on_live1_jpeg_q10(live1_q10, tmp_path):
    gt_dir, lq_dir = live1_q10
    crop = 4  # the profile's; other crops: test_cli_overrides_are_recorded
    prof = get_profile("basicsr")
    res = run(
        root=None, gt=gt_dir, outputs=lq_dir, task="jpeg", profile=prof, out=tmp_path / "r",
        metrics="psnr,ssim",
    )  # fmt: skip
    per_image = pd.read_csv(tmp_path / "r" / "per_image.csv").set_index("stem")
    assert len(per_image) == 29
    for stem, row in per_image.iterrows():
        gt = cv2.imread(str(gt_dir / f"{stem}.png"), cv2.IMREAD_COLOR)
        lq = cv2.imread(str(lq_dir / f"{stem}.png"), cv2.IMREAD_COLOR)
        assert row["psnr"] == pytest.approx(_basicsr_psnr(lq, gt, crop), abs=1e-4), stem
        assert row["ssim"] == pytest.approx(_basicsr_ssim(lq, gt, crop), abs=1e-5), stem
    j = json.loads((tmp_path / "r" / "results.json").read_text())
    assert j["profile"]["y_round"] is False and j["profile"]["color"] == "y"
    assert j["profile"]["crop_border"] == crop
    assert j["profile"]["name"] == "basicsr" and j["profile"]["overrides"] == {}
    # The rounded (MATLAB) Y of the `y` profile differs measurably: the profiles are not aliases.
    y = run(
        root=None, gt=gt_dir, outputs=lq_dir, task="jpeg", out=tmp_path / "y",
        profile=get_profile("y").with_overrides(crop_border=crop), metrics="psnr", workers=0,
    )  # fmt: skip
    assert abs(y["per_task"]["jpeg"]["psnr"] - res["per_task"]["jpeg"]["psnr"]) > 1e-3


def test_cli_overrides_are_recorded(live1_q10, tmp_path):
    import subprocess
    import sys

    gt_dir, lq_dir = live1_q10
    out = tmp_path / "r"
    cmd = [sys.executable, "-m", "uirbench", "evaluate", "--gt", str(gt_dir), "--outputs"]
    cmd += [str(lq_dir), "--out", str(out), "--metrics", "psnr", "--crop-border", "8"]
    cmd += ["--y-channel", "--workers", "1"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    prof = json.loads((out / "results.json").read_text())["profile"]
    assert prof["name"] == "daclip+crop_border=8+y_channel"
    assert prof["overrides"] == {"crop_border": 8, "color": "y"} and prof["color"] == "y"
    # ... and applied: the first image's PSNR is MATLAB's rounded Y with an 8 px crop.
    row = pd.read_csv(out / "per_image.csv").iloc[0]
    ys = []
    for d in (lq_dir, gt_dir):
        rgb = cv2.imread(str(d / f"{row['stem']}.png"))[8:-8, 8:-8, ::-1].astype(np.float64)
        ys.append(np.floor(rgb @ np.array([65.481, 128.553, 24.966]) / 255.0 + 16.0 + 0.5))
    want = 10 * np.log10(255.0**2 / np.mean((ys[0] - ys[1]) ** 2))
    assert row["psnr"] == pytest.approx(want, abs=1e-9)
