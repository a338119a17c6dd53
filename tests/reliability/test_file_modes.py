"""Atomic writes give files the mode a plain open() would (0666 less the umask), not mkstemp's
0600: a data root or checkpoint folder shared with other users must stay readable to them."""

from __future__ import annotations

import os
import stat

from uirbench.io import atomic_path, atomic_write_bytes, atomic_write_files


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_writes_respect_the_umask(tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    want = 0o666 & ~mask
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert _mode(plain) == want

    atomic_write_bytes(tmp_path / "a.bin", b"a")
    with atomic_path(tmp_path / "b.png") as tmp:
        tmp.write_bytes(b"b")
    atomic_write_files({tmp_path / "c.csv": b"c", tmp_path / "c.json": b"{}"})
    for name in ("a.bin", "b.png", "c.csv", "c.json"):
        assert _mode(tmp_path / name) == want, name
