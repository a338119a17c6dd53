"""Every published number uirbench ships (the leaderboard's paper rows) equals the paper's text,
value by value: tests/fixtures/paper_tables/tables.txt is the paper's tables copied verbatim
(make.py there), parsed here independently of uirbench's loader, and compared with the CSV that
the package itself reads (package data, tracked by git, so a clean clone has it)."""

from __future__ import annotations

import csv
import re
import subprocess
from pathlib import Path

import pytest

from uirbench import paths

TABLES = Path(__file__).parent / "fixtures" / "paper_tables" / "tables.txt"
METRICS = ["psnr", "ssim", "lpips", "fid"]  # Tables 2 and 3, left to right
BY_TABLE = {"6": "psnr", "7": "ssim", "8": "lpips", "9": "fid", "4": "accuracy"}
NUMBER = re.compile(r"^\d+(\.\d+)?$")


def paper_values() -> dict[tuple[str, str, str, str], str]:
    """(source, method, task, metric) -> value as printed; Table 2's task is '' (the paper names
    a dataset per sub-table, not a task id)."""
    out: dict[tuple[str, str, str, str], str] = {}
    table, columns, pending = "", [], []
    for line in TABLES.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"Table (\d+): ", line):
            table = m.group(1)
            continue
        if m := re.match(r"\(([a-d])\) ", line):  # closes a Table 2 sub-table
            for method, values in pending:
                for metric, v in zip(METRICS, values, strict=True):
                    out[(f"Table 2{m.group(1)}", method, "", metric)] = v
            pending = []
            continue
        words = line.split()
        if words[0] == "Model":
            columns = [w.lower() for w in words[1:]]
            continue
        n = sum(1 for w in reversed(words) if NUMBER.match(w))
        if n == 0:  # "Method Distortion Perceptual", "PSNR\uparrow ..."
            continue
        method, values = " ".join(words[:-n]).replace(" + DA-CLIP", "+DA-CLIP"), words[-n:]
        if table == "2":
            pending.append((method, values))
        elif table == "3":
            for metric, v in zip(METRICS, values, strict=True):
                out[("Table 3", method, "average", metric)] = v
        else:
            for task, v in zip(columns, values, strict=True):
                out[(f"Table {table}", method, task, BY_TABLE[table])] = v
    return out


def packaged_values() -> dict[tuple[str, str, str, str], str]:
    path = paths.manifests_dir() / "leaderboard" / "daclip_iclr2024.csv"
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out = {}
    for r in rows:
        task = "" if r["source"].startswith("Table 2") else r["task"]
        key = (r["source"], r["method"], task, r["metric"])
        assert key not in out, f"duplicate row {key}"
        out[key] = r["value"]
    return out


def test_every_packaged_paper_number_equals_the_paper() -> None:
    paper, packaged = paper_values(), packaged_values()
    # 4 sub-tables x 6 methods x 4 metrics + 6 x 4 + 4 x 11 + 4 tables x 6 x 11
    assert len(paper) == 96 + 24 + 44 + 264 == 428
    assert set(packaged) == set(paper), set(packaged) ^ set(paper)
    wrong = {k: (packaged[k], paper[k]) for k in paper if packaged[k] != paper[k]}
    assert not wrong, wrong  # strings: trailing zeros are part of the printed precision


def test_the_packaged_table_is_tracked_so_a_clean_clone_has_it() -> None:
    path = paths.manifests_dir() / "leaderboard" / "daclip_iclr2024.csv"
    repo = Path(__file__).resolve().parents[1]
    if not (repo / ".git").exists():
        pytest.skip("not a git checkout: the installed package data was checked above")
    tracked = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "--error-unmatch", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert tracked.returncode == 0, tracked.stderr
