"""A user's own clean photos (``--from DIR``): every image below DIR, GT-only.

Stems come from the path relative to DIR (``trip/IMG 001.jpg`` -> ``trip_IMG_001``); when two
files would share a stem, each gets a short hash of its relative path appended. ``split`` is
ignored: the builder decides which photos are held out for val.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

from uirbench.data.sources import register
from uirbench.data.sources.common import SourcePair, finish, is_image, rel, sanitize_stem
from uirbench.errors import UirbenchError


@register("folder")
def folder(src_dir: Path, split: str) -> list[SourcePair]:
    files = sorted(p for p in src_dir.rglob("*") if is_image(p) and not _hidden(p, src_dir))
    if not files:
        raise UirbenchError(
            f"{src_dir}: no images found (looked for .png .jpg .jpeg .bmp .tif .tiff .webp)"
        )
    base = {p: sanitize_stem(rel(p, src_dir).rsplit(".", 1)[0]) for p in files}
    counts = Counter(base.values())
    pairs = []
    for p in files:
        stem = base[p]
        if counts[stem] > 1:
            stem += "-" + hashlib.sha1(rel(p, src_dir).encode()).hexdigest()[:8]
        pairs.append(SourcePair(stem=stem, gt=p, lq=None, source_image=rel(p, src_dir)))
    return finish(pairs)


def _hidden(p: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in p.relative_to(root).parts)
