"""One registry helper for every "name -> factory" table: source adapters, caption backends,
restoration models, synthesis operators.

Why one: the four were written four ways (a checking decorator, a bare decorator, a
``register(name, builder)`` function, a dict literal), each with its own unknown-name message. A
:class:`Registry` is still the plain dict DESIGN.md asks for (filled at import, read with ``in``,
``sorted``, ``[name]``), with one way to add (:meth:`Registry.register`), one message for an
unknown name (:meth:`Registry.pick`) and, where the caller asks, the option check that the
source adapters had: a keyword option the factory does not take is refused by name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

from uirbench.errors import UirbenchError

F = TypeVar("F", bound=Callable[..., Any])


class UnknownNameError(UirbenchError, ValueError):
    """A name no factory is registered under (a ValueError too, as a bad argument value)."""


class Registry(dict[str, F]):
    """``kind`` names what is registered, for messages ("adapter", "model"); ``entries``: a
    table written out in one place (as the synthesis operators are)."""

    def __init__(self, kind: str, entries: Mapping[str, F] | None = None) -> None:
        super().__init__(entries or {})
        self.kind = kind

    def register(self, name: str, *, check_options: str | None = None) -> Callable[[F], F]:
        """Decorator adding the factory under ``name``; returns what was registered.

        ``check_options``: refuse keyword options the factory does not declare keyword-only,
        naming them and the allowed ones; the text is the fix added to the message (e.g. "check
        the benchmark manifest")."""

        def deco(fn: F) -> F:
            entry = fn if check_options is None else _checked(self.kind, name, fn, check_options)
            self[name] = entry
            return entry

        return deco

    def pick(self, name: str) -> F:
        """The factory registered as ``name``; an unknown name is a one-line error listing the
        known ones."""
        try:
            return self[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; known {self.kind}s: {', '.join(sorted(self))}"
            ) from None


def _checked(kind: str, name: str, fn: F, fix: str) -> F:
    params = inspect.signature(fn).parameters
    allowed = sorted(k for k, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY)

    @wraps(fn)
    def checked(*args: Any, **options: Any) -> Any:
        for key in options:
            if key not in allowed:
                raise UirbenchError(
                    f"{kind} {name!r} has no option {key!r}; its options are: "
                    f"{', '.join(allowed) or '(none)'} ({fix})"
                )
        return fn(*args, **options)

    return checked  # type: ignore[return-value]
