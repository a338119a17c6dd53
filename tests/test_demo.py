"""`uirbench demo --quick` end to end: every artefact is there, and a rerun reuses every step.

Quick mode trains for a few steps only, so the scores are meaningless; what is tested is that
each stage runs on the previous one's real outputs and writes what the README promises.
"""

import json
import subprocess
import sys

import pandas as pd
import pytest

from uirbench.tasks import TASK_IDS


@pytest.mark.slow
def test_quick_demo_writes_every_artefact_and_reruns_from_markers(tmp_path):
    out = tmp_path / "demo"
    cmd = [sys.executable, "-m", "uirbench", "demo", "--quick", "--out", str(out)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert first.returncode == 0, first.stderr[-3000:]

    data = out / "data"
    index = pd.read_parquet(data / "index.parquet")
    assert index.caption.notna().all()
    assert (data / "daclip_train.csv").is_file() and (data / "daclip_val.csv").is_file()
    for run in ("daclip_tiny", "ours_tiny", "nafnet-daclip_tiny"):
        assert (out / "runs" / run / "checkpoints" / "last.safetensors").is_file(), run
    # the 11th task comes from the demo's task file alone and goes end to end
    assert set(index.task) == {*TASK_IDS, "blur-rain"}
    assert "blur-rain" in (data / "tasks.yaml").read_text()
    for model in ("identity", "ours", "nafnet-daclip"):
        res = json.loads((out / "results" / model / "results.json").read_text())
        assert {*TASK_IDS, "blur-rain"} <= set(res["per_task"]), model
        assert (out / "results" / model / "per_task.md").is_file()
    ours = json.loads((out / "results" / "ours" / "results.json").read_text())
    assert "subset" not in ours and ours["sampling_steps"] == 2  # every val image, 2 steps
    n_val = int((index.split == "val").sum())
    assert len(pd.read_csv(out / "results" / "ours" / "per_image.csv")) == n_val
    classify = pd.read_csv(out / "classify" / "classify.csv")
    assert len(classify) == 2  # zero-shot row and DA-CLIP row
    assert "blur-rain" in classify.columns  # DA-CLIP's 11th class
    board = out / "leaderboard"
    assert "blur-rain" in pd.read_csv(board / "leaderboard_psnr.csv").columns  # 11th radar axis
    assert list(board.glob("*.csv")) and list(board.glob("*.md"))
    assert list(board.glob("*.png")) and list(board.glob("*.svg"))
    assert "tiny models" in first.stderr and "PSNR" in first.stderr

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stderr.count("done earlier") >= 8
