"""Entry point of the ``uirbench`` command.

Each module in ``COMMAND_MODULES`` exposes ``register(app)``. Heavy libraries (torch, pyiqa,
transformers) are imported inside the commands, so ``uirbench --help`` stays fast and
``caption`` never imports pyiqa.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys

import typer

from uirbench import __version__
from uirbench.cli.console import console, literal, show_library_logs
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


# What an interrupted command keeps, by command (Ctrl-C): every one resumes by being rerun.
_KEPT = {
    "build-data": "verified pairs are kept (journal under ROOT/.uirbench)",
    "caption": "captions of finished batches are kept in the cache",
    "train": "the last complete checkpoint is kept",
    "evaluate": "no result file was changed (they are written together at the end); a --model "
    "run keeps the images it scored in its journal",
    "classify": "no result file was changed",
    "demo": "finished stages are kept",
}


class Interrupted(BaseException):
    """Ctrl-C in the CLI's process (not a KeyboardInterrupt, which click would swallow); every
    ``finally`` and context manager still runs, so locks are released and temporaries removed."""


def _interrupted() -> str:
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    kept = _KEPT.get(args[0] if args else "", "files are written atomically: none is half-written")
    return f"interrupted: {kept}; rerun the same command to resume"


# Optional libraries -> the extra that installs them (pyproject.toml). A command that needs one
# that is absent says which extra to install instead of ending in a traceback.
EXTRA_FOR_MODULE = {
    "torch": "torch",
    "torchvision": "torch",
    "safetensors": "torch",
    "transformers": "caption",
    "open_clip": "train",
    "pyiqa": "eval",
    "matplotlib": "plot",
    "datasets": "datasets",
    "webdataset": "webdataset",
}


def missing_extra_message(exc: ModuleNotFoundError) -> str | None:
    """``pip install 'uirbench[x]'`` advice for an absent optional library, else None."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRA_FOR_MODULE.get(top)
    if extra is None:
        return None
    return f"this command needs {top}, which is not installed: pip install 'uirbench[{extra}]'"


def main() -> None:
    """Run the CLI; a :class:`UirbenchError` prints its message and exits with status 2; Ctrl-C
    says what was kept and exits with 130."""
    main_pid = os.getpid()

    def on_sigint(signum: int, frame: object) -> None:
        # click would turn a KeyboardInterrupt into "Aborted!" and status 1, saying nothing of
        # what was kept; forked children (DataLoader workers) keep Python's usual behaviour.
        raise Interrupted if os.getpid() == main_pid else KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    show_library_logs()
    try:
        app()
    except Interrupted:
        console.print(f"[yellow]{literal(_interrupted())}[/]", highlight=False)
        sys.exit(130)
    except UirbenchError as exc:
        # soft_wrap: never break a line inside a path (rich hard-wraps at the terminal width)
        console.print(f"[bold red]error:[/] {literal(exc)}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except ModuleNotFoundError as exc:
        message = missing_extra_message(exc)
        if message is None:
            raise
        console.print(f"[bold red]error:[/] {literal(message)}", highlight=False, soft_wrap=True)
        sys.exit(2)
    finally:
        signal.signal(signal.SIGINT, previous)
