"""Results files of one evaluation: per-image CSV, per-task CSV/Markdown, results JSON.

The JSON carries provenance (model and weight sha256, index sha256, profile, metric options,
package versions) so a number in a leaderboard can be traced to what produced it.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from uirbench.evaluate.profiles import Profile
from uirbench.io import atomic_write_files, sha256_file
from uirbench.tasks import all_tasks

MACRO = "Average (macro)"
MICRO = "Average (micro)"
RESULTS_JSON = "results.json"
_PACKAGES = ("uirbench", "numpy", "opencv-python-headless", "torch", "torchvision", "pyiqa")


def package_versions() -> dict[str, str]:
    out = {}
    for p in _PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            continue
    return out


def per_task_table(
    per_image: pd.DataFrame, metrics: list[str], fid: dict[str, dict[str, Any]] | None
) -> pd.DataFrame:
    """Tasks (paper order) x metrics, then the macro (mean of tasks) and micro (pooled) averages."""
    image_metrics = [m for m in metrics if m in per_image.columns]
    present = list(dict.fromkeys(per_image["task"]))
    # The tasks in force in their order (the paper's ten, or a task file's), then `--gt` groups
    # with other names in the order found.
    paper = [t.id for t in all_tasks()]
    order = [t for t in paper if t in present] + [t for t in present if t not in paper]
    g = per_image.groupby("task")
    table = g[image_metrics].mean().reindex(order)
    table.insert(0, "n", g.size().reindex(order))
    if fid is not None:
        table["fid"] = [fid[t]["fid"] for t in order]
    table = table[["n", *metrics]]
    macro = table[metrics].mean(axis=0)
    micro = per_image[image_metrics].mean(axis=0).reindex(metrics)  # NaN for dataset-level FID
    table.loc[MACRO] = [np.nan, *macro.tolist()]
    table.loc[MICRO] = [len(per_image), *micro.tolist()]
    table.index.name = "task"
    return table


def _fmt(metric: str, v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if math.isinf(v):
        return "inf"
    return f"{v:.4f}" if metric in ("ssim", "ssim-pyiqa", "lpips") else f"{v:.2f}"


def markdown_table(table: pd.DataFrame, metrics: list[str], title: str) -> str:
    head = "| task | n | " + " | ".join(metrics) + " |"
    sep = "|---|---:|" + "---:|" * len(metrics)
    lines = [title, "", head, sep]
    for task, row in table.iterrows():
        n = "" if pd.isna(row["n"]) else str(int(row["n"]))
        lines.append(f"| {task} | {n} | " + " | ".join(_fmt(m, row[m]) for m in metrics) + " |")
    lines += [
        "",
        f"{MACRO}: unweighted mean over tasks (the paper's 'Average'). "
        f"{MICRO}: mean over all images (not defined for FID).",
    ]
    return "\n".join(lines) + "\n"


def _json_num(v: Any) -> Any:
    if isinstance(v, (float, np.floating)):
        v = float(v)
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
    if isinstance(v, np.integer):
        return int(v)
    return v


def write_results(
    out: Path,
    per_image: pd.DataFrame,
    metrics: list[str],
    profile: Profile,
    fid: dict[str, dict[str, Any]] | None,
    dataset: dict[str, Any],
    model: str | None,
    outputs: str | Path | None,
    restorer: Any,
    weights: str | None,
    metric_opts: dict[str, Any],
    name: str | None = None,
    extra: dict[str, Any] | None = None,
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    """Write the four result files into ``out``; return the results dict.

    ``warnings`` (e.g. outputs converted before scoring) go first in the JSON's ``warnings``.

    ``dataset`` says what the GT was: a built root (``kind: root``, its index sha256 and the
    sources its rows came from) or a plain folder (``kind: folder``, the sha256 of its listing).
    """
    out.mkdir(parents=True, exist_ok=True)
    table = per_task_table(per_image, metrics, fid)
    method = name or model or Path(outputs).name
    warnings = list(warnings or [])
    if fid:
        for task, f in fid.items():
            if f["n"] < f["dims"]:
                warnings.append(
                    f"fid[{task}]: {f['n']} samples < {f['dims']} feature dims: the covariance is "
                    "rank-deficient, so this FID is biased and only comparable at equal n"
                )
    source: dict[str, Any]
    if model is not None:
        wsha = getattr(restorer, "weights_sha256", None)
        if wsha is None and weights and Path(weights).is_file():
            wsha = sha256_file(weights)
        random_init = bool(getattr(restorer, "random_init", False))
        if random_init or (not weights and not wsha and model != "identity"):
            warnings.append(
                f"model {model}: untrained weights (--random-init); these scores test the "
                "pipeline, they are not results"
            )
            random_init = True
        source = {
            "kind": "model",
            "model": model,
            "weights": weights,
            "weights_sha256": wsha,
            "random_init": random_init,
            "info": getattr(restorer, "info", {}),
        }
    else:
        source = {"kind": "outputs", "outputs": str(Path(outputs).resolve())}
    results: dict[str, Any] = {
        "method": method,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "source": source,
        "random_init": bool(source.get("random_init", False)),
        "dataset": {**dataset, "pairs": len(per_image)},
        "profile": profile.as_dict(),
        "metrics": metrics,
        "metric_options": metric_opts,
        "versions": package_versions(),
        "per_task": {
            str(t): {k: _json_num(v) for k, v in row.items()} for t, row in table.iterrows()
        },
        "fid_samples": fid or {},
        "warnings": warnings,
        **(extra or {}),
        "files": {
            "per_image": "per_image.csv",
            "per_task_csv": "per_task.csv",
            "per_task_md": "per_task.md",
        },
    }
    cols = ["key", "task", "stem", "height", "width", *[m for m in metrics if m in per_image]]
    title = f"# {method} — profile `{profile.name}` ({profile.description})"
    texts = {  # all written before any is renamed: a full disk leaves the previous four files
        out / "per_image.csv": per_image[cols].to_csv(index=False),
        out / "per_task.csv": table.to_csv(),
        out / "per_task.md": markdown_table(table, metrics, title),
        out / RESULTS_JSON: json.dumps(results, indent=2) + "\n",
    }
    atomic_write_files({path: text.encode("utf-8") for path, text in texts.items()})
    return results
