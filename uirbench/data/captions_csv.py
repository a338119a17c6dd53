"""The official caption files ``<root>/daclip_{train,val}.csv``, so the official trainer reads them.

Format as the official ``scripts/generate_captions.py`` writes it (pandas, tab separated, no index):
columns ``filepath`` (the LQ image path) and ``title`` = ``"<caption>: <degradation>"``, rows in the
official order (tasks in paper order, file names sorted). The official loader splits ``title`` on
``": "`` into exactly two parts; captions are normalised so that always holds (see
:mod:`uirbench.caption.text`). ``filepath`` is absolute by default, so the CSV works from any
working directory; ``paths="relative"`` writes root-relative paths (portable; run the trainer
from the root).
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from uirbench.caption.text import make_title, split_title
from uirbench.data.layout import SPLITS
from uirbench.data.synth import pair_degradation_text
from uirbench.errors import UirbenchError
from uirbench.io import atomic_write_text
from uirbench.tasks import get_task

PATH_MODES = ("absolute", "relative")


def csv_name(split: str) -> str:
    return f"daclip_{split}.csv"


def caption_table(root: str | Path, index: pd.DataFrame, split: str, paths: str = "absolute"):
    """The official CSV rows of one split as a DataFrame (``filepath``, ``title``)."""
    if paths not in PATH_MODES:
        raise ValueError(f"paths={paths!r}; expected one of {', '.join(PATH_MODES)}")
    rows = index[index["split"] == split]
    missing = rows[rows["caption"].isna()]
    if len(missing):
        raise UirbenchError(
            f"{len(missing)} {split} pairs have no caption (first: {missing['key'].iloc[0]}); "
            f"run `uirbench caption --root {root}` first"
        )
    order = rows.assign(_t=[get_task(t).index for t in rows["task"]]).sort_values(["_t", "stem"])
    base = Path(root).resolve()
    filepath = [str(base / p) if paths == "absolute" else p for p in order["lq_path"].astype(str)]
    title = [
        make_title(c, pair_degradation_text(get_task(t), p))
        for c, t, p in zip(order["caption"], order["task"], order["params"], strict=True)
    ]
    return pd.DataFrame({"filepath": filepath, "title": title})


def write_caption_csvs(
    root: str | Path, index: pd.DataFrame, paths: str = "absolute"
) -> list[Path]:
    """Write ``daclip_<split>.csv`` for every split present in ``index``; returns the paths."""
    written = []
    for split in SPLITS:
        if not (index["split"] == split).any():
            continue
        table = caption_table(root, index, split, paths)
        buf = io.StringIO()
        table.to_csv(buf, index=False, sep="\t")
        dest = Path(root) / csv_name(split)
        atomic_write_text(dest, buf.getvalue())
        written.append(dest)
    return written


def read_caption_csv(path: str | Path) -> pd.DataFrame:
    """Read an official caption CSV the way the official trainer does, adding the split columns."""
    df = pd.read_csv(path, sep="\t")
    parts = [split_title(str(t)) for t in df["title"]]
    df["caption"] = [c for c, _ in parts]
    df["degradation"] = [d for _, d in parts]
    return df
