"""How much the field's PSNR/SSIM conventions move a score: the figures in docs/metrics.md.

Same image pairs, scored under each convention (colour space, Y rounding, border crop, SSIM
window, library defaults); the table gives each convention's mean and its mean per-image
difference from the DA-CLIP official test's convention (RGB, 4 px crop, MATLAB SSIM per channel).

Data (real photos): CBSD68 with sigma=50 Gaussian noise (seeded, rounded, clipped) and LIVE1
compressed to JPEG quality 10 with cv2 - the LQ of the benchmark's noisy and jpeg tasks, scored
against their GT. pyiqa's SSIM runs at about 0.2 pairs/s on 2 CPU cores, so pyiqa rows use the
first --pyiqa-pairs pairs of each set (their difference is taken on the same pairs).

    python benchmarks/metric_conventions.py [--data ../shared/data] [--pyiqa-pairs 8]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from uirbench.evaluate.profiles import get_profile
from uirbench.evaluate.runner import score_pair
from uirbench.io import read_image

Pair = tuple[np.ndarray, np.ndarray]  # (LQ, GT) uint8 RGB


def cbsd68_noise50(data: Path, seed: int = 0) -> list[Pair]:
    rng = np.random.default_rng(seed)
    out = []
    for f in sorted((data / "CBSD68").glob("*.png")):
        gt = read_image(f)
        lq = np.clip(np.round(gt + rng.normal(0.0, 50.0, gt.shape)), 0, 255).astype(np.uint8)
        out.append((lq, gt))
    return out


def live1_jpeg10(data: Path) -> list[Pair]:
    out = []
    for f in sorted((data / "LIVE1").glob("*.bmp")):
        gt = read_image(f)
        ok, enc = cv2.imencode(".jpg", gt[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 10])
        assert ok
        out.append((cv2.imdecode(enc, cv2.IMREAD_COLOR)[:, :, ::-1].copy(), gt))
    return out


def _profile(name: str, **kw) -> Callable[[np.ndarray, np.ndarray], tuple[float, float]]:
    prof = get_profile(name).with_overrides(**kw)

    def score(lq: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
        s = score_pair(lq, gt, prof)
        return s["psnr"], s["ssim"]

    return score


def _skimage(wang: bool) -> Callable[[np.ndarray, np.ndarray], tuple[float, float]]:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    kw = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False} if wang else {}

    def score(lq: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
        p = peak_signal_noise_ratio(gt, lq, data_range=255)
        s = structural_similarity(gt, lq, channel_axis=2, data_range=255, **kw)
        return float(p), float(s)

    return score


def _pyiqa() -> Callable[[np.ndarray, np.ndarray], tuple[float, float]]:
    import pyiqa
    import torch

    psnr, ssim = (
        pyiqa.create_metric("psnr", device="cpu"),
        pyiqa.create_metric("ssim", device="cpu"),
    )

    def t(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255.0

    def score(lq: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
        with torch.no_grad():
            return float(psnr(t(lq), t(gt))), float(ssim(t(lq), t(gt)))

    return score


CONVENTIONS: list[tuple[str, str, Callable[[], Callable]]] = [
    (
        "DA-CLIP official test (`daclip`)",
        "RGB, crop 4, MATLAB SSIM per channel",
        lambda: _profile("daclip"),
    ),
    ("no border crop", "RGB, crop 0", lambda: _profile("daclip", crop_border=0)),
    (
        "BasicSR, test_y_channel=True (`basicsr`)",
        "Y float, not rounded, crop 4",
        lambda: _profile("basicsr"),
    ),
    (
        "MATLAB rgb2ycbcr on uint8",
        "Y rounded to uint8, crop 4",
        lambda: _profile("y", crop_border=4),
    ),
    ("MATLAB, no crop (`y`)", "Y rounded, crop 0", lambda: _profile("y")),
    (
        "skimage defaults",
        "RGB, crop 0, SSIM 7x7 uniform window, sample covariance",
        lambda: _skimage(False),
    ),
    (
        "skimage, Wang settings",
        "RGB, crop 0, Gaussian 1.5, population covariance",
        lambda: _skimage(True),
    ),
    (
        "pyiqa defaults (`psnr`, `ssim`)",
        "PSNR RGB float32 crop 0; SSIM on YIQ Y, cs clamped at 0, crop 0",
        _pyiqa,
    ),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    ap.add_argument("--pyiqa-pairs", type=int, default=8)
    args = ap.parse_args()
    sets = {"CBSD68 sigma=50": cbsd68_noise50(args.data), "LIVE1 JPEG q10": live1_jpeg10(args.data)}
    ref = _profile("daclip")
    refs = {k: np.array([ref(lq, gt) for lq, gt in v]) for k, v in sets.items()}
    print(
        "| convention | what it computes | "
        + " | ".join(f"{k} PSNR (Δ) | {k} SSIM (Δ)" for k in sets)
        + " |"
    )
    print("|---|---|" + "---:|---:|" * len(sets))
    for name, what, make in CONVENTIONS:
        fn = make()
        cells = []
        t0 = time.perf_counter()
        n_used = []
        for k, pairs in sets.items():
            n = args.pyiqa_pairs if make is _pyiqa else len(pairs)
            got = np.array([fn(lq, gt) for lq, gt in pairs[:n]])
            d = (got - refs[k][:n]).mean(axis=0)
            cells += [
                f"{got[:, 0].mean():.3f} ({d[0]:+.4f})",
                f"{got[:, 1].mean():.4f} ({d[1]:+.5f})",
            ]
            n_used.append(n)
        note = f" (first {n_used[0]}/{n_used[1]} pairs)" if make is _pyiqa else ""
        print(f"| {name}{note} | {what} | " + " | ".join(cells) + " |", flush=True)
        print(f"<!-- {name}: {time.perf_counter() - t0:.1f} s -->", flush=True)
    print(f"\npairs: {', '.join(f'{k} {len(v)}' for k, v in sets.items())}")


if __name__ == "__main__":
    main()
