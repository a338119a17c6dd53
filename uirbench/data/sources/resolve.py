"""From the benchmark manifest to ready pairs: one call per (task, split) for the builder.

Why: ``uirbench/manifests/uir10.yaml`` says which sources, adapter options and synthesis make
each task and split; this joins it with :func:`uirbench.data.fetch.ensure_source` (fetch +
verify) and the adapters, so the builder gets verified, name-matched pairs plus the synthesis
to apply.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from uirbench.data.fetch import Progress, ensure_source
from uirbench.data.manifest import load_benchmark, load_source
from uirbench.data.sources import get_adapter, list_masks
from uirbench.data.sources.common import SourcePair
from uirbench.errors import UirbenchError
from uirbench.tasks import get_task


@dataclass(frozen=True)
class SplitPairs:
    """Everything needed to build one task x split of a benchmark."""

    task: str
    split: str
    pairs: list[tuple[str, SourcePair]]  # (source name, pair), sorted by stem
    synth: str | None = None  # op name, None for real paired data
    params: dict[str, Any] = field(default_factory=dict)  # op keyword arguments
    masks: list[Path] = field(default_factory=list)  # inpainting mask files, when mask_bank is set
    # (source name, folder) of measured PSF banks (psf.pkl, ucdpsf.pkl), when psf_bank is set
    psf: tuple[str, Path] | None = None
    synth_input: str = "gt"  # what the synthesis degrades: the GT, or the source's own LQ
    expected_count: int | None = None  # the paper's count (a check, not a limit)


def benchmark_pairs(
    task: str,
    split: str,
    raw_root: str | os.PathLike,
    mirror: str | os.PathLike | None = None,
    *,
    benchmark: str = "uir10",
    allow_download: bool = True,
    manifests: str | os.PathLike | None = None,
    progress: Progress | None = None,
) -> SplitPairs:
    """Fetch (or reuse) the sources of ``task``/``split`` and return its pairs and synthesis."""
    task_id = get_task(task).id
    bench_tasks = load_benchmark(benchmark, manifests)["tasks"]
    spec = bench_tasks.get(task_id, {}).get(split)
    if spec is None:
        raise UirbenchError(
            f"benchmark {benchmark!r} has no {task_id}/{split} entry; its tasks: "
            f"{', '.join(bench_tasks)} (check --tasks)"
        )
    pairs: list[tuple[str, SourcePair]] = []
    for entry in spec["sources"]:
        name = entry["source"]
        src_dir = ensure_source(
            name,
            raw_root,
            mirror,
            manifests=manifests,
            allow_download=allow_download,
            progress=progress,
        )
        adapter = get_adapter(load_source(name, manifests).adapter)
        pairs += [(name, p) for p in adapter(src_dir, split, **entry.get("options", {}))]
    stems = [p.stem for _, p in pairs]
    if len(set(stems)) != len(stems):
        dup = sorted({s for s in stems if stems.count(s) > 1})[:5]
        raise UirbenchError(f"{task_id}/{split}: sources give the same stems {dup}")
    pairs.sort(key=lambda sp: sp[1].stem)
    synth = spec.get("synth")
    params = dict(synth["params"]) if synth else {}
    masks: list[Path] = []
    bank = params.pop("mask_bank", None)
    if bank:
        bank_dir = ensure_source(
            bank,
            raw_root,
            mirror,
            manifests=manifests,
            allow_download=allow_download,
            progress=progress,
        )
        masks = list_masks(bank_dir)
    psf = None
    psf_bank = params.pop("psf_bank", None)
    if psf_bank:
        psf_dir = ensure_source(
            psf_bank,
            raw_root,
            mirror,
            manifests=manifests,
            allow_download=allow_download,
            progress=progress,
        )
        psf = (psf_bank, psf_dir)
    synth_input = synth.get("input", "gt") if synth else "gt"
    if synth_input == "lq" and any(p.lq is None for _, p in pairs):
        raise UirbenchError(
            f"benchmark {benchmark!r} {task_id}/{split}: synth input 'lq' needs paired sources "
            "(a source here has no LQ)"
        )
    return SplitPairs(
        task=task_id,
        split=split,
        pairs=pairs,
        synth=synth["op"] if synth else None,
        params=params,
        masks=masks,
        psf=psf,
        synth_input=synth_input,
        expected_count=spec.get("count"),
    )
