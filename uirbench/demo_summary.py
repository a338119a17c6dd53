"""The demo's closing summary: where the outputs are and a short table of its results."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from uirbench.data.task_file import tasks_for_root
from uirbench.demo import EVAL_STEPS, QUICK_EVAL_STEPS, RESTORE_MODELS
from uirbench.tasks import TASKS


def _per_task(demo: Any, model: str) -> dict[str, dict[str, float]]:
    path = demo.out / "results" / model / "results.json"
    return json.loads(path.read_text())["per_task"] if path.is_file() else {}


def print_summary(demo: Any, console: Console) -> None:
    models = ["identity", *RESTORE_MODELS]
    scores = {m: _per_task(demo, m) for m in models}
    table = Table(title="demo: PSNR (dB) on held-out val crops, profile daclip")
    table.add_column("task")
    for m in models:
        steps = (QUICK_EVAL_STEPS if demo.quick else EVAL_STEPS).get(m)
        table.add_column(f"{m} ({steps} steps)" if steps else m, justify="right")
    task_set = tasks_for_root(demo.root) if demo.root.is_dir() else None
    for task in [*(t.id for t in task_set or TASKS), "Average (macro)"]:
        cells = []
        for m in models:
            v = scores[m].get(task, {}).get("psnr")
            cells.append("-" if v is None else f"{v:.2f}")
        table.add_row(task, *cells)
    console.print(table)

    acc_path = demo.out / "classify" / "classify.md"
    if acc_path.is_file():
        console.print(acc_path.read_text(), highlight=False)

    console.print(
        "These figures come from tiny models trained for minutes on crops of 6 photos and scored "
        "on crops of 2 held-out photos, with synthetic stand-ins for seven of the ten "
        "degradations, plus blur-rain, an 11th task declared in a task file "
        "(uirbench/manifests/tasks/demo.yaml): they show the pipeline works, not what the "
        "paper's models achieve. "
        "Every model scores every val image; IR-SDE (ours) samples in the steps shown instead of "
        "its 20 (uirbench evaluate --steps; sampling is slow on a CPU)."
        + (" (--quick: a few training steps only, scores meaningless)" if demo.quick else ""),
        highlight=False,
    )
    console.print(f"\noutputs under {demo.out}:", highlight=False, markup=False)
    for what, rel in [
        ("dataset (official layout, index, shards, captions)", "data"),
        ("checkpoints and training logs", "runs"),
        ("per-image / per-task scores, results.json", "results"),
        ("classification table (CSV, Markdown)", "classify"),
        ("leaderboard CSV, Markdown, radar PNG/SVG", "leaderboard"),
    ]:
        console.print(f"  {demo.out / rel}  {what}", highlight=False, markup=False)
