"""OSErrors a user causes are one line naming the file and the fix, not a traceback: an --out
under a file or with a name too long for the filesystem, a read-only filesystem or a full inode
table met while writing results, a photo too large for one of the degradations."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from uirbench.io import write_png


def _evaluate(root: Path, out: Path) -> list[str]:
    args = ["evaluate", "--root", str(root), "--model", "identity", "--tasks", "noisy"]
    return [*args, "--metrics", "psnr", "--workers", "0", "--out", str(out)]


@pytest.mark.parametrize("kind", ["under-a-file", "name-too-long"])
def test_an_out_folder_that_cannot_exist_is_named(demo_root, tmp_path, kind, cli_in_process):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = blocker / "out" if kind == "under-a-file" else tmp_path / ("o" * 300)
    for args in (_evaluate(demo_root, out), ["leaderboard", "export", "--out", str(out)]):
        code, text = cli_in_process(*args)
        assert code == 2, text
        assert f"cannot create the folder {out}" in text, text
        assert len(text.strip().splitlines()) == 1, text


@pytest.mark.parametrize(
    ("where", "err", "says"),
    [
        ("replace", errno.EROFS, "the filesystem is read-only"),
        ("replace", errno.EDQUOT, "disk quota exceeded"),
        ("mkstemp", errno.ENOSPC, "out of bytes or of inodes"),  # inodes fail at creation
        ("mkstemp", errno.EACCES, "permission denied"),
    ],
)
def test_evaluate_names_a_write_error_after_scoring(
    demo_root, tmp_path, monkeypatch, where, err, says, cli_in_process
):
    """The error comes after all the computing (the result files are written last): one line
    naming the result file, nothing half-written."""
    out = tmp_path / "res"
    real_replace, real_mkstemp = os.replace, tempfile.mkstemp

    def failing_replace(src, dst, *a, **kw):
        if str(dst).startswith(str(out)):
            raise OSError(err, os.strerror(err))
        return real_replace(src, dst, *a, **kw)

    def failing_mkstemp(*a, **kw):
        if str(kw.get("dir", "")).startswith(str(out)):
            raise OSError(err, os.strerror(err))
        return real_mkstemp(*a, **kw)

    if where == "replace":
        monkeypatch.setattr(os, "replace", failing_replace)
    else:
        monkeypatch.setattr(tempfile, "mkstemp", failing_mkstemp)
    code, text = cli_in_process(*_evaluate(demo_root, out))
    assert code == 2, text
    assert says in text and str(out) in text, text
    assert not (out / "results.json").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".uirbench-tmp-")]


def test_a_photo_too_wide_for_jpeg_is_named(tmp_path, cli_in_process):
    """A 66,000 px panorama in --from: the jpeg task cannot encode it (libjpeg's limit); the
    error names the photo and the fix (it was a RuntimeError traceback)."""
    src = tmp_path / "photos"
    rng = np.random.default_rng(0)
    write_png(src / "panorama.png", rng.integers(0, 256, (8, 66000, 3), dtype=np.uint8))
    code, text = cli_in_process(
        *("build-data", "--from", str(src), "--root", str(tmp_path / "root")),
        *("--tasks", "jpeg", "--splits", "val", "--workers", "1"),
    )
    assert code == 2, text
    assert str(src / "panorama.png") in text and "65,500 px per side" in text, text
