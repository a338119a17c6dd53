"""Command groups shared by several CLI modules (`train ...`, `leaderboard ...`), and what the
two `train` commands do alike."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from uirbench.cli.options import tasks_file_in_force

train_app = typer.Typer(
    help="Train DA-CLIP (`train daclip`) or a restoration model (`train restore`) from a recipe."
    "\n\nExample: uirbench train restore --recipe nafnet_tiny root=data/demo",
    no_args_is_help=True,
)
leaderboard_app = typer.Typer(
    help="Merge evaluated results with the paper's reference rows; export tables and radar plots."
    "\n\nExample: uirbench leaderboard export runs/eval --include-paper --out leaderboard",
    no_args_is_help=True,
)


def train_from_recipe(
    load: Callable[[Path, list[str]], dict[str, Any]],
    train: Callable[..., dict[str, Any]],
    recipe: Path,
    overrides: list[str] | None,
    show: bool,
    tasks_file: Path | None,
    console: Any,
) -> dict[str, Any] | None:
    """Both `train` commands: resolve ``recipe`` with its key=value ``overrides``; ``--show``
    prints it and stops (None); ``--tasks-file`` is checked against the recipe's root; then
    ``train`` runs with its log lines on ``console``. Returns the training summary."""
    cfg = load(recipe, overrides or [])
    if show:
        typer.echo(json.dumps(cfg, indent=1))
        return None
    if tasks_file is not None:
        root = cfg["data"]["root"]
        if not root:
            raise typer.BadParameter("set the recipe's root (root=DIR) to check it against")
        with tasks_file_in_force(tasks_file, Path(root)):
            pass  # only the check: training puts the root's own task set in force
    return train(cfg, log=lambda m: console.print(m, highlight=False, markup=False))
