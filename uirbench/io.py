"""Small, careful file primitives used everywhere: atomic writes, hashing, image decode/encode.

Why atomic: a killed or failing command must never leave a half-written file under its final
name. Everything is written to a temporary name in the same folder, fsynced, then renamed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import re
import socket
import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from uirbench.errors import ImageReadError, UirbenchError

# Image files uirbench reads (restore inputs, --from folders, output folders, upstream sources).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

# PNG encoding parameters for everything uirbench writes: OpenCV's defaults (what the official
# scripts' cv2.imwrite uses). Measured on CBSD68 (BENCHMARKS.md): they encode ~2x faster than an
# explicit IMWRITE_PNG_COMPRESSION=1 (which also switches the zlib strategy) and ~5x faster than
# PIL's level 6, for files within ~10% of the size. Pixels are identical at any setting.
PNG_PARAMS: tuple[int, ...] = ()
# For images whose pixels do not compress (sigma-50 noise): no deflate, no row filter. On CBSD68's
# noisy images 0.44 ms instead of 4.9 ms per encode, 464 KB instead of 455 KB (+2%;
# benchmarks/png_encode.py). The filter option is OpenCV >= 4.10; without it, level 0 alone saves
# little (libpng still tries its filters).
PNG_STORED_PARAMS: tuple[int, ...] = (cv2.IMWRITE_PNG_COMPRESSION, 0)
if hasattr(cv2, "IMWRITE_PNG_FILTER"):
    PNG_STORED_PARAMS += (cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE)
TMP_PREFIX = ".uirbench-tmp-"
# The most pixels uirbench decodes from one image: 2^27 (134 M, ~0.4 GB as RGB; a 48 MP photo
# fits). Benchmark images are at most a few megapixels. A PNG or JPEG whose header declares more
# is refused before any pixel buffer exists; OpenCV's own limit (2^30) would first allocate 3 GB.
# Raise it with the UIRBENCH_MAX_IMAGE_PIXELS environment variable.
MAX_IMAGE_PIXELS = 1 << 27
MAX_PIXELS_ENV = "UIRBENCH_MAX_IMAGE_PIXELS"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def no_space_error(dest: str | os.PathLike) -> UirbenchError:
    return UirbenchError(
        f"no space left on device while writing {dest} (out of bytes or of inodes: see "
        "`df -h` and `df -i`); free some space and rerun "
        "(the previous version of the file is untouched, finished work is kept)"
    )


# OSErrors a user causes (and can fix) -> what to say. Anything else stays a traceback: a bug.
_USER_OS_ERRORS: dict[int, str] = {
    errno.EROFS: "the filesystem is read-only; choose a writable folder",
    errno.EACCES: "permission denied; fix the folder's permissions or choose another folder",
    errno.EPERM: "operation not permitted; fix the folder's permissions or choose another folder",
    errno.EDQUOT: "disk quota exceeded; free some space or raise the quota, then rerun",
    errno.ENAMETOOLONG: "the path is too long for the filesystem; choose a shorter name or folder",
    errno.EMFILE: "too many open files; raise the limit (`ulimit -n`) or use fewer workers",
    errno.ENOTDIR: "a part of the path is a file, not a folder; choose another path",
    errno.EISDIR: "it is a folder, not a file; choose another path",
}


def os_error_message(exc: OSError, path: str | os.PathLike, doing: str = "write") -> str:
    """One line naming ``path``, what failed and the fix, for an OSError the user caused."""
    if exc.errno == errno.ENOSPC:
        return str(no_space_error(path))
    why = _USER_OS_ERRORS.get(exc.errno or 0, exc.strerror or str(exc))
    return f"cannot {doing} {path}: {why}"


def is_user_os_error(exc: BaseException) -> bool:
    """True for the OSErrors a user causes: read-only, permissions, full disk or quota, long
    names, too many open files."""
    return isinstance(exc, OSError) and (exc.errno == errno.ENOSPC or exc.errno in _USER_OS_ERRORS)


@contextlib.contextmanager
def full_disk_is_an_error(dest: str | os.PathLike) -> Iterator[None]:
    """Turn a user-caused OSError raised inside the block (full disk, read-only, permissions,
    quota, name too long) into a one-line :class:`UirbenchError` naming ``dest``."""
    try:
        yield
    except OSError as exc:
        if is_user_os_error(exc):
            raise UirbenchError(os_error_message(exc, dest)) from exc
        raise


def append_text(path: str | os.PathLike, text: str, durable: bool = False) -> None:
    """Append ``text`` to a log-like file (opened and closed per call); a full disk is a
    :class:`UirbenchError` naming it. Readers must skip a last line torn by a crash."""
    with full_disk_is_an_error(path), open(path, "a", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        if durable:
            os.fsync(f.fileno())


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """The records of a JSONL log written with :func:`append_text`, without a line torn by a
    killed run (a torn line is not valid JSON, or not an object)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict):
            records.append(rec)
    return records


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Read once at import (os.umask is process-wide, so it is not read again from worker threads).
_FILE_MODE = 0o666 & ~_read_umask()


def _host_token() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "_", socket.gethostname())[:40]


def owned_temp_prefix() -> str:
    """Prefix of this process's temporary names: ``.uirbench-tmp-<pid>@<host>.``.

    Temporaries are named by their owner so that a command removes only its own and those of
    dead processes on this host (:func:`remove_stale_temporaries`), never those of a command
    running beside it (such as another ``--shard`` part)."""
    return f"{TMP_PREFIX}{os.getpid()}@{_host_token()}."


_OWNED = re.compile(re.escape(TMP_PREFIX) + r"(\d+)@([A-Za-z0-9_-]*)\.")


def temporary_is_stale(path: str | os.PathLike) -> bool:
    """True if the temporary's owner is a process of this host that no longer runs.

    Temporaries of other hosts (a shared filesystem) or without an owner in their name are not
    judged here: only a command holding the folder's exclusive lock removes those."""
    m = _OWNED.match(Path(path).name)
    if m is None or m.group(2) != _host_token():
        return False
    pid = int(m.group(1))
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _temp_beside(dest: Path) -> Path:
    """A new empty temporary file next to ``dest``, with the mode a plain ``open`` would give
    (mkstemp makes it 0600, and the rename would keep that: a shared data root would be
    unreadable to everyone but its writer)."""
    with full_disk_is_an_error(dest):  # creating a file is what fails when inodes run out
        fd, tmp = tempfile.mkstemp(prefix=owned_temp_prefix(), suffix=dest.suffix, dir=dest.parent)
    try:
        os.fchmod(fd, _FILE_MODE)
    finally:
        os.close(fd)
    return Path(tmp)


def atomic_write_files(files: dict[Path, bytes], durable: bool = True) -> None:
    """Write several related files (e.g. one result in four formats) so that a failure while
    writing them, such as a full disk, changes none: every temporary is written first, then all
    are renamed in the given order (put the file readers trust, such as a JSON, last)."""
    staged: list[tuple[Path, Path]] = []
    try:
        for dest, data in files.items():
            dest = Path(dest)
            with full_disk_is_an_error(dest.parent):
                dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = _temp_beside(dest)
            staged.append((dest, tmp))
            with full_disk_is_an_error(dest), open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                if durable:
                    os.fsync(f.fileno())
        for dest, tmp in staged:
            with full_disk_is_an_error(dest):
                os.replace(tmp, dest)
    finally:
        for _, tmp in staged:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``; on success rename it onto ``dest``.

    On any exception the temporary file is removed and ``dest`` keeps its previous content.
    A full disk (ENOSPC) becomes a :class:`UirbenchError` that names the file.
    ``durable`` fsyncs before the rename (survives power loss, not only a killed process);
    bulk outputs that are re-verified by hash on resume (dataset pairs) skip it for speed.
    """
    dest = Path(dest)
    with full_disk_is_an_error(dest.parent):
        dest.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _temp_beside(dest)
    try:
        with full_disk_is_an_error(dest):
            yield tmp_path
            if durable:
                with open(tmp_path, "rb+") as f:
                    os.fsync(f.fileno())
            os.replace(tmp_path, dest)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def atomic_write_bytes(dest: str | os.PathLike, data: bytes, durable: bool = True) -> None:
    """Write ``data`` to ``dest`` atomically (see :func:`atomic_path` for ``durable``)."""
    with atomic_path(dest, durable) as tmp, open(tmp, "wb") as f:
        f.write(data)


def atomic_write_text(dest: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(dest, text.encode("utf-8"))


def encode_png(rgb: np.ndarray, stored: bool = False) -> bytes:
    """Encode an HxWx3 uint8 RGB array as PNG bytes (deterministic for a given OpenCV build).

    ``stored``: write the pixels uncompressed (:data:`PNG_STORED_PARAMS`), for images known not
    to compress; the pixels are the same either way."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected HxWx3 uint8 RGB, got {rgb.dtype} {rgb.shape}")
    params = PNG_STORED_PARAMS if stored else PNG_PARAMS
    ok, buf = cv2.imencode(".png", rgb[:, :, ::-1], list(params))
    if not ok:
        raise UirbenchError("OpenCV failed to encode a PNG")
    return buf.tobytes()


def write_png(dest: str | os.PathLike, rgb: np.ndarray) -> bytes:
    """Atomically write ``rgb`` as PNG; return the bytes written (to hash without rereading)."""
    data = encode_png(rgb)
    atomic_write_bytes(dest, data)
    return data


def is_rgb8_png(data: bytes) -> bool:
    """True if ``data`` is a PNG of 8-bit truecolour (RGB, no alpha), read from its IHDR chunk.

    Such a file can be stored as-is (no decode/re-encode) wherever uirbench wants an RGB PNG.
    """
    return (
        len(data) > 26
        and data[:8] == b"\x89PNG\r\n\x1a\n"
        and data[12:16] == b"IHDR"
        and data[24] == 8  # bit depth
        and data[25] == 2  # colour type 2 = truecolour
    )


def max_image_pixels() -> int:
    value = os.environ.get(MAX_PIXELS_ENV)
    if value is None:
        return MAX_IMAGE_PIXELS
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        raise UirbenchError(f"{MAX_PIXELS_ENV}={value!r}: give a positive number of pixels")
    return limit


def image_header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) that a PNG's IHDR or a JPEG's frame header declares, read without
    decoding; None for other formats or when no such header is found (the decoder then has
    the final word)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return w, h
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None  # not at a marker: corrupt, left to the decoder
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
            continue
        if marker == 0xDA:  # image data before any frame header
            return None
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # SOFn
            if i + 9 > len(data):
                return None
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        i += 2 + struct.unpack(">H", data[i + 2 : i + 4])[0]
    return None


def _tiff_orientation(tiff: bytes) -> int | None:
    """The Orientation tag (0x0112) of IFD0 in an EXIF TIFF block, or None."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    e = "<" if tiff[:2] == b"II" else ">"
    ifd = struct.unpack(e + "I", tiff[4:8])[0]
    if ifd + 2 > len(tiff):
        return None
    count = struct.unpack(e + "H", tiff[ifd : ifd + 2])[0]
    for i in range(count):
        at = ifd + 2 + 12 * i
        if at + 12 > len(tiff):
            return None
        tag, kind = struct.unpack(e + "HH", tiff[at : at + 4])
        if tag == 0x0112 and kind == 3:  # SHORT
            return struct.unpack(e + "H", tiff[at + 8 : at + 10])[0]
    return None


def exif_orientation(data: bytes) -> int | None:
    """The EXIF orientation (1-8) a JPEG (APP1) or PNG (eXIf chunk) declares, read without
    decoding; None when there is none."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        i = 8
        while i + 8 <= len(data):
            n = struct.unpack(">I", data[i : i + 4])[0]
            kind = data[i + 4 : i + 8]
            if kind == b"eXIf":
                return _tiff_orientation(data[i + 8 : i + 8 + n])
            if kind in (b"IDAT", b"IEND"):
                return None
            i += 12 + n
        return None
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker in (0xDA, 0xD9):  # image data: no more metadata segments
            return None
        n = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if marker == 0xE1 and data[i + 4 : i + 10] == b"Exif\x00\x00":
            return _tiff_orientation(data[i + 10 : i + 2 + n])
        i += 2 + n
    return None


def apply_orientation(img: np.ndarray, orientation: int | None) -> np.ndarray:
    """``img`` (HxW[xC]) as a viewer shows it under an EXIF orientation (PIL's exif_transpose)."""
    if orientation == 2:
        img = img[:, ::-1]
    elif orientation == 3:
        img = img[::-1, ::-1]
    elif orientation == 4:
        img = img[::-1]
    elif orientation == 5:
        img = np.swapaxes(img, 0, 1)
    elif orientation == 6:
        img = np.rot90(img, -1)
    elif orientation == 7:
        img = np.swapaxes(img[::-1, ::-1], 0, 1)
    elif orientation == 8:
        img = np.rot90(img, 1)
    return np.ascontiguousarray(img)


def decode_image(data: bytes, name: str | os.PathLike = "<bytes>") -> np.ndarray:
    """Decode image bytes to HxWx3 uint8 RGB, with documented conversions and clear errors.

    Conversions: an EXIF orientation (JPEG, PNG) is applied, as viewers do; a palette is
    expanded; greyscale is replicated to three channels; an alpha channel is dropped
    (composited on nothing: alpha is ignored); 16-bit images are refused, since rescaling them
    silently would change every score computed from them. Truncated files are refused (PNG by
    libpng's checks, JPEG by its missing end marker); corrupted JPEG entropy data cannot be
    detected (JPEG has no checksum). A PNG or JPEG declaring more than :func:`max_image_pixels`
    pixels is refused from its header, before anything is allocated.
    """
    if len(data) == 0:
        raise ImageReadError(f"{name}: empty file (0 bytes); re-download or regenerate it")
    if data[:2] == b"\xff\xd8" and not data.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9"):
        # libjpeg decodes a cut-off JPEG with a grey bottom and only a warning: refuse it, or a
        # half-missing image would be scored silently.
        raise ImageReadError(
            f"{name}: truncated JPEG (no end-of-image marker); re-download or regenerate it"
        )
    size = image_header_size(data)
    if size is not None and size[0] * size[1] > max_image_pixels():
        raise ImageReadError(
            f"{name}: its header declares {size[0]} x {size[1]} = {size[0] * size[1]:,} pixels, "
            f"more than uirbench decodes ({max_image_pixels():,}); a decompression bomb, or a "
            f"huge photo: downscale it, or raise the limit with {MAX_PIXELS_ENV}"
        )
    arr = np.frombuffer(data, dtype=np.uint8)
    try:
        img = cv2.imdecode(arr, cv2.IMREAD_UNCHANGED)
    except cv2.error:  # e.g. a header declaring more pixels than OpenCV's limit (a pixel bomb)
        raise ImageReadError(
            f"{name}: cannot be decoded (corrupt, or its header declares more pixels than "
            "OpenCV's CV_IO_MAX_IMAGE_PIXELS, 2^30 by default); re-download or regenerate it"
        ) from None
    if img is None:
        raise ImageReadError(
            f"{name}: not a readable image (truncated, corrupt or not an image file); "
            "re-download or regenerate it"
        )
    if img.dtype != np.uint8:
        raise ImageReadError(
            f"{name}: {img.dtype} pixels (e.g. 16-bit PNG); uirbench reads 8-bit images only. "
            "Convert it to 8-bit first so that the scaling is your explicit choice."
        )
    # OpenCV's IMREAD_UNCHANGED ignores the EXIF orientation; every viewer applies it (a phone
    # photo is stored sideways with orientation 6), so apply it: the pixels are what people see.
    img = apply_orientation(img, exif_orientation(data))
    if img.ndim == 2:
        return np.ascontiguousarray(np.repeat(img[:, :, None], 3, axis=2))
    if img.shape[2] == 4:
        img = img[:, :, :3]
    elif img.shape[2] != 3:
        raise ImageReadError(f"{name}: unsupported channel count {img.shape[2]}")
    return np.ascontiguousarray(img[:, :, ::-1])


def decoded_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of the image :func:`read_image` will return, without decoding it: the
    PNG/JPEG header with the EXIF orientations that swap the sides (5-8) applied, as
    :func:`decode_image` applies them; other formats (no orientation applied there either) by
    PIL's header. Every size check before scoring or building uses this, so that a photo stored
    sideways is compared by the size it is read and shown at."""
    data = Path(path).read_bytes()
    size = image_header_size(data)
    if size is None:
        with Image.open(io.BytesIO(data)) as im:  # header only
            return im.size
    w, h = size
    return (h, w) if exif_orientation(data) in (5, 6, 7, 8) else (w, h)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as HxWx3 uint8 RGB (see :func:`decode_image` for conversions)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ImageReadError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ImageReadError(f"{path}: is a directory, expected an image file") from None
    return decode_image(data, path)


def remove_stale_temporaries(root: str | os.PathLike, exclusive: bool = False) -> int:
    """Delete temporary files a killed run left under ``root``; returns how many.

    Only those of dead processes on this host (:func:`temporary_is_stale`), unless
    ``exclusive``: the caller holds the root's exclusive lock, so no other writer is running and
    every temporary is left over."""
    n = 0
    for p in Path(root).rglob(f"{TMP_PREFIX}*"):
        if p.is_file() and (exclusive or temporary_is_stale(p)):
            p.unlink(missing_ok=True)
            n += 1
    return n
