"""``uirbench.evaluate.run``: score a model or a folder of outputs on the val split of a root.

Pipeline: index rows -> (model: LQ batches of one size restored on the device, quantised to uint8
| outputs: files paired by name) -> per-pair scores (own PSNR/SSIM on a thread pool, pyiqa FR
metrics batched on the device) -> per-task FID from features (GT features computed once) -> the
files written by :mod:`uirbench.evaluate.results`. Images are decoded in DataLoader worker
processes so decoding overlaps scoring.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from uirbench.data.index import read_index
from uirbench.data.layout import INDEX_NAME
from uirbench.data.manifest import BENCHMARK_NAMES, load_benchmark
from uirbench.data.task_file import load_task_file, same_tasks, tasks_for_root, with_root_tasks
from uirbench.data.trust import read_pair_file
from uirbench.data.uir10 import preset_tasks_file
from uirbench.errors import UirbenchError
from uirbench.evaluate import results as res
from uirbench.evaluate.feature_cache import FeatureCache, default_cache_dir
from uirbench.evaluate.folders import folder_rows, listing_sha256
from uirbench.evaluate.journal import JOURNAL_NAME, Journal, fingerprint
from uirbench.evaluate.metrics import DATASET_LEVEL, OWN
from uirbench.evaluate.metrics.fid import frechet_distance
from uirbench.evaluate.metrics.pyiqa_metric import (
    FidFeatures,
    PyiqaFullReference,
    missing_weights,
    missing_weights_message,
)
from uirbench.evaluate.metrics.ssim_skimage import ssim_skimage
from uirbench.evaluate.pairing import Pair, conversion_warnings, pair_outputs
from uirbench.evaluate.profiles import Profile, get_profile
from uirbench.io import decode_image, read_image, sha256_file, write_png
from uirbench.progress import count_bars
from uirbench.tasks import all_tasks, parse_tasks


def setting_profile(setting: str) -> str:
    """The metric profile a benchmark's published numbers use (its manifest's ``profile``)."""
    if setting not in BENCHMARK_NAMES:
        raise UirbenchError(
            f"--preset {setting!r}: not a benchmark; use {', '.join(BENCHMARK_NAMES)}"
        )
    return load_benchmark(setting).get("profile", "daclip")


def check_setting_root(root: Path, setting: str) -> None:
    """Refuse a root that was not built as ``setting`` (another task set: other test sets)."""
    setting_profile(setting)  # a known benchmark
    want_file = preset_tasks_file(setting)
    want = load_task_file(want_file) if want_file else None

    if not same_tasks(tasks_for_root(root), want):
        raise UirbenchError(
            f"--preset {setting}: {root} was not built with --preset {setting} (its tasks.yaml "
            f"differs); build it with `uirbench build-data --preset {setting} --root DIR`"
        )


def score_pair(
    output: np.ndarray, gt: np.ndarray, profile: Profile, metrics: Sequence[str] = ("psnr", "ssim")
) -> dict[str, float]:
    """uirbench's own metrics of one uint8 RGB pair under a profile (crop, colour space)."""
    if output.shape != gt.shape:
        raise ValueError(f"output {output.shape} and GT {gt.shape} differ in size")
    a, b = profile.prepare(output), profile.prepare(gt)
    own = {**OWN, "ssim": ssim_skimage} if profile.ssim == "skimage" else OWN
    return {m: own[m](a, b) for m in metrics}


def parse_metrics(spec: str | Sequence[str] | None, profile: Profile) -> list[str]:
    if spec is None:
        return list(profile.default_metrics)
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [n.strip().lower() for n in names if n.strip()]
    if not names:
        raise UirbenchError("--metrics is empty; e.g. --metrics psnr,ssim,lpips")
    return list(dict.fromkeys(names))


@dataclass
class _Item:
    key: str
    task: str
    stem: str
    output: np.ndarray  # uint8 HxWx3
    gt: np.ndarray


# An image to read: a path (an output, untrusted) or (root, relative path, sha256) for a file
# of the root, whose bytes must hash to the index's sha256 (verify before trust).
_Src = str | tuple[str, str, str]


def _read(src: _Src) -> np.ndarray:
    if isinstance(src, tuple):
        root, rel, sha = src
        return decode_image(read_pair_file(root, rel, sha), Path(root) / rel)
    return read_image(src)


class _PairFiles:
    """Dataset of (output, GT) images (see ``_Src``) decoded in worker processes."""

    def __init__(self, pairs: list[tuple[_Src, _Src]]):
        self.pairs = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray] | UirbenchError:
        a, b = self.pairs[i]
        try:
            return _read(a), _read(b)
        except UirbenchError as exc:  # raised by _loader: no worker traceback in the message
            return exc


def _as_is(x: Any) -> Any:
    """Module-level (picklable under the spawn start method): keep numpy arrays as they are."""
    return x


def _loader(
    pairs: list[tuple[_Src, _Src]], workers: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    # Decoding processes come from torch's DataLoader; a core install (no torch) decodes inline.
    if workers <= 0 or importlib.util.find_spec("torch") is None:
        for a, b in pairs:
            yield _read(a), _read(b)
        return
    from torch.utils.data import DataLoader

    dl = DataLoader(
        _PairFiles(pairs),
        batch_size=None,
        num_workers=workers,
        collate_fn=_as_is,
        prefetch_factor=4,
        persistent_workers=False,
    )
    for item in dl:
        if isinstance(item, UirbenchError):
            raise item
        yield item


def _folder_items(
    pairs: list[Pair], rows: pd.DataFrame, root: Path, workers: int
) -> Iterator[_Item]:
    gt: dict[str, _Src] = {
        # a built root's GT is checked against its index; a --gt folder (root "/") was hashed
        # when it was listed, in this run
        k: (str(root), rel, sha) if root != Path("/") else rel
        for k, rel, sha in rows[["key", "gt_path", "gt_sha256"]].values
    }
    files: list[tuple[_Src, _Src]] = [(str(p.output), gt[p.key]) for p in pairs]
    for p, (out, gt) in zip(pairs, _loader(files, workers), strict=True):
        if out.shape != gt.shape:
            raise UirbenchError(f"{p.output}: size {out.shape} differs from GT {gt.shape}")
        yield _Item(p.key, p.task, p.stem, out, gt)


def _model_items(
    rows: pd.DataFrame,
    root: Path,
    restorer: Any,
    device: str,
    batch_size: int,
    workers: int,
    save_dir: Path | None,
    bars: list[_Bars] | None = None,
) -> Iterator[_Item]:
    """Restore LQ images in same-size batches; outputs are rounded to uint8 like saved PNGs.

    ``bars`` holds the run's progress bars once they exist (items are drawn inside them)."""
    import torch

    recs = list(rows.itertuples(index=False))
    files: list[tuple[_Src, _Src]] = [
        ((str(root), r.lq_path, r.lq_sha256), (str(root), r.gt_path, r.gt_sha256)) for r in recs
    ]
    pending: list[tuple[Any, np.ndarray, np.ndarray]] = []

    def flush() -> Iterator[_Item]:
        if bars:
            bars[0].batch(len(pending))
        lq = torch.from_numpy(np.stack([p[1] for p in pending])).permute(0, 3, 1, 2)
        lq = lq.to(device, torch.float32).div_(255.0)
        # each image's key names it to a stochastic sampler (its noise is drawn from seed + key)
        out = restorer.restore(lq, keys=[p[0].key for p in pending])
        if out.shape != lq.shape:
            raise UirbenchError(
                f"model {restorer.name} returned {tuple(out.shape)} for input {tuple(lq.shape)}"
            )
        out = out.clamp(0, 1).mul(255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
        for (r, _, gt), o in zip(pending, out, strict=True):
            if save_dir is not None:
                write_png(save_dir / r.task / f"{r.stem}.png", o)
            yield _Item(r.key, r.task, r.stem, np.ascontiguousarray(o), gt)
        pending.clear()

    for r, (lq, gt) in zip(recs, _loader(files, workers), strict=True):
        if pending and (lq.shape != pending[0][1].shape or len(pending) >= batch_size):
            yield from flush()
        pending.append((r, lq, gt))
    if pending:
        yield from flush()


class _Bars:
    """Progress of a run: ``advance()`` per image scored; ``batch()`` before each model batch and
    ``on_pass()`` after each network pass (IR-SDE: one per sampling step and tile). Silent
    unless built by :func:`_progress` with ``enabled``."""

    def __init__(self, bar: Any = None, steps: int | None = None) -> None:
        self.bar, self.steps = bar, steps
        if bar is not None:
            self.images = bar.add_task("scoring images", total=None)
            self.passes = bar.add_task("", total=None, visible=False)

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.advance(self.images)

    def batch(self, n_images: int) -> None:
        if self.bar is not None and self.steps:
            self.bar.reset(
                self.passes,
                total=None,
                visible=True,
                description=f"  sampling {n_images} image(s): network passes "
                f"({self.steps} steps x tiles)",
            )

    def on_pass(self) -> None:
        if self.bar is not None and self.steps:
            self.bar.advance(self.passes)


@contextlib.contextmanager
def _progress(total: int, enabled: bool, restorer: Any = None) -> Iterator[_Bars]:
    """A :class:`_Bars`; with ``enabled``, rich bars on stderr: images (count, elapsed, ETA) and,
    for a diffusion model (a restorer with an ``sde``), its network passes per batch."""
    if not enabled:
        yield _Bars()
        return
    from rich.console import Console

    sde = getattr(restorer, "sde", None)
    with count_bars(eta="ETA", console=Console(stderr=True), transient=False) as bar:
        bars = _Bars(bar, steps=getattr(sde, "T", None))
        bar.update(bars.images, total=total)
        if bars.steps and hasattr(restorer, "on_pass"):
            restorer.on_pass = bars.on_pass
        yield bars


def _val_rows(root: Path, tasks: str | None, limit_per_task: int | None = None) -> pd.DataFrame:
    df = read_index(root)
    selected = [t.id for t in parse_tasks(tasks)]
    rows = df[(df["split"] == "val") & df["task"].isin(selected)]
    if rows.empty:
        raise UirbenchError(
            f"{root}/index.parquet has no val pairs for tasks {', '.join(selected)}; "
            "check --tasks or build the val split"
        )
    order = {t.id: i for i, t in enumerate(all_tasks())}
    rows = rows.assign(_o=rows["task"].map(order)).sort_values(["_o", "key"])
    if limit_per_task:
        rows = rows.groupby("task", sort=False).head(limit_per_task)
    # Same-size images next to each other so model batches are large (stable within a task).
    return rows.drop(columns="_o").reset_index(drop=True)


@with_root_tasks
def run(
    root: str | Path | None,
    out: str | Path,
    model: str | None = None,
    outputs: str | Path | None = None,
    weights: str | None = None,
    profile: str | Profile = "daclip",
    metrics: str | Sequence[str] | None = None,
    tasks: str | None = None,
    device: str = "cpu",
    batch_size: int = 8,
    workers: int = 2,
    threads: int = 0,
    save_images: bool = False,
    name: str | None = None,
    feature_cache: str | Path | None = None,
    seed: int = 0,
    limit_per_task: int | None = None,
    gt: str | Path | None = None,
    task: str | None = None,
    random_init: bool = False,
    daclip: str | Path | None = None,
    daclip_config: str | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
    setting: str | None = None,
    steps: int | None = None,
    resume: bool = True,
    follow_symlinks: bool = False,
) -> dict[str, Any]:
    """Score ``model`` (registry name) or the images in ``outputs`` against the val GT of ``root``,
    or score ``outputs`` against the GT folder ``gt`` (no built root; names matched as given).

    Writes ``per_image.csv``, ``per_task.csv``, ``per_task.md`` and ``results.json`` into ``out``
    and returns the results dict (the JSON's content). GT features for FID are cached under
    ``feature_cache`` (default ``~/.cache/uirbench/features``; ``"off"`` disables it).
    ``progress`` shows a bar with the image count and ETA on stderr; ``log`` receives warnings
    known before scoring starts (outputs converted on decoding: grayscale, alpha, palette, lossy
    formats), which are also in the results' ``warnings``.
    ``limit_per_task`` scores only the first N val pairs of each task (in key order): a quick
    look at a slow model, recorded in the results as a subset, never the benchmark's figure.
    ``random_init``: run ``model`` untrained (no ``weights``); recorded and flagged.
    ``daclip`` / ``daclip_config``: the DA-CLIP of a DA-CLIP model, as ``uirbench restore``'s
    options (default: the one its checkpoint recorded).
    ``setting`` (``--preset``: uir10, aio3): ``root`` must be that benchmark's build (its task
    set); recorded in the results for ``leaderboard export --setting``.
    ``steps``: reverse-SDE steps of a diffusion model (default: its config's T, the paper's
    100); ``seed`` seeds its per-image noise (image i's noise depends on seed and its key only).
    ``resume``: a model run appends each scored image to a journal in ``out``
    (:mod:`uirbench.evaluate.journal`); after a kill, rerunning the same command reuses them.
    ``follow_symlinks``: read symbolic links in ``outputs`` (refused by default).
    """
    if (model is None) == (outputs is None):
        raise UirbenchError("give exactly one of --model NAME or --outputs DIR")
    if (root is None) == (gt is None):
        raise UirbenchError(
            "give exactly one of --root DIR (a built uirbench root) or --gt DIR (a folder of GT "
            "images, scored with --outputs)"
        )
    if gt is not None and model is not None:
        raise UirbenchError("--gt scores a folder of --outputs; to run --model, give --root")
    if task is not None and gt is None:
        raise UirbenchError("--task names the group of a flat --gt folder; with --root use --tasks")
    out = Path(out)
    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    names = parse_metrics(metrics, prof)
    if gt is not None:
        if tasks is not None:
            raise UirbenchError("--tasks selects tasks of a --root; with --gt use --task")
        rows = folder_rows(gt, task)
        if limit_per_task:
            rows = rows.groupby("task", sort=False).head(limit_per_task).reset_index(drop=True)
        root = Path("/")  # GT paths are absolute
        dataset: dict[str, Any] = {
            "kind": "folder",
            "gt": str(Path(gt).resolve()),
            "tasks": list(dict.fromkeys(rows["task"])),
            "gt_listing_sha256": listing_sha256(rows),
            "pairs": len(rows),
        }
    else:
        root = Path(root)
        if setting is not None:
            check_setting_root(root, setting)
        rows = _val_rows(root, tasks, limit_per_task)
        dataset = {
            "kind": "root",
            "root": str(root.resolve()),
            "split": "val",
            "tasks": [t.id for t in parse_tasks(tasks)],
            "index_sha256": sha256_file(root / INDEX_NAME),
            "pairs": len(rows),
            "sources": sorted(set(rows["source"])) if "source" in rows else [],
        }
    if model is not None:
        # lazy: models import torch; scoring a folder of outputs needs none
        from uirbench.models.registry import BUILDERS

        if model not in BUILDERS and Path(model).is_file():
            raise UirbenchError(
                f"--model {model} is a file: name the architecture and pass the checkpoint as "
                f"weights, e.g. --model ours --weights {model} (models: {', '.join(BUILDERS)})"
            )

    if any(m not in OWN for m in names):
        # Every absent weight file in one message, before any image is read or model built.
        try:
            missing = missing_weights(names, prof.pyiqa)
        except ImportError as exc:  # pyiqa is the optional [eval] extra
            others = ", ".join(m for m in names if m not in OWN)
            raise UirbenchError(
                f"--metrics {others} need pyiqa ({exc.name or exc}): pip install 'uirbench[eval]', "
                "or score without them: --metrics psnr,ssim"
            ) from None
        if missing:
            raise UirbenchError(missing_weights_message(missing))

    fr_metrics: dict[str, Any] = {}
    fid = None
    fid_cache = None
    for m in names:
        if m in OWN:
            continue
        if m in DATASET_LEVEL:
            fid = FidFeatures(prof.pyiqa.get("fid"), device=device)
            if feature_cache != "off":
                fid_cache = FeatureCache(
                    feature_cache or default_cache_dir(), {"fid": fid.opts, **fid.weights_id}
                )
        else:
            fr_metrics[m] = PyiqaFullReference(m, prof.pyiqa.get(m), device=device)

    run_warnings: list[str] = []
    bars_box: list[_Bars] = []
    restorer = None
    journal = None
    resumed: dict[str, dict[str, Any]] = {}
    if model is not None:
        # lazy: models import torch; scoring a folder of outputs needs none
        import torch

        from uirbench.models.registry import build_restorer, daclip_option

        torch.manual_seed(seed)  # stochastic samplers (IR-SDE) give the same outputs per seed
        kw: dict[str, Any] = {"random_init": True} if random_init else {}
        if model != "identity":
            kw["seed"] = seed
        if steps is not None:
            if model == "identity":
                raise UirbenchError("--steps sets a diffusion model's sampling steps; not identity")
            kw["steps"] = steps
        kw.update(daclip_option(daclip, daclip_config))
        restorer = build_restorer(model, weights=weights, device=device, **kw)
        if steps is not None and getattr(restorer, "sde", None) is None:
            raise UirbenchError(f"--steps sets IR-SDE sampling steps; {model} has no sampler")
        save_dir = out / "images" if save_images else None
        if resume:
            run_id = fingerprint(
                {
                    "model": model,
                    "weights_sha256": restorer.weights_sha256,
                    "weights": None if restorer.weights_sha256 else weights,
                    "random_init": random_init,
                    "info": restorer.info,
                    "seed": seed,
                    "sampling": getattr(restorer, "sampling_mode", None),
                    "daclip": kw.get("daclip"),
                    "dataset": dataset,
                    "profile": prof.name,
                    "metrics": names,
                    "device": str(device).split(":")[0],
                    "save_images": save_images,
                }
            )
            journal = Journal(out / JOURNAL_NAME, run_id)
            resumed = journal.load()
            if save_dir is not None:  # an image saved by the killed run must still be there
                resumed = {
                    k: e
                    for k, e in resumed.items()
                    if (save_dir / e["record"]["task"] / f"{e['record']['stem']}.png").is_file()
                }
            resumed = {k: resumed[k] for k in rows["key"] if k in resumed}
            if resumed and log is not None:
                log(f"resuming: {len(resumed)} of {len(rows)} images scored by an interrupted run")
        todo = rows[~rows["key"].isin(resumed)] if resumed else rows
        items = _model_items(
            todo, root, restorer, device, batch_size, workers, save_dir, bars=bars_box
        )
    else:
        pairs = pair_outputs(Path(outputs), rows, root, follow_symlinks)
        run_warnings += conversion_warnings(pairs, Path(outputs))
        for w in run_warnings:  # now, not after minutes of scoring
            if log is not None:
                log(f"warning: {w}")
        items = _folder_items(pairs, rows, root, workers)

    own = [m for m in names if m in OWN]
    records: list[dict[str, Any]] = [e["record"] for e in resumed.values()]
    fid_out: dict[str, list[np.ndarray]] = {}
    fid_gt: dict[str, list[np.ndarray]] = {}
    for e in resumed.values():
        if fid is not None:
            fid_out.setdefault(e["record"]["task"], []).append(e["fid_out"])
            fid_gt.setdefault(e["record"]["task"], []).append(e["fid_gt"])
    fid_of: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # key -> features, for the journal
    fr_batch: list[tuple[int, _Item]] = []

    def flush_fr() -> None:
        for m, metric in fr_metrics.items():
            by_size: dict[tuple[int, ...], list[tuple[int, _Item]]] = {}
            for i, it in fr_batch:
                by_size.setdefault(it.output.shape, []).append((i, it))
            for group in by_size.values():
                vals = metric([it.output for _, it in group], [it.gt for _, it in group])
                for (i, _), v in zip(group, vals, strict=True):
                    records[i][m] = v
        fr_batch.clear()

    fid_batch: list[_Item] = []

    gt_sha = dict(zip(rows["key"], rows["gt_sha256"], strict=True))

    def flush_fid() -> None:
        # Features now, images dropped: memory stays flat on large val sets. GT features come
        # from the cache when an earlier run (of any model) computed them.
        fo = fid([it.output for it in fid_batch])
        fg = [fid_cache.get(gt_sha.get(it.key)) if fid_cache else None for it in fid_batch]
        todo = [j for j, f in enumerate(fg) if f is None]
        if todo:
            new = fid([fid_batch[j].gt for j in todo])
            for k, j in enumerate(todo):
                fg[j] = new[k]
                if fid_cache:
                    fid_cache.put(gt_sha.get(fid_batch[j].key), new[k])
        for j, it in enumerate(fid_batch):
            fid_out.setdefault(it.task, []).append(fo[j : j + 1])
            fid_gt.setdefault(it.task, []).append(np.asarray(fg[j]).reshape(1, -1))
            if journal is not None:
                fid_of[it.key] = (fo[j : j + 1], np.asarray(fg[j]).reshape(1, -1))
        fid_batch.clear()

    n_threads = threads or os.cpu_count() or 1
    pending: deque[tuple[int, Future]] = deque()

    def drain(limit: int) -> None:
        # Bounded queue: images wait in memory only while a few scores are in flight.
        while len(pending) > limit:
            i, f = pending.popleft()
            try:
                records[i].update(f.result())
            except ValueError as exc:  # e.g. an image smaller than the SSIM window + crop
                raise UirbenchError(f"{records[i]['key']}: {exc}") from None

    journaled = len(records)

    def checkpoint() -> None:
        # every image so far fully scored, then journaled (see uirbench.evaluate.journal)
        nonlocal journaled
        if fr_batch:
            flush_fr()
        if fid_batch:
            flush_fid()
        drain(0)
        for rec in records[journaled:]:
            journal.append(rec, *fid_of.pop(rec["key"], (None, None)))
        journaled = len(records)

    with (
        ThreadPoolExecutor(n_threads) as pool,
        _progress(len(rows) - len(resumed), progress, restorer) as bars,
    ):
        bars_box.append(bars)
        for it in items:
            bars.advance()
            i = len(records)
            records.append(
                {
                    "key": it.key,
                    "task": it.task,
                    "stem": it.stem,
                    "height": it.output.shape[0],
                    "width": it.output.shape[1],
                }
            )
            if own:
                pending.append((i, pool.submit(score_pair, it.output, it.gt, prof, own)))
                drain(4 * n_threads)
            if fr_metrics:
                fr_batch.append((i, it))
                if len(fr_batch) >= batch_size:
                    flush_fr()
            if fid is not None:
                fid_batch.append(it)
                if len(fid_batch) >= batch_size:
                    flush_fid()
            if journal is not None and (len(records) - journaled) >= batch_size:
                checkpoint()
        if fr_batch:
            flush_fr()
        if fid_batch:
            flush_fid()
        drain(0)
        if journal is not None:
            checkpoint()

    order = {k: i for i, k in enumerate(rows["key"])}
    records.sort(key=lambda r: order[r["key"]])  # resumed images first: back to val order
    per_image = pd.DataFrame(records)
    fid_rows = None
    if fid is not None:
        fid_rows = {}
        for task in fid_out:
            a, b = np.concatenate(fid_out[task]), np.concatenate(fid_gt[task])
            fid_rows[task] = {"fid": frechet_distance(a, b), "n": len(a), "dims": fid.dims}

    extra: dict[str, Any] = {"seed": seed} if model is not None else {}
    if restorer is not None and getattr(restorer, "steps", None):
        extra["sampling_steps"] = restorer.steps
    if resumed:
        extra["resumed_images"] = len(resumed)
    if setting is not None:
        extra["setting"] = setting
    if limit_per_task:
        extra["subset"] = f"first {limit_per_task} val pairs per task (not the full val split)"
    if fid_cache:
        extra["fid_feature_cache"] = {
            "dir": str(fid_cache.dir),
            "hits": fid_cache.hits,
            "misses": fid_cache.misses,
        }
    metric_opts = {m: v.opts for m, v in fr_metrics.items()}
    if fid is not None:
        metric_opts["fid"] = fid.opts
    result = res.write_results(
        out=out,
        per_image=per_image,
        metrics=names,
        profile=prof,
        fid=fid_rows,
        dataset=dataset,
        model=model,
        outputs=outputs,
        restorer=restorer,
        weights=weights,
        metric_opts=metric_opts,
        name=name,
        extra=extra,
        warnings=run_warnings,
    )
    if journal is not None:
        journal.remove()
    return result
