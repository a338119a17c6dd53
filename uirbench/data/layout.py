"""The on-disk layout, identical to the official DA-CLIP one so its code reads what we build.

``<root>/{train,val}/<official folder>/{LQ,GT}/<stem>.png``; LQ and GT of a pair share the name.
Next to it: ``index.parquet`` (one row per pair) and ``shards/<split>-NNNNNN.tar`` (WebDataset).
"""

from __future__ import annotations

import re
from pathlib import Path

from uirbench.errors import InvalidNameError
from uirbench.tasks import Task

SPLITS = ("train", "val")
INDEX_NAME = "index.parquet"
SHARDS_DIR = "shards"
STATE_DIR = ".uirbench"  # resumable-build journal; removed when a build completes
_STEM_OK = re.compile(r"^[A-Za-z0-9_\-]+$")


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise InvalidNameError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    return split


def check_stem(stem: str) -> str:
    """Stems become file names and WebDataset keys: letters, digits, '_' and '-' only.

    (A '.' would split a WebDataset key; a '/' would escape the folder.)
    """
    if not _STEM_OK.match(stem):
        raise ValueError(f"invalid stem {stem!r}: use letters, digits, '_' and '-' only")
    return stem


def pair_relpaths(split: str, task: Task, stem: str) -> tuple[str, str]:
    """Relative (LQ, GT) paths of a pair, POSIX style, as stored in the index."""
    base = f"{check_split(split)}/{task.folder}"
    check_stem(stem)
    return f"{base}/LQ/{stem}.png", f"{base}/GT/{stem}.png"


def sample_key(split: str, task: Task, stem: str) -> str:
    """WebDataset ``__key__`` and index ``key``: ``<split>/<task id>/<stem>``."""
    return f"{split}/{task.id}/{stem}"


def resolve_inside(root: Path, rel: str) -> Path:
    """Join ``rel`` to ``root`` and refuse anything that would land outside it."""
    root = root.resolve()
    p = (root / rel).resolve()
    if p != root and root not in p.parents:
        raise ValueError(f"path {rel!r} escapes the data root {root}")
    return p
