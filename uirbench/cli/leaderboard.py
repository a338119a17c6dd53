"""``uirbench leaderboard export|plot``: merge evaluated results with the paper's reference rows."""

from __future__ import annotations

from pathlib import Path

import typer

from uirbench.cli.console import holding_out_lock, results_console
from uirbench.cli.groups import leaderboard_app
from uirbench.cli.options import TASKS_FILE_HELP, tasks_file_in_force


def register(app: typer.Typer) -> None:
    leaderboard_app.command("export")(export)
    leaderboard_app.command("plot")(plot)


@holding_out_lock("exporting into it")
def export(
    results: list[Path] = typer.Argument(
        None, help="results.json files or folders holding them (from `uirbench evaluate`)."
    ),
    out: Path = typer.Option(Path("leaderboard"), help="Output folder."),
    fmt: str = typer.Option("md", "--format", help="csv, md or tex."),
    include_paper: bool = typer.Option(False, help="Add the paper's published rows."),
    metrics: str | None = typer.Option(None, help="Comma list (default: every metric present)."),
    source: str | None = typer.Option(
        None, help="Paper table(s) to include, e.g. 'Table 6' (default: the unified Tables 6-9)."
    ),
    manifests: Path | None = typer.Option(None, help="Folder of reference CSVs."),
    allow_mixed: bool = typer.Option(
        False,
        help="With --include-paper, accept results not comparable with the paper's rows "
        "(another dataset, a subset, a random-init model, another profile): they are flagged "
        "(Flags column, dagger + footnote) and never bold.",
    ),
    setting: str | None = typer.Option(
        None,
        help="Another benchmark's table: aio3 (AirNet/PromptIR three tasks), aio5 (IDR five "
        "tasks) or cdd11 (OneRestore): its tasks as "
        "columns, its published rows (with a Reference column per row), results of "
        "`evaluate --preset aio3` (default: the DA-CLIP ten tasks).",
    ),
    tasks_file: Path | None = typer.Option(None, "--tasks-file", help=TASKS_FILE_HELP),
) -> None:
    """One table per metric: methods x ten tasks + Average; flags inconsistent averages.

    Examples:
      uirbench leaderboard export --include-paper --out leaderboard
      uirbench leaderboard export --setting aio3 --include-paper --format csv
      uirbench leaderboard export runs/eval/results.json --include-paper --format tex
    """
    # lazy: the leaderboard loads pandas; not for `uirbench --help`
    from uirbench.report.leaderboard import export as do_export

    with tasks_file_in_force(tasks_file):
        written = do_export(
            results=results or [],
            out=out,
            fmt=fmt,
            include_paper=include_paper,
            metrics=metrics,
            source=source,
            manifests=manifests,
            allow_mixed=allow_mixed,
            setting=setting,
        )
    con = results_console
    for p in written:
        con.print(f"wrote {p}", highlight=False, markup=False)


@holding_out_lock("plotting into it")
def plot(
    results: list[Path] = typer.Argument(None, help="results.json files or folders."),
    out: Path = typer.Option(Path("leaderboard"), help="Output folder for radar_<metric>.png/svg."),
    include_paper: bool = typer.Option(False, help="Add the paper's published rows."),
    metrics: str | None = typer.Option(None, help="Comma list (default: every metric present)."),
    methods: str | None = typer.Option(None, help="Comma list of methods to draw."),
    manifests: Path | None = typer.Option(None, help="Folder of reference CSVs."),
    allow_mixed: bool = typer.Option(
        False, help="With --include-paper, accept flagged results (labelled with a dagger)."
    ),
    tasks_file: Path | None = typer.Option(None, "--tasks-file", help=TASKS_FILE_HELP),
) -> None:
    """Radar chart per metric over the ten tasks (outward is better), PNG and SVG.

    Examples:
      uirbench leaderboard plot runs/eval --include-paper --metrics psnr,ssim
      uirbench leaderboard plot results/mine11 --tasks-file my_tasks.yaml --metrics psnr
    """
    # lazy: the leaderboard loads pandas; not for `uirbench --help`
    from uirbench.report.leaderboard import plot as do_plot

    with tasks_file_in_force(tasks_file):
        written = do_plot(
            results=results or [],
            out=out,
            include_paper=include_paper,
            metrics=metrics,
            methods=methods,
            manifests=manifests,
            allow_mixed=allow_mixed,
        )
    for p in written:
        results_console.print(f"wrote {p}", highlight=False, markup=False)
