"""Radar charts over the ten tasks, one per metric, laid out like the paper's Figure 6.

Each task axis has its own scale (PSNR of hazy and FID of low-light share no units), normalised
over the methods drawn: the best method's value sits at the rim (and is printed there), the
worst at 0.23 of the radius. For lower-is-better metrics
(LPIPS, FID) the axis is reversed so that outward is always better; the axis labels print the
values at the rim and near the centre so the reversal is visible.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from uirbench.io import atomic_path
from uirbench.tasks import task_ids


def _axis_scale(vals: np.ndarray, higher_better: bool) -> tuple[float, float]:
    """(value at radius 0, value at the rim) for one axis."""
    finite = vals[np.isfinite(vals)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    span = hi - lo or max(abs(hi) * 0.1, 1e-6)
    # The best value drawn sits exactly on the rim, so the rim label is a real number.
    return (lo - 0.3 * span, hi) if higher_better else (hi + 0.3 * span, lo)


def _label(v: float) -> str:
    return f"{v:.3f}" if abs(v) < 2 else f"{v:.2f}"


def _draw(ax, data: pd.DataFrame, metric: str, higher_better: bool, colors: dict) -> None:
    # One axis per task of the set in force (the ten in paper order, or a --tasks-file's, in its
    # order), then any other task found in the results (a root built with a task file).
    known = task_ids()
    tasks = [*known, *(c for c in data.columns if c not in known)]
    n = len(tasks)
    angles = [2 * math.pi * i / n for i in range(n)]
    data = data.reindex(columns=tasks).astype(float)
    scales = [_axis_scale(data[t].to_numpy(), higher_better) for t in tasks]
    ax.set_theta_offset(math.pi / 2)  # first task at the top, then clockwise
    ax.set_theta_direction(-1)
    ax.set_ylim(0, 1.0)
    ax.set_yticks([0.25, 0.5, 0.75, 1.0])
    ax.set_yticklabels([])
    ax.set_xticks(angles)
    labels = []
    for t, (_worst, best) in zip(tasks, scales, strict=True):
        name = "JPEG" if t == "jpeg" else t.capitalize()
        labels.append(f"{name}\n{_label(best)}")
    ax.set_xticklabels(labels, fontsize=7)
    ax.grid(alpha=0.35)
    ax.spines["polar"].set_alpha(0.3)
    for method, row in data.iterrows():
        r = []
        for t, (worst, best) in zip(tasks, scales, strict=True):
            v = row[t]
            r.append(np.nan if not np.isfinite(v) else (v - worst) / (best - worst))
        r = np.clip(np.array(r, dtype=float), 0, 1)
        ang = np.array([*angles, 2 * math.pi])  # close the polygon without sweeping back
        rr = np.append(r, r[0])
        c = colors[method]
        ax.plot(ang, rr, color=c, lw=1.6, marker="o", ms=2.5, label=str(method))
        ax.fill(ang, np.nan_to_num(rr), color=c, alpha=0.08)
    arrow = "higher is better" if higher_better else "lower is better; outward is better"
    ax.set_title(f"{metric.upper()} ({arrow})", fontsize=10, pad=18)


def method_colors(methods: list[str]) -> dict[str, tuple]:
    """One colour per method, the same in every chart."""
    import matplotlib

    palette = matplotlib.colormaps["tab10"].colors
    return {m: palette[k % len(palette)] for k, m in enumerate(methods)}


def _save(fig, stem: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".svg")]
    for p in paths:  # atomically: a kill or a full disk keeps the previous chart
        with atomic_path(p) as tmp:
            meta = {"Date": None} if p.suffix == ".svg" else None
            fig.savefig(tmp, format=p.suffix[1:], metadata=meta)
    plt.close(fig)
    return paths


def radar(
    wide: pd.DataFrame, metric: str, higher_better: bool, stem: Path, colors: dict | None = None
) -> list[Path]:
    """Draw ``wide`` (methods x task ids) to ``stem``.png and .svg; return both paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = colors or method_colors(list(wide.index))
    fig = plt.figure(figsize=(5.2, 5.6), dpi=150)
    ax = fig.add_subplot(projection="polar")
    _draw(ax, wide, metric, higher_better, colors)
    ax.legend(
        loc="upper center",
        bbox_to_anchor=(0.5, -0.06),
        ncol=min(3, len(wide)),
        fontsize=7,
        frameon=False,
    )
    fig.tight_layout()
    return _save(fig, stem)


def radar_row(
    panels: list[tuple[pd.DataFrame, str, bool]], stem: Path, colors: dict | None = None
) -> list[Path]:
    """All metrics side by side with one legend, as the paper's Figure 6."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(m for wide, _, _ in panels for m in wide.index))
    colors = colors or method_colors(methods)
    fig = plt.figure(figsize=(4.6 * len(panels), 5.2), dpi=150)
    for k, (wide, metric, hb) in enumerate(panels):
        _draw(fig.add_subplot(1, len(panels), k + 1, projection="polar"), wide, metric, hb, colors)
    handles = [plt.Line2D([], [], color=colors[m], lw=1.6, marker="o", ms=3) for m in methods]
    fig.legend(
        handles, methods, loc="lower center", ncol=min(6, len(methods)), fontsize=8, frameon=False
    )
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return _save(fig, stem)
