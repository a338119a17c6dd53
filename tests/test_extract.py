"""Safe extraction: every unsafe archive is refused before anything is written."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from uirbench.data.extract import extract_archive, scan_archive
from uirbench.errors import UirbenchError, UnsafeArchiveError


def _zip(path: Path, entries: list[tuple[str, bytes, int | None]]) -> Path:
    """entries: (name, data, unix mode or None)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return path


def _tar(path: Path, entries: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tf:
        for e in entries:
            if isinstance(e, tarfile.TarInfo):
                tf.addfile(e)
            else:
                info = tarfile.TarInfo(e[0])
                info.size = len(e[1])
                tf.addfile(info, io.BytesIO(e[1]))
    return path


GOOD = ("pkg/a.txt", b"hello")


def _nothing_written(tmp_path: Path, dest: Path) -> None:
    assert not dest.exists()
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".uirbench-tmp")]
    assert leftovers == []


def test_good_zip_and_tar_extract(tmp_path: Path) -> None:
    z = _zip(tmp_path / "ok.zip", [(*GOOD, None), ("pkg/sub/b.bin", b"\x00\x01", 0o100644)])
    out = extract_archive(z, tmp_path / "z")
    assert (out / "pkg/a.txt").read_bytes() == b"hello"
    assert (out / "pkg/sub/b.bin").read_bytes() == b"\x00\x01"
    t = _tar(tmp_path / "ok.tar.gz", [GOOD, ("./pkg/c.txt", b"c")], mode="w:gz")
    out = extract_archive(t, tmp_path / "t")
    assert (out / "pkg/a.txt").read_bytes() == b"hello"
    assert (out / "pkg/c.txt").read_bytes() == b"c"


@pytest.mark.parametrize(
    ("name", "mode", "needle"),
    [
        ("/etc/evil.txt", None, "absolute"),
        ("pkg/../../evil.txt", None, "'..'"),
        ("..\\evil.txt", None, "backslash"),
        ("C:/evil.txt", None, "drive letter"),
        ("pkg/link", stat.S_IFLNK | 0o777, "symlink"),
        ("pkg/dev", stat.S_IFCHR | 0o600, "device"),
        ("pkg/fifo", stat.S_IFIFO | 0o600, "FIFO"),
    ],
)
def test_unsafe_zip_rejected_nothing_written(
    tmp_path: Path, name: str, mode: int | None, needle: str
) -> None:
    z = _zip(tmp_path / "bad.zip", [(*GOOD, None), (name, b"/etc/passwd", mode)])
    dest = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match="refusing") as exc:
        extract_archive(z, dest)
    assert needle in str(exc.value)
    assert name.replace("\\", "\\\\") in str(exc.value) or name in str(exc.value)
    _nothing_written(tmp_path, dest)


def _tinfo(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        (("/abs/evil.txt", b"x"), "absolute"),
        (("a/../../evil.txt", b"x"), "'..'"),
        (_tinfo("pkg/link", tarfile.SYMTYPE, "/etc/passwd"), "symlink"),
        (_tinfo("pkg/hard", tarfile.LNKTYPE, "pkg/a.txt"), "hardlink"),
        (_tinfo("pkg/dev", tarfile.CHRTYPE), "device"),
        (_tinfo("pkg/blk", tarfile.BLKTYPE), "device"),
        (_tinfo("pkg/fifo", tarfile.FIFOTYPE), "FIFO"),
    ],
)
@pytest.mark.parametrize("mode", ["w", "w:gz"])
def test_unsafe_tar_rejected_nothing_written(tmp_path: Path, entry, needle: str, mode: str) -> None:
    # the bad member comes LAST so a streaming extractor would already have written GOOD
    t = _tar(tmp_path / "bad.tar", [GOOD, entry], mode=mode)
    dest = tmp_path / "out"
    with pytest.raises(UnsafeArchiveError, match="refusing") as exc:
        extract_archive(t, dest)
    assert needle in str(exc.value)
    _nothing_written(tmp_path, dest)


def test_zip_bomb_ratio_rejected(tmp_path: Path) -> None:
    z = _zip(tmp_path / "bomb.zip", [("zeros.bin", b"\x00" * (8 << 20), None)])
    assert z.stat().st_size < 100_000
    with pytest.raises(UnsafeArchiveError, match="bomb"):
        extract_archive(z, tmp_path / "out")
    _nothing_written(tmp_path, tmp_path / "out")


def test_tar_bomb_ratio_rejected(tmp_path: Path) -> None:
    t = _tar(tmp_path / "bomb.tar.gz", [("zeros.bin", b"\x00" * (8 << 20))], mode="w:gz")
    with pytest.raises(UnsafeArchiveError, match="bomb"):
        extract_archive(t, tmp_path / "out")
    _nothing_written(tmp_path, tmp_path / "out")


def test_absolute_size_limit(tmp_path: Path) -> None:
    t = _tar(tmp_path / "big.tar", [("a.bin", b"a" * 5000)])
    with pytest.raises(UnsafeArchiveError, match="over the limit"):
        extract_archive(t, tmp_path / "out", max_total_bytes=4000)
    assert scan_archive(t) == 5000
    _nothing_written(tmp_path, tmp_path / "out")


def test_member_count_and_duplicates(tmp_path: Path) -> None:
    t = _tar(tmp_path / "many.tar", [(f"f{i}", b"x") for i in range(5)])
    with pytest.raises(UnsafeArchiveError, match="members exceed"):
        extract_archive(t, tmp_path / "out", max_members=4)
    d = _tar(tmp_path / "dup.tar", [("same", b"x"), ("same", b"y")])
    with pytest.raises(UnsafeArchiveError, match="twice"):
        extract_archive(d, tmp_path / "out")
    _nothing_written(tmp_path, tmp_path / "out")


def test_zip_lying_about_size_is_caught_and_cleaned(tmp_path: Path) -> None:
    z = _zip(tmp_path / "lie.zip", [("a.bin", b"abcdefgh" * 100, None)])
    data = bytearray(z.read_bytes())
    # shrink the declared uncompressed size (central directory) from 800 to 8 bytes
    cd = data.rfind(b"PK\x01\x02")
    data[cd + 24 : cd + 28] = (8).to_bytes(4, "little")
    z.write_bytes(bytes(data))
    with pytest.raises(UirbenchError, match=r"lie\.zip"):  # our size check or the CRC check
        extract_archive(z, tmp_path / "out")
    _nothing_written(tmp_path, tmp_path / "out")


def test_truncated_archive_is_a_clear_error(tmp_path: Path) -> None:
    t = _tar(tmp_path / "cut.tar.gz", [("a.bin", _noise(50_000))], mode="w:gz")
    t.write_bytes(t.read_bytes()[: t.stat().st_size // 2])
    with pytest.raises(UirbenchError, match="corrupt or truncated"):
        extract_archive(t, tmp_path / "out")
    _nothing_written(tmp_path, tmp_path / "out")


def _noise(n: int) -> bytes:
    import random

    return random.Random(0).randbytes(n)


def test_not_an_archive(tmp_path: Path) -> None:
    p = tmp_path / "x.zip"
    p.write_bytes(b"not an archive")
    with pytest.raises(Exception, match="not a zip or tar"):
        extract_archive(p, tmp_path / "out")
