"""Seconds per training step (forward + backward) of a restoration network, and per inference pass,
for one or more configurations timed in one interleaved run.

Times the bare network of a packaged model config on random inputs (no data, no DA-CLIP: its
embeddings are random tensors of the right size), so configs can be compared on a CPU. Each
``--variant NAME:key=JSON,key=JSON`` is the base config with those net keys changed; the
variants are timed round robin (one step of each per round), so load from other jobs on a
shared machine hits all of them alike, and each keeps its minimum over --repeats rounds:

    python benchmarks/restore_step.py --config irsde_daclip_tiny \\
        --variant recipe: \\
        --variant official-attn:linear_attn_heads=4,linear_attn_dim_head=32
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import torch


def parse_variant(text: str) -> tuple[str, dict]:
    name, _, sets = text.partition(":")
    changes = {}
    for item in filter(None, sets.split(",")):
        key, raw = item.split("=", 1)
        changes[key] = json.loads(raw)
    return name or "base", changes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="irsde_daclip_tiny")
    ap.add_argument("--variant", action="append", default=[], help="NAME:key=JSON,... (repeat)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=64, help="training crop side")
    ap.add_argument("--infer-size", type=int, default=256, help="inference image side")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from uirbench.restore import build_network, load_model_config

    base = load_model_config(args.config)
    variants = [parse_variant(v) for v in args.variant] or [("base", {})]
    g = torch.Generator().manual_seed(0)
    runners = {}
    for name, changes in variants:
        cfg = copy.deepcopy(base)
        cfg["net"].update(changes)
        net = build_network(cfg)
        irsde = cfg["arch"] == "irsde"
        ctx_dim = cfg["net"].get("context_dim") or 0

        def run(batch: int, side: int, train: bool, net=net, irsde=irsde, ctx_dim=ctx_dim):
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

        run(args.batch, args.size, True)  # warm-up, untimed
        run(1, args.infer_size, False)
        runners[name] = (run, sum(p.numel() for p in net.parameters()), changes)
    step = {n: float("inf") for n in runners}
    infer = dict(step)
    for _ in range(args.repeats):
        for name, (run, _, _) in runners.items():
            step[name] = min(step[name], run(args.batch, args.size, True))
            infer[name] = min(infer[name], run(1, args.infer_size, False))
    print(
        f"{args.config}, {args.threads} thread(s), torch {torch.__version__}; min of "
        f"{args.repeats} interleaved rounds; train step batch {args.batch} x {args.size} px, "
        f"one pass 1 x {args.infer_size} px"
    )
    first = next(iter(runners))
    for name, (_, params, changes) in runners.items():
        print(
            f"{name:16s} {params:>11,} params  step {step[name]:.3f} s "
            f"(x{step[name] / step[first]:.2f})  pass {infer[name]:.3f} s "
            f"(x{infer[name] / infer[first]:.2f})  {changes or ''}"
        )


if __name__ == "__main__":
    main()
