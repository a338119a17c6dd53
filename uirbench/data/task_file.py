"""Task files: user-defined tasks (``--tasks-file``), validated line by line.

The format is described in :mod:`uirbench.tasks`. A task's ``synth`` chain is checked here,
against the operators and their parameters, so a typo stops the command before any work with
an error that names the file and line. A task's ``pairs`` (an upstream paired layout) are only
resolved to absolute folders here; whether they exist and match is checked when build-data plans
them (:func:`uirbench.data.plan.plan_pairs`), since every later command re-reads the root's copy
of the task file and must not need the user's source folders any more.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from uirbench.data.synth import OPS, default_step_text, operator_params
from uirbench.errors import UirbenchError
from uirbench.tasks import TASKS, Task, using

ROOT_TASKS_FILE = "tasks.yaml"  # a root's own task set, when it is not the built-in ten


_ROW_KEYS = {
    "id",
    "folder",
    "text",
    "synth",
    "pairs",
    "train_source",
    "train_count",
    "test_source",
    "test_count",
}
_FILE_KEYS = {"include_builtin", "tasks"}


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records each mapping's line, so errors can name it."""


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def _fail(path: Path, line: int | None, msg: str) -> UirbenchError:
    where = f"{path}:{line}" if line else str(path)
    return UirbenchError(f"{where}: {msg}")


def _synth_steps(path: Path, row: dict[str, Any], known_ops: Sequence[str]) -> tuple:
    steps = row.get("synth")
    line = row["__line__"]
    if not isinstance(steps, list) or not steps:
        raise _fail(path, line, f"task {row['id']!r}: synth must be a non-empty list of steps")
    out = []
    for step in steps:
        sline = step.get("__line__", line) if isinstance(step, dict) else line
        if not isinstance(step, dict) or "op" not in step:
            raise _fail(path, sline, "each synth step is a mapping with 'op' (and 'params')")
        extra = set(step) - {"op", "params", "__line__"}
        if extra:
            raise _fail(path, sline, f"unknown key(s) {', '.join(sorted(extra))} in a synth step")
        op = step["op"]
        if op not in known_ops:
            raise _fail(
                path, sline, f"unknown operator {op!r}; known: {', '.join(sorted(known_ops))}"
            )
        params = {k: v for k, v in (step.get("params") or {}).items() if k != "__line__"}
        allowed = operator_params(op)
        bad = sorted(set(params) - set(allowed))
        if bad:
            raise _fail(
                path,
                sline,
                f"operator {op!r} has no parameter {', '.join(map(repr, bad))}; "
                f"it takes: {', '.join(allowed) or 'none'}",
            )
        out.append((op, tuple(sorted(params.items()))))
    return tuple(out)


_PAIR_SPLITS = ("train", "val")


def _pair_dirs(path: Path, row: dict[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """``pairs: {lq: DIR, gt: DIR}`` (split by a seeded hash at build time) or
    ``pairs: {train: {lq, gt}, val: {lq, gt}}`` -> ((split, lq, gt), ...), folders made absolute
    (relative ones are relative to the task file, so the root's copy still finds them)."""
    spec, line, tid = row["pairs"], row["__line__"], row["id"]
    usage = "pairs is {lq: DIR, gt: DIR}, or {train: {lq: DIR, gt: DIR}, val: {lq: DIR, gt: DIR}}"

    def one(d: Any, split: str) -> tuple[str, str, str]:
        keys = set(d) - {"__line__"} if isinstance(d, dict) else set()
        if keys != {"lq", "gt"} or not all(isinstance(d[k], str) and d[k] for k in keys):
            sub_line = d.get("__line__", line) if isinstance(d, dict) else line
            raise _fail(path, sub_line, f"task {tid!r}: {usage}")
        lq, gt = (
            os.path.normpath(path.parent.absolute() / Path(d[k]).expanduser()) for k in ("lq", "gt")
        )
        return split, lq, gt

    if not isinstance(spec, dict):
        raise _fail(path, line, f"task {tid!r}: {usage}")
    keys = set(spec) - {"__line__"}
    if keys <= set(_PAIR_SPLITS) and keys:
        return tuple(one(spec[s], s) for s in _PAIR_SPLITS if s in spec)
    return (one(spec, ""),)


def load_task_file(path: str | Path) -> tuple[Task, ...]:
    """Read a task file (see the module docstring); every error names the file and line."""
    path = Path(path)
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except OSError as exc:
        raise _fail(path, None, f"cannot read the task file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise _fail(path, mark.line + 1 if mark else None, "not valid YAML") from exc
    if isinstance(doc, list):
        doc = {"tasks": doc, "__line__": 1}
    if not isinstance(doc, dict) or not isinstance(doc.get("tasks"), list):
        raise _fail(path, None, "expected a mapping with a 'tasks' list (or a list of tasks)")
    extra = set(doc) - _FILE_KEYS - {"__line__"}
    if extra:
        raise _fail(path, 1, f"unknown key(s) {', '.join(sorted(extra))}; use {sorted(_FILE_KEYS)}")
    tasks: list[Task] = list(TASKS) if doc.get("include_builtin", True) else []
    for row in doc["tasks"]:
        line = row.get("__line__") if isinstance(row, dict) else None
        if not isinstance(row, dict) or "id" not in row:
            raise _fail(path, line, "each task is a mapping with at least 'id'")
        unknown = set(row) - _ROW_KEYS - {"__line__"}
        if unknown:
            raise _fail(
                path,
                line,
                f"unknown key(s) {', '.join(sorted(unknown))} in task {row['id']!r}; "
                f"allowed: {', '.join(sorted(_ROW_KEYS))}",
            )
        tid = str(row["id"])
        folder = str(row.get("folder", tid))
        for name in (tid, folder):
            if not name or not all(c.isalnum() or c in "-_" for c in name):
                raise _fail(path, line, f"task name {name!r}: use letters, digits, - and _")
        taken = {t.id for t in tasks} | {t.folder for t in tasks}
        if tid in taken or (folder != tid and folder in taken):
            raise _fail(path, line, f"task {tid!r} (folder {folder!r}) is already defined")
        if ("synth" in row) == ("pairs" in row):
            raise _fail(
                path,
                line,
                f"task {tid!r}: give 'synth' (a chain of operators) or 'pairs' ({{lq: DIR, gt: "
                "DIR}, an upstream paired layout), one of the two",
            )
        steps = _synth_steps(path, row, list(OPS)) if "synth" in row else None
        pairs = _pair_dirs(path, row) if "pairs" in row else None
        text = row.get("text")
        if text is None:
            text = ", ".join(default_step_text(op) for op, _ in steps) if steps else folder
        tasks.append(
            Task(
                id=tid,
                folder=folder,
                train_source=str(row.get("train_source", "user")),
                train_count=int(row.get("train_count", 0)),
                test_source=str(row.get("test_source", "user")),
                test_count=int(row.get("test_count", 0)),
                text=str(text),
                synth=steps,
                pairs=pairs,
                origin=f"{path}:{line}",
            )
        )
    if not tasks:
        raise _fail(path, None, "no tasks (include_builtin is false and the list is empty)")
    return tuple(tasks)


def dump_task_file(tasks: Sequence[Task]) -> str:
    """The task file that reproduces ``tasks`` (a root's ``tasks.yaml``)."""
    builtin = list(tasks[: len(TASKS)]) == list(TASKS)
    own = tasks[len(TASKS) :] if builtin else tasks
    rows = []
    for t in own:
        row: dict[str, Any] = {"id": t.id, "folder": t.folder, "text": t.degradation}
        if t.pairs is not None:
            dirs = {split: {"lq": lq, "gt": gt} for split, lq, gt in t.pairs}
            row["pairs"] = dirs.get("", dirs)
        else:
            row["synth"] = [{"op": op, "params": dict(p)} for op, p in (t.synth or ())]
        rows.append(row)
    return yaml.safe_dump({"include_builtin": builtin, "tasks": rows}, sort_keys=False)


def tasks_for_root(root: str | Path) -> tuple[Task, ...] | None:
    """The task set a root was built with (None: the built-in ten)."""
    path = Path(root) / ROOT_TASKS_FILE
    return load_task_file(path) if path.is_file() else None


def same_tasks(a: Sequence[Task] | None, b: Sequence[Task] | None) -> bool:
    """Whether two task sets define the same tasks: ids, folders, degradation texts and synth
    chains in the same order. A root's ``tasks.yaml`` keeps only these (not the informative
    sources and counts), so comparing whole :class:`Task` objects would refuse a resume."""

    def key(ts: Sequence[Task] | None) -> list[tuple[Any, ...]] | None:
        return None if ts is None else [(t.id, t.folder, t.degradation, t.synth) for t in ts]

    return key(a) == key(b)


def resolve_task_set(root: str | Path, tasks_file: str | Path | None) -> tuple[Task, ...] | None:
    """The task set for a command on ``root``: the root's own, or ``tasks_file``; never both
    when they differ (a root's class indices, tables and shards follow one task set)."""
    own = tasks_for_root(root)
    given = load_task_file(tasks_file) if tasks_file is not None else None
    if own is not None and given is not None and not same_tasks(own, given):
        raise UirbenchError(
            f"{Path(root) / ROOT_TASKS_FILE}: this root was built with other tasks than "
            f"{tasks_file}; use the root's task file, or build into a new root"
        )
    return own if given is None else given


F = TypeVar("F", bound=Callable[..., Any])


def with_root_tasks(fn: F) -> F:
    """Run ``fn`` with the task set of its ``root`` argument in force (a root built with a task
    file has its own classes). The one decorator every entry point that reads a root wears."""
    sig = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        root = sig.bind_partial(*args, **kwargs).arguments.get("root")
        with using(tasks_for_root(root) if root is not None else None):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
