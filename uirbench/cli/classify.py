"""``uirbench classify``: degradation classification accuracy (the paper's Table 4)."""

from __future__ import annotations

from pathlib import Path

import typer

from uirbench.cli.console import console
from uirbench.cli.options import DEVICE_HELP, resolve_device


def register(app: typer.Typer) -> None:
    app.command("classify")(classify)


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

    from uirbench.evaluate.classify import (
        classification_table,
        load_model,
        to_markdown,
        write_outputs,
    )

    dev = resolve_device(device)
    model = load_model(weights, config, clip_weights, dev, random_init=random_init)
    table = classification_table(
        model, root, split, name=name, zero_shot_row=True, device=dev, batch_size=batch_size
    )
    if weights is None:
        table = table.iloc[:1]
    caption = f"Degradation classification accuracy (%), split {split} of {root}"
    if random_init:
        table["model"] = table["model"] + " (RANDOM INIT)"
        caption += "; RANDOM INIT: untrained weights, not a result"
    paths = write_outputs(table, out, caption)
    typer.echo(to_markdown(table))
    console.print(f"wrote {paths['csv']} and {paths['md']}", highlight=False)
