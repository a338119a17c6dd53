"""PSNR + SSIM throughput: uirbench vs the per-image NumPy/OpenCV loop vs pyiqa.

Data: CBSD68 GT with sigma=50 Gaussian noise (the benchmark's `noisy` val task). With --root, the
built val pairs of the noisy task are used; otherwise the LQ is synthesised here from the GT
folder with a seeded generator (uint8 GT + N(0, 50), clip, round). Images are decoded before
timing, so the figures are metric throughput only. Protocol: RGB, 4 px border crop (profile
`daclip`). The loop is how the official test script scores (BasicSR-style calculate_psnr /
calculate_ssim: float64, cv2.filter2D with the 11x11 Gaussian, per channel) and is written out
below so the comparison does not depend on uirbench code.

    python benchmarks/evaluate.py [--gt ../shared/data/CBSD68 | --root ROOT] [--pyiqa-pairs 8]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import cv2
import numpy as np

CROP = 4


def load_pairs(gt_dir: Path | None, root: Path | None, seed: int) -> list[tuple[np.ndarray, ...]]:
    from uirbench.io import read_image

    if root is not None:
        gts = sorted((root / "val" / "noisy" / "GT").glob("*.png"))
        return [(read_image(root / "val/noisy/LQ" / g.name), read_image(g)) for g in gts]
    rng = np.random.default_rng(seed)
    pairs = []
    for f in sorted(gt_dir.glob("*.png")):
        gt = read_image(f)
        lq = np.clip(np.round(gt + rng.normal(0.0, 50.0, gt.shape)), 0, 255).astype(np.uint8)
        pairs.append((lq, gt))
    return pairs


# ----------------------------------------------------------- the usual per-image loop
def loop_psnr(img: np.ndarray, ref: np.ndarray) -> float:
    img, ref = img[CROP:-CROP, CROP:-CROP].astype(np.float64), ref[CROP:-CROP, CROP:-CROP]
    mse = np.mean((img - ref.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def _loop_ssim_channel(img: np.ndarray, ref: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    k = cv2.getGaussianKernel(11, 1.5)
    w = np.outer(k, k.transpose())
    mu1 = cv2.filter2D(img, -1, w)[5:-5, 5:-5]
    mu2 = cv2.filter2D(ref, -1, w)[5:-5, 5:-5]
    mu1_sq, mu2_sq, mu1_mu2 = mu1**2, mu2**2, mu1 * mu2
    s1 = cv2.filter2D(img**2, -1, w)[5:-5, 5:-5] - mu1_sq
    s2 = cv2.filter2D(ref**2, -1, w)[5:-5, 5:-5] - mu2_sq
    s12 = cv2.filter2D(img * ref, -1, w)[5:-5, 5:-5] - mu1_mu2
    m = ((2 * mu1_mu2 + c1) * (2 * s12 + c2)) / ((mu1_sq + mu2_sq + c1) * (s1 + s2 + c2))
    return float(m.mean())


def loop_ssim(img: np.ndarray, ref: np.ndarray) -> float:
    img = img[CROP:-CROP, CROP:-CROP].astype(np.float64)
    ref = ref[CROP:-CROP, CROP:-CROP].astype(np.float64)
    return float(np.mean([_loop_ssim_channel(img[..., c], ref[..., c]) for c in range(3)]))


def run_loop(pairs):
    return [(loop_psnr(a, b), loop_ssim(a, b)) for a, b in pairs]


# ----------------------------------------------------------- uirbench
def run_uirbench(pairs, threads: int):
    from concurrent.futures import ThreadPoolExecutor

    from uirbench.evaluate.profiles import get_profile
    from uirbench.evaluate.runner import score_pair

    prof = get_profile("daclip")  # crop 4, RGB

    def one(p):
        s = score_pair(p[0], p[1], prof, ("psnr", "ssim"))
        return s["psnr"], s["ssim"]

    if threads == 1:
        return [one(p) for p in pairs]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, pairs))


# ----------------------------------------------------------- pyiqa
def make_pyiqa():
    """pyiqa's PSNR + SSIM scorer. Import and metric construction happen here, outside the timer,
    as uirbench's and the loop's setup are (timing them inside once made pyiqa look ~10x slower)."""
    import pyiqa
    import torch

    dev = torch.device("cpu")
    psnr = pyiqa.create_metric(
        "psnr", as_loss=False, device=dev, test_y_channel=False, crop_border=CROP
    )
    ssim = pyiqa.create_metric(
        "ssim",
        as_loss=False,
        device=dev,
        channels=3,
        downsample=False,
        test_y_channel=False,
        color_space="yiq",
        crop_border=CROP,
    )

    def run_pyiqa(pairs):
        out = []
        for a, b in pairs:
            ta, tb = (torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255 for x in (a, b))
            out.append((float(psnr(ta, tb)), float(ssim(ta, tb))))
        return out

    return run_pyiqa


def end_to_end(pairs, repeat: int) -> list[tuple[str, float]]:
    """Whole `evaluate --outputs` runs (decode + pair + score + write) vs decode + loop."""
    import tempfile

    from uirbench.data.index import to_table, write_index
    from uirbench.data.layout import pair_relpaths, sample_key
    from uirbench.evaluate import run
    from uirbench.io import read_image, sha256_file, write_png
    from uirbench.tasks import get_task

    task = get_task("noisy")
    with tempfile.TemporaryDirectory() as tmp:
        root, outs = Path(tmp) / "root", Path(tmp) / "outs"
        rows, files = [], []
        for i, (lq, gt) in enumerate(pairs):
            stem = f"{i:04d}"
            lq_rel, gt_rel = pair_relpaths("val", task, stem)
            write_png(root / gt_rel, gt)
            write_png(outs / "noisy" / f"{stem}.png", lq)
            files.append((outs / "noisy" / f"{stem}.png", root / gt_rel))
            rows.append(
                {
                    "key": sample_key("val", task, stem),
                    "split": "val",
                    "task": "noisy",
                    "stem": stem,
                    "lq_path": lq_rel,
                    "gt_path": gt_rel,
                    "source": "bench",
                    "source_image": "",
                    "synth": "noise",
                    "params": "{}",
                    "seed": i,
                    "lq_sha256": "",
                    "gt_sha256": sha256_file(root / gt_rel),
                    "width": gt.shape[1],
                    "height": gt.shape[0],
                    "caption": None,
                }
            )
        write_index(root, to_table(rows))
        out = []

        def loop_files(_):
            return [
                (loop_psnr(a, b), loop_ssim(a, b))
                for a, b in ((read_image(x), read_image(y)) for x, y in files)
            ]

        out.append(("decode + loop, per image", timed(loop_files, pairs, repeat)[0]))
        for workers in (0, 2):

            def ev(_, w=workers):
                run(root=root, outputs=outs, out=Path(tmp) / "res", metrics="psnr,ssim", workers=w)

            out.append(
                (f"uirbench evaluate --outputs (workers={workers})", timed(ev, pairs, repeat)[0])
            )
    return out


def timed(fn, pairs, repeat: int):
    best, res = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        res = fn(pairs)
        best = min(best, time.perf_counter() - t)
    return len(pairs) / best, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--gt", type=Path, default=(Path(__file__).resolve().parents[2] / "shared" / "data/CBSD68")
    )
    ap.add_argument("--root", type=Path, default=None, help="built root (uses val/noisy)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--pyiqa-pairs", type=int, default=8, help="pairs for pyiqa (slow); 0 skips")
    ap.add_argument("--end-to-end", action="store_true", help="also time whole evaluate runs")
    args = ap.parse_args()
    pairs = load_pairs(None if args.root else args.gt, args.root, args.seed)
    if not pairs:
        raise SystemExit(f"no images under {args.root or args.gt}")
    src = f"{args.root}/val/noisy" if args.root else f"{args.gt} + N(0,50) seed {args.seed}"
    print(f"data: {len(pairs)} pairs from {src}; crop {CROP}, RGB")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"cv2 {cv2.__version__}, numpy {np.__version__}"
    )

    # Repeats interleave the methods, so a burst of load from other processes hits all of them;
    # each method keeps its best run.
    # pyiqa, when asked, runs in the same rounds on its first --pyiqa-pairs pairs (it is slow),
    # constructed and warmed on one pair before any timing, like the others' setup.
    methods = [("loop (NumPy/OpenCV filter2D, per image)", run_loop, len(pairs))]
    for th in sorted({1, args.threads}):
        name = f"uirbench ({th} thread{'s' if th > 1 else ''})"
        methods.append((name, lambda p, th=th: run_uirbench(p, th), len(pairs)))
    if args.pyiqa_pairs:
        n_iqa = min(args.pyiqa_pairs, len(pairs))
        run_pyiqa = make_pyiqa()
        methods.append((f"pyiqa psnr+ssim (first {n_iqa} pairs)", run_pyiqa, n_iqa))
    for _, fn, _n in methods:  # every method warmed once, untimed
        fn(pairs[:1])
    best = {name: float("inf") for name, _, _ in methods}
    results = {}
    for _ in range(args.repeat):
        for name, fn, n in methods:
            t = time.perf_counter()
            results[name] = fn(pairs[:n])
            best[name] = min(best[name], time.perf_counter() - t)
    loop_name = methods[0][0]
    loop_rate = len(pairs) / best[loop_name]
    ref = np.array(results[loop_name])
    rows = [(name, n / best[name], np.array(results[name]), n) for name, _, n in methods]

    print(
        f"{'method':44} {'pairs/s':>8} {'x loop':>7} {'mean PSNR':>10} {'mean SSIM':>10} "
        f"{'max|dPSNR|':>11} {'max|dSSIM|':>11}"
    )
    for name, rate, res, n in rows:
        d = np.abs(res - ref[:n]).max(axis=0)
        print(
            f"{name:44} {rate:8.1f} {rate / loop_rate:7.2f} {res[:, 0].mean():10.4f} "
            f"{res[:, 1].mean():10.6f} {d[0]:11.2e} {d[1]:11.2e}"
        )
    print(
        f"(loop over the same {n} pairs: mean PSNR {ref[:n, 0].mean():.4f}, "
        f"mean SSIM {ref[:n, 1].mean():.6f})"
    )
    if args.end_to_end:
        print("end to end (PNG decode included):")
        for name, rate in end_to_end(pairs, args.repeat):
            print(f"  {name:46} {rate:8.1f} pairs/s")


if __name__ == "__main__":
    main()
