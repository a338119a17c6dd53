"""Rich progress bars for people, one layout per kind, shared by the CLI and the library.

Why here (beside ``io``, below every layer): the evaluation runner, the CLI commands and the
downloads all drew the same bars from their own copies of the same columns. ``rich.progress``
costs ~0.07 s to import, so it is imported when bars are drawn, never for ``uirbench --help``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover  (the type only: download imports socket and logging)
    from uirbench.download import Progress as ByteProgress


def count_bars(description: str = "{task.description}", eta: str = "eta", **options: Any) -> Any:
    """Bars that count items: ``description``, the bar, ``done/total``, elapsed, ``eta`` and
    the time remaining; ``options`` go to ``rich.progress.Progress`` (console, transient,
    disable)."""
    # lazy: rich.progress, only when bars are drawn
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn(eta),
        TimeRemainingColumn(),
        **options,
    )


def file_bars(console: Any = None) -> Any:
    """Bars with a free ``info`` field (``add_task(..., info="")``): the build's pairs bar and one
    bar per download (:func:`byte_progress`). Transient: gone once the work is done."""
    # lazy: rich.progress, only when bars are drawn
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}[/]"),
        BarColumn(),
        TextColumn("{task.fields[info]}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def byte_progress(bar: Any) -> ByteProgress:
    """A download's ``progress(name, done, total)`` callback drawing one bar per file on ``bar``
    (a :func:`file_bars`), in MB."""
    files: dict[str, Any] = {}

    def on_bytes(name: str, done: int, total: int | None) -> None:
        if name not in files:
            files[name] = bar.add_task(f"download {name}", total=total, info="")
        size = f"/{total / 1e6:.1f}" if total else ""
        bar.update(files[name], completed=done, total=total, info=f"{done / 1e6:.1f}{size} MB")

    return on_bytes
