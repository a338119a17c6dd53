"""Throughput and memory of build-data's synthesis path (noisy + jpeg + inpainting).

Compares, on the same clean images (CBSD68 from a mirror folder, or packaged photos):
  plain loop   read GT, degrade in float64, cv2.imwrite the LQ, one process (the official
               scripts' way; noise then JPEG then inpainting, each its own pass)
  codec floor  read GT + write one LQ PNG per pair, nothing else, one process (OpenCV's PNG
               defaults; and again with stored PNGs, the floor of `--png stored`)
  uirbench     the real builder (`build(from_dir=...)`) with 1 and 2 workers, and with 2
               workers and `--png stored`: index, hashes, shards and GT copies included
and the builder's peak RSS (largest process) at two dataset sizes.

  python benchmarks/build_data.py --images ../shared/data/CBSD68
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from uirbench.io import PNG_STORED_PARAMS

TASKS = "noisy,jpeg,inpainting"


def plain_loop(images: list[Path], out: Path) -> float:
    """The official scripts' way, one process, float64 arithmetic, cv2 defaults."""
    from uirbench.data.synth.masks import procedural_thin_masks

    masks, _ = procedural_thin_masks()
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    for i, path in enumerate(images):
        gt = cv2.imread(str(path))
        x = gt.astype(np.float64) / 255.0
        noisy = np.clip(x + np.random.randn(*x.shape) * 50 / 255, 0, 1)
        cv2.imwrite(str(out / f"n{i}.png"), (noisy * 255).astype(np.uint8))
        _ok, buf = cv2.imencode(".jpg", gt, [cv2.IMWRITE_JPEG_QUALITY, 10])
        cv2.imwrite(str(out / f"j{i}.png"), cv2.imdecode(buf, cv2.IMREAD_COLOR))
        m = cv2.resize(masks[i % len(masks)], (gt.shape[1], gt.shape[0]), cv2.INTER_AREA)
        m = (m.astype(np.float64) / 255.0)[:, :, None]
        cv2.imwrite(str(out / f"i{i}.png"), (x * m + (1 - m)) * 255)
    return 3 * len(images) / (time.perf_counter() - t)


def codec_floor(images: list[Path], out: Path, params: tuple[int, ...] = ()) -> float:
    """Read the GT and write one PNG per pair: the least any builder must do (``params``:
    OpenCV's PNG defaults, or uirbench's stored PNG for the ``--png stored`` comparison)."""
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    for i, path in enumerate(images):
        for task in range(3):
            gt = cv2.imread(str(path))
            cv2.imwrite(str(out / f"{task}-{i}.png"), gt, list(params))
    return 3 * len(images) / (time.perf_counter() - t)


def settled() -> None:
    """Write back earlier runs' files before timing the next: each run writes ~1 GB at 816
    pairs, and the kernel's background writeback of one run otherwise lands in the next one's
    time (it made the same build vary by 20%)."""
    os.sync()


def run_builder(
    photos: Path, root: Path, workers: int, png: str = "compressed"
) -> tuple[float, float, int, float]:
    """Build in a fresh process (the root is deleted afterwards).

    Returns (pairs/s end to end, wall s, peak RSS in MiB of any process, pairs/s of the pair
    phase alone: worker start-up, decode, synthesis, PNG encode, writes and hashes, but not the
    index and shards written at the end).
    """
    code = (
        "import json,sys\n"
        "from uirbench.data.build import build\n"
        f"r = build(root={str(root)!r}, from_dir={str(photos)!r}, tasks={TASKS!r}, "
        f"splits='val', workers={workers}, png={png!r})\n"
        "import resource\n"
        "rss = max(resource.getrusage(w).ru_maxrss for w in "
        "(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))\n"
        "print(json.dumps({'pairs': r.built, 'seconds': r.seconds, 'synth': r.pairs_seconds, "
        "'rss_kib': rss}))\n"
    )
    settled()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    shutil.rmtree(root)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    peak = res["rss_kib"] / 1024  # the run's own process or one of its workers, whichever peaked
    return res["pairs"] / res["seconds"], res["seconds"], int(peak), res["pairs"] / res["synth"]


def packaged_images(folder: Path) -> list[Path]:
    import skimage.data

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in ["astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "retina"]:
        img = getattr(skimage.data, name)()
        p = folder / f"{name}.png"
        cv2.imwrite(str(p), img[:, :, ::-1])
        paths.append(p)
    return paths


def replicate(images: list[Path], folder: Path, times: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(times):
        for p in images:
            shutil.copy(p, folder / f"{p.stem}-r{k}{p.suffix}")
    return folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--images", type=Path, help="folder of clean PNGs (default: packaged photos)")
    ap.add_argument("--repeats", type=int, default=2, help="best of N for each timing")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.images:
            images = sorted(args.images.glob("*.png"))
            photos = args.images
        else:
            photos = tmp / "photos"
            images = packaged_images(photos)
        print(f"images: {len(images)} from {photos}, pairs per run: {3 * len(images)} ({TASKS})")
        print(f"machine: {os.cpu_count()} cores, cv2 {cv2.__version__}, numpy {np.__version__}")

        def best(run) -> float:
            rates = []
            for _ in range(args.repeats):
                out = tmp / f"run{time.time_ns()}"
                settled()
                rates.append(run(out))
                shutil.rmtree(out)
            return max(rates)

        loop = best(lambda out: plain_loop(images, out))
        floor = best(lambda out: codec_floor(images, out))
        print(f"plain loop (float64, 1 process):   {loop:7.1f} pairs/s")
        floor_stored = best(lambda out: codec_floor(images, out, PNG_STORED_PARAMS))
        floors = {"compressed": floor, "stored": floor_stored}
        print(f"codec floor (read + write PNG):     {floor:7.1f} pairs/s")
        print(f"codec floor, stored PNG:            {floor_stored:7.1f} pairs/s")
        sizes = {1: photos, 4: replicate(images, tmp / "rep4", 4)}
        for times, folder in sizes.items():
            for workers, png in ((1, "compressed"), (2, "compressed"), (2, "stored")):
                runs = [
                    run_builder(folder, tmp / f"b{time.time_ns()}", workers, png)
                    for _ in range(args.repeats)
                ]
                rate, synth = max(r[0] for r in runs), max(r[3] for r in runs)
                print(
                    f"uirbench build --png {png:10s}, {3 * len(images) * times:4d} pairs, "
                    f"{workers} worker(s): "
                    f"{rate:6.1f} pairs/s end to end ({rate / loop:.2f}x loop, "
                    f"{rate / (workers * floor):.0%} of {workers}x floor"
                    + (
                        f", {rate / (workers * floors[png]):.0%} of {workers}x {png} floor"
                        if png != "compressed"
                        else ""
                    )
                    + f"); pair phase {synth:6.1f} pairs/s ({synth / loop:.2f}x loop, "
                    f"{synth / (workers * floor):.0%} of {workers}x floor)"
                )
        for times, folder in sizes.items():
            _, secs, peak, _ = run_builder(folder, tmp / f"rss{times}", 2)
            print(
                f"peak RSS, {3 * len(images) * times:5d} pairs, 2 workers: {peak} MiB "
                f"(largest process; {secs:.1f} s)"
            )


if __name__ == "__main__":
    main()
