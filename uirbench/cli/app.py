"""Entry point of the ``uirbench`` command.

Each module in ``COMMAND_MODULES`` exposes ``register(app)``. Heavy libraries (torch, pyiqa,
transformers) are imported inside the commands, so ``uirbench --help`` stays fast and
``caption`` never imports pyiqa.
"""

from __future__ import annotations

import importlib
import sys

import typer

from uirbench import __version__
from uirbench.cli.groups import leaderboard_app, train_app
from uirbench.errors import UirbenchError

COMMAND_MODULES = [
    "build_data",
    "train_daclip",
    "classify",
    "evaluate",
    "weights",
    "leaderboard",
    "caption",
    "restore",
    "export",
    "train_restore",
    "demo",
]

app = typer.Typer(
    name="uirbench",
    help=(
        "Universal image restoration benchmark (DA-CLIP's ten degradations): build the data, "
        "caption it, train DA-CLIP and restoration models, evaluate and export leaderboards.\n\n"
        "Start with `uirbench demo` (offline, minutes on a laptop CPU).\n\n"
        "Example: uirbench demo --out demo-out"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"uirbench {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    pass


app.add_typer(train_app, name="train")
app.add_typer(leaderboard_app, name="leaderboard")

for _name in COMMAND_MODULES:
    importlib.import_module(f"uirbench.cli.{_name}").register(app)


def main() -> None:
    """Run the CLI; a :class:`UirbenchError` prints its message and exits with status 2."""
    try:
        app()
    except UirbenchError as exc:
        from uirbench.cli.console import console, literal

        console.print(f"[bold red]error:[/] {literal(exc)}", highlight=False)
        sys.exit(2)
