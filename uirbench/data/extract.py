"""Safe extraction of downloaded zip and tar archives.

Why: archives come from third-party hosts. Every member is checked BEFORE anything is written:
absolute paths, ``..`` components, drive letters and backslashes are refused (they could escape the
target); symlinks, hardlinks, device and FIFO entries are refused (they could point outside it or
block a reader); and a decompression bomb is refused by an absolute size limit, a total
uncompressed/compressed ratio limit and a member-count limit. Only then are the members written,
into a temporary folder next to the target that is renamed onto it when complete, so a failed or
interrupted extraction never leaves a half-filled target. Byte counts are enforced while writing
too, so a zip that lies about its sizes is caught.

Public entry point: :func:`extract_archive`.
"""

from __future__ import annotations

import contextlib
import lzma
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from uirbench.errors import UirbenchError, UnsafeArchiveError

# Defaults sized for the real sources: the largest (Snow100K training, tens of GB of PNG/JPEG) is
# far below the absolute limit; image archives compress at most ~1.5x, so a ratio of 100 only
# catches archives built to explode (a zip of zeros compresses ~1000x).
MAX_TOTAL_BYTES = 512 * 1024**3
MAX_RATIO = 100.0
MAX_MEMBERS = 2_000_000
_CHUNK = 1 << 20
_ZIP_METHODS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}


@dataclass(frozen=True)
class _Member:
    name: str  # safe, relative, POSIX
    is_dir: bool
    size: int  # declared uncompressed size


def archive_format(path: Path) -> str:
    """``'zip'`` or ``'tar'`` (any compression tarfile reads), from the file's content."""
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except OSError:
        pass
    raise UirbenchError(f"{path}: not a zip or tar archive; delete it and download it again")


def _safe_name(archive: Path, name: str) -> str:
    """Return the normalised member name, or raise if it could escape the target."""
    why = None
    if not name or "\x00" in name:
        why = "an empty or NUL-containing name"
    elif "\\" in name:
        why = "a backslash (Windows separator) in its name"
    elif name.startswith("/") or PurePosixPath(name).is_absolute():
        why = "an absolute path"
    elif len(name) >= 2 and name[1] == ":":
        why = "a drive letter"
    elif ".." in PurePosixPath(name).parts:
        why = "a '..' component"
    if why:
        raise UnsafeArchiveError(
            f"{archive}: member {name!r} has {why}; refusing to extract anything from this "
            "archive. Delete it and download it from the official location."
        )
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    return "/".join(parts)


def _zip_member(archive: Path, info: zipfile.ZipInfo) -> _Member:
    mode = (info.external_attr >> 16) & 0xFFFF
    kind = stat.S_IFMT(mode)
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        what = "a symlink" if kind == stat.S_IFLNK else "a device, FIFO or socket entry"
        raise UnsafeArchiveError(
            f"{archive}: member {info.filename!r} is {what}; refusing to extract anything "
            "from this archive (links and special files could escape the target)."
        )
    name = _safe_name(archive, info.filename)
    if info.flag_bits & 0x1 or info.compress_type not in _ZIP_METHODS:
        what = "encrypted" if info.flag_bits & 0x1 else f"packed with method {info.compress_type}"
        raise UirbenchError(
            f"{archive}: member {info.filename!r} is {what}, which uirbench cannot extract; "
            "extract the archive by hand (e.g. `7z x`) into the folder it would be extracted to "
            "(see docs/datasets.md): a hand-extracted folder is verified and used."
        )
    if info.compress_size and info.file_size / info.compress_size > MAX_RATIO * 10:
        raise UnsafeArchiveError(
            f"{archive}: member {info.filename!r} expands "
            f"{info.file_size / info.compress_size:.0f}x; this looks like a decompression bomb, "
            "refusing to extract."
        )
    return _Member(name, info.is_dir(), 0 if info.is_dir() else info.file_size)


def _tar_member(archive: Path, info: tarfile.TarInfo) -> _Member:
    if not (info.isfile() or info.isdir()):
        if info.issym():
            what = "a symlink"
        elif info.islnk():
            what = "a hardlink"
        else:
            what = "a device, FIFO or other special entry"
        raise UnsafeArchiveError(
            f"{archive}: member {info.name!r} is {what}; refusing to extract anything from "
            "this archive (links and special files could escape the target)."
        )
    name = _safe_name(archive, info.name)
    return _Member(name, info.isdir(), 0 if info.isdir() else info.size)


def _check_totals(
    archive: Path, members: list[_Member], max_total: int, max_ratio: float, max_members: int
) -> int:
    if len(members) > max_members:
        raise UnsafeArchiveError(
            f"{archive}: {len(members)} members exceed the limit of {max_members}; refusing."
        )
    seen: set[str] = set()
    for m in members:
        if not m.is_dir and m.name in seen:
            raise UnsafeArchiveError(f"{archive}: member {m.name!r} appears twice; refusing.")
        seen.add(m.name)
    files = {m.name for m in members if not m.is_dir}
    for m in members:
        for parent in PurePosixPath(m.name).parents:
            if str(parent) in files:
                raise UnsafeArchiveError(
                    f"{archive}: member {m.name!r} lies inside {str(parent)!r}, which is a file "
                    "in the same archive; refusing."
                )
    total = sum(m.size for m in members)
    packed = max(archive.stat().st_size, 1)
    if total > max_total:
        raise UnsafeArchiveError(
            f"{archive}: would expand to {total} bytes, over the limit of {max_total}; refusing "
            "(decompression bomb or wrong file)."
        )
    if total / packed > max_ratio:
        raise UnsafeArchiveError(
            f"{archive}: would expand {total / packed:.0f}x ({total} bytes from {packed}); over "
            f"the ratio limit of {max_ratio:.0f}x, this looks like a decompression bomb; refusing."
        )
    return total


def scan_archive(
    archive: str | os.PathLike,
    *,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_ratio: float = MAX_RATIO,
    max_members: int = MAX_MEMBERS,
) -> int:
    """Check every member of ``archive`` without writing anything; return the total size."""
    archive = Path(archive)
    with _corrupt_is_user_error(archive):
        if archive_format(archive) == "zip":
            with zipfile.ZipFile(archive) as zf:
                members = [_zip_member(archive, i) for i in zf.infolist()]
        else:
            with tarfile.open(archive, "r:*") as tf:
                members = [_tar_member(archive, i) for i in tf.getmembers()]
    return _check_totals(archive, members, max_total_bytes, max_ratio, max_members)


@contextlib.contextmanager
def _corrupt_is_user_error(archive: Path) -> Iterator[None]:
    """A truncated or corrupt archive becomes one clear message instead of a library traceback."""
    try:
        yield
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise UirbenchError(
            f"{archive}: corrupt or truncated archive ({exc}); delete it and download it again"
        ) from None


def _copy_limited(src, dst_path: Path, limit: int, archive: Path, name: str) -> None:
    written = 0
    with open(dst_path, "wb") as dst:
        while block := src.read(_CHUNK):
            written += len(block)
            if written > limit:
                raise UnsafeArchiveError(
                    f"{archive}: member {name!r} holds more bytes than its header declares "
                    f"({limit}); refusing (corrupt archive or bomb)."
                )
            dst.write(block)


def extract_archive(
    archive: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_ratio: float = MAX_RATIO,
    max_members: int = MAX_MEMBERS,
) -> Path:
    """Safely extract ``archive`` (zip or tar, any compression) so that its members end in ``dest``.

    ``dest`` must not exist yet. Raises :class:`UnsafeArchiveError` (nothing written) for an unsafe
    archive. Returns ``dest``.
    """
    archive, dest = Path(archive), Path(dest)
    if dest.exists():
        raise UirbenchError(f"{dest} already exists; remove it to extract {archive.name} again")
    total = scan_archive(
        archive, max_total_bytes=max_total_bytes, max_ratio=max_ratio, max_members=max_members
    )
    dest.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(dest.parent).free
    if total > free:
        raise UirbenchError(
            f"extracting {archive} needs {total / 1e9:.1f} GB but {dest.parent} has "
            f"{free / 1e9:.1f} GB free; free some space or choose another raw folder"
        )
    tmp = Path(tempfile.mkdtemp(prefix=".uirbench-tmp-extract-", dir=dest.parent))
    try:
        with _corrupt_is_user_error(archive):
            if archive_format(archive) == "zip":
                with zipfile.ZipFile(archive) as zf:
                    for info in zf.infolist():
                        m = _zip_member(archive, info)
                        _write_member(tmp, m, lambda info=info: zf.open(info), archive)
            else:
                with tarfile.open(archive, "r:*") as tf:
                    for info in tf:
                        m = _tar_member(archive, info)
                        _write_member(tmp, m, lambda info=info: tf.extractfile(info), archive)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def _write_member(root: Path, m: _Member, opener, archive: Path) -> None:
    if not m.name:
        return
    target = root / m.name
    if m.is_dir:
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with opener() as src:
        _copy_limited(src, target, m.size, archive, m.name)
