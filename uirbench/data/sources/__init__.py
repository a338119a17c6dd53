"""Adapters: one per upstream layout, each turning a fetched source folder into name-matched pairs.

Interface (the builder relies on it)::

    get_adapter(name)(src_dir: Path, split: str, **options) -> list[SourcePair]

``split`` is ``train`` or ``val`` (the benchmark's names; adapters map ``val`` to the upstream test
split). Pairs are sorted by stem; stems hold only letters, digits, ``_`` and ``-``. ``lq`` is None
for GT-only sources whose LQ is synthesised. A GT without its LQ (or the reverse) raises
:class:`~uirbench.errors.UirbenchError` naming the file: pairing is never silently skipped.
Unknown options raise a :class:`~uirbench.errors.UirbenchError` naming the option.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from pathlib import Path

from uirbench.data.sources.common import SourcePair
from uirbench.errors import UirbenchError
from uirbench.registry import Registry

Adapter = Callable[..., list[SourcePair]]
ADAPTERS: Registry[Adapter] = Registry("adapter")


def register(name: str) -> Callable[[Adapter], Adapter]:
    """Add an adapter to :data:`ADAPTERS` under ``name`` (the manifest's ``adapter`` value); its
    keyword-only parameters are its options, any other is refused by name."""

    def deco(fn: Adapter) -> Adapter:
        @wraps(fn)
        def checked(src_dir: Path, split: str, **options: object) -> list[SourcePair]:
            if split not in ("train", "val"):
                raise UirbenchError(f"adapter {name!r}: unknown split {split!r} (train or val)")
            src_dir = Path(src_dir)
            if not src_dir.is_dir():
                raise UirbenchError(f"adapter {name!r}: source folder {src_dir} does not exist")
            return fn(src_dir, split, **options)

        return ADAPTERS.register(name, check_options="check the benchmark manifest")(checked)

    return deco


def get_adapter(name: str) -> Adapter:
    """The adapter registered as ``name``."""
    return ADAPTERS.pick(name)


def list_masks(src_dir: str | Path) -> list[Path]:
    """The 100 RePaint thin masks of a fetched ``repaint_thin_masks`` source, sorted by name."""
    return _list_masks(Path(src_dir))


# At the end, not the top: a real cycle (each adapter module imports `register` from here).
# Importing them fills ADAPTERS, so the registry is full at import (DESIGN.md).
from uirbench.data.sources import (  # noqa: E402, F401
    aio,
    celebahq,
    composite,
    daclip_val,
    folder,
    gt_only,
    masks,
    paired,
)
from uirbench.data.sources.masks import list_masks as _list_masks  # noqa: E402

__all__ = ["ADAPTERS", "SourcePair", "get_adapter", "list_masks", "register"]
