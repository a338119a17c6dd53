"""Submissions nobody trusts: ``evaluate --outputs`` reads plain files only (a symlink to the GT
used to score inf dB), never the GT itself, and reads image metadata that changes how viewers
show an image (EXIF orientation) as viewers do."""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageOps

from uirbench.errors import UirbenchError
from uirbench.evaluate.runner import run
from uirbench.io import decode_image, decoded_size, exif_orientation

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("_evalfix2", REPO / "tests/test_evaluate_outputs.py")
_fix = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fix)


@pytest.fixture
def tiny(tmp_path):
    root = _fix.make_root(tmp_path / "root")
    outs = _fix.copy_lq_as_outputs(root, tmp_path / "outs")
    return root, outs, pd.read_parquet(root / "index.parquet").iloc[0]


def _score(root, outs, out, **kw):
    return run(root=root, outputs=outs, out=out, metrics="psnr", workers=0, **kw)


def test_a_symlink_to_the_gt_is_refused(tiny, tmp_path):
    root, outs, row = tiny
    target = outs / row["task"] / f"{row['stem']}.png"
    target.unlink()
    target.symlink_to(root / row["gt_path"])
    with pytest.raises(UirbenchError) as exc:
        _score(root, outs, tmp_path / "res")
    msg = str(exc.value)
    assert "symbolic links" in msg and f"{row['task']}/{row['stem']}.png -> " in msg
    assert "--follow-symlinks" in msg
    # followed on request, it is still the GT itself: refused always
    with pytest.raises(UirbenchError, match="the GT files themselves"):
        _score(root, outs, tmp_path / "res", follow_symlinks=True)
    assert not (tmp_path / "res" / "results.json").exists()
    args = ["evaluate", "--root", str(root), "--outputs", str(outs), "--out", str(tmp_path / "r")]
    cli = subprocess.run(
        [sys.executable, "-m", "uirbench", *args, "--metrics", "psnr", "--workers", "0"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert cli.returncode == 2 and "Traceback" not in cli.stderr
    assert "holds symbolic links" in cli.stderr


def test_a_hard_link_to_the_gt_and_a_linked_task_folder_are_refused(tiny, tmp_path):
    root, outs, row = tiny
    target = outs / row["task"] / f"{row['stem']}.png"
    target.unlink()
    os.link(root / row["gt_path"], target)
    with pytest.raises(UirbenchError, match="the GT files themselves"):
        _score(root, outs, tmp_path / "res")
    target.unlink()
    target.write_bytes((root / row["lq_path"]).read_bytes())
    task_dir = outs / row["task"]
    task_dir.rename(tmp_path / "elsewhere")
    task_dir.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UirbenchError, match="holds symbolic links"):
        _score(root, outs, tmp_path / "res")
    res = _score(root, outs, tmp_path / "res", follow_symlinks=True)  # trusted: read through
    assert res["dataset"]["pairs"] == len(pd.read_parquet(root / "index.parquet"))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_as_viewers_do(orientation, tmp_path):
    """JPEG and PNG with each EXIF orientation decode to what PIL's exif_transpose (viewers)
    shows; OpenCV alone ignores the tag."""
    rng = np.random.default_rng(orientation)
    img = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    for fmt in ("PNG", "JPEG"):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, fmt, exif=exif.tobytes(), quality=100)
        data = buf.getvalue()
        assert exif_orientation(data) == orientation
        with Image.open(io.BytesIO(data)) as im:
            shown = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
        ours = decode_image(data, f"x.{fmt}")
        assert ours.shape == shown.shape, (fmt, ours.shape, shown.shape)
        path = tmp_path / f"x.{fmt.lower()}"
        path.write_bytes(data)
        assert decoded_size(path) == (ours.shape[1], ours.shape[0])  # the size checks' view
        if fmt == "PNG":
            assert np.array_equal(ours, shown)
        else:  # two JPEG decoders: equal up to their IDCT rounding
            assert np.abs(ours.astype(int) - shown.astype(int)).max() <= 3


def test_a_rotated_output_is_paired_by_its_shown_size(tiny, tmp_path):
    """An output stored sideways with orientation 6 (as phones save) scores as shown."""
    root, outs, row = tiny
    target = outs / row["task"] / f"{row['stem']}.png"
    lq = decode_image(target.read_bytes())
    exif = Image.Exif()
    exif[0x0112] = 6  # viewers rotate 90 degrees clockwise: store it rotated the other way
    Image.fromarray(np.ascontiguousarray(np.rot90(lq, 1))).save(target, exif=exif.tobytes())
    before = _score(root, _fix.copy_lq_as_outputs(root, tmp_path / "plain"), tmp_path / "a")
    after = _score(root, outs, tmp_path / "b")
    assert after["per_task"] == before["per_task"]


def test_a_gt_folder_photo_stored_sideways_pairs_with_an_output_of_its_shown_size(tmp_path):
    """evaluate --gt: a GT JPEG stored sideways (orientation 6, as phones save) is read as
    shown, so an output of the shown size pairs; its header size alone would refuse it."""
    from uirbench.evaluate.folders import folder_rows
    from uirbench.evaluate.pairing import pair_outputs

    rng = np.random.default_rng(0)
    shown = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)  # 40 wide, 24 high as shown
    exif = Image.Exif()
    exif[0x0112] = 6
    gt = tmp_path / "gt"
    gt.mkdir()
    Image.fromarray(np.ascontiguousarray(np.rot90(shown, 1))).save(
        gt / "phone.jpg", exif=exif.tobytes(), quality=95
    )
    rows = folder_rows(gt)
    assert (int(rows.width[0]), int(rows.height[0])) == (40, 24)
    outs = tmp_path / "outs"
    outs.mkdir()
    Image.fromarray(shown).save(outs / "phone.png")
    pairs = pair_outputs(outs, rows, tmp_path)
    assert [p.stem for p in pairs] == ["phone"]
