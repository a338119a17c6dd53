"""Caption throughput: batched BLIP vs one image per call (how the official script captioned).

Both modes run the same ``transformers`` backend code on the same images with a randomly
initialised BLIP of the real blip-base size (ViT-B/16 at 384 px, 12-layer decoder, 30524-token
vocabulary); every caption is forced to exactly ``--tokens`` new tokens so both modes do equal
work. Prints images/s of each mode, the speed-up, and how many captions the two modes agree on.

    python benchmarks/caption.py                      # CPU, fp32
    python benchmarks/caption.py --device cuda        # GPU, fp16 (as the official captions)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def make_images(n: int, side: int, seed: int = 0) -> list[np.ndarray]:
    """Smooth random colour fields (BLIP resizes them to 384 px anyway)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] / side
    out = []
    for _ in range(n):
        a = rng.uniform(0, 6, (3, 3))
        img = np.stack([np.sin(a[c, 0] * xx + a[c, 1] * yy + a[c, 2]) for c in range(3)], -1)
        out.append(((img + 1) * 127.5).astype(np.uint8))
    return out


def run(captioner, images: list[np.ndarray], batch: int) -> tuple[float, list[str]]:  # type: ignore[no-untyped-def]
    from uirbench.caption.base import Item

    items = [Item(gt_sha256=str(i), gt_path=f"{i}.png") for i in range(len(images))]
    sync = _sync(captioner.device)
    sync()
    t0 = time.perf_counter()
    texts: list[str] = []
    for i in range(0, len(images), batch):
        texts += captioner.caption(items[i : i + batch], images[i : i + batch])
    sync()
    return len(images) / (time.perf_counter() - t0), texts


def _sync(device: str):  # type: ignore[no-untyped-def]
    import torch

    return torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--size", default="base", choices=["tiny", "base"])
    ap.add_argument("--images", type=int, default=None, help="default 12 on CPU, 128 on GPU")
    ap.add_argument("--batch-size", type=int, default=None, help="default 12 on CPU, 64 on GPU")
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--fp16", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--model-dir", type=Path, default=None, help="reuse/keep the random model")
    args = ap.parse_args()
    gpu = args.device.startswith("cuda")
    n = args.images or (128 if gpu else 12)
    batch = args.batch_size or (64 if gpu else 12)

    import torch

    from uirbench.caption.backends.transformers_blip import TransformersBlip
    from uirbench.caption.random_blip import make_random_blip

    tmp = tempfile.TemporaryDirectory()
    folder = args.model_dir or Path(tmp.name) / f"blip-{args.size}"
    if not (folder / "config.json").is_file():
        make_random_blip(folder, size=args.size)
    cap = TransformersBlip(
        str(folder), device=args.device, max_new_tokens=args.tokens, fp16=args.fp16
    )
    cap.model.generation_config.min_new_tokens = args.tokens  # equal work: exactly N tokens each
    images = make_images(n, 256)
    run(cap, images[:2], 2)  # warm-up (allocations, kernels)
    single, t1 = run(cap, images, 1)
    batched, tb = run(cap, images, batch)
    same = sum(a == b for a, b in zip(t1, tb, strict=True))
    name = torch.cuda.get_device_name(0) if gpu else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {name}; model: random blip-{args.size}, {'fp16' if cap.fp16 else 'fp32'}")
    print(f"images: {n}, new tokens per caption: {args.tokens}")
    print(f"one image per call: {single:.3f} img/s")
    print(f"batched (batch {batch}): {batched:.3f} img/s")
    print(f"speed-up: {batched / single:.2f}x")
    print(f"identical captions in both modes: {same}/{n}")


if __name__ == "__main__":
    main()
