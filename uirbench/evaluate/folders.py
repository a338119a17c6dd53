"""GT rows from a plain folder (``evaluate --gt DIR``): scoring without building a dataset root.

Why: the common case is "I have GT images and my outputs, score them". Building a root for that
synthesises degradations nobody needs and renames files. Here the GT folder itself is the index:
``<gt>/<name>.<ext>`` (one group, named by ``--task`` or after the folder) or
``<gt>/<task>/<name>.<ext>`` (one group per subfolder, named as given). Names are never changed,
so outputs pair with the GT file names exactly as they are.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
from PIL import Image

from uirbench.errors import InvalidNameError, UirbenchError
from uirbench.evaluate.pairing import image_files
from uirbench.io import IMAGE_SUFFIXES, decoded_size, sha256_file
from uirbench.tasks import get_task


def task_label(name: str) -> str:
    """A paper task's id for its id or official folder name; any other name as given."""
    try:
        return get_task(name).id
    except InvalidNameError:
        return name


def _rows_of(folder: Path, task: str, opt: str) -> list[dict]:
    rows = []
    seen: dict[str, Path] = {}
    dupes = []
    for f in image_files(folder):
        if f.stem in seen:
            dupes.append(f"{seen[f.stem].name} and {f.name}")
            continue
        seen[f.stem] = f
        try:
            w, h = decoded_size(f)  # as read: a GT stored sideways (EXIF) is compared as shown
        except (OSError, Image.DecompressionBombError) as exc:
            raise UirbenchError(
                f"{opt} {f}: not a readable image ({exc.__class__.__name__}); remove or replace it"
            ) from None
        rows.append(
            {
                "key": f"{task}/{f.stem}",
                "task": task,
                "stem": f.stem,
                "gt_path": str(f.resolve()),
                "width": w,
                "height": h,
                "gt_sha256": sha256_file(f),
                "source": "folder",
            }
        )
    if dupes:
        raise UirbenchError(
            f"{opt} {folder}: several GT files share a name (only the extension differs): "
            f"{'; '.join(dupes)}; keep one of each"
        )
    return rows


def folder_rows(gt: str | Path, task: str | None = None) -> pd.DataFrame:
    """Index-like rows (key, task, stem, absolute gt_path, width, height, gt_sha256) of ``gt``."""
    gt = Path(gt)
    if not gt.is_dir():
        raise UirbenchError(f"--gt {gt}: not a directory (give the folder of GT images)")
    top = image_files(gt)
    subdirs = [d for d in sorted(gt.iterdir()) if d.is_dir() and image_files(d)]
    exts = "/".join(e.lstrip(".") for e in IMAGE_SUFFIXES)
    if task is not None:
        if not top:
            raise UirbenchError(
                f"--gt {gt}: no images in {gt} ({exts}); with --task the GT folder holds the "
                "images themselves"
            )
        rows = _rows_of(gt, task_label(task), "--gt")
    elif top and subdirs:
        raise UirbenchError(
            f"--gt {gt}: holds both images and task folders ({', '.join(d.name for d in subdirs)})"
            "; use one layout: <name>.png with --task, or <task>/<name>.png"
        )
    elif subdirs:
        labels = [task_label(d.name) for d in subdirs]
        if len(set(labels)) != len(labels):
            raise UirbenchError(
                f"--gt {gt}: folders {', '.join(d.name for d in subdirs)} name the same task "
                "twice (a task id and its official folder name); keep one"
            )
        rows = [r for d, t in zip(subdirs, labels, strict=True) for r in _rows_of(d, t, "--gt")]
    elif top:
        rows = _rows_of(gt, task_label(gt.resolve().name), "--gt")
    else:
        raise UirbenchError(
            f"--gt {gt}: no images in {gt} (expected <name>.{{{exts}}} or <task>/<name>.png)"
        )
    return pd.DataFrame(rows)


def listing_sha256(rows: pd.DataFrame) -> str:
    """sha256 over the sorted (key, GT sha256) pairs: identifies the GT set a result used."""
    h = hashlib.sha256()
    for key, sha in sorted(zip(rows["key"], rows["gt_sha256"], strict=True)):
        h.update(f"{key}\t{sha}\n".encode())
    return h.hexdigest()
