"""Run an image-to-image function over overlapping tiles and blend them, so images of any size
fit in memory. IR-SDE is tiled per sampling step (the SDE update and its noise are applied to the
whole image, only the network runs per tile)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

# Images above this many pixels are restored in tiles unless told otherwise (the IR-SDE bottom
# level has full self-attention: cost grows with the square of the pixel count).
AUTO_TILE_PIXELS = 1024 * 1024
DEFAULT_TILE = 512
DEFAULT_OVERLAP = 64


def _starts(size: int, tile: int, overlap: int) -> list[int]:
    if size <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, size - tile, stride))
    return [*starts, size - tile]


def _ramp(n: int, overlap: int, left: bool, right: bool) -> torch.Tensor:
    """1-D blending weight: rises over ``overlap`` pixels on sides shared with a neighbour."""
    w = torch.ones(n)
    if overlap > 0:
        r = (torch.arange(overlap, dtype=torch.float32) + 0.5) / overlap
        if left:
            w[:overlap] = r
        if right:
            w[n - overlap :] = r.flip(0)
    return w


def tiled(
    fn: Callable[..., torch.Tensor],
    inputs: Sequence[torch.Tensor],
    tile: int,
    overlap: int,
    multiple: int = 1,
    on_tile: Callable[[], None] | None = None,
) -> torch.Tensor:
    """Apply ``fn(*crops)`` to aligned overlapping crops of ``inputs`` (Bx?xHxW, same H, W) and
    blend the outputs with linear ramps in the overlaps. Returns what ``fn`` on the whole image
    would, up to the network's effects at tile borders. ``on_tile()`` after each tile."""
    h, w = inputs[0].shape[-2:]
    tile = max(multiple, tile // multiple * multiple)
    if h <= tile and w <= tile:
        return fn(*inputs)
    overlap = min(overlap, tile // 2)
    ys, xs = _starts(h, tile, overlap), _starts(w, tile, overlap)
    out = weight = None
    for iy, y in enumerate(ys):
        for ix, x in enumerate(xs):
            crops = [t[..., y : y + tile, x : x + tile] for t in inputs]
            res = fn(*crops)
            th, tw = res.shape[-2:]
            wy = _ramp(th, min(overlap, th // 2), iy > 0, iy < len(ys) - 1)
            wx = _ramp(tw, min(overlap, tw // 2), ix > 0, ix < len(xs) - 1)
            wt = (wy[:, None] * wx[None, :]).to(res)
            if out is None:
                out = res.new_zeros((*res.shape[:-2], h, w))
                weight = res.new_zeros((h, w))
            out[..., y : y + th, x : x + tw] += res * wt
            weight[y : y + th, x : x + tw] += wt
            if on_tile is not None:
                on_tile()
    return out / weight
