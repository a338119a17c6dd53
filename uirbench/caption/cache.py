"""Caption cache: append-only JSON lines keyed by (backend fingerprint, GT sha256).

Lives in ``<root>/.uirbench/captions/``. Each writer (one per rank) appends to its own file,
``part-<rank>.jsonl``, flushing after every batch, so an interrupted run keeps what it did and
concurrent ranks never share a file. A line torn by a crash is ignored on read. Reading merges all
parts; the same key written twice (e.g. two runs) must carry the same caption to be kept silently,
otherwise the last one read wins (parts are read in name order, lines in file order).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

from uirbench.data.layout import STATE_DIR
from uirbench.io import full_disk_is_an_error

CACHE_DIR = "captions"


def cache_dir(root: str | Path) -> Path:
    return Path(root) / STATE_DIR / CACHE_DIR


def read_cache(root: str | Path, fingerprint: str) -> dict[str, str]:
    """GT sha256 -> caption for every cached entry made with ``fingerprint``."""
    out: dict[str, str] = {}
    folder = cache_dir(root)
    if not folder.is_dir():
        return out
    for part in sorted(folder.glob("*.jsonl")):
        with open(part, encoding="utf-8") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # torn last line of an interrupted writer
                if isinstance(rec, dict) and rec.get("fingerprint") == fingerprint:
                    out[rec["gt_sha256"]] = rec["caption"]
    return out


class CacheWriter:
    """Appends entries for one rank; each :meth:`add` is flushed and fsynced before returning."""

    def __init__(self, root: str | Path, fingerprint: str, rank: int = 0) -> None:
        folder = cache_dir(root)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"part-{rank:05d}.jsonl"
        self.fingerprint = fingerprint
        self._f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        if self._f.tell() and not self.path.read_bytes().endswith(b"\n"):
            self._f.write("\n")  # end a line torn by a crash so the next entry is not glued to it

    def add(self, entries: dict[str, str]) -> None:
        lines = "".join(
            json.dumps(
                {"fingerprint": self.fingerprint, "gt_sha256": sha, "caption": cap},
                ensure_ascii=False,
            )
            + "\n"
            for sha, cap in entries.items()
        )
        with full_disk_is_an_error(self.path):  # a torn line is skipped when read back
            self._f.write(lines)
            self._f.flush()
            os.fsync(self._f.fileno())

    def close(self) -> None:
        try:
            self._f.close()
        except OSError as exc:  # the bytes a full disk refused; add() already said so
            if exc.errno != errno.ENOSPC:
                raise

    def __enter__(self) -> CacheWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
