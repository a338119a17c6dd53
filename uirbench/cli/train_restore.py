"""``uirbench train restore --recipe NAME|PATH [key=value ...]``."""

from __future__ import annotations

from pathlib import Path

import typer

from uirbench.cli.console import results_console
from uirbench.cli.groups import train_app, train_from_recipe
from uirbench.cli.options import ROOT_TASKS_FILE_HELP


def register(app: typer.Typer) -> None:
    train_app.command("restore")(train_restore)


def train_restore(
    recipe: Path = typer.Option(
        ..., "--recipe", help="A packaged recipe (e.g. ours_tiny) or a YAML path."
    ),
    overrides: list[str] = typer.Argument(
        None, help="key=value settings over the recipe: root=data/demo train.iterations=500."
    ),
    show: bool = typer.Option(False, "--show", help="Print the resolved recipe and exit."),
    tasks_file: Path | None = typer.Option(None, "--tasks-file", help=ROOT_TASKS_FILE_HELP),
) -> None:
    """Train a restoration model (IR-SDE or NAFNet, with or without DA-CLIP).

    Resumes from OUTPUT/checkpoints/last when it exists (or last.prev, kept until a new checkpoint
    is complete, when last fails its sha256 check); writes OUTPUT/log.jsonl (loss, lr,
    validation PSNR per task) and an atomic safetensors + JSON checkpoint.
    Multi-GPU or multi-process: torchrun --nproc_per_node N -m uirbench train restore ...

    Examples:
      uirbench train restore --recipe ours_tiny root=data/demo
      torchrun --nproc_per_node 8 -m uirbench train restore --recipe irsde_daclip
        root=datasets/universal daclip.weights=pretrained/daclip_ViT-B-32.pt
    """
    # lazy: training loads torch; not for `uirbench --help`
    from uirbench.train.restore import load_restore_recipe, train

    console = results_console
    summary = train_from_recipe(
        load_restore_recipe, train, recipe, overrides, show, tasks_file, console
    )
    if summary is None:  # --show
        return
    console.print(
        f"trained {summary['step']} steps in {summary['seconds']:.0f} s; "
        f"checkpoint {summary['checkpoint']}",
        highlight=False,
        markup=False,
    )
