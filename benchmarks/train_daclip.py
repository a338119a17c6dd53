"""Samples/s of one DA-CLIP training step, the official way against uirbench's levers.

ViT-B/32 (random init, no download), batch 8, CPU, 2 threads by default. Each variant adds one
lever to the previous one, so the printed ratios say what each lever buys:
  official-amp  the released recipe as it runs by default: text tower every step on caption +
                degradation tokens, foreach AdamW, `--precision amp` (da-clip params.py default,
                kept by its scripts): torch.cuda.amp.autocast (fp16) + GradScaler. On a CPU that
                autocast is inert (it only casts CUDA ops), so the released default runs fp32 there
  official-fp32 the same with --precision fp32 (the row this benchmark called "official" before)
  +cache        caption/degradation embeddings looked up (the text tower is frozen)
  +fused        fused AdamW kernel (one pass over the 88M controller parameters)
  +bf16         bf16 autocast for the forward (on CUDA always; on CPU only where it has native
                bf16, or with --force-bf16)
  cw0           +fused for a recipe without the content loss (train.content_weight 0, the tiny
                and demo recipes): the trainer then skips the frozen content encoder and freezes
                the zero layers (bit-identical weights); printed against +fused with the loss
                computed as before (content term times 0)
Ratios are against official-amp. Variants are timed interleaved (round robin over repeats)
so a noisy machine hurts all alike; the median step time is reported.

  python benchmarks/train_daclip.py [--batch 8] [--threads 2] [--repeats 5] [--config ...]
  python benchmarks/train_daclip.py --device cuda --batch 128   # GPU: official fp16 AMP, fp32, bf16
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def make_step(model, variant: str, batch: int, size: int, device: torch.device):
    from uirbench.models.daclip import tokenize
    from uirbench.train import amp
    from uirbench.train.daclip import daclip_loss, param_groups

    levers = {
        "official-amp": {"amp"},
        "official-fp32": set(),
        "+cache": {"cache"},
        "+fused": {"cache", "fused"},
        "+bf16": {"cache", "fused", "bf16"},
        "cw0-before": {"cache", "fused", "cw0"},
        "cw0": {"cache", "fused", "cw0", "skip"},
    }[variant]
    if "skip" in levers:
        model.visual_control.transformer.zero_modules.requires_grad_(False)
    g = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 3, size, size, generator=g).to(device)
    captions = [f"a photo number {i} of a street with cars" for i in range(batch)]
    degradations = ["noisy", "hazy", "rainy", "snowy"] * (batch // 4 + 1)
    tokens = torch.cat(
        [tokenize(captions), tokenize(degradations[:batch])], dim=-1
    )  # official layout: caption and degradation tokens side by side
    tokens = tokens.to(device)
    classes = (torch.arange(batch) % 4).to(device)
    with torch.no_grad():
        cached = [
            model.encode_text(t, normalize=True) for t in tokens.chunk(2, dim=-1)
        ]  # computed once
    opt = torch.optim.AdamW(
        param_groups(model, 0.05),
        lr=1e-5,
        betas=(0.9, 0.98),
        eps=1e-6,
        fused="fused" in levers,
        foreach=None if "fused" in levers else True,
    )
    ctx = amp.autocast(torch.bfloat16 if "bf16" in levers else None, device)
    scaler = None
    if "amp" in levers and device.type == "cuda":  # official get_autocast('amp') + GradScaler
        ctx = amp.autocast(torch.float16, device)
        scaler = torch.amp.GradScaler("cuda")

    def step() -> None:
        with ctx():
            if "skip" in levers:
                out = model(images, content=False)
                caption, degradation = cached
            elif "cache" in levers:
                out = model(images)
                caption, degradation = cached
            else:
                out = model(images, tokens)
                caption, degradation = out["text_features"], out["text_degra_features"]
        content = out["image_features"]
        weight = 0.0 if "cw0" in levers else 1.0
        loss = daclip_loss(
            None if weight == 0 else content.float(),
            caption.float(),
            out["image_degra_features"].float(),
            degradation.float(),
            out["logit_scale"].float(),
            classes,
            content_weight=weight,
        )["loss"]
        if weight == 0 and content is not None:  # the computation before the skip
            loss = loss + 0.0 * content.float().sum()
        opt.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            opt.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default="daclip_ViT-B-32")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--force-bf16", action="store_true", help="time bf16 even without native bf16")
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:i]")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    from uirbench.models.daclip import build_daclip, load_config
    from uirbench.train.amp import cpu_has_native_bf16

    size = load_config(args.config)["vision_cfg"]["image_size"]
    variants = ["official-amp", "official-fp32", "+cache", "+fused"]
    if device.type == "cuda" or cpu_has_native_bf16() or args.force_bf16:
        variants.append("+bf16")
    torch.manual_seed(0)
    steps = {}
    for v in variants:  # one model per variant: optimizer state must not be shared
        model = build_daclip(args.config, clip_weights="none").to(device)
        model.train()
        steps[v] = make_step(model, v, args.batch, size, device)
        for _ in range(args.warmup):
            steps[v]()
    variants_cw0 = ["cw0-before", "cw0"]
    for v in variants_cw0:
        model = build_daclip(args.config, clip_weights="none").to(device)
        model.train()
        steps[v] = make_step(model, v, args.batch, size, device)
        for _ in range(args.warmup):
            steps[v]()
    variants = [*variants, *variants_cw0]
    times: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(args.repeats):
        for v in variants:
            sync()
            t0 = time.perf_counter()
            steps[v]()
            sync()
            times[v].append(time.perf_counter() - t0)
    where = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU, {args.threads} threads, native bf16: {cpu_has_native_bf16()}"
    )
    print(
        f"DA-CLIP {args.config}, batch {args.batch}, {where}, torch {torch.__version__}; "
        f"median of {args.repeats}"
    )
    base = statistics.median(times["official-amp"])
    prev = base
    for v in variants:
        med = statistics.median(times[v])
        if v.startswith("cw0"):
            continue
        print(
            f"{v:13s} {args.batch / med:7.2f} samples/s  step {med:6.3f} s  "
            f"x{base / med:4.2f} vs official-amp  x{prev / med:4.2f} vs previous"
        )
        prev = med
    before, after = (statistics.median(times[v]) for v in variants_cw0)
    print(
        f"content_weight 0: content encoder run, x0 {args.batch / before:7.2f} samples/s; "
        f"skipped {args.batch / after:7.2f} samples/s  x{before / after:4.2f}"
    )


if __name__ == "__main__":
    main()
