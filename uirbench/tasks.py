"""The benchmark's tasks: the ten of DA-CLIP (``tasks.yaml``, facts are data) and user task files.

Task order is the paper's (Table 1) and defines the class index (``cls``) in the shards.

A *task file* (``--tasks-file my_tasks.yaml``) adds tasks of the user's own, or replaces the ten::

    include_builtin: true          # the ten first (default), then these
    tasks:
      - id: blur-rain              # id used in tables and on the command line
        folder: blurry-rainy       # on-disk folder name (default: the id)
        text: motion-blurry, rainy # DA-CLIP degradation text (default: the steps' task texts)
        synth:                     # a chain of seeded synthesis operators, applied in order
          - {op: motion_blur}
          - {op: rain_streaks, params: {}}
      - id: my-derain              # or an upstream paired layout instead of a chain:
        text: rainy
        pairs: {lq: real/rainy, gt: real/clean}   # name-matched; relative to the task file

Task files are read by :mod:`uirbench.data.task_file` (it validates the operators, which live in
the data layer). A root built with a task file keeps a copy as ``<root>/tasks.yaml``, and every
command that reads the root puts it in force, so class indices, tables and radar axes agree with
the data. Which task set is in force is process state entered with :func:`using`, not a
setting threaded through every signature: a command enters it once, from ``--tasks-file`` or
the root.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from uirbench.errors import InvalidNameError


@dataclass(frozen=True)
class Task:
    id: str
    folder: str
    train_source: str = "user"
    train_count: int = 0
    test_source: str = "user"
    test_count: int = 0
    text: str | None = None  # degradation text; None: the official folder name
    # (operator, params) steps for synthesis from clean photos; None: the built-in operator
    synth: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] | None = field(default=None)
    # (split, LQ folder, GT folder) of an upstream paired layout, absolute; split "" means the
    # pairs are split into train/val by a seeded hash of their names. None: not a paired task.
    pairs: tuple[tuple[str, str, str], ...] | None = field(default=None)
    # where the task was defined ("my_tasks.yaml:7"), for errors found later (at build time)
    origin: str | None = field(default=None, compare=False)

    @property
    def index(self) -> int:
        """Class index: position in the task set in force (the paper's order for the ten)."""
        return task_ids().index(self.id)

    @property
    def degradation(self) -> str:
        """Degradation text: the official folder name, as the official DA-CLIP data uses it;
        a user task's own ``text``."""
        return self.text if self.text is not None else self.folder

    @property
    def builtin(self) -> bool:
        return self.id in TASK_IDS and _BUILTIN_BY_ID[self.id] == self

    def synth_steps(self) -> list[tuple[str, dict[str, Any]]] | None:
        return None if self.synth is None else [(op, dict(p)) for op, p in self.synth]


@cache
def _load() -> tuple[Task, ...]:
    text = resources.files("uirbench").joinpath("tasks.yaml").read_text()
    return tuple(Task(**row) for row in yaml.safe_load(text))


TASKS: tuple[Task, ...] = _load()  # the ten of the paper, always (paper tables use these)
TASK_IDS: tuple[str, ...] = tuple(t.id for t in TASKS)
_BUILTIN_BY_ID = {t.id: t for t in TASKS}

# The task set in force for this process (threads included: the shard writer's pool reads it).
_active: tuple[Task, ...] = TASKS


def all_tasks() -> tuple[Task, ...]:
    """The task set in force: the built-in ten unless a task file or a root says otherwise."""
    return _active


def task_ids() -> tuple[str, ...]:
    return tuple(t.id for t in all_tasks())


@contextlib.contextmanager
def using(tasks: Sequence[Task] | None) -> Iterator[tuple[Task, ...]]:
    """Put ``tasks`` in force inside the block (None: leave the current set)."""
    global _active
    previous = _active
    if tasks is not None:
        _active = tuple(tasks)
    try:
        yield _active
    finally:
        _active = previous


def activate(tasks: Sequence[Task] | None) -> None:
    """Put ``tasks`` in force for the rest of this process (spawned build workers)."""
    global _active
    if tasks is not None:
        _active = tuple(tasks)


def get_task(name: str) -> Task:
    """Look a task up by id (``jpeg``) or official folder name (``jpeg-compressed``)."""
    for t in all_tasks():
        if name in (t.id, t.folder):
            return t
    raise InvalidNameError(
        f"unknown task {name!r}; known tasks: {', '.join(task_ids())} "
        f"(official folder names are accepted too; user tasks come from --tasks-file)"
    )


def parse_tasks(spec: str | None) -> list[Task]:
    """Parse a comma-separated ``--tasks`` value; ``None``/``all`` means every task in force."""
    if spec is None or spec.strip() in ("", "all"):
        return list(all_tasks())
    wanted = {get_task(s.strip()).id for s in spec.split(",") if s.strip()}
    return [t for t in all_tasks() if t.id in wanted]
