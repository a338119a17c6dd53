"""`uirbench evaluate --gt DIR --outputs DIR`: scoring two plain folders, no dataset root."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from uirbench.errors import UirbenchError
from uirbench.evaluate import run
from uirbench.evaluate.metrics import psnr
from uirbench.io import write_png

NAMES = ["my photo.v2", "IMG_0001", "b"]  # spaces and dots: matched as given, never renamed


def _pair(rng: np.random.Generator, h: int = 40, w: int = 52) -> tuple[np.ndarray, np.ndarray]:
    gt = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    out = np.clip(gt.astype(int) + rng.integers(-30, 31, gt.shape), 0, 255).astype(np.uint8)
    return gt, out


def make_folders(tmp: Path, groups: list[str] | None = None) -> tuple[Path, Path, dict]:
    """GT and outputs folders, flat (groups None) or <group>/<name>.png; expected PSNR per group."""
    rng = np.random.default_rng(0)
    gt_dir, out_dir = tmp / "gt", tmp / "outs"
    want: dict[str, list[float]] = {}
    for g in groups or [None]:
        for i, name in enumerate(NAMES):
            gt, out = _pair(rng, 40 + 4 * i)
            sub = Path(g) if g else Path()
            write_png(gt_dir / sub / f"{name}.png", gt)
            write_png(out_dir / sub / f"{name}.png", out)
            # daclip profile: RGB, 4 px crop
            want.setdefault(g, []).append(psnr(out[4:-4, 4:-4], gt[4:-4, 4:-4]))
    return gt_dir, out_dir, want


def test_flat_folders_with_task_label_score_and_record_provenance(tmp_path):
    gt, outs, want = make_folders(tmp_path)
    res = run(root=None, gt=gt, outputs=outs, task="mine", out=tmp_path / "r", metrics="psnr")
    assert res["per_task"]["mine"]["n"] == 3
    assert res["per_task"]["mine"]["psnr"] == pytest.approx(np.mean(want[None]), abs=1e-9)
    j = json.loads((tmp_path / "r" / "results.json").read_text())
    assert j["dataset"]["kind"] == "folder" and j["dataset"]["gt"] == str(gt.resolve())
    assert len(j["dataset"]["gt_listing_sha256"]) == 64
    stems = set(pd.read_csv(tmp_path / "r" / "per_image.csv")["stem"])
    assert stems == set(NAMES)
    for f in ("per_task.csv", "per_task.md"):
        assert (tmp_path / "r" / f).is_file()


def test_task_subfolders_pair_per_group_and_paper_names_map(tmp_path):
    gt, outs, want = make_folders(tmp_path, ["jpeg-compressed", "my set"])
    res = run(root=None, gt=gt, outputs=outs, out=tmp_path / "r", metrics="psnr", workers=0)
    assert res["per_task"]["jpeg"]["psnr"] == pytest.approx(np.mean(want["jpeg-compressed"]))
    assert res["per_task"]["my set"]["psnr"] == pytest.approx(np.mean(want["my set"]))
    assert res["dataset"]["tasks"] == ["jpeg", "my set"]


def test_empty_folders_say_no_images(tmp_path):
    gt, outs, _ = make_folders(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UirbenchError, match=rf"--outputs {empty}: no images in {empty}"):
        run(root=None, gt=gt, outputs=empty, task="x", out=tmp_path / "r", metrics="psnr")
    with pytest.raises(UirbenchError, match=rf"--gt {empty}: no images in {empty}"):
        run(root=None, gt=empty, outputs=outs, out=tmp_path / "r", metrics="psnr")


def test_missing_output_is_listed_with_its_original_name(tmp_path):
    gt, outs, _ = make_folders(tmp_path)
    (outs / "my photo.v2.png").unlink()
    with pytest.raises(UirbenchError, match=r"missing.*\n\s+my photo\.v2\.png"):
        run(root=None, gt=gt, outputs=outs, task="x", out=tmp_path / "r", metrics="psnr")


def test_root_and_gt_are_exclusive(tmp_path):
    gt, outs, _ = make_folders(tmp_path)
    with pytest.raises(UirbenchError, match="exactly one of --root"):
        run(root=tmp_path, gt=gt, outputs=outs, out=tmp_path / "r", metrics="psnr")
    with pytest.raises(UirbenchError, match="--gt scores a folder of --outputs"):
        run(root=None, gt=gt, model="identity", out=tmp_path / "r", metrics="psnr")


def test_cli_gt_outputs_exit_0(tmp_path):
    gt, outs, want = make_folders(tmp_path)
    out = tmp_path / "r"
    cmd = [sys.executable, "-m", "uirbench", "evaluate", "--gt", str(gt), "--outputs", str(outs)]
    cmd += ["--out", str(out), "--metrics", "psnr,ssim", "--workers", "1"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    j = json.loads((out / "results.json").read_text())
    assert j["per_task"]["gt"]["psnr"] == pytest.approx(np.mean(want[None]))


def test_converted_outputs_are_warned_in_results_and_printed(tmp_path):
    import cv2

    gt, outs, _ = make_folders(tmp_path)
    rgb = cv2.imread(str(outs / "b.png"))
    (outs / "b.png").unlink()
    cv2.imwrite(str(outs / "b.jpg"), rgb, [cv2.IMWRITE_JPEG_QUALITY, 95])  # lossy
    grey = cv2.cvtColor(cv2.imread(str(outs / "IMG_0001.png")), cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(outs / "IMG_0001.png"), grey)  # grayscale
    bgra = cv2.cvtColor(cv2.imread(str(outs / "my photo.v2.png")), cv2.COLOR_BGR2BGRA)
    cv2.imwrite(str(outs / "my photo.v2.png"), bgra)  # alpha
    out = tmp_path / "r"
    cmd = [sys.executable, "-m", "uirbench", "evaluate", "--gt", str(gt), "--outputs", str(outs)]
    cmd += ["--out", str(out), "--metrics", "psnr", "--workers", "1"]
    env = {**__import__("os").environ, "COLUMNS": "300"}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    warnings = json.loads((out / "results.json").read_text())["warnings"]
    text = "\n".join(warnings)
    assert "1 lossy format (JPEG/WebP)" in text and "b.jpg" in text
    assert "1 grayscale, replicated" in text and "IMG_0001.png" in text
    assert "1 alpha channel dropped" in text and "my photo.v2.png" in text
    assert "b.jpg" in r.stderr and "grayscale" in r.stderr  # printed before scoring
    assert "scoring images" in r.stderr and "3/3" in r.stderr  # the progress bar


def test_plain_rgb_png_outputs_have_no_conversion_warning(tmp_path):
    gt, outs, _ = make_folders(tmp_path)
    res = run(root=None, gt=gt, outputs=outs, task="x", out=tmp_path / "r", metrics="psnr")
    assert res["warnings"] == []
