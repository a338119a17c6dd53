"""A full disk stops a command with a clear error and leaves the previous good state intact."""

import errno
import os

import pytest

from uirbench.data.build import build
from uirbench.data.index import read_index
from uirbench.data.verify import verify
from uirbench.errors import UirbenchError
from uirbench.io import TMP_PREFIX, atomic_write_bytes


def _fail_writes_after(monkeypatch, n: int) -> None:
    """Make the n-th and later os-level file writes of atomic writes raise ENOSPC."""
    import uirbench.io as io_mod

    real = io_mod.os.replace
    calls = {"n": 0}

    def replace(src, dst):
        calls["n"] += 1
        if calls["n"] >= n:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return real(src, dst)

    monkeypatch.setattr(io_mod.os, "replace", replace)


def test_atomic_write_on_full_disk_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "index.parquet"
    target.write_bytes(b"previous good state")
    _fail_writes_after(monkeypatch, 1)
    with pytest.raises(
        UirbenchError, match=r"no space left on device while writing .*index\.parquet"
    ):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"previous good state"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(TMP_PREFIX)]


def test_build_on_full_disk_fails_clearly_and_the_previous_root_still_verifies(
    tmp_path, monkeypatch
):
    root = tmp_path / "root"
    build(root=root, preset="demo", tasks="jpeg", splits="val", workers=1)
    before = read_index(root)
    # A rebuild with another seed rewrites every LQ; the disk fills after a few files.
    _fail_writes_after(monkeypatch, 5)
    with pytest.raises(UirbenchError, match="no space left on device"):
        build(root=root, preset="demo", tasks="noisy,jpeg", splits="val", seed=9, workers=1)
    monkeypatch.undo()
    # the index was not replaced, and what it lists is either untouched or was never rewritten
    assert read_index(root).equals(before)
    assert not [p for p in root.rglob("*") if p.name.startswith(TMP_PREFIX)]
    build(root=root, preset="demo", tasks="noisy,jpeg", splits="val", seed=9, workers=1)
    assert verify(root) == []
