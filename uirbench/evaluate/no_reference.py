"""No-reference scoring of restored real photos that have no GT (``evaluate --no-reference``).

Why its own path: in-the-wild restoration (DA-CLIP's Wild-IR) has no GT, so PSNR/SSIM cannot be
computed; papers report NIQE, MUSIQ, CLIP-IQA and MANIQA instead, through pyiqa, each with its own
options and weights. As for LPIPS/FID, every option is passed explicitly (pyiqa's config with the
profile's options over it) and recorded in results.json, and every absent weight file is named in
one message before anything is scored. The results have the same shape as full-reference ones
(one group, ``wild``), so ``leaderboard export`` and ``plot`` read them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from uirbench.errors import UirbenchError
from uirbench.evaluate.metrics import higher_is_better
from uirbench.evaluate.metrics.pyiqa_metric import (
    PYIQA_NAME,
    check_weights,
    explicit_options,
    missing_weights,
    missing_weights_message,
)
from uirbench.evaluate.pairing import image_files
from uirbench.evaluate.results import package_versions
from uirbench.io import atomic_write_files, read_image, sha256_file

NO_REFERENCE_METRICS = ("niqe", "musiq", "clipiqa", "maniqa")
GROUP = "wild"  # the group (task) name no-reference results are filed under

# Each metric's options, spelled out (pyiqa 0.1.16's defaults, made explicit so a pyiqa upgrade
# that changes a default cannot change a score silently).
PROFILE: dict[str, dict[str, Any]] = {
    "niqe": {"test_y_channel": True, "color_space": "yiq", "crop_border": 0, "version": "original"},
    "musiq": {"pretrained": "koniq10k"},
    "clipiqa": {
        "model_type": "clipiqa",
        "backbone": "RN50",
        "pretrained": True,
        "pos_embedding": False,
    },
    "maniqa": {"train_dataset": "koniq", "scale": 0.8},
}


# Metrics whose pyiqa class takes its checkpoint as ``pretrained_model_path``.
TAKES_MODEL_PATH = {"niqe", "musiq", "maniqa"}


def parse_nr_metrics(metrics: str | None) -> list[str]:
    names = [m.strip() for m in (metrics or ",".join(NO_REFERENCE_METRICS)).split(",")]
    names = [m for m in names if m]
    full_ref = [m for m in names if m in ("psnr", "ssim", "lpips", "fid", "ssim-pyiqa")]
    if full_ref:
        raise UirbenchError(
            f"--metrics {','.join(full_ref)}: full-reference metrics need GT; with --no-reference "
            f"use {', '.join(NO_REFERENCE_METRICS)} or another pyiqa no-reference metric"
        )
    return names


def score_no_reference(
    outputs: str | Path,
    out: str | Path,
    metrics: str | None = None,
    device: str = "cpu",
    name: str | None = None,
) -> dict[str, Any]:
    """Score every image in ``outputs`` with no-reference metrics; write per_image.csv,
    per_task.csv, per_task.md and results.json into ``out``; return the results dict."""
    import pyiqa
    import torch
    from pyiqa.default_model_configs import DEFAULT_CONFIGS

    outputs, out = Path(outputs), Path(out)
    if not outputs.is_dir():
        raise UirbenchError(f"--outputs {outputs}: not a directory")
    files = image_files(outputs)
    if not files:
        raise UirbenchError(f"no images in {outputs}")
    names = parse_nr_metrics(metrics)
    opts = {}
    for m in names:
        opts[m] = explicit_options(m, PROFILE.get(m))
        if DEFAULT_CONFIGS[PYIQA_NAME.get(m, m)].get("metric_mode") != "NR":
            raise UirbenchError(f"--metrics {m}: pyiqa's {m} is not a no-reference metric")
    missing = missing_weights(names, PROFILE)
    if missing:
        others = ",".join(m for m in names if m not in {n for n, _ in missing})
        raise UirbenchError(
            missing_weights_message(missing, f"--metrics {others}" if others else "(none left)")
        )
    start = time.perf_counter()
    rows: list[dict[str, Any]] = [
        {"key": f"{GROUP}/{f.stem}", "task": GROUP, "output": f.name} for f in files
    ]
    images = [read_image(f) for f in files]
    for m in names:
        weight_files = check_weights(m, opts[m])
        kwargs = {k: v for k, v in opts[m].items() if k != "type"}
        if m in TAKES_MODEL_PATH:  # the checked file itself, not pyiqa's own cache lookup
            kwargs["pretrained_model_path"] = str(weight_files[0].path)
        try:
            metric = pyiqa.create_metric(m, as_loss=False, device=device, **kwargs)
        except ImportError as exc:
            raise UirbenchError(
                f"{m}: pyiqa could not import what it needs ({exc}); install the missing "
                "package into this environment (pyiqa's CLIP-IQA imports `clip`, which needs "
                "setuptools' pkg_resources)"
            ) from exc
        with torch.no_grad():
            for row, img in zip(rows, images, strict=True):
                x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None]
                row[m] = float(metric(x.to(device, torch.float32).div_(255.0)).reshape(-1)[0])
    per_image = pd.DataFrame(rows)
    means = {m: float(per_image[m].mean()) for m in names}
    result = {
        "method": name or outputs.name,
        "profile": {"name": "no-reference", "pyiqa": opts},
        "dataset": {
            "kind": "no-reference folder",
            "outputs": str(outputs.resolve()),
            "files": {f.name: sha256_file(f) for f in files},
        },
        "metrics": names,
        "higher_better": {m: higher_is_better(m) for m in names},
        "per_task": {GROUP: {"n": len(files), **means}, "Average (macro)": means},
        "seconds": round(time.perf_counter() - start, 3),
        "versions": package_versions(),
        "warnings": [],
    }
    heads = ["group", "n", *names]
    md = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    md.append(
        "| " + " | ".join([GROUP, str(len(files)), *(f"{means[m]:.4f}" for m in names)]) + " |"
    )
    atomic_write_files(
        {
            out / "per_image.csv": per_image.to_csv(index=False, float_format="%.6f").encode(),
            out / "per_task.csv": pd.DataFrame([{"task": GROUP, "n": len(files), **means}])
            .to_csv(index=False, float_format="%.6f")
            .encode(),
            out / "per_task.md": ("\n".join(md) + "\n").encode(),
            out / "results.json": (json.dumps(result, indent=2) + "\n").encode(),
        }
    )
    return result
