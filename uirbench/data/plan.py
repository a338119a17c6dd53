"""Turn a preset (demo, uir10), a folder of clean photos or a task file's paired layouts into the
list of pair jobs to build."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml
from PIL import UnidentifiedImageError

from uirbench.data.jobs import PairJob
from uirbench.data.synth import DEFAULT_OP_FOR_TASK, pair_seed
from uirbench.data.synth.masks import procedural_thin_masks
from uirbench.errors import UirbenchError
from uirbench.io import IMAGE_SUFFIXES, decoded_size, read_image
from uirbench.paths import manifests_dir
from uirbench.tasks import Task

PROCEDURAL_MASK_SEED = 20240116  # fixed: the demo's mask bank is part of its definition


@dataclass
class Plan:
    """Jobs plus the shared inputs their workers need (see :data:`uirbench.data.jobs._CONTEXT`)."""

    jobs: list[PairJob]
    context: dict[str, Any] = field(default_factory=lambda: {"photos": {}, "masks": {}, "psf": {}})


def _synth_job(
    split: str, task: Task, stem: str, source: str, source_image: str, seed: int, **gt: Any
) -> PairJob:
    steps = task.synth_steps()
    if steps is None:
        op, params = DEFAULT_OP_FOR_TASK[task.id]
        uses_masks = op == "inpaint_mask"
    else:  # a user task: its chain of operators (one step is a chain of one)
        op, params = "chain", {"steps": [[o, p] for o, p in steps]}
        uses_masks = any(o == "inpaint_mask" for o, _ in steps)
    return PairJob(
        split=split,
        task=task.id,
        stem=stem,
        source=source,
        source_image=source_image,
        synth=op,
        params=params,
        seed=pair_seed(seed, split, task.id, stem),
        mask_bank="procedural" if uses_masks else None,
        **gt,
    )


def load_packaged_photo(photo_id: str) -> np.ndarray:
    """A demo photo shipped in ``uirbench/manifests/demo_photos`` (``skimage:<name>`` etc.).

    The id names where the photo came from (scikit-image / scikit-learn); the pixels ship with
    uirbench, already resized, so the demo needs neither package (scripts/make_demo_photos.py).
    """
    path = manifests_dir() / "demo_photos" / (photo_id.replace(":", "-") + ".png")
    if ":" not in photo_id or not path.is_file():
        raise UirbenchError(
            f"unknown packaged photo {photo_id!r} in uirbench/manifests/demo.yaml (no {path})"
        )
    return read_image(path)


def plan_demo(tasks: Sequence[Task], splits: Sequence[str], seed: int) -> Plan:
    """The embedded default: seeded crops of packaged photos, all ten tasks synthesised."""
    spec = yaml.safe_load((manifests_dir() / "demo.yaml").read_text())
    crop, short = int(spec["crop"]), int(spec["short_side"])
    plan = Plan(jobs=[])
    plan.context["masks"]["procedural"] = procedural_thin_masks(seed=PROCEDURAL_MASK_SEED)
    for photo in spec["photos"]:
        if photo["split"] not in splits:
            continue
        img = load_packaged_photo(photo["id"])
        h, w = img.shape[:2]
        scale = short / min(h, w)
        size = (max(round(w * scale), crop), max(round(h * scale), crop))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        plan.context["photos"][photo["id"]] = img
        name = photo["id"].split(":", 1)[1].replace("_", "-")
        digest = hashlib.sha256(f"{seed}/crop/{photo['id']}".encode()).digest()
        rng = np.random.Generator(np.random.PCG64(int.from_bytes(digest[:8], "little")))
        for c in range(int(photo["crops"])):
            x = int(rng.integers(0, img.shape[1] - crop + 1))
            y = int(rng.integers(0, img.shape[0] - crop + 1))
            stem = f"{name}-c{c}"
            for task in tasks:
                plan.jobs.append(
                    _synth_job(
                        photo["split"], task, stem, "demo", photo["id"], seed, gt_crop=(x, y, crop)
                    )
                )
    return plan


_MAX_STEM = 160  # + ".png" and a temporary's prefix stay well inside a 255-byte file name


def _stem_for(rel: Path) -> str:
    """A file-name-safe stem from a relative path: ``a/b c.jpg`` -> ``a_b-c``."""
    text = "_".join(rel.with_suffix("").parts)
    stem = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "-_" else "-" for ch in text)
    if not text.isascii() or len(stem) > _MAX_STEM:
        # Non-ASCII letters all map to '-' (stems are ASCII: file names and WebDataset keys),
        # and a long path must still fit a file name: a hash of the path keeps them apart.
        tag = hashlib.sha256(rel.as_posix().encode("utf-8", "surrogateescape")).hexdigest()[:10]
        stem = f"{stem[: _MAX_STEM - 11]}-{tag}"
    return stem


def _split_photos(
    folder: Path, stems: list[str], splits: Sequence[str], seed: int, val_fraction: float
) -> dict[str, str]:
    """stem -> split: all in the one split asked for (or all val at ``val_fraction >= 1``), else
    a seeded hash order cut at ``round(val_fraction * n)`` clamped to [1, n - 1]."""
    if len(splits) == 1:
        return dict.fromkeys(stems, splits[0])
    if val_fraction >= 1.0:  # asked for: every photo in val, no train split
        return dict.fromkeys(stems, "val")
    if val_fraction <= 0.0:
        raise UirbenchError(
            f"--val-fraction {val_fraction}: must be above 0 (val needs a photo); to build only "
            "train, pass --splits train"
        )
    n = len(stems)
    if n < 2:
        raise UirbenchError(
            f"--from {folder}: {n} photo; a train and a val split need at least 2 (add photos, "
            "or build one split with --splits val)"
        )
    n_val = min(max(round(val_fraction * n), 1), n - 1)
    order = sorted(stems, key=lambda s: hashlib.sha256(f"{seed}/split/{s}".encode()).digest())
    return {s: ("val" if i < n_val else "train") for i, s in enumerate(order)}


def plan_folder(
    folder: Path, tasks: Sequence[Task], splits: Sequence[str], seed: int, val_fraction: float
) -> Plan:
    """A user's own clean photos: every image under ``folder``; all ten degradations synthesised.

    With both splits requested, the photos are ordered by a seeded hash of their stem and the
    first ``round(val_fraction * n)`` go to val, at least one and at most ``n - 1``: whole
    photos, so val never shares content with train, and every task gets a val photo (each photo
    is synthesised for every task). The split depends on the seed and the set of stems only
    (not on file order); fewer than two photos cannot make both splits and are refused before
    anything is built. With one split, all photos go there.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UirbenchError(f"--from {folder}: not a folder of images")
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not files:
        raise UirbenchError(f"--from {folder}: no image files ({', '.join(IMAGE_SUFFIXES)})")
    seen: dict[str, Path] = {}
    for path in files:
        stem = _stem_for(path.relative_to(folder))
        if stem in seen:
            raise UirbenchError(f"--from: {seen[stem]} and {path} map to the same stem {stem!r}")
        seen[stem] = path
    split_of = _split_photos(folder, list(seen), splits, seed, val_fraction)
    plan = Plan(jobs=[])
    plan.context["masks"]["procedural"] = procedural_thin_masks(seed=PROCEDURAL_MASK_SEED)
    for stem, path in seen.items():
        rel = path.relative_to(folder)
        split = split_of[stem]
        if split not in splits:
            continue
        for task in tasks:
            plan.jobs.append(
                _synth_job(split, task, stem, "from", rel.as_posix(), seed, gt_file=str(path))
            )
    return plan


def _paired_images(task: Task, side: str, folder: Path) -> dict[str, Path]:
    """name (relative path without suffix) -> image file, every image below ``folder``."""
    if not folder.is_dir():
        raise UirbenchError(
            f"{task.origin}: task {task.id!r}: the {side} folder {folder} does not exist "
            "(relative folders are relative to the task file)"
        )
    out: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        if not (path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES):
            continue
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        name = path.relative_to(folder).with_suffix("").as_posix()
        if name in out:
            raise UirbenchError(
                f"{task.origin}: task {task.id!r}: {out[name]} and {path} have the same name; "
                "pairs are matched by name, keep one"
            )
        out[name] = path
    if not out:
        raise UirbenchError(
            f"{task.origin}: task {task.id!r}: no images ({', '.join(IMAGE_SUFFIXES)}) in the "
            f"{side} folder {folder}"
        )
    return out


def _decoded_size(path: Path, task: Task) -> tuple[int, int]:
    """(width, height) as it will be read (:func:`uirbench.io.decoded_size`), from the header
    only: a mismatch is found before any work."""
    try:
        return decoded_size(path)
    except (OSError, UnidentifiedImageError) as exc:
        raise UirbenchError(
            f"{task.origin}: task {task.id!r}: cannot read {path} ({exc})"
        ) from None


def plan_pairs(
    tasks: Sequence[Task], splits: Sequence[str], seed: int, val_fraction: float
) -> Plan:
    """Tasks whose pairs come from an upstream paired layout (a task file's ``pairs``).

    LQ and GT are matched by their path below the two folders without the suffix
    (``a/001.jpg`` pairs with ``a/001.png``); an unmatched name, a missing folder or a pair whose
    sides differ in size stops the build before any work, naming the task file's line. Files are
    copied like the upstream pairs of the presets (8-bit RGB PNG bytes kept, anything else
    decoded and written as PNG), so a rebuild is byte-identical. Without per-split folders the
    pairs are split into train/val as ``--from`` splits photos (seeded hash of the name,
    ``val_fraction``), so the split depends only on the seed and the names.
    """
    plan = Plan(jobs=[])
    for task in tasks:
        assert task.pairs is not None
        for declared, lq_dir, gt_dir in task.pairs:
            if declared and declared not in splits:
                continue
            lq = _paired_images(task, "lq", Path(lq_dir))
            gt = _paired_images(task, "gt", Path(gt_dir))
            unmatched = [f"LQ without GT: {lq[n]}" for n in sorted(set(lq) - set(gt))]
            unmatched += [f"GT without LQ: {gt[n]}" for n in sorted(set(gt) - set(lq))]
            if unmatched:
                more = f" (and {len(unmatched) - 3} more)" if len(unmatched) > 3 else ""
                raise UirbenchError(
                    f"{task.origin}: task {task.id!r}: {len(unmatched)} unmatched file(s), pairs "
                    f"are matched by name: {'; '.join(unmatched[:3])}{more}"
                )
            stems: dict[str, str] = {}
            for name in sorted(gt):
                stem = _stem_for(Path(name))
                if stem in stems:
                    raise UirbenchError(
                        f"{task.origin}: task {task.id!r}: {gt[stems[stem]]} and {gt[name]} map "
                        f"to the same stem {stem!r}; rename one"
                    )
                stems[stem] = name
                lq_size, gt_size = _decoded_size(lq[name], task), _decoded_size(gt[name], task)
                if lq_size != gt_size:
                    raise UirbenchError(
                        f"{task.origin}: task {task.id!r}: size mismatch, LQ {lq[name]} is "
                        f"{lq_size[0]}x{lq_size[1]} but GT {gt[name]} is {gt_size[0]}x{gt_size[1]}"
                    )
            if declared:
                split_of = dict.fromkeys(stems, declared)
            else:
                if len(splits) > 1 and val_fraction < 1.0 and len(stems) < 2:
                    raise UirbenchError(
                        f"{task.origin}: task {task.id!r}: {len(stems)} pair; a train and a val "
                        "split need at least 2 (give pairs: {train: ..., val: ...}, or --splits)"
                    )
                split_of = _split_photos(Path(gt_dir), list(stems), splits, seed, val_fraction)
            for stem, name in stems.items():
                if split_of[stem] not in splits:
                    continue
                plan.jobs.append(
                    PairJob(
                        split=split_of[stem],
                        task=task.id,
                        stem=stem,
                        source="pairs",
                        source_image=gt[name].relative_to(gt_dir).as_posix(),
                        gt_file=str(gt[name]),
                        lq_file=str(lq[name]),
                    )
                )
    return plan
