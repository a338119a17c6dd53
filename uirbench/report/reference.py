"""The paper's published results (``uirbench/manifests/leaderboard/*.csv``), loaded as a long table.

Values are kept as printed (text) next to their float, because the printed precision decides what
"disagrees beyond rounding" means when a published average is checked against its own row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from uirbench.errors import UirbenchError
from uirbench.paths import manifests_dir

COLUMNS = ["source", "setting", "dataset", "method", "task", "metric", "value"]
# Per-task tables of the unified setting, one per metric (Tables 6-9), and the averages (Table 3).
UNIFIED_TABLES = {"psnr": "Table 6", "ssim": "Table 7", "lpips": "Table 8", "fid": "Table 9"}
AVERAGES_TABLE = "Table 3"


def leaderboard_dir(manifests: str | Path | None = None) -> Path:
    """``<manifests>/leaderboard`` (default: the packaged manifests or $UIRBENCH_HOME's)."""
    if manifests is not None:
        p = Path(manifests)
        return p / "leaderboard" if (p / "leaderboard").is_dir() else p
    return manifests_dir() / "leaderboard"


def decimals(text: str) -> int:
    """Printed precision of a number: '0.830' -> 3, '80' -> 0."""
    return len(text.split(".", 1)[1]) if "." in text else 0


def load_meta(manifests: str | Path | None = None) -> list[dict[str, Any]]:
    folder = leaderboard_dir(manifests)
    metas = []
    for y in sorted(folder.glob("*.yaml")):
        try:
            meta = yaml.safe_load(y.read_text()) or {}
        except yaml.YAMLError as exc:
            raise UirbenchError(f"{y} is not valid (safe) YAML: {exc}") from None
        meta["_path"] = y
        metas.append(meta)
    if not metas:
        raise UirbenchError(
            f"no reference results in {folder} (expected *.yaml + *.csv); pass --manifests DIR"
        )
    return metas


def load_reference(manifests: str | Path | None = None) -> pd.DataFrame:
    """All published rows: COLUMNS + ``text`` (as printed), ``decimals`` and ``paper``."""
    frames = []
    for meta in load_meta(manifests):
        csv = meta["_path"].parent / meta["rows"]
        df = pd.read_csv(csv, dtype=str, keep_default_na=False)
        missing = set(COLUMNS) - set(df.columns)
        if missing:
            raise UirbenchError(f"{csv}: missing columns {sorted(missing)}; expected {COLUMNS}")
        df["method"] = df["method"].replace(meta.get("method_aliases") or {})
        df["text"] = df["value"]
        try:
            df["value"] = df["value"].astype(float)
        except ValueError as exc:
            raise UirbenchError(f"{csv}: a value is not a number ({exc})") from None
        df["decimals"] = df["text"].map(decimals)
        df["paper"] = meta.get("paper", csv.stem)
        # Where each value was read: the CSV's own `ref` column, else the paper and its table.
        arxiv = f" (arXiv:{meta['arxiv']})" if meta.get("arxiv") else ""
        default_ref = f"{meta.get('paper', csv.stem)}{arxiv}, " + df["source"]
        df["ref"] = df["ref"].where(df["ref"] != "", default_ref) if "ref" in df else default_ref
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


DEFAULT_SETTING = "uir10"


def setting_meta(setting: str, manifests: str | Path | None = None) -> dict[str, Any]:
    """The reference metadata of a setting (``aio3``: its tasks, profile, rows); the DA-CLIP
    paper's file (no ``setting`` key) is ``uir10``."""
    metas = load_meta(manifests)
    for meta in metas:
        if meta.get("setting", DEFAULT_SETTING) == setting:
            return meta
    known = sorted({m.get("setting", DEFAULT_SETTING) for m in metas})
    raise UirbenchError(f"--setting {setting!r}: no reference results; known: {', '.join(known)}")


def figure6_methods(manifests: str | Path | None = None) -> list[str]:
    for meta in load_meta(manifests):
        if meta.get("figure6_methods"):
            return list(meta["figure6_methods"])
    return []
