"""aio3 published rows as data, `leaderboard export --setting aio3` and `evaluate --preset aio3`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from uirbench.data.build import build
from uirbench.data.uir10 import preset_tasks_file
from uirbench.errors import UirbenchError
from uirbench.evaluate.runner import run, setting_profile
from uirbench.io import write_png
from uirbench.report import reference as ref
from uirbench.report.leaderboard import comparability_flags, export

AIO3_TASKS = ["hazy-outdoor", "rainy-light", "noisy-15", "noisy-25", "noisy-50"]


def _aio3_rows() -> pd.DataFrame:
    df = ref.load_reference()
    return df[df["setting"] == "aio3"]


def test_aio3_reference_rows_each_have_their_source() -> None:
    rows = _aio3_rows()
    meta = ref.setting_meta("aio3")
    assert meta["tasks"] == AIO3_TASKS and meta["profile"] == "promptir"
    assert set(rows["task"]) == {*AIO3_TASKS, "average"}
    assert set(rows["source"]) == {"PromptIR Table 1", "InstructIR Table 3"}
    assert rows["ref"].str.contains(r"arXiv:(2306\.13090|2401\.16468v5)").all()
    # every method has all five tasks + average, for PSNR and SSIM
    counts = rows.groupby(["source", "method"]).size()
    assert (counts == 12).all(), counts[counts != 12]
    p = rows[(rows["source"] == "PromptIR Table 1") & (rows["method"] == "PromptIR")]
    got = {(r.task, r.metric): r.text for r in p.itertuples()}
    assert got[("hazy-outdoor", "psnr")] == "30.58" and got[("average", "ssim")] == "0.913"
    # DA-CLIP rows keep a source too (paper + arXiv + table)
    daclip = ref.load_reference()
    daclip = daclip[~daclip["setting"].isin(["aio3", "aio5", "cdd11"])]
    assert daclip["ref"].str.contains("arXiv:2310.01018").all()


def test_inconsistent_published_averages_are_exactly_the_flagged_rows(tmp_path: Path) -> None:
    rows = _aio3_rows()
    # oracle: a printed Average further from the mean of its five tasks than rounding allows
    expected = set()
    for (source, method, metric), g in rows.groupby(["source", "method", "metric"]):
        tasks = g[g["task"] != "average"]
        avg = g[g["task"] == "average"].iloc[0]
        d = max(ref.decimals(t) for t in [*tasks["text"], avg["text"]])
        if abs(tasks["value"].mean() - avg["value"]) > 10.0**-d:
            expected.add((source, method, metric))
    assert expected == {
        ("PromptIR Table 1", "BRDNet", "ssim"),
        ("PromptIR Table 1", "DL", "ssim"),  # the preprint's SOTS SSIM typo 0.391
        ("InstructIR Table 3", "BRDNet", "ssim"),
    }
    export([], tmp_path, fmt="csv", include_paper=True, setting="aio3")
    flagged = set()
    for metric in ("psnr", "ssim"):
        table = pd.read_csv(tmp_path / f"leaderboard_aio3_{metric}.csv", dtype=str).fillna("")
        assert list(table.columns[2:7]) == AIO3_TASKS
        assert table["Reference"].astype(bool).all()
        for r in table.itertuples():
            if "FLAG" in r.Note:
                flagged.add((r.Source, r.Method, metric))
    # and never against DA-CLIP's Table 3 (PromptIR's ten-task average there is another setting)
    assert flagged == expected


def _tiny_aio3_root(tmp_path: Path) -> Path:
    photos = tmp_path / "photos"
    rng = np.random.default_rng(0)
    for i in range(2):
        write_png(photos / f"p{i}.png", rng.integers(0, 256, (40, 56, 3), dtype=np.uint8))
    root = tmp_path / "root"
    build(
        root,
        from_dir=photos,
        tasks="noisy-25",
        splits="val",
        workers=1,
        tasks_file=preset_tasks_file("aio3"),
    )
    return root


def test_evaluate_preset_records_setting_and_refuses_other_roots(tmp_path: Path) -> None:
    root = _tiny_aio3_root(tmp_path)
    out = tmp_path / "eval"
    res = run(
        root=root,
        out=out,
        model="identity",
        profile=setting_profile("aio3"),
        setting="aio3",
        workers=0,
    )
    assert res["setting"] == "aio3" and res["profile"]["name"] == "promptir"
    assert next(iter(res["per_task"])) == "noisy-25"
    saved = json.loads((out / "results.json").read_text())
    assert comparability_flags(saved, "aio3", "promptir") == [
        "root built with build-data --from, not the benchmark's val set"
    ]
    # a uir10-scored result is not comparable with the aio3 rows, and the reverse
    assert "scored as uir10, not with evaluate --preset aio3" in comparability_flags(
        {**saved, "setting": None}, "aio3", "promptir"
    )
    assert "scored as aio3, not with evaluate --preset uir10" in comparability_flags(saved)
    with pytest.raises(UirbenchError, match="was not built with --preset uir10"):
        run(root=root, out=tmp_path / "e2", model="identity", setting="uir10", workers=0)
    with pytest.raises(UirbenchError, match="not a benchmark"):
        setting_profile("aio9")
    # the exported table puts the result under the setting's columns, with its file as source
    export([out], tmp_path / "lb", fmt="csv", include_paper=True, allow_mixed=True, setting="aio3")
    table = pd.read_csv(tmp_path / "lb" / "leaderboard_aio3_psnr.csv", dtype=str).fillna("")
    mine = table[table["Method"] == "identity"].iloc[0]
    assert mine["noisy-25"] != "" and mine["hazy-outdoor"] == ""
    assert mine["Reference"].endswith("results.json") and "partial: 1/5" in mine["Note"]


def test_cdd11_rows_are_the_onerestore_readme_table(tmp_path: Path) -> None:
    from uirbench.data.task_file import load_task_file

    meta = ref.setting_meta("cdd11")
    assert meta["tasks"] == [t.id for t in load_task_file(preset_tasks_file("cdd11"))]
    assert meta["profile"] == "onerestore" == setting_profile("cdd11")
    df = ref.load_reference()
    rows = df[df["setting"] == "cdd11"]
    assert set(rows["task"]) == {"average"} and len(rows) == 17 * 2
    assert rows["ref"].str.startswith("gy65896/OneRestore @ 23a2e6af").all()
    one = rows[(rows["method"] == "OneRestore") & (rows["metric"] == "psnr")]
    assert one["text"].tolist() == ["28.47"]
    export([], tmp_path, fmt="csv", include_paper=True, setting="cdd11")
    table = pd.read_csv(tmp_path / "leaderboard_cdd11_ssim.csv", dtype=str).fillna("")
    assert list(table.columns[2:13]) == meta["tasks"]
    assert table.set_index("Method").loc["Input", "Average"] == "0.6008"


def test_aio5_rows_and_their_averages(tmp_path: Path) -> None:
    from uirbench.data.task_file import load_task_file

    meta = ref.setting_meta("aio5")
    assert meta["tasks"] == [t.id for t in load_task_file(preset_tasks_file("aio5"))]
    rows = ref.load_reference()
    rows = rows[rows["setting"] == "aio5"]
    assert rows["ref"].str.startswith("arXiv:2401.16468v5, Table 2").all()
    assert (rows.groupby("method").size() == 12).all() and rows["method"].nunique() == 15
    idr = rows[(rows["method"] == "IDR") & (rows["task"] == "blurry")]
    assert dict(zip(idr["metric"], idr["text"], strict=True)) == {"psnr": "27.87", "ssim": "0.846"}
    # oracle: every printed Average is the mean of its five tasks within rounding
    for _, g in rows.groupby(["method", "metric"]):
        tasks, avg = g[g["task"] != "average"], g[g["task"] == "average"].iloc[0]
        assert abs(tasks["value"].mean() - avg["value"]) <= 10.0 ** -avg["decimals"]
    export([], tmp_path, fmt="csv", include_paper=True, setting="aio5")
    table = pd.read_csv(tmp_path / "leaderboard_aio5_psnr.csv", dtype=str).fillna("")
    assert not table["Note"].str.contains("FLAG").any()
    assert list(table.columns[2:7]) == meta["tasks"]
