"""Open a built split as a Hugging Face ``datasets.Dataset`` (Image columns ``lq`` and ``gt``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from uirbench.data.index import read_index
from uirbench.data.layout import check_split
from uirbench.errors import UirbenchError


def load(root: str | Path, split: str) -> Any:
    """The index rows of ``split`` with decoded-on-access ``lq``/``gt`` images alongside."""
    try:
        import datasets
    except ImportError as exc:
        raise UirbenchError("uirbench.data.load needs: pip install 'uirbench[datasets]'") from exc
    root = Path(root).resolve()
    df = read_index(root)
    df = df[df["split"] == check_split(split)].reset_index(drop=True)
    df["lq"] = [str(root / p) for p in df["lq_path"]]
    df["gt"] = [str(root / p) for p in df["gt_path"]]
    ds = datasets.Dataset.from_pandas(df, preserve_index=False)
    return ds.cast_column("lq", datasets.Image()).cast_column("gt", datasets.Image())
