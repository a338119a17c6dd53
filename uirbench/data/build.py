"""``uirbench build-data``: run a plan's pair jobs in worker processes, resumably, then write the
index and the shards.

Resumability: each finished pair is appended (with its job fingerprint) to a journal under
``<root>/.uirbench/``. A rerun reuses a journal entry only if the job is unchanged and both files
still hash to the recorded sha256 ("verified work"); everything else is rebuilt. The index and
shards are written last, atomically, and the journal is then removed. With ``--shard i/n`` only
every n-th job (offset i) is built and the index is not written: a final run without ``--shard``
finds all parts verified and writes the index and shards.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import multiprocessing as mp
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uirbench.data import jobs as jobs_mod
from uirbench.data.index import read_index, records, to_table, write_index
from uirbench.data.jobs import PairJob
from uirbench.data.layout import INDEX_NAME, SPLITS, STATE_DIR
from uirbench.data.plan import Plan, plan_demo, plan_folder, plan_pairs
from uirbench.data.shards import DEFAULT_MAXCOUNT, write_shards
from uirbench.data.task_file import (
    ROOT_TASKS_FILE,
    dump_task_file,
    resolve_task_set,
    tasks_for_root,
)
from uirbench.data.uir10 import plan_daclip_val, plan_uir10, preset_tasks_file
from uirbench.errors import UirbenchError
from uirbench.io import atomic_write_bytes, remove_stale_temporaries, sha256_file
from uirbench.lock import folder_lock, remove_part_locks
from uirbench.tasks import Task, all_tasks, parse_tasks, using

PRESETS = ("demo", "uir10", "aio3", "aio5", "cdd11", "daclip-mix", "wild", "daclip-val")
# Presets built from a benchmark manifest (uirbench/manifests/<name>.yaml). A setting other than
# uir10 names its own task set (the manifest's ``tasks_file``), which the root keeps like a
# user's --tasks-file: its tasks are the default --tasks and every later command's tasks.
BENCHMARK_PRESETS = ("uir10", "aio3", "aio5", "cdd11", "daclip-mix", "wild")


@dataclass
class BuildReport:
    root: Path
    built: int = 0
    reused: int = 0
    seconds: float = 0.0
    pairs_seconds: float = 0.0  # of which: making the pairs (workers included)
    finalize_seconds: float = 0.0  # of which: index and shards
    counts: dict[tuple[str, str], int] = field(default_factory=dict)  # (task, split) -> pairs
    partial: bool = False  # --shard i/n: index and shards not written
    task_order: list[str] = field(default_factory=list)  # the tasks built, in class order

    @property
    def pairs_per_second(self) -> float:
        return self.built / self.seconds if self.seconds > 0 else 0.0


def parse_shard(spec: str | None) -> tuple[int, int]:
    """``"i/n"`` -> (i, n) with 0 <= i < n; None -> (0, 1)."""
    if not spec:
        return 0, 1
    try:
        i, n = (int(x) for x in spec.split("/"))
    except ValueError:
        raise UirbenchError(f"--shard {spec!r}: expected i/n, e.g. 0/4") from None
    if not 0 <= i < n:
        raise UirbenchError(f"--shard {spec!r}: need 0 <= i < n")
    return i, n


def make_plan(
    preset: str | None,
    from_dir: str | Path | None,
    tasks: Sequence[Task],
    splits: Sequence[str],
    seed: int,
    raw_root: Path,
    mirror: str | Path | None,
    val_fraction: float = 0.2,
    download_progress: Callable[[str, int, int | None], None] | None = None,
) -> Plan:
    paired = [t for t in tasks if t.pairs is not None]
    if paired:  # a task file's paired layouts: planned alike whatever makes the other tasks
        plan = plan_pairs(paired, splits, seed, val_fraction)
        rest = [t for t in tasks if t.pairs is None]
        if preset is None and from_dir is None:
            if not rest:
                return plan
            raise UirbenchError(
                f"tasks {', '.join(t.id for t in rest)} are synthesised or come from a preset: "
                f"give --preset or --from DIR for them, or build only the paired tasks with "
                f"--tasks {','.join(t.id for t in paired)}"
            )
        other = make_plan(
            preset, from_dir, rest, splits, seed, raw_root, mirror, val_fraction, download_progress
        )
        other.jobs += plan.jobs
        return other
    if (preset is None) == (from_dir is None):
        raise UirbenchError(f"give exactly one of --preset ({', '.join(PRESETS)}) or --from DIR")
    if from_dir is not None:
        return plan_folder(Path(from_dir), tasks, splits, seed, val_fraction)
    if preset == "demo":
        return plan_demo(tasks, splits, seed)
    if preset in BENCHMARK_PRESETS:
        return plan_uir10(
            tasks, splits, seed, raw_root, mirror, benchmark=preset, progress=download_progress
        )
    if preset == "daclip-val":
        return plan_daclip_val(tasks, splits, raw_root, mirror, progress=download_progress)
    raise UirbenchError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")


def _journal_paths(root: Path) -> list[Path]:
    return sorted((root / STATE_DIR).glob("journal*.jsonl"))


def _load_journal(root: Path) -> dict[str, dict[str, Any]]:
    """fingerprint -> row, from every journal under the root (torn last lines are ignored)."""
    done: dict[str, dict[str, Any]] = {}
    for path in _journal_paths(root):
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
                done[entry["fp"]] = entry["row"]
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut short by a kill
    return done


def _existing_index_rows(root: Path) -> dict[str, dict[str, Any]]:
    if not (root / INDEX_NAME).is_file():
        return {}
    return {r["key"]: r for r in records(read_index(root))}


def _verified(root: Path, row: dict[str, Any]) -> bool:
    lq, gt = root / row["lq_path"], root / row["gt_path"]
    return (
        lq.is_file()
        and gt.is_file()
        and sha256_file(lq) == row["lq_sha256"]
        and sha256_file(gt) == row["gt_sha256"]
    )


def _run_parallel(
    todo: list[PairJob],
    root: Path,
    plan: Plan,
    workers: int,
    on_row: Callable[[PairJob, dict[str, Any]], None],
) -> None:
    """Run the jobs grouped by shared GT (each GT decoded once per group) on ``workers``
    processes: this one and ``workers - 1`` spawned children.

    The parent works too, rather than only waiting on its children: one process fewer to spawn
    (each needs ~0.2 s to import numpy and OpenCV), and no core left to a process that only
    waits. Children take chunks of groups from the front of the queue, the parent single groups
    from the back, so the two meet without idle time at the end. (Creating the pool on a helper
    thread, so that the parent would work through Pool()'s ~0.45 s start-up, was measured and
    bought nothing; BENCHMARKS.md, build-data.)
    """
    groups: dict[tuple[Any, ...], list[PairJob]] = {}
    for job in todo:
        groups.setdefault(jobs_mod.gt_identity(job), []).append(job)
    work: deque[list[PairJob]] = deque(groups.values())
    jobs_mod.init_worker(plan.context)
    children = min(workers, len(work)) - 1

    def run_here(group: list[PairJob]) -> None:
        for job, row in zip(group, jobs_mod.run_group(group, str(root)), strict=True):
            on_row(job, row)

    if children <= 0:
        while work:
            run_here(work.popleft())
        return
    # spawn, not fork: a fork after OpenCV has started its thread pool can deadlock the child.
    ctx = mp.get_context("spawn")
    chunk = max(1, min(8, len(work) // (children * 8)))
    in_flight: deque[tuple[list[list[PairJob]], Any]] = deque()
    with ctx.Pool(children, initializer=jobs_mod.init_worker, initargs=(plan.context,)) as pool:
        while work or in_flight:
            while work and len(in_flight) < 2 * children:  # keep every child busy
                part = [work.popleft() for _ in range(min(chunk, len(work)))]
                in_flight.append((part, pool.apply_async(_run_chunk, (part, str(root)))))
            while in_flight and (in_flight[0][1].ready() or not work):
                part, result = in_flight.popleft()
                for group, rows in zip(part, result.get(), strict=True):
                    for job, row in zip(group, rows, strict=True):
                        on_row(job, row)
            if work:
                run_here(work.pop())


def _run_chunk(groups: list[list[PairJob]], root: str) -> list[list[dict[str, Any]]]:
    return [jobs_mod.run_group(group, root) for group in groups]


def _holding_the_root_lock(fn: Callable[..., BuildReport]) -> Callable[..., BuildReport]:
    """Run ``build`` holding its root's lock (:mod:`uirbench.lock`): exclusive for a whole
    build, shared plus the part's own lock for ``--shard i/n``, so parts run together but
    nothing else writes the root meanwhile. Taken before the plan, which may download into it."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> BuildReport:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        shard_i, shard_n = parse_shard(bound.arguments["shard"])
        part = f"{shard_i}/{shard_n}" if shard_n > 1 else None
        what = f"building part {part} of it" if part else "building it"
        with folder_lock(bound.arguments["root"], what, part=part):
            return fn(*args, **kwargs)

    return wrapper


def build(
    root: str | Path, *args: Any, tasks_file: str | Path | None = None, **kw: Any
) -> BuildReport:
    """Build (or resume building) a dataset root; see :func:`_build` for the arguments.

    ``tasks_file``: user tasks (:mod:`uirbench.data.task_file`); the root keeps a copy, and a
    root built with one task set refuses a different one (class indices would change meaning).
    """
    if tasks_file is None and kw.get("preset") in BENCHMARK_PRESETS:
        tasks_file = preset_tasks_file(kw["preset"])
    # A build of the ten: its rows would be kept beside another task set's, under other classes.
    ten_built = (Path(root) / INDEX_NAME).is_file() and tasks_for_root(root) is None
    if tasks_file is not None and ten_built:
        what = f"--preset {kw['preset']}" if kw.get("preset") else "--tasks-file"
        raise UirbenchError(
            f"{root} holds a build of the ten built-in tasks; build {what} into a new --root"
        )
    task_set = resolve_task_set(root, tasks_file)
    with using(task_set):
        if task_set is not None:
            Path(root).mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(Path(root) / ROOT_TASKS_FILE, dump_task_file(task_set).encode())
        return _build(root, *args, **kw)


@_holding_the_root_lock
def _build(
    root: str | Path,
    preset: str | None = None,
    from_dir: str | Path | None = None,
    tasks: str | Sequence[str] | None = None,
    splits: str | Sequence[str] | None = None,
    seed: int = 0,
    workers: int | None = None,
    shard: str | None = None,
    mirror: str | Path | None = None,
    raw_root: str | Path | None = None,
    val_fraction: float = 0.2,
    shard_maxcount: int = DEFAULT_MAXCOUNT,
    progress: Callable[[int, int], None] | None = None,
    png: str = "compressed",
    download_progress: Callable[[str, int, int | None], None] | None = None,
) -> BuildReport:
    """Build (or resume building) a dataset root. Returns counts and timing.

    ``png``: ``compressed`` or ``stored`` (see :data:`uirbench.data.jobs.PNG_MODES`); part of
    each job's fingerprint, so a resume with the other mode rebuilds rather than mixes them.

    ``progress(done, total)`` is called after each pair (the CLI draws a progress bar with it);
    ``download_progress(file name, bytes done, bytes total or None)`` as upstream files arrive.
    """
    root = Path(root)
    task_list = parse_tasks(tasks if isinstance(tasks, str) or tasks is None else ",".join(tasks))
    split_list = _parse_splits(splits)
    shard_i, shard_n = parse_shard(shard)
    if png not in jobs_mod.PNG_MODES:
        raise UirbenchError(f"--png {png!r}: choose one of {', '.join(jobs_mod.PNG_MODES)}")
    raw = Path(raw_root) if raw_root else Path(os.environ.get("UIRBENCH_RAW", root / ".raw"))
    plan = make_plan(
        preset, from_dir, task_list, split_list, seed, raw, mirror, val_fraction, download_progress
    )
    plan.context["tasks"] = all_tasks()
    keys = [j.key for j in plan.jobs]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise UirbenchError(f"two pairs map to the same name {dup}; check the source folders")
    mine = sorted(plan.jobs, key=lambda j: j.key)[shard_i::shard_n]
    if png != "compressed":
        mine = [dataclasses.replace(j, png=png) for j in mine]

    # Under the exclusive lock no other writer runs, so every temporary is left over; a part
    # removes only those of dead processes on this host (never a running part's).
    remove_stale_temporaries(root, exclusive=shard_n == 1)
    previous = _existing_index_rows(root)
    # Verified work: pairs of a finished build (index rows) and of an interrupted one (journal).
    journal_done = {r["job"]: r for r in previous.values() if r.get("job")}
    journal_done.update(_load_journal(root))
    report = BuildReport(root=root, partial=shard_n > 1, task_order=[t.id for t in task_list])
    rows: dict[str, dict[str, Any]] = {}
    todo: list[PairJob] = []
    for job in mine:
        row = journal_done.get(job.fingerprint())
        if row is not None and _verified(root, row):
            rows[job.key] = row
        else:
            todo.append(job)
    report.reused = len(rows)

    state = root / STATE_DIR
    state.mkdir(exist_ok=True)
    suffix = f"-{shard_i}of{shard_n}" if shard_n > 1 else ""
    start = time.perf_counter()
    with open(state / f"journal{suffix}.jsonl", "a") as journal:

        def on_row(job: PairJob, row: dict[str, Any]) -> None:
            journal.write(json.dumps({"fp": job.fingerprint(), "row": row}) + "\n")
            journal.flush()
            rows[job.key] = row
            report.built += 1
            if progress:
                progress(len(rows), len(mine))

        if progress:
            progress(len(rows), len(mine))
        _run_parallel(todo, root, plan, workers or min(os.cpu_count() or 1, 8), on_row)
    report.pairs_seconds = time.perf_counter() - start

    if not report.partial:
        # Keep rows of (split, task) pairs this build did not cover, and captions of unchanged GTs.
        built = {(j.split, j.task) for j in plan.jobs}
        for key, old in previous.items():
            if (old["split"], old["task"]) not in built:
                rows.setdefault(key, old)
            elif key in rows and old.get("caption") and old["gt_sha256"] == rows[key]["gt_sha256"]:
                rows[key]["caption"] = old["caption"]
        table = to_table(rows.values())
        write_index(root, table)
        write_shards(
            # check=False: every pair was just written, or hashed above, under the root's lock
            root,
            table.to_pandas(),
            maxcount=shard_maxcount,
            workers=workers or 0,
            check=False,
        )
        for path in _journal_paths(root):
            path.unlink()
        remove_part_locks(root)
        if not any(state.iterdir()):
            state.rmdir()
        _remove_orphans(root, rows.values())
    report.seconds = time.perf_counter() - start
    report.finalize_seconds = report.seconds - report.pairs_seconds
    for row in (rows[j.key] for j in mine):
        k = (row["task"], row["split"])
        report.counts[k] = report.counts.get(k, 0) + 1
    return report


def _parse_splits(splits: str | Sequence[str] | None) -> list[str]:
    if splits is None:
        return list(SPLITS)
    items = splits.split(",") if isinstance(splits, str) else list(splits)
    items = [s.strip() for s in items if s.strip()]
    bad = [s for s in items if s not in SPLITS]
    if bad:
        raise UirbenchError(f"--splits: unknown split(s) {', '.join(bad)}; use train, val")
    return items


def _remove_orphans(root: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Delete pair files under the layout that no index row names (left by an older build)."""
    keep = set()
    for r in rows:
        keep.add(r["lq_path"])
        keep.add(r["gt_path"])
    for split in SPLITS:
        for path in (root / split).rglob("*.png") if (root / split).is_dir() else ():
            if path.relative_to(root).as_posix() not in keep:
                path.unlink()
