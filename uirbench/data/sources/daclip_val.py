"""The official DA-CLIP validation zip: already in the official layout ``val/<folder>/{LQ,GT}``."""

from __future__ import annotations

from pathlib import Path

from uirbench.data.sources import register
from uirbench.data.sources.common import (
    SourcePair,
    child,
    find_dirs,
    images_in,
    keyed,
    one_dir,
    pair_up,
)
from uirbench.errors import UirbenchError
from uirbench.tasks import get_task


@register("daclip_val")
def daclip_val(src_dir: Path, split: str, *, task: str) -> list[SourcePair]:
    """Pairs of one task (id or official folder name) from ``[...]/val/<folder>/{LQ,GT}``."""
    if split != "val":
        raise UirbenchError("the official DA-CLIP zip holds validation sets only (split val)")
    folder = get_task(task).folder
    root = one_dir(
        [d for d in find_dirs(src_dir, folder, must_contain=("lq", "gt"))],
        f"official val folder '{folder}' with LQ/ and GT/",
        src_dir,
    )
    gt = keyed(images_in(child(root, "GT")), lambda p: p.stem)
    lq = keyed(images_in(child(root, "LQ")), lambda p: p.stem)
    return pair_up(lq, gt, src_dir)
