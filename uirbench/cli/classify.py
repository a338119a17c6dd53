"""``uirbench classify``: degradation classification accuracy (the paper's Table 4)."""

from __future__ import annotations

from pathlib import Path

import typer

from uirbench.cli.console import console, holding_out_lock
from uirbench.cli.options import DEVICE_HELP, TASKS_FILE_HELP, resolve_device, tasks_file_in_force
from uirbench.errors import UirbenchError
from uirbench.progress import count_bars


def register(app: typer.Typer) -> None:
    app.command("classify")(classify)


@holding_out_lock("classifying into it")
def classify(
    root: Path | None = typer.Option(
        None, "--root", help="A built root (uirbench build-data); or give --folder."
    ),
    folder: Path | None = typer.Option(
        None,
        "--folder",
        help="Images to classify without a root: <name>.png (predictions only) or "
        "<task>/<name>.png (accuracy per task too); classes: the ten, or --tasks-file's.",
    ),
    tasks_file: Path | None = typer.Option(None, "--tasks-file", help=TASKS_FILE_HELP),
    weights: str | None = typer.Option(
        None,
        "--weights",
        help="DA-CLIP checkpoint: official daclip_ViT-B-32.pt or a uirbench .safetensors. "
        "Without it only the zero-shot CLIP row is computed.",
    ),
    config: str | None = typer.Option(
        None, "--config", help="Model config (default: from the checkpoint, else daclip_ViT-B-32)."
    ),
    clip_weights: str | None = typer.Option(
        None, "--clip-weights", help="CLIP tag or file when --weights is not given."
    ),
    split: str = typer.Option("val", "--split", help="Split to classify."),
    out: Path = typer.Option(Path("results/classify"), "--out", help="Folder for CSV + Markdown."),
    name: str = typer.Option("DA-CLIP", "--name", help="Row label of the checkpoint."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    batch_size: int = typer.Option(64, "--batch-size"),
    random_init: bool = typer.Option(
        False,
        "--random-init",
        help="Classify with an untrained DA-CLIP (no --weights; pipeline tests only, the rows "
        "say so).",
    ),
) -> None:
    """Per-task degradation classification accuracy of DA-CLIP, with a zero-shot CLIP row.

    Examples:
      uirbench classify --root data/uir10 --weights daclip_ViT-B-32.pt
      uirbench classify --root data/demo --weights runs/daclip_tiny/checkpoints/last.safetensors
      uirbench classify --folder my_photos/ --tasks-file my_tasks.yaml --weights daclip.pt
    """
    if (root is None) == (folder is None):
        raise UirbenchError("give exactly one of --root DIR (a built root) or --folder DIR")

    # lazy: classification loads torch; not for `uirbench --help`
    from uirbench.evaluate.classify import (
        classification_table,
        folder_tables,
        load_model,
        to_markdown,
        write_outputs,
    )

    dev = resolve_device(device)
    model = load_model(weights, config, clip_weights, dev, random_init=random_init)
    rows = ["CLIP (zero-shot)", name]  # classification_table's two passes over the split
    with count_bars("classify {task.description}", console=console, transient=True) as bar:
        task = bar.add_task(rows[0], total=None)
        state = {"row": 0, "last": 0}

        def on_batch(done: int, total: int) -> None:
            if done <= state["last"]:  # the next row's pass started
                state["row"] += 1
                bar.reset(task, description=rows[min(state["row"], 1)])
            state["last"] = done
            bar.update(task, completed=done, total=total)

        predictions = None
        with tasks_file_in_force(tasks_file, root):
            if folder is not None:
                table, predictions = folder_tables(
                    model,
                    folder,
                    name=name,
                    daclip=weights is not None,
                    device=dev,
                    batch_size=batch_size,
                    progress=on_batch,
                )
            else:
                table = classification_table(
                    model,
                    root,
                    split,
                    name=name,
                    zero_shot_row=True,
                    device=dev,
                    batch_size=batch_size,
                    progress=on_batch,
                )
    if predictions is not None:
        _write_predictions(predictions, out, folder, random_init)
    if table is None:  # an unlabelled folder: predictions only
        return
    if weights is None:
        table = table.iloc[:1]
    where = f"split {split} of {root}" if folder is None else f"images of {folder}"
    caption = f"Degradation classification accuracy (%), {where}"
    if random_init:
        table["model"] = table["model"] + " (RANDOM INIT)"
        caption += "; RANDOM INIT: untrained weights, not a result"
    paths = write_outputs(table, out, caption)
    typer.echo(to_markdown(table))
    console.print(f"wrote {paths['csv']} and {paths['md']}", highlight=False, markup=False)


def _write_predictions(predictions, out: Path, folder: Path, random_init: bool) -> None:
    """``predictions.csv`` (one row per image) and the count of each predicted task."""
    from uirbench.io import atomic_write_files  # lazy: numpy, cv2; not for `uirbench --help`

    path = out / "predictions.csv"
    atomic_write_files({path: predictions.to_csv(index=False, float_format="%.4f").encode()})
    counts = predictions["predicted"].value_counts()
    for task, n in counts.items():
        typer.echo(f"{task}: {n}")
    flag = " (RANDOM INIT: untrained weights, not a result)" if random_init else ""
    console.print(
        f"{len(predictions)} images of {folder} classified{flag}; wrote {path}",
        highlight=False,
        markup=False,
    )
