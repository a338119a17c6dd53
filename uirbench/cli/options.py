"""Options that mean the same in every command: ``--device``, ``--workers``, ``--tasks-file``.

Why one place: evaluate defaulted to cpu while restore/classify/caption meant auto, and
``--workers 0`` meant "one per core" in build-data but "inline" in evaluate.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

from uirbench.errors import UirbenchError

DEVICE_HELP = "auto (CUDA if available, else CPU), cpu, cuda or cuda:N."
WORKERS_HELP = (
    "Processes doing the work, this one included: 1 = this process only, "
    "0 = one per CPU core (at most 8)."
)


TASKS_FILE_HELP = (
    "Task file (docs/tasks.md) whose tasks, in its order, are the task set here: --gt folder "
    "names and --tasks ids, table columns, radar axes. A root built with one brings its own."
)

ROOT_TASKS_FILE_HELP = (
    "Task file the root was built with (docs/tasks.md): checked, so a run on a root of another "
    "task set stops before any work. The root's own copy is what is used."
)


@contextlib.contextmanager
def tasks_file_in_force(tasks_file: Path | None, root: Path | None = None) -> Iterator[None]:
    """Put ``--tasks-file`` in force for a command that may have no root (``evaluate --gt``,
    ``leaderboard``); with a ``root``, the file must be the one the root was built with."""
    if tasks_file is None:
        yield
        return
    # lazy: task files load the synthesis operators (numpy, cv2); not for `uirbench --help`
    from uirbench.data.task_file import load_task_file, resolve_task_set, tasks_for_root
    from uirbench.tasks import using  # lazy with the task files (yaml and tasks.yaml)

    if root is not None:
        resolve_task_set(root, tasks_file)  # refuses a root built with other tasks
        if tasks_for_root(root) is None:
            raise UirbenchError(
                f"--tasks-file {tasks_file}: {root} was built with the ten built-in tasks; drop "
                "--tasks-file (a root built with a task file brings its own)"
            )
    with using(load_task_file(tasks_file)):
        yield


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
        raise UirbenchError(f"--workers must be 0 (one per CPU core) or more, got {workers}")
    return workers or min(os.cpu_count() or 1, 8)
