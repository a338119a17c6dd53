"""Shared pieces of the adapters: the pair record, stem sanitising, name matching, folder search."""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from uirbench.errors import UirbenchError
from uirbench.io import IMAGE_SUFFIXES

_BAD = re.compile(r"[^A-Za-z0-9_\-]+")


@dataclass(frozen=True)
class SourcePair:
    """One upstream pair: ``lq`` is None when the LQ is to be synthesised from ``gt``."""

    stem: str
    gt: Path
    lq: Path | None
    source_image: str  # GT path relative to the source folder, POSIX (informative)


def sanitize_stem(text: str) -> str:
    """Map any text to a valid stem: runs of other characters become one '_'."""
    stem = _BAD.sub("_", text).strip("_")
    if not stem:
        raise UirbenchError(f"cannot make a file stem from {text!r}")
    return stem


def is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")


def images_in(folder: Path) -> list[Path]:
    """Image files directly inside ``folder`` (not recursive), sorted by name."""
    return sorted(p for p in folder.iterdir() if is_image(p))


def rel(p: Path, root: Path) -> str:
    return p.relative_to(root).as_posix()


def find_dirs(root: Path, name: str, *, must_contain: Iterable[str] = ()) -> list[Path]:
    """Folders called ``name`` (case-insensitive) below ``root`` holding all ``must_contain``.

    Walks folder names only (no per-file stat), so it stays fast on 100k-image trees.
    """
    want = {m.lower() for m in must_contain}
    out = []
    for dirpath, dirnames, _ in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        here = Path(dirpath)
        if here.name.lower() == name.lower() and want <= {d.lower() for d in dirnames}:
            out.append(here)
    return sorted(out)


def child(folder: Path, name: str) -> Path:
    """The sub-folder of ``folder`` called ``name`` (case-insensitive)."""
    for c in folder.iterdir():
        if c.is_dir() and c.name.lower() == name.lower():
            return c
    raise UirbenchError(f"{folder}: no sub-folder {name!r}")


def one_dir(found: list[Path], what: str, root: Path) -> Path:
    """Exactly one folder must match; otherwise say what was expected and where."""
    if not found:
        raise UirbenchError(
            f"{root}: no {what} found; is the source extracted there? (see docs/datasets.md)"
        )
    if len(found) > 1:
        listing = ", ".join(str(f) for f in found)
        raise UirbenchError(f"{root}: several {what} found ({listing}); keep only one")
    return found[0]


def keyed(files: Iterable[Path], key_of) -> dict[str, Path]:
    """Map key -> file; two files with one key is an error naming both."""
    out: dict[str, Path] = {}
    for f in files:
        k = key_of(f)
        if k is None:
            continue
        if k in out:
            raise UirbenchError(f"{out[k]} and {f} both map to the pair name {k!r}; remove one")
        out[k] = f
    return out


def pair_up(lq: dict[str, Path], gt: dict[str, Path], root: Path, stem_of=None) -> list[SourcePair]:
    """Pair LQ and GT by key; any unmatched file is an error naming it (never skipped)."""
    only_gt = sorted(set(gt) - set(lq))
    only_lq = sorted(set(lq) - set(gt))
    if only_gt or only_lq:
        lines = [f"  GT without LQ: {gt[k]}" for k in only_gt[:10]]
        lines += [f"  LQ without GT: {lq[k]}" for k in only_lq[:10]]
        more = len(only_gt) + len(only_lq) - len(lines)
        if more > 0:
            lines.append(f"  ... and {more} more")
        raise UirbenchError(
            f"{root}: {len(only_gt) + len(only_lq)} unmatched file(s); pairs are matched by name "
            "and a mismatch is an error, never a skip:\n"
            + "\n".join(lines)
            + "\nRe-extract the source or remove the stray files."
        )
    pairs = [
        SourcePair(
            stem=sanitize_stem(stem_of(k) if stem_of else k),
            gt=gt[k],
            lq=lq[k],
            source_image=rel(gt[k], root),
        )
        for k in gt
    ]
    return finish(pairs)


def finish(pairs: list[SourcePair]) -> list[SourcePair]:
    """Sort by stem and refuse duplicate stems (they would overwrite each other on disk)."""
    pairs = sorted(pairs, key=lambda p: p.stem)
    for a, b in itertools.pairwise(pairs):
        if a.stem == b.stem:
            raise UirbenchError(
                f"{a.gt} and {b.gt} both give the stem {a.stem!r}; rename one of them"
            )
    return pairs


def gt_only(files: Iterable[Path], root: Path, stem_of=None) -> list[SourcePair]:
    """GT-only pairs (LQ synthesised later), stems from the file stems."""
    return finish(
        [
            SourcePair(
                stem=sanitize_stem(stem_of(f) if stem_of else f.stem),
                gt=f,
                lq=None,
                source_image=rel(f, root),
            )
            for f in files
        ]
    )
