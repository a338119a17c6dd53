"""WebDataset shards written from the index, byte-reproducible.

Sample: ``__key__`` = ``<split>/<task id>/<stem>``, fields ``lq.png gt.png deg.txt cls json``
and ``txt`` (the caption) once captioned. Tar members carry fixed metadata (mtime 0, uid 0,
mode 0644) and samples are sorted by key, so the same index gives the same shard bytes.
``shards.json`` lists each shard's sha256 and sample count for ``uirbench verify``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from uirbench.data.layout import SHARDS_DIR, SPLITS
from uirbench.data.synth import pair_degradation_text
from uirbench.data.trust import read_pair_file, remember_hash
from uirbench.io import atomic_path, atomic_write_text
from uirbench.tasks import get_task

DEFAULT_MAXCOUNT = 256  # ~100-250 MB per shard at benchmark image sizes
SHARDS_MANIFEST = "shards.json"


def _member(name: str, data: bytes) -> bytes:
    """A tar member's header block(s) with fixed metadata (no mtime, owner or mode drift)."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")


def sample_fields(root: Path, row: dict[str, Any], check: bool = True) -> dict[str, bytes]:
    """The fields of one shard sample (without ``__key__``).

    ``check``: the LQ and GT bytes must hash to the row's sha256, and lie inside the root (so a
    tampered root is refused rather than packed into shards that would then record the tampered
    bytes as good). A build that has just written and verified the files passes False."""
    task = get_task(row["task"])
    meta = {k: (None if pd.isna(v) else v) for k, v in row.items()}
    if check:
        lq = read_pair_file(root, row["lq_path"], row["lq_sha256"])
        gt = read_pair_file(root, row["gt_path"], row["gt_sha256"])
    else:
        lq, gt = (root / row["lq_path"]).read_bytes(), (root / row["gt_path"]).read_bytes()
    fields = {
        "lq.png": lq,
        "gt.png": gt,
        "deg.txt": pair_degradation_text(task, meta.get("params")).encode(),
        "cls": str(task.index).encode(),
        "json": json.dumps(meta, sort_keys=True, default=int).encode(),
    }
    if meta.get("caption"):
        fields["txt"] = str(meta["caption"]).encode()
    return fields


def _write_one(root: Path, path: Path, rows: list[dict[str, Any]], check: bool = True) -> str:
    """Write one shard; return its sha256, hashed on the way out (no second read).

    The tar stream is written directly (headers from ``tarfile``, then the data in one piece,
    padded to 512 bytes, then the end-of-archive blocks padded to a 10240-byte record): byte for
    byte what ``tarfile.TarFile.addfile`` writes, at half the cost, because ``addfile`` copies
    each member through 16 KiB chunks.
    """
    sha = hashlib.sha256()
    with atomic_path(path) as tmp, open(tmp, "wb") as f:

        def put(data: bytes) -> None:
            sha.update(data)
            f.write(data)

        for row in rows:
            for ext, data in sample_fields(root, row, check).items():
                put(_member(f"{row['key']}.{ext}", data))
                put(data)
                if len(data) % tarfile.BLOCKSIZE:
                    put(tarfile.NUL * (tarfile.BLOCKSIZE - len(data) % tarfile.BLOCKSIZE))
        end = 2 * tarfile.BLOCKSIZE
        put(tarfile.NUL * (end + (-(f.tell() + end)) % tarfile.RECORDSIZE))
    return sha.hexdigest()


def write_shards(
    root: str | Path,
    index: pd.DataFrame,
    maxcount: int | None = None,
    workers: int = 0,
    check: bool = True,
) -> list[str]:
    """(Re)write every split's shards from ``index``; returns the shard names, in order.

    ``maxcount`` (samples per shard) defaults to the root's current value (e.g. when caption
    rewrites the shards), else :data:`DEFAULT_MAXCOUNT`.

    Shards are independent files, so they are written by ``workers`` threads (0: one per core);
    the work is file I/O and hashing, which release the GIL. ``check``: see :func:`sample_fields`.
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
        hashes = list(pool.map(lambda j: _write_one(root, out / j[0], j[2], check), jobs))
    for (name, _, _), digest in zip(jobs, hashes, strict=True):
        remember_hash(out / name, digest)  # later consumers skip re-hashing an unchanged shard
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
