"""The CLI's shared console and helpers for clean failures and literal printing."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

# soft_wrap: never break a line inside a path; emoji off: ":smile:" in a name stays as it is.
# console (stderr): messages, warnings, progress bars; results_console (stdout): what a
# command produced (tables, written files).
console = Console(stderr=True, soft_wrap=True, emoji=False)
results_console = Console(soft_wrap=True, emoji=False)
F = TypeVar("F", bound=Callable[..., Any])


def _control(c: str) -> bool:
    o = ord(c)
    return (o < 32 and c != "\n") or 0x7F <= o < 0xA0


def shown(text: object) -> str:
    """``text`` with control characters (all but the newline) written as escapes (``\\x1b``,
    ``\\t``): a terminal would act on them (or rich drop them), so a name could restyle the
    terminal or hide part of a message; shown escaped, it is printed whole."""
    s = str(text)
    if any(_control(c) for c in s):
        s = "".join(repr(c)[1:-1] if _control(c) else c for c in s)
    return s


def literal(text: object) -> str:
    """``text`` safe to embed in a rich markup string: shown exactly as it is (a file named
    ``[bold]x[/]`` is printed as that, never read as markup), control characters escaped
    (:func:`shown`)."""
    return escape(shown(text))


def show_library_logs() -> None:
    """Print what the library logs (``logging``, warnings and up, e.g. a download retried, a zoo
    file not pinned yet) through this console: one plain line each, above any live progress
    bars instead of through them. The library only logs; people read it here."""
    import logging  # ~3 ms: when a command runs, not for `uirbench --help`

    class ConsoleHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                console.print(shown(self.format(record)), markup=False, highlight=False)
            except Exception:
                self.handleError(record)

    logger = logging.getLogger("uirbench")
    if not any(type(h).__name__ == "ConsoleHandler" for h in logger.handlers):
        logger.addHandler(ConsoleHandler(logging.WARNING))


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` (taken literally) as an error and exit with ``code``."""
    console.print(f"[bold red]error:[/] {literal(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def holding_out_lock(what: str) -> Callable[[F], F]:
    """Run a command holding the lock of its ``--out`` folder (:mod:`uirbench.lock`), so two runs
    writing one folder never interleave their files: the second is refused, naming the first."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            # lazy: the lock imports uirbench.io (numpy, cv2); not for `uirbench --help`
            from uirbench.lock import folder_lock

            with folder_lock(kwargs["out"], what):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
