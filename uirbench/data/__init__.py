"""Data building: manifests -> fetch -> adapters -> synthesis -> official layout, index, shards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from uirbench.data.build import BuildReport


def build(**kwargs: Any) -> BuildReport:
    """Build a dataset root; see :func:`uirbench.data.build.build` (lazy import keeps CLI fast)."""
    # lazy: this __init__ runs for every uirbench.data module; build loads pandas, cv2
    from uirbench.data.build import build as _build

    return _build(**kwargs)


def load(root: str, split: str) -> Any:
    """Open a built split as a Hugging Face ``datasets.Dataset``; see :mod:`uirbench.data.hf`."""
    # lazy: this __init__ runs for every uirbench.data module; hf loads pandas, cv2
    from uirbench.data.hf import load as _load

    return _load(root, split)
