"""The 100 RePaint thin masks (``inpainting_masks/000000.png ... 000099.png``)."""

from __future__ import annotations

from pathlib import Path

from uirbench.data.sources import register
from uirbench.data.sources.common import SourcePair, gt_only, images_in, is_image, one_dir
from uirbench.errors import UirbenchError

N_MASKS = 100


def list_masks(src_dir: Path) -> list[Path]:
    """Sorted mask files; exactly 100 named ``000000.png`` ... ``000099.png`` are required."""
    folders = sorted({p.parent for p in src_dir.rglob("000000.png") if is_image(p)})
    root = one_dir(folders, "folder of RePaint thin masks (000000.png ...)", src_dir)
    masks = [p for p in images_in(root) if p.suffix.lower() == ".png"]
    want = [f"{i:06d}.png" for i in range(N_MASKS)]
    if [p.name for p in masks] != want:
        missing = sorted(set(want) - {p.name for p in masks})
        extra = sorted({p.name for p in masks} - set(want))
        raise UirbenchError(
            f"{root}: expected the {N_MASKS} masks 000000.png ... 000099.png; "
            f"missing: {', '.join(missing[:5]) or 'none'}; "
            f"unexpected: {', '.join(extra[:5]) or 'none'}"
        )
    return masks


@register("masks")
def masks(src_dir: Path, split: str) -> list[SourcePair]:
    """The masks as GT-only records (mask id = stem); the same 100 for both splits."""
    return gt_only(list_masks(src_dir), src_dir)
