"""``uirbench restore``: restore a user's images or folders with a registered model."""

from __future__ import annotations

from pathlib import Path

import typer

from uirbench.cli.console import results_console, shown
from uirbench.cli.options import DEVICE_HELP, resolve_device
from uirbench.progress import count_bars


def register(app: typer.Typer) -> None:
    app.command("restore")(restore)


def restore(
    inputs: list[Path] = typer.Argument(
        ..., help="Image files and/or folders (searched recursively)."
    ),
    model: str = typer.Option(
        "ours", "--model", help="ours, irsde, nafnet, nafnet-daclip, wild-ir, identity."
    ),
    weights: str | None = typer.Option(
        None,
        "--weights",
        help="A weights file (official .pth or a uirbench checkpoint .safetensors) or 'zoo' to "
        "download the model card's released weights. Required except for identity.",
    ),
    random_init: bool = typer.Option(
        False,
        "--random-init",
        help="Run untrained weights instead of --weights (pipeline tests only).",
    ),
    config: str | None = typer.Option(
        None,
        "--config",
        help="Model config name in uirbench/models/configs or a JSON path (default: the model's "
        "paper config, or the one stored in a uirbench checkpoint).",
    ),
    daclip: Path | None = typer.Option(
        None,
        "--daclip",
        help="DA-CLIP checkpoint for DA-CLIP models (default: the one the --weights checkpoint "
        "recorded, found by sha256 beside it, or the zoo's).",
    ),
    daclip_config: str | None = typer.Option(
        None,
        "--daclip-config",
        help="Config of an official --daclip .pt (default: the model's, daclip_ViT-B-32; "
        "daclip_ViT-L-14 for wild-ir); a uirbench DA-CLIP checkpoint brings its own.",
    ),
    out: Path = typer.Option(Path("restored"), "--out", help="Output folder (PNG files)."),
    tile: int | None = typer.Option(
        None,
        "--tile",
        min=0,
        help="Tile side in pixels; 0 never tiles; default: 512 px tiles for images over 1 MP.",
    ),
    overlap: int = typer.Option(64, "--overlap", min=0, help="Tile overlap in pixels."),
    sampling: str | None = typer.Option(
        None, "--sampling", help="IR-SDE sampler: posterior (default) or sde (Euler-Maruyama)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the IR-SDE sampling noise."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
) -> None:
    """Restore images (any size: large ones in overlapping tiles) and write PNGs; prints the
    predicted degradation per image for models with DA-CLIP.

    Examples:
      uirbench restore photo.jpg --weights zoo --out restored
      uirbench restore inputs/ --model nafnet --weights run/checkpoints/last.safetensors
    """
    # lazy: restoration loads torch; not for `uirbench --help`
    from uirbench.io import read_image
    from uirbench.models.registry import build_restorer, daclip_option
    from uirbench.restore import (
        check_inputs,
        network_passes,
        output_paths,
        restore_pairs,
        tile_grid,
    )

    console = results_console
    device = resolve_device(device)
    # every output planned (no collisions) and every input decoded before loading a model
    pairs = output_paths(inputs, out)
    check_inputs(p for p, _ in pairs)
    kw: dict = {}
    if model != "identity":
        kw = {"config": config, "tile": tile, "overlap": overlap, "seed": seed}
        if sampling:
            kw["sampling_mode"] = sampling
        if random_init:
            kw["random_init"] = True
        kw.update(daclip_option(daclip, daclip_config))
    restorer = build_restorer(model, weights=weights, device=device, **kw)

    progress = count_bars(
        console=console,
        disable=not console.is_terminal,  # piped: plain log lines only, no bar frames
    )
    images = progress.add_task("images", total=len(pairs))
    passes = progress.add_task("network passes", total=1, visible=False)
    restorer.on_pass = lambda: progress.advance(passes)

    def start(src: Path, h: int, w: int) -> None:
        n = network_passes(restorer, h, w)
        progress.reset(passes, total=n, description=f"{src.name} ({w}x{h})", visible=n > 1)

    def report(src: Path, dest: Path, degradation: list) -> None:
        h, w = read_image(dest).shape[:2]
        n = tile_grid(restorer, h, w)
        where = f"{n} tiles" if n > 1 else "whole image"
        deg = f"  predicted: {degradation[0][0]} ({degradation[0][1]:.2f})" if degradation else ""
        # printed through the progress console: above the bars, never inside them
        progress.console.print(
            f"{shown(src)} -> {shown(dest)} [{w}x{h}, {where}]{deg}", highlight=False, markup=False
        )
        progress.advance(images)

    with progress:
        restore_pairs(restorer, pairs, on_image=report, on_start=start)
    console.print(
        f"restored {len(pairs)} image(s) into {shown(out)}", highlight=False, markup=False
    )
