"""How much the aio3 conventions move a score: the figures in docs/benchmarks.md.

The identity "restoration" (noisy LQ scored against its GT) of CBSD68 at sigma 15/25/50, with
the LQ exactly as `build-data --preset aio3` makes it (per-pair seed, truncated noise):

A. one set of pairs under each metric protocol: aio3's own (`promptir`: skimage SSIM, crop to a
   multiple of 16), that protocol with one piece changed, and the other profiles (`daclip`,
   `y`, `basicsr`);
B. the same metric (`promptir`) on LQ made under other noise conventions: rounding instead of
   truncation (same draws), other global seeds, and the official scripts' single global
   stream (np.random.seed(0), np.random.randn per image in file order, sigma 15 then 25 then 50).

    python benchmarks/aio3_conventions.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from uirbench.data.synth import apply, pair_seed
from uirbench.evaluate.profiles import crop_to_multiple, get_profile
from uirbench.evaluate.runner import score_pair
from uirbench.io import read_image

SIGMAS = (15, 25, 50)


def lq_uirbench(gt: np.ndarray, stem: str, sigma: int, seed: int = 0, quantize: str = "truncate"):
    task = f"noisy-{sigma}"
    return apply("noise", gt, pair_seed(seed, "val", task, stem), sigma=sigma, quantize=quantize)[0]


def mean_scores(pairs: list[tuple[np.ndarray, np.ndarray]], prof) -> tuple[float, float]:
    s = np.array([list(score_pair(lq, gt, prof).values()) for lq, gt in pairs])
    return float(s[:, 0].mean()), float(s[:, 1].mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    args = ap.parse_args()
    files = sorted((args.data / "CBSD68").glob("*.png"))
    gts = {f.stem: read_image(f) for f in files}
    ours = {s: [(lq_uirbench(g, k, s), g) for k, g in gts.items()] for s in SIGMAS}

    base = get_profile("promptir")
    protocols = [
        ("aio3 (`promptir`)", base),
        ("... without the crop to a multiple of 16", replace(base, crop_multiple=0)),
        ("... with Wang et al.'s SSIM (Gaussian 11x11)", replace(base, ssim="matlab")),
        ("DA-CLIP (`daclip`: RGB, 4 px crop, Gaussian SSIM)", get_profile("daclip")),
        ("MATLAB Y (`y`: rounded Y, no crop)", get_profile("y")),
        ("BasicSR (`basicsr`: float Y, 4 px crop)", get_profile("basicsr")),
    ]
    print("A. Identity (LQ vs GT) of the aio3 denoising sets, PSNR / SSIM by metric protocol\n")
    print("| protocol | " + " | ".join(f"sigma {s}" for s in SIGMAS) + " |")
    print("|---|" + "---:|" * len(SIGMAS))
    ref = {s: mean_scores(ours[s], base) for s in SIGMAS}
    for name, prof in protocols:
        cells = []
        for s in SIGMAS:
            p, q = mean_scores(ours[s], prof)
            cells.append(f"{p:.3f} / {q:.4f} ({p - ref[s][0]:+.3f} / {q - ref[s][1]:+.4f})")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)

    print("\nB. Same metric (`promptir`), LQ made under other noise conventions\n")
    print("| noise convention | " + " | ".join(f"sigma {s}" for s in SIGMAS) + " |")
    print("|---|" + "---:|" * len(SIGMAS))
    rounded = {
        s: [(lq_uirbench(g, k, s, quantize="round"), g) for k, g in gts.items()] for s in SIGMAS
    }
    rows = [("uirbench aio3 (per-pair seed 0, truncated)", ours)]
    rows.append(("same draws, rounded (uir10's quantisation)", rounded))
    # The official DenoiseTestDataset: one global stream, each image centre-cropped to a
    # multiple of 16 first, sigma 15 then 25 then 50; file order here is sorted (os.listdir's
    # order depends on the file system).
    np.random.seed(0)
    official = {}
    for s in SIGMAS:
        pairs = []
        for g in gts.values():
            c = crop_to_multiple(g, 16)
            noise = np.random.randn(*c.shape)
            pairs.append((np.clip(c + noise * s, 0, 255).astype(np.uint8), c))
        official[s] = pairs
    rows.append(("official stream (np.random.seed(0), sorted order)", official))
    for name, sets in rows:
        cells = []
        for s in SIGMAS:
            p, q = mean_scores(sets[s], base)
            cells.append(f"{p:.3f} / {q:.4f} ({p - ref[s][0]:+.3f} / {q - ref[s][1]:+.4f})")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    spread = {s: [] for s in SIGMAS}
    for seed in range(5):
        for s in SIGMAS:
            pairs = [(lq_uirbench(g, k, s, seed=seed), g) for k, g in gts.items()]
            spread[s].append(mean_scores(pairs, base))
    cells = []
    for s in SIGMAS:
        a = np.array(spread[s])
        cells.append(f"PSNR {np.ptp(a[:, 0]):.3f} dB, SSIM {np.ptp(a[:, 1]):.4f}")
    print("| range of the set mean over global seeds 0-4 | " + " | ".join(cells) + " |")
    print(f"\npairs: {len(gts)} per sigma (CBSD68)")


if __name__ == "__main__":
    main()
