"""The CLI's shared console and helpers for clean failures and literal printing."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def literal(text: object) -> str:
    """``text`` safe to embed in a rich markup string: shown exactly as it is, never read as
    markup (a file named ``[bold]x[/]`` is printed as that) and control characters shown escaped
    (``\\x1b``), so a name can neither restyle the terminal nor hide part of a message."""
    s = str(text)
    if any((ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0 for c in s):
        s = "".join(
            c if not ((ord(c) < 32 and c not in "\n\t") or 0x7F <= ord(c) < 0xA0) else repr(c)[1:-1]
            for c in s
        )
    return escape(s)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` (taken literally) as an error and exit with ``code``."""
    console.print(f"[bold red]error:[/] {literal(message)}", highlight=False)
    raise typer.Exit(code)


def holding_out_lock(what: str) -> Callable[[F], F]:
    """Run a command holding the lock of its ``--out`` folder (:mod:`uirbench.lock`), so two runs
    writing one folder never interleave their files: the second is refused, naming the first."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from uirbench.lock import folder_lock

            with folder_lock(kwargs["out"], what):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
