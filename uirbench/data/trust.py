"""Consumers verify before they trust: every file read from a built root is checked against the
sha256 its index or ``shards.json`` records, so a file changed after the build is refused by name
instead of being scored, trained on or re-recorded as if it were the original.

- Pair files (LQ/GT PNGs) are small and read whole: :func:`read_pair_file` hashes the very bytes
  it returns (no window between a check and the read) and refuses a path that leaves the root.
- Shards are large and read piecewise: :func:`check_shards` hashes each of a split's shards and
  compares it with ``shards.json``, and compares sample counts with ``shards.json`` and the
  index. The full hash is skipped when the shard's (size, mtime, inode) equal those recorded the
  last time its hash was found right (by the build that wrote it, ``verify`` or an earlier
  check); the records live in the user cache (``~/.cache/uirbench/hashes``), outside the root, so
  the root's bytes stay reproducible. ``UIRBENCH_VERIFY=full`` (or ``verify="full"``) always
  hashes.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from uirbench.data.layout import SHARDS_DIR, resolve_inside
from uirbench.errors import UirbenchError
from uirbench.io import atomic_write_text, sha256_bytes, sha256_file

VERIFY_ENV = "UIRBENCH_VERIFY"
VERIFY_MODES = ("fast", "full")


class TamperedError(UirbenchError):
    """A file of a built root differs from what its index or shard manifest records."""


def tampered(root: Path, what: str) -> TamperedError:
    return TamperedError(
        f"{what}; the root changed after it was built: run `uirbench verify {root}` to list every "
        "difference, and rebuild with `uirbench build-data` to repair"
    )


def verify_mode(mode: str | None = None) -> str:
    """``fast`` (default) or ``full``, from ``mode`` or ``$UIRBENCH_VERIFY``."""
    mode = mode or os.environ.get(VERIFY_ENV) or "fast"
    if mode not in VERIFY_MODES:
        raise UirbenchError(f"verify mode {mode!r}: choose one of {', '.join(VERIFY_MODES)}")
    return mode


def inside_root(root: Path, rel: str) -> Path:
    """``root/rel``, refusing a path that leaves the root (through ``..`` or a symlink)."""
    try:
        return resolve_inside(Path(root), rel)
    except ValueError:
        raise tampered(
            Path(root), f"{Path(root) / rel} leads outside the root (a symlink out of it?)"
        ) from None


def read_pair_file(root: str | Path, rel: str, sha256: str) -> bytes:
    """The bytes of ``root/rel`` if they hash to ``sha256`` (the index's), else a named error."""
    root = Path(root)
    path = inside_root(root, rel)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise tampered(root, f"{root / rel} is missing") from None
    except IsADirectoryError:
        raise tampered(root, f"{root / rel} is a folder, not an image") from None
    if sha256_bytes(data) != sha256:
        raise tampered(root, f"{root / rel} changed since the index was built (sha256 differs)")
    return data


def check_pair_files(root: str | Path, index: pd.DataFrame, threads: int = 4) -> None:
    """Hash every LQ and GT file the index names (:func:`read_pair_file`); the first that differs
    raises. For a command that is about to rewrite files from them (caption's shards): refused
    before anything is written, not halfway through."""
    root = Path(root)
    files = [
        (rel, sha)
        for col in ("lq", "gt")
        for rel, sha in zip(index[f"{col}_path"], index[f"{col}_sha256"], strict=True)
    ]
    with ThreadPoolExecutor(max(1, threads)) as pool:  # hashing and reading release the GIL
        for _ in pool.map(lambda f: read_pair_file(root, f[0], f[1]) and None, files):
            pass


# ------------------------------------------------------------------------------- hash records
def _records_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "uirbench" / "hashes"


def _stamp(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev]


def _record_path(path: Path) -> Path:
    return _records_dir() / (
        hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32] + ".json"
    )


def remember_hash(path: str | os.PathLike, sha256: str) -> None:
    """Record that ``path``, as it is now (size, mtime, inode), hashes to ``sha256``. Best
    effort: a cache that cannot be written only makes later checks hash in full."""
    path = Path(path)
    try:
        record = {"path": str(path.resolve()), "stamp": _stamp(path), "sha256": sha256}
        atomic_write_text(_record_path(path), json.dumps(record) + "\n")
    except (OSError, UirbenchError):
        pass


def _known_hash(path: Path) -> str | None:
    try:
        record = json.loads(_record_path(path).read_text())
        if record.get("path") == str(path.resolve()) and record.get("stamp") == _stamp(path):
            return str(record["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def file_matches(path: Path, sha256: str, mode: str = "fast") -> bool:
    """True if ``path`` hashes to ``sha256``; in ``fast`` mode a file unchanged (size, mtime,
    inode) since its hash was last found right is not hashed again."""
    if mode == "fast" and _known_hash(path) == sha256:
        return True
    ok = sha256_file(path) == sha256
    if ok:
        remember_hash(path, sha256)
    return ok


# ------------------------------------------------------------------------------------ shards
def shard_manifest(root: Path) -> dict:
    path = root / SHARDS_DIR / "shards.json"
    try:
        manifest = json.loads(path.read_text())
        shards = manifest["shards"]
        if not isinstance(shards, dict):
            raise TypeError
    except FileNotFoundError:
        raise tampered(root, f"{path} is missing") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise tampered(root, f"{path} is unreadable or malformed") from None
    return manifest


def check_shards(
    root: str | Path, split: str, index_rows: int | None, mode: str | None = None
) -> dict[str, int]:
    """Check a split's shards against ``shards.json`` (names, sha256, and sample counts against
    the index's ``index_rows`` for the split when given); returns ``{shard name: samples}``."""
    root = Path(root)
    mode = verify_mode(mode)
    shards = {
        name: info
        for name, info in shard_manifest(root)["shards"].items()
        if isinstance(info, dict) and info.get("split") == split
    }
    on_disk = {p.name for p in (root / SHARDS_DIR).glob(f"{split}-*.tar")}
    extra = sorted(on_disk - set(shards))
    if extra:
        raise tampered(root, f"{root / SHARDS_DIR / extra[0]} is not in shards.json")
    for name in sorted(shards):
        path = inside_root(root, f"{SHARDS_DIR}/{name}")
        if not path.is_file():
            raise tampered(root, f"{root / SHARDS_DIR / name} is missing")
        if not file_matches(path, str(shards[name].get("sha256")), mode):
            raise tampered(root, f"{root / SHARDS_DIR / name} differs from shards.json (sha256)")
    counts = {name: int(info.get("samples", -1)) for name, info in shards.items()}
    if index_rows is not None and sum(counts.values()) != index_rows:
        raise tampered(
            root,
            f"shards.json lists {sum(counts.values())} {split} samples but the index has "
            f"{index_rows}",
        )
    return counts
