"""WebDataset shards written from the index, byte-reproducible.

Sample: ``__key__`` = ``<split>/<task id>/<stem>``, fields ``lq.png gt.png deg.txt cls json``
and ``txt`` (the caption) once captioned. Tar members carry fixed metadata (mtime 0, uid 0,
mode 0644) and samples are sorted by key, so the same index gives the same shard bytes.
``shards.json`` lists each shard's sha256 and sample count for ``uirbench verify``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from uirbench.data.layout import SHARDS_DIR, SPLITS
from uirbench.io import atomic_path, atomic_write_text
from uirbench.tasks import get_task

DEFAULT_MAXCOUNT = 256  # ~100-250 MB per shard at benchmark image sizes
SHARDS_MANIFEST = "shards.json"


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def sample_fields(root: Path, row: dict[str, Any]) -> dict[str, bytes]:
    """The fields of one shard sample (without ``__key__``)."""
    task = get_task(row["task"])
    meta = {k: (None if pd.isna(v) else v) for k, v in row.items()}
    fields = {
        "lq.png": (root / row["lq_path"]).read_bytes(),
        "gt.png": (root / row["gt_path"]).read_bytes(),
        "deg.txt": task.degradation.encode(),
        "cls": str(task.index).encode(),
        "json": json.dumps(meta, sort_keys=True, default=int).encode(),
    }
    if meta.get("caption"):
        fields["txt"] = str(meta["caption"]).encode()
    return fields


class _HashingWriter:
    """A write-only file that hashes what passes through it (no second read of the shard)."""

    def __init__(self, f: Any) -> None:
        self.f, self.sha = f, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        return self.f.write(data)

    def tell(self) -> int:
        return self.f.tell()


def _write_one(root: Path, path: Path, rows: list[dict[str, Any]]) -> str:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        out = _HashingWriter(f)
        with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:  # type: ignore[arg-type]
            for row in rows:
                for ext, data in sample_fields(root, row).items():
                    _add(tar, f"{row['key']}.{ext}", data)
    return out.sha.hexdigest()


def write_shards(
    root: str | Path, index: pd.DataFrame, maxcount: int | None = None, workers: int = 0
) -> list[str]:
    """(Re)write every split's shards from ``index``; returns the shard names, in order.

    ``maxcount`` (samples per shard) defaults to the root's current value (e.g. when caption
    rewrites the shards), else :data:`DEFAULT_MAXCOUNT`.

    Shards are independent files, so they are written by ``workers`` threads (0: one per core);
    the work is file I/O and hashing, which release the GIL.
    """
    root = Path(root)
    out = root / SHARDS_DIR
    out.mkdir(parents=True, exist_ok=True)
    if maxcount is None:
        current = out / SHARDS_MANIFEST
        maxcount = (
            json.loads(current.read_text())["maxcount"] if current.is_file() else DEFAULT_MAXCOUNT
        )
    jobs: list[tuple[str, str, list[dict[str, Any]]]] = []
    for split in SPLITS:
        rows = index[index["split"] == split].sort_values("key").to_dict("records")
        for n, start in enumerate(range(0, len(rows), maxcount)):
            jobs.append((f"{split}-{n:06d}.tar", split, rows[start : start + maxcount]))
    threads = workers or min(os.cpu_count() or 1, 8)
    with ThreadPoolExecutor(max(1, threads)) as pool:
        hashes = list(pool.map(lambda j: _write_one(root, out / j[0], j[2]), jobs))
    manifest: dict[str, Any] = {
        "maxcount": maxcount,
        "shards": {
            name: {"split": split, "samples": len(rows), "sha256": digest}
            for (name, split, rows), digest in zip(jobs, hashes, strict=True)
        },
    }
    for stale in out.glob("*.tar"):
        if stale.name not in manifest["shards"]:
            stale.unlink()
    atomic_write_text(out / SHARDS_MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return [name for name, _, _ in jobs]


def shard_urls(root: str | Path, split: str) -> list[str]:
    """Paths of a split's shards, for ``webdataset.WebDataset``."""
    return [str(p) for p in sorted((Path(root) / SHARDS_DIR).glob(f"{split}-*.tar"))]
