"""Untrusted archives, through the path a real build takes (``fetch.ensure_source``).

Every unsafe archive kind -- absolute paths, ``..``, symlinks, hardlinks, device/FIFO entries,
decompression bombs -- in every container we read (zip, tar, tar.gz, tar.bz2, tar.xz) is refused
before anything is written: the extraction folder never appears, no temporary folder is left,
nothing lands outside the raw root, and the archive is not pinned as good. A checksum mismatch
moves the file to quarantine and extracts nothing. Run with ``pytest -s`` to print the number of
archives refused (quoted in docs/reliability.md).
"""

from __future__ import annotations

import hashlib
import io
import stat
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from uirbench.data import fetch
from uirbench.errors import ChecksumError, UirbenchError, UnsafeArchiveError
from uirbench.io import TMP_PREFIX

GOOD = ("pkg/good.txt", b"fine")
BOMB_BYTES = 16 << 20  # zeros: ~16 KB packed, >1000x ratio
REFUSED: list[str] = []


# --------------------------------------------------------------------------- archive builders
def _zip(entries: list[tuple[str, bytes, int | None]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return buf.getvalue()


def _tar(entries: list[tarfile.TarInfo | tuple[str, bytes]], compression: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=f"w:{compression}") as tf:
        for e in entries:
            if isinstance(e, tarfile.TarInfo):
                tf.addfile(e)
            else:
                info = tarfile.TarInfo(e[0])
                info.size = len(e[1])
                tf.addfile(info, io.BytesIO(e[1]))
    return buf.getvalue()


def _special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


# The bad member always comes AFTER a good one: a streaming extractor would already have written.
ZIP_CASES: dict[str, list[tuple[str, bytes, int | None]]] = {
    "absolute": [("/tmp/uirbench-evil.txt", b"x", None)],
    "dotdot": [("pkg/../../uirbench-evil.txt", b"x", None)],
    "backslash": [("..\\uirbench-evil.txt", b"x", None)],
    "drive-letter": [("C:/uirbench-evil.txt", b"x", None)],
    "symlink": [("pkg/link", b"/etc/passwd", stat.S_IFLNK | 0o777)],
    "char-device": [("pkg/dev", b"", stat.S_IFCHR | 0o600)],
    "block-device": [("pkg/blk", b"", stat.S_IFBLK | 0o600)],
    "fifo": [("pkg/fifo", b"", stat.S_IFIFO | 0o600)],
    "bomb": [("pkg/zeros.bin", bytes(BOMB_BYTES), None)],
    "inside-a-file": [("pkg/good.txt/uirbench-evil.txt", b"x", None)],
}
TAR_CASES: dict[str, list] = {
    "absolute": [("/tmp/uirbench-evil.txt", b"x")],
    "dotdot": [("pkg/../../uirbench-evil.txt", b"x")],
    "symlink": [_special("pkg/link", tarfile.SYMTYPE, "/etc")],
    "symlink-then-write-through": [
        _special("pkg/link", tarfile.SYMTYPE, "../../"),
        ("pkg/link/uirbench-evil.txt", b"x"),
    ],
    "hardlink": [_special("pkg/hard", tarfile.LNKTYPE, "/etc/passwd")],
    "char-device": [_special("pkg/dev", tarfile.CHRTYPE)],
    "block-device": [_special("pkg/blk", tarfile.BLKTYPE)],
    "fifo": [_special("pkg/fifo", tarfile.FIFOTYPE)],
    "bomb": [("pkg/zeros.bin", bytes(BOMB_BYTES))],
    "inside-a-file": [("pkg/good.txt/uirbench-evil.txt", b"x")],
}
TAR_FORMATS = {"tar": "", "tar.gz": "gz", "tar.bz2": "bz2", "tar.xz": "xz"}


def _cases() -> Iterator[tuple[str, str, Callable[[], bytes]]]:
    for why, entries in ZIP_CASES.items():
        yield "zip", why, lambda e=entries: _zip([(*GOOD, None), *e])
    for ext, comp in TAR_FORMATS.items():
        for why, entries in TAR_CASES.items():
            if why == "bomb" and comp == "":
                continue  # an uncompressed tar cannot have a ratio above ~1
            yield ext, why, lambda e=entries, c=comp: _tar([GOOD, *e], c)


CASES = list(_cases())
N_UNSAFE = len(CASES) + 1  # + the archive inside a folder artifact


@pytest.fixture(scope="module", autouse=True)
def _print_figure() -> Iterator[None]:
    yield
    print(f"\n[reliability] untrusted archives refused: {len(REFUSED)} of {N_UNSAFE} tried")


# --------------------------------------------------------------------------- manifest helper
def _manifests(tmp: Path, artifact: dict) -> Path:
    d = tmp / "manifests"
    d.mkdir(exist_ok=True)
    data = {
        "name": "toy",
        "title": "Toy source",
        "tasks": ["noisy"],
        "adapter": "folder",
        "licence": {"name": "test", "terms": "test only"},
        "manual": "Get the toy archive from the toy website.",
        "artifacts": [artifact],
    }
    (d / "toy.yaml").write_text(yaml.safe_dump(data))
    return d


def _leftovers(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.name.startswith(TMP_PREFIX) or p.name.endswith(".staged")
    )


# --------------------------------------------------------------------------- tests
@pytest.mark.parametrize(("ext", "why", "make"), CASES, ids=[f"{e}-{w}" for e, w, _ in CASES])
def test_unsafe_archive_is_refused_before_anything_is_written(
    tmp_path: Path, ext: str, why: str, make: Callable[[], bytes]
) -> None:
    raw = tmp_path / "raw"
    name = f"toy.{ext}"
    (raw / "toy").mkdir(parents=True)
    (raw / "toy" / name).write_bytes(make())  # placed by hand, as a user with a mirror would
    man = _manifests(
        tmp_path,
        {
            "path": name,
            "extract": True,
            "extract_to": "unpacked",
            "locations": [{"url": "http://127.0.0.1:9/never-used"}],
        },
    )
    with pytest.raises(UnsafeArchiveError) as exc:
        fetch.ensure_source("toy", raw, manifests=man, allow_download=False)
    msg = str(exc.value)
    assert name in msg and "refus" in msg, msg
    assert not (raw / "toy" / "unpacked").exists()
    assert _leftovers(tmp_path) == []
    assert not list(tmp_path.rglob("uirbench-evil.txt"))
    assert not Path("/tmp/uirbench-evil.txt").exists()
    assert fetch.LockFile(raw).get(f"toy/{name}") is None  # never pinned as good
    # rerunning is refused again (no "ready" marker was recorded for a refused archive)
    with pytest.raises(UnsafeArchiveError):
        fetch.ensure_source("toy", raw, manifests=man, allow_download=False)
    REFUSED.append(f"{ext}-{why}")


def test_unsafe_archive_inside_a_folder_artifact_is_refused(tmp_path: Path) -> None:
    """Archives found inside a downloaded folder get the same checks as top-level ones."""
    raw = tmp_path / "raw"
    folder = raw / "toy" / "bundle"
    folder.mkdir(parents=True)
    (folder / "inner.tar.gz").write_bytes(_tar([GOOD, ("../../uirbench-evil.txt", b"x")], "gz"))
    man = _manifests(
        tmp_path,
        {"path": "bundle", "kind": "dir", "locations": [{"hf": {"repo": "toy/toy"}}]},
    )
    with pytest.raises(UnsafeArchiveError, match=r"'\.\.'"):
        fetch.ensure_source("toy", raw, manifests=man, allow_download=False)
    assert not (raw / "toy" / f"bundle{fetch.DIR_EXTRACTED_SUFFIX}" / "inner").exists()
    assert _leftovers(tmp_path) == []
    assert not list(tmp_path.rglob("uirbench-evil.txt"))
    REFUSED.append("folder-artifact-inner-tar.gz-dotdot")


def _patched_zip(flag: int = 0, method: int | None = None) -> bytes:
    """A zip whose member claims encryption (general-purpose flag bit 0) or an unknown
    compression method, patched into both the local and the central header."""
    b = bytearray(_zip([(*GOOD, None)]))
    local, central = b.find(b"PK\x03\x04"), b.find(b"PK\x01\x02")
    b[local + 6] |= flag
    b[central + 8] |= flag
    if method is not None:
        b[local + 8 : local + 10] = method.to_bytes(2, "little")
        b[central + 10 : central + 12] = method.to_bytes(2, "little")
    return bytes(b)


@pytest.mark.parametrize("why", ["encrypted", "unknown-method"])
def test_zip_we_cannot_read_is_a_clear_error_before_writing(tmp_path: Path, why: str) -> None:
    raw = tmp_path / "raw"
    (raw / "toy").mkdir(parents=True)
    data = _patched_zip(flag=1) if why == "encrypted" else _patched_zip(method=99)
    (raw / "toy" / "toy.zip").write_bytes(data)
    man = _manifests(
        tmp_path,
        {
            "path": "toy.zip",
            "extract": True,
            "extract_to": "unpacked",
            "locations": [{"url": "http://127.0.0.1:9/never-used"}],
        },
    )
    with pytest.raises(UirbenchError) as exc:
        fetch.ensure_source("toy", raw, manifests=man, allow_download=False)
    assert "toy.zip" in str(exc.value) and "by hand" in str(exc.value)
    assert not (raw / "toy" / "unpacked").exists()
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("ext", ["zip", "tar.gz"])
def test_checksum_mismatch_quarantines_and_extracts_nothing(tmp_path: Path, ext: str) -> None:
    good = _zip([(*GOOD, None)]) if ext == "zip" else _tar([GOOD], "gz")
    tampered = good[:-1] + bytes([good[-1] ^ 0xFF]) if ext == "tar.gz" else good + b"\0"
    raw = tmp_path / "raw"
    name = f"toy.{ext}"
    (raw / "toy").mkdir(parents=True)
    (raw / "toy" / name).write_bytes(tampered)
    man = _manifests(
        tmp_path,
        {
            "path": name,
            "sha256": hashlib.sha256(good).hexdigest(),
            "extract": True,
            "extract_to": "unpacked",
            "locations": [{"url": "http://127.0.0.1:9/never-used"}],
        },
    )
    with pytest.raises(ChecksumError) as exc:
        fetch.ensure_source("toy", raw, manifests=man, allow_download=False)
    assert name in str(exc.value) and "quarantine" in str(exc.value)
    assert not (raw / "toy" / "unpacked").exists()
    assert not (raw / "toy" / name).exists()  # moved away, so it is never used by mistake
    q = list((raw / fetch.QUARANTINE_DIR / "toy").iterdir())
    assert [p.read_bytes() for p in q] == [tampered]
    assert _leftovers(tmp_path) == []


def test_checksum_mismatch_in_a_mirror_is_never_used(tmp_path: Path) -> None:
    """A mirror copy that fails verification is skipped (the user's mirror is not moved) and
    nothing is extracted; with downloads disabled the run stops saying what to fetch."""
    good = _zip([(*GOOD, None)])
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "toy.zip").write_bytes(good + b"tampered")
    man = _manifests(
        tmp_path,
        {
            "path": "toy.zip",
            "sha256": hashlib.sha256(good).hexdigest(),
            "extract": True,
            "extract_to": "unpacked",
            "locations": [{"url": "http://127.0.0.1:9/never-used"}],
        },
    )
    raw = tmp_path / "raw"
    with pytest.raises(fetch.ManualDownloadError):
        fetch.ensure_source("toy", raw, manifests=man, mirror=mirror, allow_download=False)
    assert not (raw / "toy" / "unpacked").exists()
    assert (mirror / "toy.zip").read_bytes() == good + b"tampered"
