"""Degradation classification accuracy (the paper's Table 4) of DA-CLIP on a built split.

An LQ image is assigned the task whose degradation text (``motion-blurry``, ``hazy``, ...) has the
highest cosine similarity with its degradation embedding, as DA-CLIP is used downstream. The
zero-shot CLIP row does the same with plain CLIP image features. Per task: accuracy in percent;
"Average (macro)" is the unweighted mean over tasks, "Average (micro)" the pooled accuracy.

Views: by default the official one (``da-clip/src/evaluate.py``: short side resized bicubic to
the model's input size, centre crop; :func:`uirbench.models.daclip_view.official_view`). A model
trained on native-scale patches (recipe ``data.crop_mode: native``) is shown a ``grid`` x ``grid``
of evenly spaced native-scale patches instead, and their embeddings are averaged; the grid is
read from the checkpoint's recipe so ``classify`` sees images the way training's val did.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from uirbench.data.shardset import ShardSet
from uirbench.data.task_file import with_root_tasks
from uirbench.errors import UirbenchError
from uirbench.evaluate.pairing import image_files
from uirbench.io import atomic_write_files, decode_image
from uirbench.models.daclip import build_daclip, encode_texts, load_config
from uirbench.models.daclip_view import eval_view, image_views, official_precision
from uirbench.tasks import all_tasks, get_task

AVERAGE_COLUMNS = ["average_macro", "average_micro"]


def row_columns() -> list[str]:
    """Table 4 columns for the task set in force (the ten, or a root's own tasks)."""
    return ["model", *[t.id for t in all_tasks()], *AVERAGE_COLUMNS]


def model_view(model: Any) -> dict[str, int]:
    """The view a checkpoint was trained for (set by :func:`load_model`; grid 0: resize whole)."""
    return dict(getattr(model, "uirbench_eval_view", None) or {"grid": 0})


@torch.no_grad()
def _similarities(
    model: Any,
    count: int,
    read: Callable[[int], tuple[bytes, str]],
    device: str | torch.device = "cpu",
    batch_size: int = 64,
    zero_shot: bool = False,
    grid: int | None = None,
    align: int | None = None,
    phase: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Cosine similarities (``count`` x tasks in force) of images ``read(i) -> (bytes, name)``
    to the task texts; see :func:`predict_logits` for the options."""
    size = model.clip.visual.image_size
    size = size[0] if isinstance(size, tuple | list) else size
    with official_precision(device):
        # One text per task in force: a root built with a task file adds its own classes.
        texts = encode_texts(model, [t.degradation for t in all_tasks()], device=device)
    view = model_view(model)
    grid = view["grid"] if grid is None else int(grid)
    align = view.get("align", 1) if align is None else int(align)
    phase = view.get("phase", 0) if phase is None else int(phase)
    if zero_shot:
        grid = 0  # plain CLIP is used as released: whole image, official view
    per_image = grid * grid if grid else 1
    logits = []
    for start in range(0, count, max(1, batch_size)):
        idx = range(start, min(count, start + max(1, batch_size)))
        x = torch.cat(
            [
                image_views(
                    torch.from_numpy(decode_image(*read(i))).permute(2, 0, 1).contiguous(),
                    size,
                    grid,
                    align,
                    phase,
                )
                for i in idx
            ]
        ).to(device)
        with official_precision(device):
            if zero_shot:
                feats = model.encode_image(x, normalize=True)
            else:
                feats = model.encode_image(x, control=True, normalize=True)[1]
        feats = feats.float()
        if per_image > 1:  # mean embedding over each image's patches (= mean of similarities)
            feats = feats.view(len(idx), per_image, -1).mean(dim=1)
        logits.append((feats @ texts.float().t()).cpu())
        if progress is not None:
            progress(idx.stop, count)
    return torch.cat(logits) if logits else torch.zeros((0, len(all_tasks())))


@with_root_tasks
def predict_logits(
    model: Any, root: str | Path, split: str, **kw: Any
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(cosine similarities NxT to the task texts, true class, keys) for every sample of
    ``split``. ``grid``: 0 shows each image whole through the official view; N >= 1 averages
    N x N native-scale patches (offsets ``phase`` + multiples of ``align``); None: the model's
    own view. Images may differ in size at any ``batch_size``: each gets its own view.
    ``progress(done, total)`` after each batch (the CLI's bar)."""
    shards = ShardSet(root, split)
    try:
        keys = shards.keys()

        def read(i: int) -> tuple[bytes, str]:
            return shards.read(i, "lq.png"), shards.samples[i].key

        logits = _similarities(model, len(shards), read, **kw)
        truth = torch.tensor([int(shards.text(i, "cls")) for i in range(len(shards))])
    finally:
        shards.close()
    return logits, truth, keys


def folder_images(folder: str | Path) -> tuple[list[Path], list[int] | None]:
    """The images of ``classify --folder``: ``<folder>/<name>.png`` (unlabelled: only the
    predictions), or ``<folder>/<task>/<name>.png`` with a task id or folder name of the task
    set in force (labelled: accuracy per task, as on a root's split)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UirbenchError(f"--folder {folder}: not a directory of images")
    top = image_files(folder)
    subdirs = [d for d in sorted(folder.iterdir()) if d.is_dir() and image_files(d)]
    if top and subdirs:
        raise UirbenchError(
            f"--folder {folder}: holds both images and task folders; use one layout: "
            "<name>.png, or <task>/<name>.png"
        )
    if top:
        return top, None
    if not subdirs:
        raise UirbenchError(f"--folder {folder}: no images (<name>.png or <task>/<name>.png)")
    files: list[Path] = []
    labels: list[int] = []
    for d in subdirs:
        task = get_task(d.name)  # unknown: names the tasks in force (and --tasks-file)
        found = image_files(d)
        files += found
        labels += [task.index] * len(found)
    return files, labels


@torch.no_grad()
def predict_folder(
    model: Any, folder: str | Path, **kw: Any
) -> tuple[torch.Tensor, torch.Tensor | None, list[str]]:
    """(similarities NxT, true class or None, file names relative to ``folder``) for the
    images of ``folder`` (:func:`folder_images`); options as :func:`predict_logits`."""
    files, labels = folder_images(folder)

    def read(i: int) -> tuple[bytes, str]:
        return files[i].read_bytes(), str(files[i])

    logits = _similarities(model, len(files), read, **kw)
    names = [f.relative_to(folder).as_posix() for f in files]
    return logits, (torch.tensor(labels) if labels is not None else None), names


def per_task_accuracy(pred: torch.Tensor, truth: torch.Tensor) -> pd.DataFrame:
    """Per task in force: correct, total, accuracy (%) — one row per task present."""
    rows = []
    for task in all_tasks():
        mask = truth == task.index
        total = int(mask.sum())
        if total:
            correct = int((pred[mask] == task.index).sum())
            rows.append(
                {
                    "task": task.id,
                    "correct": correct,
                    "total": total,
                    "accuracy": 100 * correct / total,
                }
            )
    return pd.DataFrame(rows)


def folder_tables(
    model: Any,
    folder: str | Path,
    name: str = "DA-CLIP",
    zero_shot_row: bool = True,
    daclip: bool = True,
    **kw: Any,
) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """``classify --folder``: (Table 4 rows when the folder is labelled by task folders, else
    None; one row per image: file, its task if labelled, the predicted task and its
    similarity). ``daclip``: predictions from DA-CLIP's degradation features; False (no DA-CLIP
    weights): from plain CLIP's, the zero-shot row only."""
    _, labels = folder_images(folder)
    rows = []
    if labels is not None and zero_shot_row and daclip:  # first, as classification_table
        plain, truth, _ = predict_folder(model, folder, zero_shot=True, **kw)
        assert truth is not None
        rows.append(table_row("CLIP (zero-shot)", per_task_accuracy(plain.argmax(dim=1), truth)))
    logits, truth, names = predict_folder(model, folder, zero_shot=not daclip, **kw)
    ids = [t.id for t in all_tasks()]
    best = logits.max(dim=1)
    predictions = pd.DataFrame(
        {
            "file": names,
            "task": [ids[int(c)] for c in truth] if truth is not None else "",
            "predicted": [ids[int(c)] for c in best.indices],
            "similarity": best.values.numpy().astype(float),
        }
    )
    if truth is None:
        return None, predictions
    row_name = name if daclip else "CLIP (zero-shot)"
    rows.append(table_row(row_name, per_task_accuracy(best.indices, truth)))
    return pd.DataFrame(rows, columns=row_columns()), predictions


def predict_split(
    model: Any, root: str | Path, split: str, **kw: Any
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(predicted class, true class, keys) for every sample of ``split`` (see
    :func:`predict_logits` for the options)."""
    logits, truth, keys = predict_logits(model, root, split, **kw)
    return logits.argmax(dim=1), truth, keys


@with_root_tasks
def classify_split(model: Any, root: str | Path, split: str, **kw: Any) -> pd.DataFrame:
    """Per task: correct, total, accuracy (%) — one row per task present in the split."""
    pred, truth, _ = predict_split(model, root, split, **kw)
    return per_task_accuracy(pred, truth)


def table_row(name: str, per_task: pd.DataFrame) -> dict[str, Any]:
    """One Table 4 row from :func:`classify_split`'s output."""
    row: dict[str, Any] = {"model": name}
    for task in all_tasks():
        hit = per_task[per_task["task"] == task.id]
        row[task.id] = float(hit["accuracy"].iloc[0]) if len(hit) else float("nan")
    row["average_macro"] = float(per_task["accuracy"].mean())
    row["average_micro"] = float(100 * per_task["correct"].sum() / per_task["total"].sum())
    return row


@with_root_tasks
def classification_table(
    model: Any,
    root: str | Path,
    split: str = "val",
    name: str = "DA-CLIP",
    zero_shot_row: bool = True,
    **kw: Any,
) -> pd.DataFrame:
    """Table 4 layout: a zero-shot row (the frozen CLIP inside ``model``) and the DA-CLIP row."""
    rows = []
    if zero_shot_row:
        zero_shot = classify_split(model, root, split, zero_shot=True, **kw)
        rows.append(table_row("CLIP (zero-shot)", zero_shot))
    rows.append(table_row(name, classify_split(model, root, split, **kw)))
    return pd.DataFrame(rows, columns=row_columns())


def to_markdown(table: pd.DataFrame, caption: str = "") -> str:
    """A Markdown table with one decimal, as the paper prints it; columns are task ids (the
    same names as the CSV and every other command), not dataset folder names."""
    task_cols = [c for c in table.columns if c != "model" and c not in AVERAGE_COLUMNS]
    heads = ["Model", *task_cols, "Average (macro)", "Average (micro)"]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for _, r in table.iterrows():
        cells = [str(r["model"])] + [
            "-" if pd.isna(r[c]) else f"{r[c]:.1f}" for c in [*task_cols, *AVERAGE_COLUMNS]
        ]
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    return (caption + "\n\n" + text) if caption else text


def write_outputs(table: pd.DataFrame, out_dir: str | Path, caption: str = "") -> dict[str, Path]:
    """``classify.csv`` and ``classify.md`` in ``out_dir``, staged together: a failure (a full
    disk) while writing either leaves both previous files as they were."""
    out = Path(out_dir)
    paths = {"csv": out / "classify.csv", "md": out / "classify.md"}
    atomic_write_files(
        {
            paths["md"]: to_markdown(table, caption).encode(),
            paths["csv"]: table.to_csv(index=False, float_format="%.4f").encode(),
        }
    )
    return paths


def load_model(
    weights: str | None,
    config: str | None = None,
    clip_weights: str | None = None,
    device: str | torch.device = "cpu",
    random_init: bool = False,
) -> Any:
    """DA-CLIP for classification: from a checkpoint (its JSON gives the config when ours, and
    the view its recipe trained: ``model.uirbench_eval_view``), or an untrained one on the given
    CLIP weights (zero-shot row only). A model with no weights at all (no checkpoint, CLIP
    weights ``none``) is refused unless ``random_init``."""
    import json

    recipe = None
    if weights is not None:
        if random_init:
            raise UirbenchError("--random-init and --weights exclude each other; drop one")
        meta = Path(weights).with_suffix(".json")
        if Path(weights).suffix == ".safetensors" and meta.exists():
            info = json.loads(meta.read_text())
            config = config or info.get("model_config")
            recipe = info.get("recipe")
    else:
        source = clip_weights or load_config(config or "daclip_ViT-B-32").get("clip_pretrained")
        if (not source or source == "none") and not random_init:
            raise UirbenchError(
                "classify has no weights: pass --weights DA-CLIP.pt|.safetensors (or CLIP "
                "--clip-weights TAG|FILE for the zero-shot row), or --random-init to classify "
                "with untrained weights (pipeline tests only)"
            )
        if random_init:
            source = "none"
        clip_weights = source
    model = build_daclip(
        config or "daclip_ViT-B-32",
        clip_weights=clip_weights if weights is None else "none",
        weights=weights,
    )
    model.random_init = bool(random_init)
    if recipe:
        model.uirbench_eval_view = eval_view(recipe)
    return model.to(device).eval()
