"""How DA-CLIP looks at an image: the native-patch offsets and the view a recipe trained for.

These sit beside the DA-CLIP model because both the trainer (random native crops) and
classification (a grid of native patches, read from the checkpoint's recipe) need the same
definitions, and evaluation must not depend on the trainer.
"""

from __future__ import annotations

from typing import Any

import torch


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
