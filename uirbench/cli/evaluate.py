"""``uirbench evaluate``: score a model or a folder of outputs on the val split."""

from __future__ import annotations

from pathlib import Path

import typer

from uirbench.cli.console import holding_out_lock, literal, results_console
from uirbench.cli.options import (
    DEVICE_HELP,
    TASKS_FILE_HELP,
    WORKERS_HELP,
    resolve_device,
    resolve_workers,
    tasks_file_in_force,
)
from uirbench.errors import UirbenchError


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)


@holding_out_lock("evaluating into it")
def evaluate(
    root: Path | None = typer.Option(
        None, help="Built uirbench root (its val split and index.parquet); or give --gt."
    ),
    gt: Path | None = typer.Option(
        None,
        help="Folder of GT images to score --outputs against, no dataset build: <name>.png "
        "(with --task, or one group named after the folder) or <task>/<name>.png.",
    ),
    task: str | None = typer.Option(
        None, help="With --gt: the task (id or any label) of a flat GT folder."
    ),
    out: Path = typer.Option(
        ..., help="Folder for per_image.csv, per_task.{csv,md}, results.json."
    ),
    model: str | None = typer.Option(
        None, help="Registered model (identity, ours, irsde, nafnet, nafnet-daclip, ...)."
    ),
    weights: str | None = typer.Option(
        None, help="Checkpoint for --model (or 'zoo'); required except for identity."
    ),
    daclip: Path | None = typer.Option(
        None,
        help="DA-CLIP checkpoint for DA-CLIP models (default: the one the --weights checkpoint "
        "recorded, found by sha256 beside it, or the zoo's).",
    ),
    daclip_config: str | None = typer.Option(
        None,
        help="Config of an official --daclip .pt (default: the model's, daclip_ViT-B-32; "
        "daclip_ViT-L-14 for wild-ir); a uirbench DA-CLIP checkpoint brings its own.",
    ),
    random_init: bool = typer.Option(
        False,
        "--random-init",
        help="Run --model with untrained weights (pipeline tests only; flagged in results.json "
        "and leaderboards).",
    ),
    outputs: Path | None = typer.Option(
        None, help="Folder of restored images (<task>/<name>.png or flat <name>.png)."
    ),
    follow_symlinks: bool = typer.Option(
        False,
        "--follow-symlinks",
        help="Read symbolic links in --outputs (refused by default: a link can point at the GT).",
    ),
    preset: str | None = typer.Option(
        None,
        help="The benchmark the --root was built as (uir10, aio3, aio5, cdd11): checks the root "
        "is that setting's val set, scores with the setting's protocol (aio3: profile "
        "promptir) and records the setting for `leaderboard export --setting`.",
    ),
    profile: str | None = typer.Option(
        None,
        help="Metric profile: daclip (paper), y (MATLAB Y, rounded), basicsr (BasicSR Y, "
        "unrounded), promptir (AirNet/PromptIR: skimage, crop to 16) or onerestore (skimage, no "
        "crop) (default: the --preset's, else daclip).",
    ),
    crop_border: int | None = typer.Option(
        None,
        min=0,
        help="Override the profile's border crop for PSNR/SSIM (pixels per side); recorded in "
        "results.json and in the profile name (e.g. daclip+crop_border=0).",
    ),
    y_channel: bool | None = typer.Option(
        None,
        "--y-channel/--rgb",
        help="Override the profile's colour space for PSNR/SSIM: BT.601 Y (rounded as the "
        "profile's y_round says) or RGB; recorded like --crop-border.",
    ),
    metrics: str | None = typer.Option(
        None,
        help="Comma list, e.g. psnr,ssim,lpips,fid,ssim-pyiqa or any pyiqa name "
        "(default: the profile's).",
    ),
    tasks: str | None = typer.Option(
        None, help="Comma list of task ids (default: all: the ten, or the task file's)."
    ),
    tasks_file: Path | None = typer.Option(None, "--tasks-file", help=TASKS_FILE_HELP),
    name: str | None = typer.Option(None, help="Method name in tables (default: model/folder)."),
    device: str = typer.Option("auto", help="For the model and pyiqa metrics: " + DEVICE_HELP),
    batch_size: int = typer.Option(8, help="Images per device batch."),
    workers: int = typer.Option(0, help="Decoding images. " + WORKERS_HELP),
    save_images: bool = typer.Option(False, help="Keep the restored images under OUT/images/."),
    seed: int = typer.Option(
        0, help="Seed of --model's sampling noise (IR-SDE: per image, from seed and its key)."
    ),
    steps: int | None = typer.Option(
        None,
        min=1,
        help="IR-SDE reverse steps (default: the config's T, the paper's 100): fewer are faster "
        "and score lower (BENCHMARKS.md, 'sampling steps'); recorded in results.json.",
    ),
    resume: bool = typer.Option(
        True,
        "--resume/--no-resume",
        help="Reuse the images an interrupted run of the same command scored (journal in OUT).",
    ),
    limit_per_task: int | None = typer.Option(
        None,
        min=1,
        help="Score only the first N val pairs of each task: a quick look at a slow model, "
        "recorded as a subset in results.json (not the benchmark's figure).",
    ),
    no_reference: bool = typer.Option(
        False,
        "--no-reference",
        help="Score --outputs with no GT (real photos): no-reference pyiqa metrics, default "
        "niqe,musiq,clipiqa,maniqa, options recorded in results.json.",
    ),
    feature_cache: str | None = typer.Option(
        None,
        help="Folder caching GT features for FID (default ~/.cache/uirbench/features; "
        "'off' disables).",
    ),
) -> None:
    """Score restored images against GT (a folder, or a root's val split); write per-image and
    per-task tables and results.json.

    Examples:

      uirbench evaluate --gt GT/ --outputs mine/ --out results/mine --metrics psnr,ssim

      uirbench evaluate --gt GT/ --outputs mine/ --task jpeg --profile basicsr --out results/m

      uirbench evaluate --root data/uir10 --model ours --weights zoo --out results/ours

      uirbench evaluate --root data/uir10 --model ours --weights zoo --steps 50 --out r/ours50

      uirbench evaluate --outputs restored_wild/ --no-reference --out results/wild

      uirbench evaluate --preset aio3 --root data/aio3 --outputs mine/ --out results/aio3
    """
    from rich.console import Console
    from rich.markup import escape

    # lazy: scoring loads pandas, cv2 and PIL; not for `uirbench --help`
    from uirbench.evaluate.profiles import get_profile
    from uirbench.evaluate.runner import run, setting_profile

    if no_reference:
        _no_reference(outputs, out, metrics, resolve_device(device), name, root or gt)
        return
    err = Console(stderr=True)
    if profile is None:
        profile = setting_profile(preset) if preset else "daclip"
    prof = get_profile(profile).with_overrides(crop_border=crop_border, y_channel=y_channel)
    with tasks_file_in_force(tasks_file, root):
        res = run(
            root=root,
            gt=gt,
            task=task,
            out=out,
            model=model,
            outputs=outputs,
            weights=weights,
            profile=prof,
            metrics=metrics,
            tasks=tasks,
            device=resolve_device(device),
            batch_size=batch_size,
            workers=resolve_workers(workers) - 1,  # DataLoader processes besides this one
            save_images=save_images,
            name=name,
            feature_cache=feature_cache,
            seed=seed,
            steps=steps,
            resume=resume,
            limit_per_task=limit_per_task,
            random_init=random_init,
            daclip=daclip,
            daclip_config=daclip_config,
            progress=True,
            log=lambda msg: err.print(f"[yellow]{escape(msg)}[/]", highlight=False),
            setting=preset,
            follow_symlinks=follow_symlinks,
        )
    con = results_console
    con.print((out / "per_task.md").read_text(), highlight=False, markup=False)
    for w in res["warnings"]:
        con.print(f"[yellow]warning:[/] {literal(w)}", highlight=False)
    con.print(f"wrote {out}/results.json", highlight=False, markup=False)


def _no_reference(outputs, out, metrics, device, name, reference) -> None:
    from rich.console import Console

    # lazy: scoring loads pandas, cv2 and PIL; not for `uirbench --help`
    from uirbench.evaluate.no_reference import score_no_reference

    if outputs is None or reference is not None:
        raise UirbenchError("--no-reference scores --outputs DIR alone (no --root, --gt, --model)")
    score_no_reference(outputs, out, metrics=metrics, device=device, name=name)
    con = Console()
    con.print((out / "per_task.md").read_text(), highlight=False, markup=False)
    con.print(f"wrote {out}/results.json", highlight=False, markup=False)
