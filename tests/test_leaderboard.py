"""Leaderboard: the paper's rows reproduce its tables, inconsistent averages are flagged, merge."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from uirbench.report import reference as ref
from uirbench.report.leaderboard import export, metric_table, plot
from uirbench.report.radar import _axis_scale

PAPER = Path(__file__).resolve().parents[2] / "shared" / "paper/daclip-paper.txt"
TASK_COLS = [
    "Blurry",
    "Hazy",
    "JPEG",
    "Low-Light",
    "Noisy",
    "Raindrop",
    "Rainy",
    "Shadowed",
    "Snowy",
    "Inpainting",
]


def md_rows(path: Path) -> dict[str, dict[str, str]]:
    """Parse our Markdown table: method -> column -> cell (bold markers removed)."""
    lines = [ln for ln in path.read_text().splitlines() if ln.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    out = {}
    for ln in lines[2:]:
        cells = [c.strip().replace("**", "") for c in ln.strip("|").split("|")]
        out[cells[0]] = dict(zip(head, cells, strict=True))
    return out


def paper_lines(table: str) -> list[str]:
    text = PAPER.read_text().splitlines()
    i = next(k for k, ln in enumerate(text) if ln.startswith(f"{table}:"))
    out = []
    for ln in text[i + 2 :]:
        if not ln.strip() or ln.startswith(("Table", "Refer", "B.3")):
            break
        out.append(ln)
    return out


def test_reference_has_every_table_row():
    df = ref.load_reference()
    # the DA-CLIP paper's rows (other settings' rows: test_leaderboard_aio3.py)
    df = df[df["ref"].str.contains("arXiv:2310.01018")]
    counts = df.groupby("source").size().to_dict()
    assert counts == {
        "Table 2a": 24,
        "Table 2b": 24,
        "Table 2c": 24,
        "Table 2d": 24,
        "Table 3": 24,
        "Table 4": 44,
        "Table 6": 66,
        "Table 7": 66,
        "Table 8": 66,
        "Table 9": 66,
    }
    assert not df.duplicated(["source", "method", "task", "metric"]).any()


@pytest.mark.skipif(not PAPER.is_file(), reason=f"{PAPER} (paper text) absent")
@pytest.mark.parametrize(
    ("table", "metric"),
    [
        ("Table 6", "psnr"),
        ("Table 7", "ssim"),
        ("Table 8", "lpips"),
        ("Table 9", "fid"),
        ("Table 4", "accuracy"),
    ],
)
def test_export_reproduces_paper_tables(tmp_path, table, metric):
    (path,) = export([], tmp_path, fmt="md", include_paper=True, metrics=metric)
    ours = md_rows(path)
    lines = paper_lines(table)
    assert len(ours) == len(lines)
    for ln in lines:
        parts = ln.split()
        method, values = " ".join(parts[:-11]), parts[-11:]
        row = ours[method]
        assert [row[c] for c in TASK_COLS] + [row["Average"]] == values, method
        assert row["Source"] == table


@pytest.mark.skipif(not PAPER.is_file(), reason=f"{PAPER} (paper text) absent")
def test_export_reproduces_table3_and_flags_it(tmp_path):
    (path,) = export([], tmp_path, fmt="md", source="Table 3")
    ours = md_rows(path)
    for ln in paper_lines("Table 3")[1:]:  # first line is the metric header
        parts = ln.split()
        method = " ".join(parts[:-4]).replace("NAFNet + DA-CLIP", "NAFNet+DA-CLIP")
        assert [ours[method][c] for c in ("psnr", "ssim", "lpips", "fid")] == parts[-4:]
    assert "FLAG" in ours["IR-SDE"]["Note"] and "FLAG" in ours["Ours"]["Note"]
    assert "Table 8 prints 27.22" in ours["NAFNet+DA-CLIP"]["Note"]
    assert ours["NAFNet"]["Note"] == ""


def test_flags_exactly_the_inconsistent_published_averages(tmp_path):
    flagged = set()
    for path in export([], tmp_path, fmt="md", include_paper=True):
        metric = path.stem.split("_", 1)[1]
        for method, row in md_rows(path).items():
            if "FLAG" in row.get("Note", ""):
                flagged.add((metric, method))
                assert row["Mean of tasks"] != ""  # both numbers are shown
    assert flagged == {
        ("psnr", "IR-SDE"),
        ("psnr", "Ours"),
        ("lpips", "NAFNet+DA-CLIP"),
        ("accuracy", "OpenAI CLIP"),
    }


def write_manifest(folder: Path, rows: list[tuple[str, str, str]]) -> Path:
    folder.mkdir(parents=True)
    (folder / "t.yaml").write_text("paper: test\nrows: t.csv\n")
    lines = ["source,setting,dataset,method,task,metric,value"]
    lines += [f"Table 6,unified,uir10,{m},{t},psnr,{v}" for m, t, v in rows]
    (folder / "t.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_rounding_gap_is_not_flagged_but_a_larger_one_is(tmp_path):
    from uirbench.tasks import TASK_IDS

    tasks = list(TASK_IDS)
    vals = ["20.00"] * 9 + ["20.04"]  # mean 20.004
    rows = [("A", t, v) for t, v in zip(tasks, vals, strict=True)] + [("A", "average", "20.01")]
    rows += [("B", t, v) for t, v in zip(tasks, vals, strict=True)] + [("B", "average", "20.02")]
    folder = write_manifest(tmp_path / "m", rows)
    long = ref.load_reference(folder)
    table = metric_table(long, "psnr", long).set_index("Method")
    assert table.loc["A", "Note"] == ""  # 0.006 off: explained by rounding to 0.01
    assert "FLAG" in table.loc["B", "Note"] and table.loc["B", "Mean of tasks"] == "20.004"


def fake_results(path: Path, method: str, psnr: dict[str, float]) -> Path:
    per_task = {t: {"n": 2, "psnr": v} for t, v in psnr.items()}
    per_task["Average (macro)"] = {"n": None, "psnr": float(np.mean(list(psnr.values())))}
    per_task["Average (micro)"] = {"n": 2 * len(psnr), "psnr": 1.0}
    path.mkdir(parents=True)
    (path / "results.json").write_text(
        json.dumps(
            {
                "method": method,
                "per_task": per_task,
                "profile": {"name": "daclip"},
                "dataset": {"root": "/x"},
            }
        )
    )
    return path


def test_merge_evaluated_with_paper_csv_and_tex(tmp_path):
    from uirbench.tasks import TASK_IDS

    psnr = {t: 20.0 + i for i, t in enumerate(TASK_IDS)}
    res = fake_results(tmp_path / "identity", "identity", psnr)
    (csv_path,) = export([res], tmp_path / "o", fmt="csv", include_paper=True, metrics="psnr")
    df = pd.read_csv(csv_path, dtype=str, keep_default_na=False).set_index("Method")
    assert df.loc["identity", "Source"] == "uirbench daclip"
    assert df.loc["identity", "blurry"] == "20.00" and df.loc["identity", "Average"] == "24.50"
    assert df.loc["PromptIR", "Average"] == "27.14" and len(df) == 7
    (tex,) = export([res], tmp_path / "o", fmt="tex", include_paper=True, metrics="psnr")
    text = tex.read_text()
    assert r"\toprule" in text and r"\textbf{29.53}" in text  # best hazy PSNR (Ours)
    assert "NAFNet+DA-CLIP" in text and r"$\neq$" in text


def test_partial_results_and_small_fid_samples_are_labelled(tmp_path):
    res = fake_results(tmp_path / "r", "mine", {"noisy": 25.0, "jpeg": 27.0})
    j = json.loads((res / "results.json").read_text())
    for t in ("noisy", "jpeg"):
        j["per_task"][t]["fid"] = 40.0
    j["fid_samples"] = {"noisy": {"n": 68, "dims": 2048}, "jpeg": {"n": 29, "dims": 2048}}
    (res / "results.json").write_text(json.dumps(j))
    psnr, fid = export([res], tmp_path / "o", fmt="md")
    assert "partial: 2/10 tasks" in md_rows(psnr)["mine"]["Note"]
    assert "fewer images than feature dims on 2 task(s)" in md_rows(fid)["mine"]["Note"]
    assert "feature dims" not in md_rows(psnr)["mine"]["Note"]


def test_radar_orientation_and_files(tmp_path):
    # Lower-is-better: the smallest value is on the rim (radius 1), larger ones inward.
    worst, best = _axis_scale(np.array([0.1, 0.3, 0.2]), higher_better=False)
    assert best == pytest.approx(0.1) and worst > 0.3
    worst, best = _axis_scale(np.array([20.0, 30.0]), higher_better=True)
    assert best == 30.0 and worst < 20.0
    paths = plot([], tmp_path, include_paper=True, metrics="psnr,lpips")
    assert sorted(p.name for p in paths) == [
        "radar_all.png",
        "radar_all.svg",
        "radar_lpips.png",
        "radar_lpips.svg",
        "radar_psnr.png",
        "radar_psnr.svg",
    ]
    svg = (tmp_path / "radar_lpips.svg").read_text()
    assert "Ours (paper)" in svg and "lower is better" in svg
    assert re.search(r"PNG", (tmp_path / "radar_psnr.png").read_bytes()[:8].decode("latin1"))


def test_cli_export_and_plot(tmp_path):
    import subprocess
    import sys

    base = [sys.executable, "-m", "uirbench", "leaderboard"]
    r = subprocess.run(
        [
            *base,
            "export",
            "--include-paper",
            "--format",
            "tex",
            "--metrics",
            "fid",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert r"\textbf{5.66}" in (tmp_path / "leaderboard_fid.tex").read_text()
    r = subprocess.run(
        [*base, "export", "--format", "xls", "--include-paper"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "use csv, md or tex" in r.stderr


@pytest.mark.skipif(not PAPER.is_file(), reason=f"{PAPER} (paper text) absent")
@pytest.mark.parametrize("sub", ["a", "b", "c", "d"])
def test_export_reproduces_table2(tmp_path, sub):
    (path,) = export([], tmp_path, fmt="md", source=f"Table 2{sub}")
    ours = md_rows(path)
    text = PAPER.read_text().splitlines()
    end = next(i for i, ln in enumerate(text) if ln.startswith(f"({sub}) "))
    start = max(i for i in range(end) if text[i].startswith("PSNR"))
    lines = text[start + 1 : end]
    assert len(lines) == len(ours) == 6
    for ln in lines:
        parts = ln.split()
        row = ours[" ".join(parts[:-4])]
        assert [row[m] for m in ("psnr", "ssim", "lpips", "fid")] == parts[-4:]


def test_subset_beside_paper_rows_is_refused_then_flagged_and_never_bold(tmp_path):
    from uirbench.errors import UirbenchError
    from uirbench.tasks import TASK_IDS

    psnr = {t: 20.0 for t in TASK_IDS} | {"jpeg": 28.14}  # above every paper JPEG PSNR (27.13)
    res = fake_results(tmp_path / "sub", "quick", psnr)
    j = json.loads((res / "results.json").read_text())
    j["subset"] = "first 1 val pairs per task (not the full val split)"
    (res / "results.json").write_text(json.dumps(j))
    with pytest.raises(
        UirbenchError, match=r"not comparable.*quick \(subset: first 1.*--allow-mixed"
    ):
        export([res], tmp_path / "o", fmt="md", include_paper=True, metrics="psnr")

    kw = {"include_paper": True, "metrics": "psnr", "allow_mixed": True}
    (csv_path,) = export([res], tmp_path / "o", fmt="csv", **kw)
    df = pd.read_csv(csv_path, dtype=str, keep_default_na=False).set_index("Method")
    assert df.loc["quick", "Flags"].startswith("subset: first 1 val pairs")
    assert (df.drop(index="quick")["Flags"] == "").all()  # paper rows are not flagged

    (md,) = export([res], tmp_path / "o", fmt="md", **kw)
    text = md.read_text()
    row = next(ln for ln in text.splitlines() if ln.startswith("| quick †"))
    assert "28.14" in row and "**" not in row
    nafnet = next(ln for ln in text.splitlines() if ln.startswith("| NAFNet+DA-CLIP |"))
    assert "**27.13**" in nafnet  # the best comparable JPEG PSNR keeps the bold
    assert "† Not comparable" in text and "- quick: subset: first 1" in text

    (tex,) = export([res], tmp_path / "o", fmt="tex", **kw)
    text = tex.read_text()
    assert r"quick$^\dagger$" in text and r"\textbf{27.13}" in text
    assert r"\textbf{28.14}" not in text and r"subset: first 1" in text


def test_comparability_flags_name_each_reason():
    from uirbench.report.leaderboard import comparability_flags

    ok = {"profile": {"name": "daclip"}, "dataset": {"kind": "root", "sources": ["cbsd68"]}}
    assert comparability_flags(ok) == []
    assert (
        "GT folder /g" in comparability_flags(ok | {"dataset": {"kind": "folder", "gt": "/g"}})[0]
    )
    demo = ok | {"dataset": {"kind": "root", "sources": ["demo"]}}
    assert "demo root" in comparability_flags(demo)[0]
    frm = ok | {"dataset": {"kind": "root", "sources": ["from"]}}
    assert "--from" in comparability_flags(frm)[0]
    assert "random-init" in comparability_flags(ok | {"random_init": True})[0]
    untrained = ok | {"source": {"kind": "model", "model": "ours", "weights": None}}
    assert "random-init" in comparability_flags(untrained)[0]
    assert comparability_flags(ok | {"source": {"kind": "model", "model": "identity"}}) == []
    assert comparability_flags(ok | {"profile": {"name": "y"}}) == [
        "profile y, not the paper's daclip"
    ]
