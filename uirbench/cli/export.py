"""``uirbench export daclip|restore``: checkpoints -> the official file formats."""

from __future__ import annotations

from pathlib import Path

import typer

export_app = typer.Typer(
    help="Write a uirbench checkpoint in the official format, for the official code.\n\n"
    "Example: uirbench export daclip runs/daclip/checkpoints/last.safetensors daclip.pt",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    export_app.command("daclip")(daclip)
    export_app.command("restore")(restore)
    app.add_typer(export_app, name="export")


def daclip(
    checkpoint: Path = typer.Argument(..., help="DA-CLIP checkpoint (.safetensors or .pt)."),
    out: Path = typer.Argument(..., help="The official .pt to write."),
    config: str | None = typer.Option(
        None, "--config", help="Config when the checkpoint records none (an official .pt)."
    ),
) -> None:
    """DA-CLIP -> the official .pt (clip.*, visual.*, visual_control.*, logit_scale), loadable
    strictly by the official open_clip.create_model_from_pretrained('daclip_ViT-B-32', ...).

    Examples:

      uirbench export daclip runs/daclip_vitb32/checkpoints/last.safetensors daclip_ViT-B-32.pt
    """
    # lazy: export loads torch; not for `uirbench --help`
    from uirbench.models.export import export_daclip

    path = export_daclip(checkpoint, out, config)
    typer.echo(f"wrote {path} (official DA-CLIP layout)")


def restore(
    checkpoint: Path = typer.Argument(..., help="Restoration checkpoint (.safetensors)."),
    out: Path = typer.Argument(..., help="The official .pth to write."),
) -> None:
    """Restoration checkpoint -> the official weights file (EMA weights when present): IR-SDE
    models a plain state_dict (the official load_network), NAFNet models BasicSR's
    {'params': ...}. A DA-CLIP model's DA-CLIP is exported separately (export daclip).

    Examples:

      uirbench export restore runs/irsde_daclip/checkpoints/last.safetensors universal-ir.pth
    """
    # lazy: export loads torch; not for `uirbench --help`
    from uirbench.models.export import export_restoration
    from uirbench.weights import read_meta

    path, fmt = export_restoration(checkpoint, out)
    typer.echo(f"wrote {path} ({fmt})")
    daclip = (read_meta(checkpoint.with_suffix(".json")).get("daclip") or {}).get("weights")
    if daclip:
        typer.echo(f"its DA-CLIP: uirbench export daclip {daclip} daclip.pt")
