"""``uirbench caption``: BLIP captions of the GT images into the index, shards and official CSVs."""

from __future__ import annotations

from pathlib import Path

import typer

from uirbench.cli.console import results_console
from uirbench.cli.options import DEVICE_HELP, ROOT_TASKS_FILE_HELP, tasks_file_in_force


def register(app: typer.Typer) -> None:
    app.command("caption")(caption)


def caption(
    root: Path = typer.Option(..., "--root", help="A built uirbench root (has index.parquet)."),
    backend: str = typer.Option(
        "transformers", "--backend", help="transformers (default), lavis or sidecar."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        help="BLIP checkpoint: a hub id or a save_pretrained folder (transformers; default "
        "Salesforce/blip-image-captioning-large), or a blip_caption type (lavis; default "
        "large_coco).",
    ),
    sidecar: Path | None = typer.Option(
        None,
        "--sidecar",
        help="CSV/JSON of captions keyed by GT file name or source image "
        "(sidecar backend; default: the demo's uirbench/manifests/demo_captions.csv).",
    ),
    batch_size: int | None = typer.Option(None, "--batch-size", min=1, help="Images per call."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    max_new_tokens: int = typer.Option(32, "--max-new-tokens", min=1, help="Caption length cap."),
    limit: int | None = typer.Option(
        None,
        "--limit",
        min=1,
        help="Dry run: caption the first N distinct GTs, write only the cache.",
    ),
    csv_paths: str = typer.Option(
        "absolute", "--csv-paths", help="filepath column of the CSVs: absolute or relative."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    tasks_file: Path | None = typer.Option(None, "--tasks-file", help=ROOT_TASKS_FILE_HELP),
) -> None:
    """Caption every distinct clean image once (cached by sha256, resumable, torchrun-aware).

    Examples:
      uirbench caption --root data/demo --backend sidecar
      uirbench caption --root data/uir10 --device cuda --batch-size 32
      torchrun --nproc_per_node 4 -m uirbench caption --root data/uir10
    """
    # lazy: captioning loads pandas, pyarrow and cv2; not for `uirbench --help`
    from uirbench.caption import build_captioner, caption_root
    from uirbench.data.captions_csv import PATH_MODES
    from uirbench.data.index import read_index

    read_index(root)  # fail on a wrong --root before loading a model
    with tasks_file_in_force(tasks_file, root):
        pass  # only the check: caption_root puts the root's own task set in force

    if csv_paths not in PATH_MODES:
        raise typer.BadParameter(f"use one of {', '.join(PATH_MODES)}", param_hint="--csv-paths")
    options: dict[str, object] = {"model": model, "batch_size": batch_size}
    if backend == "sidecar":
        options = {"sidecar": sidecar, "batch_size": batch_size}
    else:
        options.update(device=device, max_new_tokens=max_new_tokens)
    try:
        captioner = build_captioner(backend, **options)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--backend") from exc
    result = caption_root(root, captioner, limit=limit, csv_paths=csv_paths, progress=not quiet)
    if result.rank != 0:
        return
    out = results_console
    out.print(
        f"{result.distinct} distinct GT images; rank 0 of {result.world}: "
        f"{result.cache_hits} cached, {result.captioned} captioned "
        f"({result.images_per_s:.2f} img/s) with {captioner.fingerprint}",
        highlight=False,
        markup=False,
    )
    if limit is not None:
        index = read_index(root)
        names = dict(zip(index["gt_sha256"], index["gt_path"], strict=True))
        for sha, text in list(result.captions.items())[:limit]:
            out.print(f"  {names.get(sha, sha[:12])}: {text}", highlight=False, markup=False)
        out.print("dry run (--limit): index, shards and CSVs were not written", highlight=False)
    for path in result.written:
        out.print(f"wrote {path}", highlight=False, markup=False)
