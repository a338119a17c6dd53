"""The ten tasks of the DA-CLIP benchmark, loaded from ``tasks.yaml`` (facts are data).

Task order is the paper's (Table 1) and defines the class index (``cls``) in the shards.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from uirbench.errors import InvalidNameError


@dataclass(frozen=True)
class Task:
    id: str
    folder: str
    train_source: str
    train_count: int
    test_source: str
    test_count: int

    @property
    def index(self) -> int:
        """Class index: position in the paper's task order."""
        return TASK_IDS.index(self.id)

    @property
    def degradation(self) -> str:
        """Degradation text: the official folder name, as the official DA-CLIP data uses it."""
        return self.folder


@cache
def _load() -> tuple[Task, ...]:
    text = resources.files("uirbench").joinpath("tasks.yaml").read_text()
    return tuple(Task(**row) for row in yaml.safe_load(text))


TASKS: tuple[Task, ...] = _load()
TASK_IDS: tuple[str, ...] = tuple(t.id for t in TASKS)
_BY_KEY = {t.id: t for t in TASKS} | {t.folder: t for t in TASKS}


def get_task(name: str) -> Task:
    """Look a task up by id (``jpeg``) or official folder name (``jpeg-compressed``)."""
    try:
        return _BY_KEY[name]
    except KeyError:
        raise InvalidNameError(
            f"unknown task {name!r}; known tasks: {', '.join(TASK_IDS)} "
            f"(official folder names are accepted too)"
        ) from None


def parse_tasks(spec: str | None) -> list[Task]:
    """Parse a comma-separated ``--tasks`` value; ``None``/``all`` means all ten, in paper order."""
    if spec is None or spec.strip() in ("", "all"):
        return list(TASKS)
    wanted = {get_task(s.strip()).id for s in spec.split(",") if s.strip()}
    return [t for t in TASKS if t.id in wanted]
