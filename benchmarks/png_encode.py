"""PNG encode time and size: OpenCV's defaults (what uirbench writes) against stored
(``uirbench.io.PNG_STORED_PARAMS``: level 0, no row filter), on clean images and on the same
images with sigma-50 noise (what build-data's noisy task writes). Pixels are identical.

  python benchmarks/png_encode.py --images ../shared/data/CBSD68
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from uirbench.data.synth.exact import gaussian_noise
from uirbench.io import PNG_PARAMS, PNG_STORED_PARAMS


def measure(images: list[np.ndarray], params: tuple[int, ...], repeats: int) -> tuple[float, float]:
    """(ms per encode, best of ``repeats``; mean KB per file)."""
    best, size = float("inf"), 0
    for _ in range(repeats):
        t, size = time.perf_counter(), 0
        for img in images:
            ok, buf = cv2.imencode(".png", img, list(params))
            assert ok
            size += len(buf)
        best = min(best, time.perf_counter() - t)
    return 1000 * best / len(images), size / len(images) / 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--images", type=Path, required=True, help="folder of clean PNGs")
    ap.add_argument("--count", type=int, default=20, help="images to use (sorted by name)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    clean = [cv2.imread(str(p)) for p in sorted(args.images.glob("*.png"))[: args.count]]
    rng = np.random.default_rng(0)
    noisy = [gaussian_noise(img, rng)[0] for img in clean]
    print(f"{len(clean)} images from {args.images}, cv2 {cv2.__version__}, one thread")
    cv2.setNumThreads(1)
    for label, images in (("clean", clean), ("sigma-50 noisy", noisy)):
        for name, params in (("default", PNG_PARAMS), ("stored", PNG_STORED_PARAMS)):
            ms, kb = measure(images, params, args.repeats)
            print(f"{label:15s} {name:8s} {ms:6.2f} ms per encode  {kb:7.1f} KB per file")


if __name__ == "__main__":
    main()
