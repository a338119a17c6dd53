"""How DA-CLIP looks at an image: the official view (``clip_transform``), the native-patch
offsets and the view a recipe trained for.

These sit beside the DA-CLIP model because both the trainer (random native crops) and
classification (a grid of native patches, read from the checkpoint's recipe) need the same
definitions, and evaluation must not depend on the trainer.
"""

from __future__ import annotations

from typing import Any

import torch

from uirbench.models.daclip import CLIP_MEAN, CLIP_STD, preprocess


def offset_range(n: int, size: int, align: int = 1, phase: int = 0) -> tuple[int, int]:
    """(first, steps): a ``size`` window in ``n`` pixels may start at ``first + align * k`` for
    k in 0..steps, ``first`` being ``phase`` (0 where there is no room for it). Training's random
    native crops and :func:`patch_grid` both draw from this set."""
    first = phase if n - size >= phase else 0
    return first, (n - size - first) // align


def eval_view(cfg: dict) -> dict[str, Any]:
    """How a model trained with ``cfg`` looks at an image when classifying: the whole image
    resized, or a grid of native-scale patches (``classify`` reads this from the checkpoint)."""
    data = cfg["data"]
    if data.get("crop_mode", "resize") != "native":
        return {"grid": 0}
    grid = int(cfg.get("eval", {}).get("grid", 1))
    return {"grid": grid, "align": int(data.get("align", 1)), "phase": int(data.get("phase", 0))}


def patch_grid(
    images: torch.Tensor, size: int, grid: int, align: int = 1, phase: int = 0
) -> torch.Tensor:
    """Bx3xHxW -> (B*grid*grid)x3xsizexsize native-scale patches at evenly spaced positions
    (grid 1: the centre), each offset ``phase`` + a multiple of ``align`` as in training (the
    recipe's ``data.align``/``data.phase``). Images no larger than ``size`` give themselves,
    once per patch."""
    _, _, h, w = images.shape
    if h <= size or w <= size:
        return images.repeat_interleave(grid * grid, dim=0)

    def starts(n: int) -> list[int]:
        first, steps = offset_range(n, size, align, phase)
        if grid == 1:
            return [first + align * (steps // 2)]
        return [first + align * round(k * steps / (grid - 1)) for k in range(grid)]

    patches = [
        images[:, :, top : top + size, left : left + size]
        for top in starts(h)
        for left in starts(w)
    ]
    return torch.stack(patches, dim=1).flatten(0, 1)


def official_view(images: torch.Tensor, image_size: int) -> torch.Tensor:
    """Bx3xHxW uint8, or float in [0, 1], of any size -> Bx3xSxS model input, exactly as the
    official code shows an LQ image to DA-CLIP (``universal-image-restoration/data/util.py``
    ``clip_transform``, and ``open_clip``'s eval preprocess in ``da-clip/src/evaluate.py``):

    float -> ``(x * 255).astype(uint8)`` (truncation, not rounding; a no-op for floats that came
    from uint8 pixels) -> PIL -> ``Resize(S, BICUBIC)`` of the short side (long side
    ``int(S * long / short)``, PIL's antialiased bicubic on uint8) -> ``CenterCrop(S)`` ->
    ``ToTensor`` -> CLIP mean/std. Runs on the CPU, per image (PIL), returned on the input's
    device; images of different sizes can go through one call only as separate calls."""
    # torchvision (an open_clip dependency) is imported here: only DA-CLIP inputs need it
    from PIL import Image
    from torchvision.transforms import (
        CenterCrop,
        Compose,
        InterpolationMode,
        Normalize,
        Resize,
        ToTensor,
    )

    transform = Compose(
        [
            Resize(image_size, interpolation=InterpolationMode.BICUBIC),
            CenterCrop(image_size),
            ToTensor(),
            Normalize(CLIP_MEAN, CLIP_STD),
        ]
    )
    x = images.detach().cpu()
    if x.dtype != torch.uint8:
        # float32 as the official numpy code; clamp only guards values it never sees
        x = (x.float() * 255).clamp_(0, 255).to(torch.uint8)
    arrays = x.permute(0, 2, 3, 1).contiguous().numpy()
    out = torch.stack([transform(Image.fromarray(a)) for a in arrays])
    return out.to(images.device)


def official_precision(device: str | torch.device) -> Any:
    """The official test encodes images (and classify's texts) under fp16 autocast on CUDA
    (``torch.cuda.amp.autocast()``); on the CPU in float32."""
    import contextlib

    if torch.device(device).type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def image_views(
    image: torch.Tensor, size: int, grid: int, align: int = 1, phase: int = 0
) -> torch.Tensor:
    """One 3xHxW uint8 image -> its model inputs: 1x3xSxS, the official view
    (:func:`official_view`: short side resized, centre crop) for grid 0;
    grid*grid native patches (normalised, never resampled) for grid >= 1. An image too small for
    a native patch gets the official view, repeated. Per image, so a batch may mix sizes."""
    if not grid:
        return official_view(image[None], size)
    patches = patch_grid(image[None], size, grid, align, phase)
    if tuple(patches.shape[-2:]) != (size, size):
        return official_view(image[None], size).repeat(grid * grid, 1, 1, 1)
    return preprocess(patches, size)
