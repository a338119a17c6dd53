"""Scoring: uirbench's own PSNR/SSIM, pyiqa for the rest, per-task tables with provenance.

``uirbench.evaluate.run(root=..., model=... | outputs=..., out=...)`` is the Python face of
``uirbench evaluate``.
"""

from __future__ import annotations

from typing import Any


def run(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """See :func:`uirbench.evaluate.runner.run` (imported lazily: torch is heavy)."""
    # lazy: this __init__ runs for every uirbench.evaluate module; the runner loads pandas
    from uirbench.evaluate.runner import run as _run

    return _run(*args, **kwargs)


__all__ = ["run"]
