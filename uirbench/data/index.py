"""``index.parquet``: one row per (LQ, GT) pair, the single source of truth about a built root.

Rows are sorted by ``key`` and hold no timestamps, so two builds of the same inputs and seed give
a byte-identical index. ``caption`` is filled later by ``uirbench caption``.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from uirbench.data.layout import INDEX_NAME
from uirbench.errors import UirbenchError
from uirbench.io import atomic_write_bytes

# Column -> (arrow type, meaning). The schema is the contract other commands rely on.
COLUMNS: dict[str, tuple[pa.DataType, str]] = {
    "key": (pa.string(), "<split>/<task id>/<stem>; also the WebDataset __key__"),
    "split": (pa.string(), "train or val"),
    "task": (pa.string(), "task id (uirbench.tasks)"),
    "stem": (pa.string(), "file stem shared by LQ and GT"),
    "lq_path": (pa.string(), "LQ path relative to the root"),
    "gt_path": (pa.string(), "GT path relative to the root"),
    "source": (pa.string(), "source id (manifest name, 'demo' or 'from')"),
    "source_image": (pa.string(), "upstream file the GT came from (relative, informative)"),
    "synth": (pa.string(), "synthesis operator, or 'paired' for real LQ from upstream"),
    "params": (pa.string(), "JSON of the synthesis parameters (e.g. sigma, quality, mask id)"),
    "seed": (pa.int64(), "per-pair seed derived from (global seed, split, task, stem)"),
    "job": (pa.string(), "fingerprint of the job spec; a rebuild reuses the pair only if equal"),
    "lq_sha256": (pa.string(), "sha256 of the LQ file"),
    "gt_sha256": (pa.string(), "sha256 of the GT file"),
    "width": (pa.int32(), "image width"),
    "height": (pa.int32(), "image height"),
    "caption": (pa.string(), "BLIP caption of the GT (null until `uirbench caption`)"),
}
SCHEMA = pa.schema([(name, t) for name, (t, _) in COLUMNS.items()])


def to_table(rows: Iterable[dict[str, Any]]) -> pa.Table:
    rows = sorted(rows, key=lambda r: r["key"])
    data = {name: [r.get(name) for r in rows] for name in SCHEMA.names}
    return pa.Table.from_pydict(data, schema=SCHEMA)


def write_index(root: Path, table: pa.Table | pd.DataFrame) -> None:
    """Atomically (re)write ``<root>/index.parquet`` sorted by key, deterministic bytes."""
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(
            table.sort_values("key").reset_index(drop=True)[SCHEMA.names],
            schema=SCHEMA,
            preserve_index=False,
        )
    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(None), buf, compression="zstd")
    atomic_write_bytes(Path(root) / INDEX_NAME, buf.getvalue())


def read_index(root: str | Path) -> pd.DataFrame:
    """Read ``<root>/index.parquet``; a clear error if the root was never built."""
    path = Path(root) / INDEX_NAME
    if not path.is_file():
        raise UirbenchError(
            f"{path} not found: {root} is not a built uirbench root. "
            f"Build one with `uirbench build-data --preset demo --root {root}`."
        )
    try:
        df = pq.read_table(path).to_pandas()
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise UirbenchError(
            f"{path} is unreadable ({exc}); rebuild it with `uirbench build-data`"
        ) from exc
    _check_paths_inside(path, df)
    return df


def _check_paths_inside(path: Path, df: pd.DataFrame) -> None:
    """An index may come with a root from elsewhere: its file paths must stay inside the root."""
    for col in ("lq_path", "gt_path"):
        if col not in df:
            continue
        rel = df[col].astype("string")
        bad = (
            rel.isna()
            | (rel == "")
            | rel.str.startswith("/")
            | rel.str.contains("\\", regex=False)
            | rel.str.contains(r"(?:^|/)\.\.(?:/|$)", regex=True)
        ).fillna(True)
        if bad.any():
            i = int(bad.to_numpy().argmax())
            key = df["key"].iloc[i] if "key" in df else i
            raise UirbenchError(
                f"{path}: row {key!r} has {col} = {df[col].iloc[i]!r}, which is not a relative "
                "path inside the root; rebuild the index with `uirbench build-data`"
            )


def records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Index rows as plain dicts with missing values as None (pandas gives NaN)."""
    return [
        {k: (None if v is None or (isinstance(v, float) and v != v) else v) for k, v in r.items()}
        for r in df.to_dict("records")
    ]
