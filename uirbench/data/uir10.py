"""Plan a benchmark preset from its manifest: ``--preset uir10`` (``uirbench/manifests/uir10.yaml``,
the paper's), ``aio3`` (the AirNet / PromptIR three-task setting, ``aio3.yaml``).

Each (task, split) comes from :func:`uirbench.data.sources.resolve.benchmark_pairs`, which fetches
and verifies the sources (mirror first) and pairs their files by name. A task whose sources are
missing fails with the message saying what to download by hand and where to put it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from uirbench.data.fetch import Progress, ensure_source
from uirbench.data.jobs import PairJob
from uirbench.data.manifest import load_benchmark, manifests_dir
from uirbench.data.plan import Plan
from uirbench.data.sources import get_adapter
from uirbench.data.sources.resolve import benchmark_pairs
from uirbench.data.synth import pair_seed
from uirbench.data.synth.masks import load_mask_files
from uirbench.data.synth.wild import PsfBanks, load_psf_pickle
from uirbench.errors import UirbenchError
from uirbench.tasks import Task


def preset_tasks_file(name: str) -> Path | None:
    """The task file of a benchmark preset (its manifest's ``tasks_file``); None: the ten."""
    rel = load_benchmark(name).get("tasks_file")
    return manifests_dir() / rel if rel else None


def plan_uir10(
    tasks: Sequence[Task],
    splits: Sequence[str],
    seed: int,
    raw_root: Path,
    mirror: str | Path | None,
    benchmark: str = "uir10",
    progress: Progress | None = None,
) -> Plan:
    """Jobs of ``benchmark`` (any benchmark manifest; uir10 by default) for tasks x splits."""
    plan = Plan(jobs=[])
    for task in tasks:
        for split in splits:
            sp = benchmark_pairs(
                task.id, split, raw_root, mirror, benchmark=benchmark, progress=progress
            )
            bank = None
            if sp.masks:
                bank = f"{task.id}/{split}"
                plan.context["masks"][bank] = load_mask_files(sp.masks)
            psf = None
            if sp.psf is not None:
                psf = sp.psf[0]
                if psf not in plan.context["psf"]:
                    plan.context["psf"][psf] = load_psf_banks(sp.psf[1])
            # an upstream LQ is used as it is, or (synth input: lq) degraded further
            with_lq = not sp.synth or sp.synth_input == "lq"
            for source, pair in sp.pairs:
                plan.jobs.append(
                    PairJob(
                        split=split,
                        task=task.id,
                        stem=pair.stem,
                        source=source,
                        source_image=pair.source_image,
                        gt_file=str(pair.gt),
                        lq_file=str(pair.lq) if pair.lq and with_lq else None,
                        synth=sp.synth or "paired",
                        params=sp.params,
                        seed=pair_seed(seed, split, task.id, pair.stem) if sp.synth else 0,
                        mask_bank=bank,
                        psf_bank=psf,
                    )
                )
    return plan


def load_psf_banks(folder: Path) -> PsfBanks:
    """The official measured PSFs of the wild degradation from a fetched source folder:
    ``psf.pkl`` (motion) and ``ucdpsf.pkl`` (under-display camera), numpy arrays only."""
    return PsfBanks(
        motion=load_psf_pickle(folder / "psf.pkl"), udc=load_psf_pickle(folder / "ucdpsf.pkl")
    )


def plan_daclip_val(
    tasks: Sequence[Task],
    splits: Sequence[str],
    raw_root: Path,
    mirror: str | Path | None,
    progress: Progress | None = None,
) -> Plan:
    """The official validation zip (``--preset daclip-val``): the paper's exact test pairs.

    The only way to score on the very LQ images the paper used (its noisy and JPEG LQ were made
    unseeded). Validation only; pairs are copied as they are (PNG bytes kept).
    """
    if list(splits) != ["val"]:
        raise UirbenchError("--preset daclip-val holds validation sets only: use --splits val")
    src_dir = ensure_source("daclip_val", raw_root, mirror, progress=progress)
    adapter = get_adapter("daclip_val")
    plan = Plan(jobs=[])
    for task in tasks:
        for pair in adapter(src_dir, "val", task=task.id):
            plan.jobs.append(
                PairJob(
                    split="val",
                    task=task.id,
                    stem=pair.stem,
                    source="daclip_val",
                    source_image=pair.source_image,
                    gt_file=str(pair.gt),
                    lq_file=str(pair.lq),
                )
            )
    return plan
