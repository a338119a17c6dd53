"""Options that mean the same in every command: ``--device`` and ``--workers``.

Why one place: evaluate defaulted to cpu while restore/classify/caption meant auto, and
``--workers 0`` meant "one per core" in build-data but "inline" in evaluate.
"""

from __future__ import annotations

import importlib.util
import os

DEVICE_HELP = "auto (CUDA if available, else CPU), cpu, cuda or cuda:N."
WORKERS_HELP = (
    "Processes doing the work, this one included: 1 = this process only, "
    "0 = one per CPU core (at most 8)."
)


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; anything else as given."""
    if device != "auto":
        return device
    if importlib.util.find_spec("torch") is None:  # core install: PSNR/SSIM need no torch
        return "cpu"
    import torch  # heavy: imported only when a command resolves auto

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_workers(workers: int) -> int:
    """The number of processes ``--workers`` asks for (>= 1)."""
    if workers < 0:
        from uirbench.errors import UirbenchError

        raise UirbenchError(f"--workers must be 0 (one per CPU core) or more, got {workers}")
    return workers or min(os.cpu_count() or 1, 8)
