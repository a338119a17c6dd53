"""``--tasks-file`` where there is no root to bring a task set: ``evaluate --gt/--outputs`` and
``leaderboard export|plot`` take the file's tasks (names, order, columns, radar axes)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import skimage.data
from typer.testing import CliRunner

from uirbench.cli.app import app
from uirbench.cli.options import tasks_file_in_force
from uirbench.errors import UirbenchError
from uirbench.tasks import TASKS, all_tasks

# The file's order (grainy first) is not the folders' alphabetical order (blurry-rainy first).
TASK_FILE = """\
include_builtin: false
tasks:
  - id: my-noise
    folder: grainy
    synth: [{op: noise}]
  - id: rain-blur
    folder: blurry-rainy
    synth: [{op: rain_streaks}, {op: gaussian_blur}]
"""


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> Path:
    """GT folders named by the tasks' folder names, outputs = GT + noise; evaluated twice, with
    and without the task file."""
    base = tmp_path_factory.mktemp("noroot")
    (base / "t.yaml").write_text(TASK_FILE)
    rng = np.random.default_rng(0)
    photo = skimage.data.astronaut()
    for k, folder in enumerate(("grainy", "blurry-rainy")):
        for i in range(2):
            gt = np.ascontiguousarray(photo[40 * i : 40 * i + 32, 60 * k : 60 * k + 32])
            out = np.clip(gt + rng.normal(0, 5 + 10 * k, gt.shape), 0, 255).astype(np.uint8)
            for side, img in (("gt", gt), ("out", out)):
                (base / side / folder).mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(base / side / folder / f"p{i}.png"), img[:, :, ::-1])
    for name, extra in (("with", ["--tasks-file", str(base / "t.yaml")]), ("without", [])):
        args = ["evaluate", "--gt", str(base / "gt"), "--outputs", str(base / "out")]
        args += ["--out", str(base / name), "--metrics", "psnr", "--name", name, *extra]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
    return base


def test_evaluate_gt_names_and_orders_groups_by_the_task_file(scored):
    with_file = json.loads((scored / "with" / "results.json").read_text())["per_task"]
    without = json.loads((scored / "without" / "results.json").read_text())["per_task"]
    tasks = [t for t in with_file if not t.startswith("Average")]
    assert tasks == ["my-noise", "rain-blur"]  # the file's ids, in its order
    assert [t for t in without if not t.startswith("Average")] == ["blurry-rainy", "grainy"]
    assert with_file["my-noise"]["psnr"] == without["grainy"]["psnr"]  # same pairs, same scores
    assert all_tasks() == TASKS  # the ten are in force again after the command


def test_leaderboard_columns_and_radar_axes_follow_the_task_file(scored, monkeypatch):
    from uirbench.report import radar

    axes: list[list[str]] = []
    draw = radar._draw

    def recording(ax, data, *args, **kw):
        draw(ax, data, *args, **kw)
        axes.append([t.get_text().split("\n")[0] for t in ax.get_xticklabels()])

    monkeypatch.setattr(radar, "_draw", recording)
    results = str(scored / "with")
    plots = scored / "plots"
    ok = CliRunner().invoke(
        app,
        [
            "leaderboard",
            "plot",
            results,
            "--out",
            str(plots),
            "--tasks-file",
            str(scored / "t.yaml"),
        ],
    )
    assert ok.exit_code == 0, ok.output
    ok = CliRunner().invoke(app, ["leaderboard", "plot", results, "--out", str(plots / "ten")])
    assert ok.exit_code == 0, ok.output
    assert axes[0] == ["My-noise", "Rain-blur"]  # two axes, not the ten plus two
    assert len(axes[1]) == 12

    out = scored / "table"
    ok = CliRunner().invoke(
        app,
        [
            "leaderboard", "export", results, "--out", str(out), "--format", "csv",
            "--tasks-file", str(scored / "t.yaml"),
        ],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    table = pd.read_csv(out / "leaderboard_psnr.csv")
    assert list(table.columns[:4]) == ["Method", "Source", "my-noise", "rain-blur"]
    assert "partial" not in str(table["Note"].iloc[0])  # both of the file's tasks are present


def test_a_root_of_the_ten_refuses_a_task_file(tmp_path):
    (tmp_path / "t.yaml").write_text(TASK_FILE)
    root = tmp_path / "root"
    root.mkdir()
    refused = pytest.raises(UirbenchError, match="built with the ten built-in tasks; drop")
    with refused, tasks_file_in_force(tmp_path / "t.yaml", root):
        pass
    (root / "tasks.yaml").write_text(TASK_FILE.replace("my-noise", "other"))
    refused = pytest.raises(UirbenchError, match="built with other tasks")
    with refused, tasks_file_in_force(tmp_path / "t.yaml", root):
        pass
    (root / "tasks.yaml").write_text(TASK_FILE)
    with tasks_file_in_force(tmp_path / "t.yaml", root):
        assert [t.id for t in all_tasks()] == ["my-noise", "rain-blur"]
