"""``uirbench train daclip --recipe NAME|PATH [key=value ...]``."""

from __future__ import annotations

from pathlib import Path

import typer

from uirbench.cli.console import console
from uirbench.cli.groups import train_app, train_from_recipe
from uirbench.cli.options import ROOT_TASKS_FILE_HELP


def register(app: typer.Typer) -> None:
    train_app.command("daclip")(train_daclip)


def train_daclip(
    recipe: Path = typer.Option(
        ..., "--recipe", help="A packaged recipe (e.g. daclip_tiny) or a YAML path."
    ),
    overrides: list[str] = typer.Argument(
        None, help="key=value settings over the recipe: root=data/demo lr=1e-4 train.epochs=5."
    ),
    show: bool = typer.Option(False, "--show", help="Print the resolved recipe and exit."),
    tasks_file: Path | None = typer.Option(None, "--tasks-file", help=ROOT_TASKS_FILE_HELP),
) -> None:
    """Train DA-CLIP (a controller on a frozen CLIP) on a built root's shards.

    Resumes from OUTPUT/checkpoints/last when it exists (or last.prev, kept until a new checkpoint
    is complete, when last fails its sha256 check); writes OUTPUT/metrics.jsonl and a
    safetensors + JSON checkpoint every checkpoint.every epochs; classifies the val split at the
    end (and every val.every epochs).
    Multi-GPU or multi-process: torchrun --nproc_per_node N -m uirbench train daclip ...

    Examples:
      uirbench train daclip --recipe daclip_tiny root=data/demo
      torchrun --nproc_per_node 4 -m uirbench train daclip --recipe daclip_vitb32
        root=datasets/universal
    """
    # lazy: training loads torch and open_clip; not for `uirbench --help`
    from uirbench.train.daclip import load_daclip_recipe, train

    summary = train_from_recipe(
        load_daclip_recipe, train, recipe, overrides, show, tasks_file, console
    )
    if summary is None:  # --show
        return
    if summary.get("val_accuracy") is not None:
        console.print(
            f"val degradation accuracy {100 * summary['val_accuracy']:.1f}% "
            f"after {summary['step']} steps; checkpoint {summary['checkpoint']}",
            highlight=False,
            markup=False,
        )
