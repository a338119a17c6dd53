"""``uirbench classify``: degradation classification accuracy (the paper's Table 4)."""

from __future__ import annotations

from pathlib import Path

import typer

from uirbench.cli.console import console, holding_out_lock
from uirbench.cli.options import DEVICE_HELP, resolve_device


def register(app: typer.Typer) -> None:
    app.command("classify")(classify)


@holding_out_lock("classifying into it")
def classify(
    root: Path = typer.Option(..., "--root", help="A built root (uirbench build-data)."),
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
    """

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    # lazy: classification loads torch; not for `uirbench --help`
    from uirbench.evaluate.classify import (
        classification_table,
        load_model,
        to_markdown,
        write_outputs,
    )

    dev = resolve_device(device)
    model = load_model(weights, config, clip_weights, dev, random_init=random_init)
    rows = ["CLIP (zero-shot)", name]  # classification_table's two passes over the split
    with Progress(
        TextColumn("classify {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(rows[0], total=None)
        state = {"row": 0, "last": 0}

        def on_batch(done: int, total: int) -> None:
            if done <= state["last"]:  # the next row's pass started
                state["row"] += 1
                bar.reset(task, description=rows[min(state["row"], 1)])
            state["last"] = done
            bar.update(task, completed=done, total=total)

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
    if weights is None:
        table = table.iloc[:1]
    caption = f"Degradation classification accuracy (%), split {split} of {root}"
    if random_init:
        table["model"] = table["model"] + " (RANDOM INIT)"
        caption += "; RANDOM INIT: untrained weights, not a result"
    paths = write_outputs(table, out, caption)
    typer.echo(to_markdown(table))
    console.print(f"wrote {paths['csv']} and {paths['md']}", highlight=False, markup=False)
