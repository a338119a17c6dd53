"""``uirbench demo``: the whole pipeline on the embedded default, offline."""

from __future__ import annotations

from pathlib import Path

import typer

from uirbench.cli.console import console


def demo(
    out: Path = typer.Option(Path("demo-out"), "--out", help="Folder for every output."),
    quick: bool = typer.Option(
        False, "--quick", help="A few training steps only: checks the plumbing, scores meaningless."
    ),
) -> None:
    """Run build-data -> caption -> train daclip -> train restore -> evaluate -> classify ->
    leaderboard on photos shipped with uirbench (from scikit-image/scikit-learn). Offline;
    minutes on a CPU.

    Rerun the same command to reuse finished steps. The numbers come from tiny models trained
    for minutes on a handful of photos: they show the pipeline works, not the paper's results.

    Examples:
      uirbench demo --out demo-out
      uirbench demo --out /tmp/demo --quick
    """
    # lazy: the demo loads numpy, cv2 and then torch; not for `uirbench --help`
    from uirbench.demo import run_demo
    from uirbench.demo_summary import print_summary

    d = run_demo(
        out, quick=quick, log=lambda msg: console.print(msg, highlight=False, markup=False)
    )
    print_summary(d, console)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
