"""IR-SDE sampling throughput: uirbench's sampler vs an official-style loop, same noise.

Both modes restore the same LQ images with the same network weights, the same DA-CLIP and the
same noise: every image's noise stream comes from ``image_generators(seed, keys)``, drawn in the
same order (start state, then one draw per step). The official-style loop follows the official
``test.py`` + ``IRSDE.reverse_posterior``: one image per call, fp32 under ``torch.no_grad``,
``noise_state`` then per step ``noise_fn`` -> ``get_init_state_from_noise`` ->
``reverse_optimum_step`` + ``reverse_optimum_std`` * noise, the schedule coefficients
recomputed from the schedule tensors each step, DA-CLIP encoded per image. (Written here from
the official order of operations; no official code is imported. For the tiny config, which
predicts the residual, the network output is turned into noise with ``noise_from_output``.)
uirbench: ``ModelRestorer.restore`` on the whole batch (on CPU one image per network call, see
``net_batch``; on GPU the batch at once, optionally under autocast).

Prints images/s of each mode, the speed-up, the max |float difference| and how many uint8
outputs are identical; modes are interleaved (``--repeat``) and each keeps its best run.

    python benchmarks/evaluate_sampling.py --root DEMO_ROOT --images 8          # CPU, tiny
    python benchmarks/evaluate_sampling.py --device cuda --gpu                  # GPU, paper size

``--gpu``: paper-size ``irsde_daclip`` with random weights and a random ViT-B-32 DA-CLIP, random
smooth images at 256 and 512 px; loop fp32 vs uirbench fp32, bf16 and fp16 autocast; macro PSNR
of each against GT-like targets (the LQ's smooth field) and its difference from fp32's.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch


def load_images(root: str | None, n: int, side: int, seed: int) -> tuple[list[str], torch.Tensor]:
    """(keys, Nx3xHxW LQ in [0, 1]): the first val pairs of a built root (one per task in
    turn), or smooth random fields of ``side`` px."""
    if root:
        from uirbench.data.index import read_index
        from uirbench.io import read_image

        df = read_index(Path(root))
        val = df[df["split"] == "val"].sort_values("key")
        val = val.assign(_r=val.groupby("task").cumcount()).sort_values(["_r", "key"]).head(n)
        imgs = [read_image(Path(root) / p) for p in val["lq_path"]]
        x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float() / 255
        return list(val["key"]), x
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, max(2, side // 32), max(2, side // 32), generator=g)
    x = torch.nn.functional.interpolate(low, size=(side, side), mode="bicubic").clamp(0, 1)
    return [f"img{i:03d}" for i in range(n)], x


def official_loop(r, lq: torch.Tensor, keys: list[str]) -> torch.Tensor:  # type: ignore[no-untyped-def]
    """One image per call, fp32, the official order of operations (module docstring)."""
    from uirbench.models.irsde.sde import image_generators

    sde, net = r.sde, r.model
    outs = []
    with torch.no_grad():
        for i, key in enumerate(keys):
            (gen,) = image_generators(r.seed, [key], r.device)
            mu = lq[i : i + 1].to(r.device)
            ctx = r.contexts(mu)  # DA-CLIP of this image
            x = mu + torch.randn(mu.shape, generator=gen, device=r.device) * sde.max_sigma
            for t in range(sde.T, 0, -1):
                out = net(x, mu, t * sde.time_scale, **ctx)
                noise = sde.noise_from_output(out, x, mu, t)
                a0 = torch.exp(sde.thetas_cumsum[t] * sde.dt)
                x0 = (x - mu - sde.sigma_bars[t] * noise) * a0 + mu
                a = torch.exp(-sde.thetas[t] * sde.dt)
                b = torch.exp(-sde.thetas_cumsum[t] * sde.dt)
                c = torch.exp(-sde.thetas_cumsum[t - 1] * sde.dt)
                mean = (a * (1 - c**2) / (1 - b**2)) * (x - mu)
                mean = mean + (c * (1 - a**2) / (1 - b**2)) * (x0 - mu) + mu
                a2 = torch.exp(-2 * sde.thetas[t] * sde.dt)
                b2 = torch.exp(-2 * sde.thetas_cumsum[t] * sde.dt)
                c2 = torch.exp(-2 * sde.thetas_cumsum[t - 1] * sde.dt)
                var = (1 - a2) * (1 - c2) / (1 - b2)
                std = (0.5 * torch.log(torch.clamp(var, min=1e-20 * sde.dt))).exp() * sde.max_sigma
                x = mean + std * torch.randn(x.shape, generator=gen, device=r.device)
            outs.append(x.clamp(0, 1))
    return torch.cat(outs)


def build(config: str, daclip_config: str, device: str, seed: int, **kw):  # type: ignore[no-untyped-def]
    from uirbench.models.daclip_context import build_daclip_context
    from uirbench.models.restorer import build

    ctx = build_daclip_context({"config": daclip_config, "seed": seed}, device=device)
    torch.manual_seed(seed)
    return build("ours", config=config, daclip=ctx, device=device, random_init=True, **kw)


def timed(fn, device: str):  # type: ignore[no-untyped-def]
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t = time.perf_counter()
    out = fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t, out


def u8(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).cpu()


def psnr_macro(out: torch.Tensor, ref: torch.Tensor) -> float:
    mse = ((u8(out).float() - u8(ref).float()) ** 2).flatten(1).mean(1)
    return float(np.mean([10 * math.log10(255**2 / max(m, 1e-10)) for m in mse.tolist()]))


def compare(args: argparse.Namespace, side: int | None) -> dict:
    keys, lq = load_images(args.root, args.images, side or 256, args.seed)
    ref = build(args.config, args.daclip_config, args.device, args.seed, steps=args.steps)
    if args.weights:
        from uirbench.models.loading import load_network_weights, network_state_from_file

        state, _ = network_state_from_file(args.weights)
        load_network_weights(ref.model, state, args.weights)
    modes = {
        "loop": lambda: official_loop(ref, lq, keys),
        "uirbench": lambda: ref.restore(lq, keys),
    }
    for amp in args.autocast:
        r = build(args.config, args.daclip_config, args.device, args.seed, steps=args.steps,
                  autocast=amp)  # fmt: skip
        r.model.load_state_dict(ref.model.state_dict())
        r.daclip = ref.daclip
        modes[f"uirbench {amp}"] = lambda r=r: r.restore(lq, keys)
    best: dict[str, float] = {}
    outs: dict[str, torch.Tensor] = {}
    for _ in range(args.repeat):  # interleaved: load changes hit every mode alike
        for name, fn in modes.items():
            s, out = timed(fn, args.device)
            best[name] = min(best.get(name, math.inf), s)
            outs[name] = out.cpu()
    n = len(keys)
    res = {"images": n, "size": list(lq.shape[-2:]), "steps": ref.sde.T, "modes": {}}
    for name in modes:
        res["modes"][name] = {
            "images_per_s": n / best[name],
            "speedup_vs_loop": best["loop"] / best[name],
            "max_abs_diff_vs_loop": float((outs[name] - outs["loop"]).abs().max()),
            "uint8_identical_images": int(
                sum(
                    torch.equal(a, b) for a, b in zip(u8(outs[name]), u8(outs["loop"]), strict=True)
                )
            ),
            "macro_psnr_vs_lq": psnr_macro(outs[name], lq),
            "macro_psnr_vs_fp32_output": psnr_macro(outs[name], outs["uirbench"]),
        }
    fp32 = res["modes"]["uirbench"]["macro_psnr_vs_lq"]
    for m in res["modes"].values():
        m["psnr_diff_vs_fp32_db"] = m["macro_psnr_vs_lq"] - fp32
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", help="a built root (e.g. the demo's): its val LQ images")
    p.add_argument("--images", type=int, default=8)
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default: config T)")
    p.add_argument("--config", default="irsde_daclip_tiny")
    p.add_argument("--daclip-config", default="daclip_tiny")
    p.add_argument("--weights", help="network weights (default: random init from --seed)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--autocast", default="", help="comma list: bf16,fp16 (GPU)")
    p.add_argument("--gpu", action="store_true", help="paper size, --sides px, bf16/fp16")
    p.add_argument("--sides", default="256,512", help="with --gpu: image sides")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    args.autocast = [a for a in args.autocast.split(",") if a]
    if args.gpu:
        args.config, args.daclip_config = "irsde_daclip", "daclip_ViT-B-32"
        args.autocast = args.autocast or ["bf16", "fp16"]
        args.root = None
        results = [compare(args, int(side)) for side in args.sides.split(",")]
    else:
        results = [compare(args, None)]
    info = {"torch": torch.__version__, "device": args.device, "threads": args.threads,
            "config": args.config}  # fmt: skip
    if args.device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name()
    print(json.dumps({"info": info, "results": results}, indent=1))


if __name__ == "__main__":
    main()
