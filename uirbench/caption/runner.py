"""The caption runner: dedup by GT sha256, cache, rank split, batches, then the three outputs.

Every distinct GT (the noisy and jpeg tasks share clean images) is captioned once: the work list is
the index's distinct ``gt_sha256`` values in key order, and the cache is keyed by that sha256, so
a rerun or a resumed run only captions what is missing. Under torchrun rank ``r`` of ``n`` takes
``items[r::n]`` of the *full* list (not of what is left), so the split never depends on the cache
or timing: no overlap, no gap. After a barrier rank 0 merges the cache and writes the caption
column of ``index.parquet``, the shards' ``txt`` and ``daclip_{train,val}.csv``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from uirbench.caption.base import Captioner, Item
from uirbench.caption.cache import CacheWriter, read_cache
from uirbench.caption.distributed import Dist
from uirbench.caption.text import clean_caption
from uirbench.data.index import read_index, write_index
from uirbench.data.layout import SHARDS_DIR, resolve_inside
from uirbench.data.shards import write_shards
from uirbench.data.task_file import with_root_tasks
from uirbench.data.trust import check_pair_files
from uirbench.errors import UirbenchError
from uirbench.io import decode_image, sha256_bytes
from uirbench.lock import folder_lock


@dataclass
class CaptionResult:
    """What one process did (``written`` only on the rank that wrote the outputs)."""

    rank: int
    world: int
    distinct: int  # distinct GT images considered (after --limit)
    assigned: int  # of those, this rank's share
    cache_hits: int  # of the share, already cached
    captioned: int  # of the share, captioned now
    seconds: float  # captioning wall time of this rank
    captions: dict[str, str] = field(default_factory=dict)  # sha256 -> caption, this rank's share
    written: list[str] = field(default_factory=list)

    @property
    def images_per_s(self) -> float:
        return self.captioned / self.seconds if self.seconds > 0 else 0.0


def distinct_items(index: pd.DataFrame) -> list[Item]:
    """One :class:`Item` per distinct GT sha256, in key order (first row that uses it)."""
    rows = index.sort_values("key").drop_duplicates("gt_sha256", keep="first")
    src = rows["source_image"] if "source_image" in rows else [None] * len(rows)
    return [
        Item(gt_sha256=s, gt_path=p, source_image=None if pd.isna(si) else str(si))
        for s, p, si in zip(rows["gt_sha256"], rows["gt_path"], src, strict=True)
    ]


def rank_share(items: Sequence[Item], rank: int, world: int) -> list[Item]:
    """Rank ``rank``'s items: a stride over the full list (disjoint, and together complete)."""
    return list(items[rank::world])


def _load(root: Path, item: Item) -> np.ndarray:
    path = resolve_inside(root, item.gt_path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UirbenchError(f"cannot read GT {path} ({exc}); rebuild the root") from exc
    if sha256_bytes(data) != item.gt_sha256:
        raise UirbenchError(
            f"GT {path} changed since the index was built (sha256 differs); rebuild the root "
            f"with `uirbench build-data` so captions stay keyed to the right pixels"
        )
    return decode_image(data, path)


def _batches(
    root: Path, items: list[Item], size: int, pixels: bool
) -> Iterator[tuple[list[Item], list[np.ndarray] | None]]:
    """Yield batches; with pixels, the next batch is read and decoded while this one runs."""
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    if not pixels:
        for chunk in chunks:
            yield chunk, None
        return
    with ThreadPoolExecutor(max_workers=2) as pool:
        pending = [pool.submit(lambda c=c: [_load(root, it) for it in c]) for c in chunks[:1]]
        for i, chunk in enumerate(chunks):
            if i + 1 < len(chunks):
                nxt = chunks[i + 1]
                pending.append(pool.submit(lambda c=nxt: [_load(root, it) for it in c]))
            yield chunk, pending[i].result()
            pending[i] = None  # type: ignore[call-overload]  (free decoded images)


def _progress(enabled: bool):  # type: ignore[no-untyped-def]
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("captioning"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        disable=not enabled,
        transient=False,
    )


def write_outputs(root: Path, index: pd.DataFrame, captions: dict[str, str], csv_paths: str):
    """Fill the caption column, rewrite index + shards, write both official CSVs."""
    # a real cycle: captions_csv imports uirbench.caption.text, whose package imports this module
    from uirbench.data.captions_csv import write_caption_csvs

    missing = index.loc[~index["gt_sha256"].isin(captions.keys()), "key"]
    if len(missing):
        raise UirbenchError(
            f"{len(missing)} pairs still lack a caption (first: {missing.iloc[0]}); rerun "
            f"`uirbench caption --root {root}` to finish"
        )
    index = index.copy()
    index["caption"] = [captions[s] for s in index["gt_sha256"]]
    write_index(root, index)
    written = [str(root / "index.parquet")]
    written += [str(p) for p in write_caption_csvs(root, index, paths=csv_paths)]
    written += write_shard_captions(root, index)
    return written


def write_shard_captions(root: Path, index: pd.DataFrame) -> list[str]:
    """Rewrite the shards from the captioned index (the data builder's writer adds ``txt``)."""
    return [str(root / SHARDS_DIR / name) for name in write_shards(root, index)]


@with_root_tasks
def caption_root(
    root: str | Path,
    captioner: Captioner,
    *,
    limit: int | None = None,
    write: bool = True,
    csv_paths: str = "absolute",
    progress: bool = True,
    on_batch: Callable[[int], None] | None = None,
) -> CaptionResult:
    """Caption every distinct GT of a built root and write the outputs (see the module docs).

    ``limit`` captions only the first N distinct GTs and writes nothing but the cache (a dry run).
    ``on_batch(n_done)`` is called after each batch is cached (tests use it to interrupt a run).
    """
    root = Path(root)
    dist = Dist()
    lock = contextlib.ExitStack()
    try:
        if dist.rank == 0:  # one caption run (all its ranks) writes the root, nothing beside it
            lock.enter_context(folder_lock(root, "captioning it"))
        index = read_index(root)
        if write and limit is None:  # the shards are rewritten from these files: verify first
            check_pair_files(root, index)
        items = distinct_items(index)
        if limit is not None:
            items = items[:limit]
        mine = rank_share(items, dist.rank, dist.world)
        cached = read_cache(root, captioner.fingerprint)
        todo = [it for it in mine if it.gt_sha256 not in cached]
        result = CaptionResult(
            rank=dist.rank,
            world=dist.world,
            distinct=len(items),
            assigned=len(mine),
            cache_hits=len(mine) - len(todo),
            captioned=0,
            seconds=0.0,
            captions={it.gt_sha256: cached[it.gt_sha256] for it in mine if it.gt_sha256 in cached},
        )
        t0 = time.perf_counter()
        with (
            CacheWriter(root, captioner.fingerprint, dist.rank) as cache,
            _progress(progress and dist.rank == 0) as bar,
        ):
            task = bar.add_task("caption", total=len(todo), rate="")
            for chunk, images in _batches(root, todo, captioner.batch_size, captioner.needs_pixels):
                texts = [clean_caption(t) for t in captioner.caption(chunk, images)]
                new = {it.gt_sha256: t for it, t in zip(chunk, texts, strict=True)}
                cache.add(new)
                result.captions.update(new)
                result.captioned += len(chunk)
                result.seconds = time.perf_counter() - t0
                bar.update(task, advance=len(chunk), rate=f"{result.images_per_s:.2f} img/s")
                if on_batch is not None:
                    on_batch(result.captioned)
        dist.barrier()
        if write and limit is None and dist.rank == 0:
            merged = read_cache(root, captioner.fingerprint)
            result.written = write_outputs(root, index, merged, csv_paths)
        dist.barrier()
        return result
    finally:
        lock.close()
        dist.close()
