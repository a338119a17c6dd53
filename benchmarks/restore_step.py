"""Seconds per training step (forward + backward) of a restoration network, and per inference pass.

Times the bare network of a packaged model config on random inputs (no data, no DA-CLIP: its
embeddings are random tensors of the right size), so configs can be compared on a CPU:

    python benchmarks/restore_step.py --config irsde_daclip_tiny
    python benchmarks/restore_step.py --config irsde_daclip_tiny \\
        --set linear_attn_heads=4 --set linear_attn_dim_head=32     # the official attention

Prints the minimum over --repeats steps (the least disturbed by other jobs on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="irsde_daclip_tiny")
    ap.add_argument("--set", action="append", default=[], help="net key=JSON value (repeatable)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=64, help="training crop side")
    ap.add_argument("--infer-size", type=int, default=256, help="inference image side")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from uirbench.restore import build_network, load_model_config

    cfg = load_model_config(args.config)
    for item in args.set:
        key, raw = item.split("=", 1)
        cfg["net"][key] = json.loads(raw)
    net = build_network(cfg)
    irsde = cfg["arch"] == "irsde"
    ctx_dim = cfg["net"].get("context_dim") or 0
    g = torch.Generator().manual_seed(0)

    def run(batch: int, side: int, train: bool) -> float:
        x = torch.rand(batch, 3, side, side, generator=g)
        kw = {}
        if ctx_dim:
            ctx = torch.randn(batch, ctx_dim, generator=g)
            kw = {"text_context": ctx, "image_context": ctx}
        args_ = (x, x, torch.full((batch,), 5)) if irsde else (x,)
        t0 = time.perf_counter()
        if train:
            net(*args_, **kw).square().mean().backward()
        else:
            with torch.no_grad():
                net(*args_, **kw)
        return time.perf_counter() - t0

    run(args.batch, args.size, True)
    step = min(run(args.batch, args.size, True) for _ in range(args.repeats))
    run(1, args.infer_size, False)
    infer = min(run(1, args.infer_size, False) for _ in range(args.repeats))
    params = sum(p.numel() for p in net.parameters())
    print(
        f"{args.config} {args.set or ''} ({params:,} parameters), {args.threads} thread(s), "
        f"torch {torch.__version__}"
    )
    print(f"train step, batch {args.batch} x {args.size} px: {step:.3f} s (min of {args.repeats})")
    print(f"one pass, 1 x {args.infer_size} px: {infer:.3f} s")


if __name__ == "__main__":
    main()
