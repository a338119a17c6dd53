"""``uirbench build-data`` and ``uirbench verify``."""

from __future__ import annotations

from pathlib import Path

import typer

from uirbench.cli.console import console, fail, literal
from uirbench.cli.options import WORKERS_HELP
from uirbench.progress import byte_progress, file_bars


def build_data(
    root: Path = typer.Option(..., "--root", help="Output dataset root (official layout)."),
    preset: str | None = typer.Option(
        None,
        "--preset",
        help="demo: offline, from photos shipped with uirbench (seconds). "
        "uir10: the paper's benchmark from the upstream datasets (see docs/datasets.md). "
        "aio3: the AirNet/PromptIR three-task setting (CBSD68 sigma 15/25/50, Rain100L, SOTS "
        "outdoor; its own five tasks; docs/benchmarks.md). aio5: IDR's five tasks (adds GoPro, "
        "LOL; sigma 25). cdd11: OneRestore's eleven composite degradations. "
        "daclip-mix: the ten plus the official mix composites (Gaussian blur + inpainting, "
        "Gaussian blur + rain) on the uir10 sources. wild: LSDIR degraded by the official "
        "random_degrade, seeded (Wild-IR). "
        "daclip-val: the official validation zip, the paper's exact test pairs (--splits val).",
    ),
    from_dir: Path | None = typer.Option(
        None, "--from", help="A folder of your own clean photos: all ten degradations synthesised."
    ),
    tasks: str = typer.Option("all", help="Comma-separated task ids, e.g. noisy,jpeg."),
    tasks_file: Path | None = typer.Option(
        None,
        "--tasks-file",
        help="YAML file of your own tasks (e.g. a composite blur+rain, or your own paired LQ/GT "
        "folders), added to the ten or replacing them; the root keeps a copy and every later "
        "command uses it. Format: docs/tasks.md.",
    ),
    splits: str = typer.Option("train,val", help="Comma-separated splits."),
    seed: int = typer.Option(0, help="Global seed; each pair's seed derives from it."),
    workers: int = typer.Option(
        0,
        help=WORKERS_HELP,
    ),
    shard: str | None = typer.Option(
        None,
        help="i/n: build only part i of n (cluster array jobs). Rerun without --shard to write "
        "the index and shards once all parts are done.",
    ),
    mirror: Path | None = typer.Option(
        None, help="Folder to look upstream files up in (by path and sha256) before downloading."
    ),
    raw: Path | None = typer.Option(
        None, help="Where downloads and extracted sources go (default: ROOT/.raw or $UIRBENCH_RAW)."
    ),
    val_fraction: float = typer.Option(
        0.2, help="With --from and both splits: fraction of photos held out for val."
    ),
    png: str = typer.Option(
        "compressed",
        help="How the PNGs it encodes are written; pixels are identical. compressed: OpenCV's "
        "defaults. stored: no deflate, ~1.2x faster builds, encoded files up to 2.3x larger "
        "(BENCHMARKS.md, build-data). Upstream 8-bit RGB PNGs are copied as they are either way.",
    ),
) -> None:
    """Build the ten-degradation dataset: official layout, index.parquet, WebDataset shards.

    Resumable: rerun the same command after an interruption and verified pairs are skipped.
    Deterministic: the same inputs and --seed give byte-identical files.

    Examples:
      uirbench build-data --preset demo --root data/demo
      uirbench build-data --preset uir10 --tasks noisy,jpeg --splits val --root data/uir10
        --mirror ../shared/data
      uirbench build-data --preset aio3 --tasks noisy-15,noisy-25,noisy-50 --splits val
        --root data/aio3 --mirror ../shared/data
      uirbench build-data --from ~/photos --root data/mine
      uirbench build-data --from ~/photos --tasks-file my_tasks.yaml --root data/mine11
    """
    # lazy: the builder loads pandas, cv2 and scipy; not for `uirbench --help`
    from uirbench.data.build import build

    # One live display (rich allows one at a time): the pairs bar and one bar per download.
    with file_bars(console) as bar:
        t = bar.add_task("build-data", total=None, info="")

        def progress(done: int, total: int) -> None:
            elapsed = bar.tasks[0].elapsed or 0.0
            rate = f"  {done / elapsed:.1f} pairs/s" if elapsed > 0 else ""
            bar.update(t, completed=done, total=total, info=f"{done}/{total}{rate}")

        report = build(
            root=root,
            preset=preset,
            from_dir=from_dir,
            tasks=tasks,
            tasks_file=tasks_file,
            splits=splits,
            seed=seed,
            workers=workers or None,
            shard=shard,
            mirror=mirror,
            raw_root=raw,
            val_fraction=val_fraction,
            progress=progress,
            png=png,
            download_progress=byte_progress(bar),
        )
    _print_summary(report)


def _print_summary(report) -> None:
    from rich.table import Table

    splits = sorted({s for _, s in report.counts}, key=["train", "val"].index)
    table = Table(title=f"built {literal(report.root)}", show_footer=True)
    table.add_column("task", footer="total")
    for s in splits:
        total = sum(n for (_, sp), n in report.counts.items() if sp == s)
        table.add_column(s, justify="right", footer=str(total))
    for task in report.task_order:
        if any((task, s) in report.counts for s in splits):
            table.add_row(task, *(str(report.counts.get((task, s), 0)) for s in splits))
    console.print(table)
    console.print(
        f"{report.built} pairs built, {report.reused} reused (verified) in {report.seconds:.1f} s"
        + (f" ({report.pairs_per_second:.1f} pairs/s)" if report.built else "")
    )
    if report.partial:
        console.print("partial build (--shard): rerun without --shard to write index and shards")


def verify(root: Path = typer.Argument(..., help="A built dataset root.")) -> None:
    """Re-hash every file of a built root against index.parquet and shards.json.

    Exits 1 and lists each missing, changed or extra file if anything differs.

    Examples:
      uirbench verify data/demo
    """
    # lazy: verify loads pandas, cv2 and scipy; not for `uirbench --help`
    from uirbench.data.verify import verify as run_verify

    problems = run_verify(root)
    if problems:
        for p in problems:
            console.print(f"[red]{literal(p)}[/]", highlight=False)
        fail(f"{root}: {len(problems)} problem(s); rebuild with `uirbench build-data` to repair")
    console.print(f"[green]ok[/]: every file under {literal(root)} matches its recorded sha256")


def register(app: typer.Typer) -> None:
    app.command("build-data")(build_data)
    app.command("verify")(verify)
