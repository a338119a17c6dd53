"""Leaderboard: merge evaluated results (results.json) with the paper's rows; export and plot.

One table per metric: methods x the ten tasks + Average. A published Average that disagrees with
the mean of its own per-task numbers beyond the printed rounding is shown next to that mean and
flagged, and so is a disagreement between a per-task table (Tables 6-9) and Table 3.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from uirbench.errors import UirbenchError
from uirbench.evaluate.metrics import higher_is_better
from uirbench.report import reference as ref
from uirbench.report.radar import method_colors, radar, radar_row
from uirbench.report.tables import render
from uirbench.tasks import TASKS, task_ids

TASK_IDS = [t.id for t in TASKS]
AVERAGE = "Average"
MEAN_OF_TASKS = "Mean of tasks"
DISPLAY_DECIMALS = {"psnr": 2, "ssim": 4, "ssim-pyiqa": 4, "lpips": 4, "fid": 2, "accuracy": 1}
METRIC_ORDER = ["psnr", "ssim", "lpips", "fid", "accuracy"]


def _results_files(paths: list[Path]) -> list[Path]:
    files = []
    for p in map(Path, paths):
        if p.is_file():
            files.append(p)
        elif (p / "results.json").is_file():
            files.append(p / "results.json")
        elif p.is_dir() and (found := sorted(p.glob("*/results.json"))):
            files += found
        else:
            raise UirbenchError(f"{p}: no results.json there (run `uirbench evaluate --out {p}`)")
    return files


PAPER_PROFILE = "daclip"
FLAGS = "Flags"
REFERENCE = "Reference"  # where a row's values were read (paper + version + table, or file)


def comparability_flags(
    res: dict, setting: str = ref.DEFAULT_SETTING, paper_profile: str = PAPER_PROFILE
) -> list[str]:
    """Why a result is not comparable with the paper's rows (empty when it is, as far as the
    results.json says): another dataset, a subset, an untrained model or another profile.
    ``setting``: the benchmark the paper's rows belong to (``uir10``; ``aio3`` needs results of
    ``evaluate --preset aio3``)."""
    flags = []
    scored_as = res.get("setting") or ref.DEFAULT_SETTING
    if scored_as != setting:
        flags.append(f"scored as {scored_as}, not with evaluate --preset {setting}")
    ds = res.get("dataset") or {}
    sources = set(ds.get("sources") or [])
    if ds.get("kind") == "folder":
        flags.append(f"GT folder {ds.get('gt')}, not the benchmark's val set")
    elif "demo" in sources:
        flags.append("demo root (packaged photos, stand-in tasks), not the benchmark's val set")
    elif "from" in sources:
        flags.append("root built with build-data --from, not the benchmark's val set")
    if res.get("subset"):
        flags.append(f"subset: {res['subset']}")
    src = res.get("source") or {}
    untrained = src.get("kind") == "model" and src.get("model") != "identity"
    untrained = untrained and not src.get("weights") and not src.get("weights_sha256")
    if res.get("random_init") or untrained:
        flags.append("random-init model (no trained weights)")
    profile = (res.get("profile") or {}).get("name")
    if profile != paper_profile:
        flags.append(f"profile {profile}, not the paper's {paper_profile}")
    return flags


def load_results(
    paths: list[Path], setting: str = ref.DEFAULT_SETTING, paper_profile: str = PAPER_PROFILE
) -> pd.DataFrame:
    """Evaluated rows in the reference's long format (source = 'uirbench <profile>'), each with
    its comparability flags (``flags``) against ``setting``'s published rows."""
    rows = []
    for f in _results_files(paths):
        try:
            res = json.loads(f.read_text())
            per_task, method, profile = res["per_task"], res["method"], res["profile"]["name"]
        except (ValueError, KeyError) as exc:
            raise UirbenchError(f"{f}: not a uirbench results.json ({exc})") from None
        flags = "; ".join(comparability_flags(res, setting, paper_profile))
        few = [t for t, x in (res.get("fid_samples") or {}).items() if x["n"] < x["dims"]]
        fid_note = f"FID from fewer images than feature dims on {len(few)} task(s)" if few else ""
        for task, vals in per_task.items():
            tid = "average" if task == "Average (macro)" else task
            if task == "Average (micro)":
                continue  # the micro average is not a paper column
            # Tasks beyond the ten (a --tasks-file root, a --gt group) become columns too.
            for metric, v in vals.items():
                if metric == "n" or v is None:
                    continue
                value = float("inf") if v == "inf" else float(v)
                rows.append(
                    {
                        "source": f"uirbench {profile}",
                        "setting": res.get("setting") or "unified",
                        "dataset": res["dataset"].get("root") or res["dataset"].get("gt"),
                        "method": method,
                        "task": tid,
                        "metric": metric,
                        "value": value,
                        "text": None,
                        "decimals": None,
                        "paper": str(f),
                        "note": fid_note if metric == "fid" else "",
                        "flags": flags,
                        "ref": str(f),
                    }
                )
    cols = [*ref.COLUMNS, "text", "decimals", "paper", "note", "flags", "ref"]
    return pd.DataFrame(rows, columns=cols)


def _fmt(metric: str, value: float, text: str | None = None, decimals: int | None = None) -> str:
    if text:
        return text
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if math.isinf(value):
        return "inf"
    d = decimals if decimals is not None else DISPLAY_DECIMALS.get(metric, 4)
    return f"{value:.{d}f}"


def _tolerance(texts: list[str]) -> float:
    """Largest gap rounding alone explains: row values and the average each off by half a unit."""
    d = max(ref.decimals(t) for t in texts)
    return 10.0**-d + 1e-9


def task_columns(long: pd.DataFrame, tasks: list[str] | None = None) -> list[str]:
    """The setting's tasks (default: the task set in force, the ten in paper order unless a
    --tasks-file says otherwise), then other tasks (task files) in the order found."""
    base = list(tasks) if tasks is not None else list(task_ids())
    found = [t for t in dict.fromkeys(long["task"]) if t != "average"]
    return base + [t for t in found if t not in base]


def metric_table(
    long: pd.DataFrame,
    metric: str,
    reference: pd.DataFrame | None,
    tasks: list[str] | None = None,
) -> pd.DataFrame:
    """Methods x tasks + Average (+ Mean of tasks and Note where a published average is off).

    ``tasks``: the setting's tasks (default: the ten); the Average check uses them. With
    ``tasks`` given, a ``Reference`` column says where each row's values were read.
    """
    setting_tasks = list(tasks) if tasks is not None else list(task_ids())
    n_tasks = len(setting_tasks)
    sub = long[long["metric"] == metric]
    if sub.empty:
        raise UirbenchError(f"no rows for metric {metric!r}")
    t3 = None
    if reference is not None and tasks is None:  # DA-CLIP's Table 3: the ten-task averages
        t3 = reference[
            (reference["source"] == ref.AVERAGES_TABLE) & (reference["metric"] == metric)
        ]
    out = []
    for (source, method), g in sub.groupby(["source", "method"], sort=False):
        by_task = {r.task: r for r in g.itertuples()}
        row: dict[str, object] = {"Method": method, "Source": source}
        for t in task_columns(sub, tasks):
            r = by_task.get(t)
            row[t] = _fmt(metric, r.value, r.text, r.decimals) if r is not None else ""
        avg = by_task.get("average")
        row[AVERAGE] = _fmt(metric, avg.value, avg.text, avg.decimals) if avg is not None else ""
        row[MEAN_OF_TASKS], notes = "", []
        tasks_present = [t for t in setting_tasks if t in by_task]
        if 0 < len(tasks_present) < n_tasks:
            notes.append(f"partial: {len(tasks_present)}/{n_tasks} tasks")
        published = avg is not None and avg.text
        if published and len(tasks_present) == n_tasks:
            texts = [by_task[t].text for t in setting_tasks] + [avg.text]
            mean = sum(by_task[t].value for t in setting_tasks) / n_tasks
            if abs(mean - avg.value) > _tolerance(texts):
                row[MEAN_OF_TASKS] = f"{mean:.{max(ref.decimals(x) for x in texts) + 1}f}"
                notes.append(
                    f"FLAG: published {AVERAGE} {avg.text} != mean of its tasks "
                    f"{row[MEAN_OF_TASKS]} ({source})"
                )
        if published and t3 is not None:
            other = t3[t3["method"] == method]
            if len(other) and abs(other["value"].iloc[0] - avg.value) > _tolerance(
                [other["text"].iloc[0], avg.text]
            ):
                notes.append(f"FLAG: {ref.AVERAGES_TABLE} gives {other['text'].iloc[0]}")
        if "note" in g:
            notes += [n for n in dict.fromkeys(g["note"].dropna()) if n]
        row["Note"] = "; ".join(notes)
        flags = g["flags"].fillna("") if "flags" in g else []
        row[FLAGS] = "; ".join(f for f in dict.fromkeys(flags) if f)
        if tasks is not None and "ref" in g:
            row[REFERENCE] = "; ".join(r for r in dict.fromkeys(g["ref"].fillna("")) if r)
        out.append(row)
    table = pd.DataFrame(out)
    # The column only where a row is flagged (paper-only tables stay as printed).
    return table if table[FLAGS].astype(bool).any() else table.drop(columns=FLAGS)


def paper_table(reference: pd.DataFrame, source: str) -> tuple[pd.DataFrame, str | None]:
    """One paper table as printed (methods x tasks, or methods x metrics for Tables 2a-d, 3)."""
    sub = reference[reference["source"].str.lower() == source.lower()]
    if sub.empty:
        known = ", ".join(dict.fromkeys(reference["source"]))
        raise UirbenchError(f"--source {source!r}: no such table; known: {known}")
    metrics = list(dict.fromkeys(sub["metric"]))
    if len(metrics) == 1:
        return metric_table(sub, metrics[0], reference), metrics[0]
    # Methods x metrics: check each printed Table 3 average against its per-task table.
    rows = []
    for method, g in sub.groupby("method", sort=False):
        row: dict[str, object] = {"Method": method}
        notes = []
        for r in g.itertuples():
            row[r.metric] = r.text
            detail_src = ref.UNIFIED_TABLES.get(r.metric)
            detail = reference[
                (reference["source"] == detail_src) & (reference["method"] == method)
            ]
            tasks = detail[detail["task"].isin(TASK_IDS)]
            if r.task == "average" and len(tasks) == len(TASK_IDS):
                mean = tasks["value"].mean()
                if abs(mean - r.value) > _tolerance([*tasks["text"], r.text]):
                    notes.append(
                        f"FLAG: {r.metric} {r.text} != mean of {detail_src} "
                        f"{mean:.{ref.decimals(r.text) + 1}f}"
                    )
                printed = detail[detail["task"] == "average"]
                if len(printed) and printed["text"].iloc[0] != r.text:
                    notes.append(f"{detail_src} prints {printed['text'].iloc[0]}")
        row["Note"] = "; ".join(notes)
        rows.append(row)
    return pd.DataFrame(rows), None


def _select_metrics(long: pd.DataFrame, metrics: str | None) -> list[str]:
    present = list(dict.fromkeys(long["metric"]))
    if metrics:
        wanted = [m.strip() for m in metrics.split(",") if m.strip()]
        missing = [m for m in wanted if m not in present]
        if missing:
            raise UirbenchError(
                f"--metrics {','.join(missing)}: no such rows; present: {', '.join(present)}"
            )
        return wanted
    return sorted(present, key=lambda m: (METRIC_ORDER.index(m) if m in METRIC_ORDER else 99, m))


def merged_long(
    results: list[Path],
    include_paper: bool,
    manifests: str | Path | None,
    allow_mixed: bool = False,
    setting: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Evaluated rows (+ the unified per-task paper tables) in one long table.

    With the paper's rows, a result flagged by :func:`comparability_flags` is refused unless
    ``allow_mixed``: a number beside the paper's reads as comparable with it. ``setting``
    (``aio3``): that setting's published rows and protocol instead of the DA-CLIP paper's.
    """
    if setting not in (None, ref.DEFAULT_SETTING):
        meta = ref.setting_meta(setting, manifests)
        frames = [load_results(results, setting, meta["profile"])] if results else []
    else:
        frames = [load_results(results)] if results else []
    reference = None
    if include_paper and frames and not allow_mixed:
        flagged = frames[0].drop_duplicates("paper")
        flagged = flagged[flagged["flags"].astype(bool)]
        if len(flagged):
            listed = "; ".join(f"{r.method} ({r.flags})" for r in flagged.itertuples())
            raise UirbenchError(
                f"--include-paper: {len(flagged)} result(s) are not comparable with the paper's "
                f"rows: {listed}. Export them without --include-paper, or pass --allow-mixed to "
                "put them beside the paper's rows, flagged and never bold"
            )
    if include_paper:
        reference = ref.load_reference(manifests)
        if setting not in (None, ref.DEFAULT_SETTING):
            frames.insert(0, reference[reference["setting"] == setting])
        else:
            keep = set(ref.UNIFIED_TABLES.values()) | {"Table 4"}
            frames.insert(0, reference[reference["source"].isin(keep)])
    frames = [f for f in frames if not f.empty]
    if not frames:
        raise UirbenchError("nothing to export: pass results.json paths and/or --include-paper")
    return pd.concat(frames, ignore_index=True), reference


def export(
    results: list[Path],
    out: str | Path,
    fmt: str = "md",
    include_paper: bool = False,
    metrics: str | None = None,
    source: str | None = None,
    manifests: str | Path | None = None,
    allow_mixed: bool = False,
    setting: str | None = None,
) -> list[Path]:
    """Write one table per metric (or the paper tables named in ``source``); return the paths.

    ``setting`` (``aio3``): columns are that setting's tasks, the published rows its own
    (``uirbench/manifests/leaderboard/<setting>.yaml``), results must come from
    ``evaluate --preset <setting>``, and a ``Reference`` column says where each row was read.

    Flagged results (another dataset, a subset, random init, another profile) carry a Flags
    column in CSV and a dagger plus footnote in Markdown/LaTeX, and are never bold against
    unflagged rows.
    """
    if fmt not in ("csv", "md", "tex"):
        raise UirbenchError(f"--format {fmt!r}: use csv, md or tex")
    out = Path(out)
    written = []
    if source:
        reference = ref.load_reference(manifests)
        for s in [s.strip() for s in source.split(",") if s.strip()]:
            table, metric = paper_table(reference, s)
            title = f"{s} of the DA-CLIP paper (as printed)" + (f": {metric}" if metric else "")
            written.append(
                render(
                    table, out / f"paper_{s.lower().replace(' ', '-')}.{fmt}", fmt, title, metric
                )
            )
        return written
    long, reference = merged_long(results, include_paper, manifests, allow_mixed, setting)
    tasks, prefix = None, "leaderboard"
    if setting not in (None, ref.DEFAULT_SETTING):
        tasks, prefix = (
            list(ref.setting_meta(setting, manifests)["tasks"]),
            f"leaderboard_{setting}",
        )
    for m in _select_metrics(long, metrics):
        table = metric_table(long, m, reference, tasks)
        arrow = "higher is better" if higher_is_better(m) else "lower is better"
        title = f"{m} ({arrow})" + (f", setting {setting}" if tasks is not None else "")
        written.append(render(table, out / f"{prefix}_{m}.{fmt}", fmt, title, m))
    return written


def plot(
    results: list[Path],
    out: str | Path,
    include_paper: bool = False,
    metrics: str | None = None,
    methods: str | None = None,
    manifests: str | Path | None = None,
    allow_mixed: bool = False,
) -> list[Path]:
    """Radar PNG + SVG per metric over the ten tasks, and all metrics in a row (Figure 6).

    A flagged result's label ends with a dagger (see :func:`comparability_flags`)."""
    long, _ = merged_long(results, include_paper, manifests, allow_mixed)
    long = long[long["task"] != "average"]  # radar axes: the ten, then any task of the user's
    if methods:
        wanted = [m.strip() for m in methods.split(",") if m.strip()]
    elif include_paper:
        evaluated = list(dict.fromkeys(long.loc[long["text"].isna(), "method"]))
        wanted = ref.figure6_methods(manifests) + evaluated
    else:
        wanted = list(dict.fromkeys(long["method"]))
    panels = []
    for m in _select_metrics(long, metrics):
        sub = long[(long["metric"] == m) & long["method"].isin(wanted)]
        paper = sub["source"].str.startswith("Table")
        label = sub["method"] + paper.map({True: " (paper)", False: ""})
        if "flags" in sub:
            label = label + sub["flags"].fillna("").astype(bool).map({True: " †", False: ""})
        wide = sub.assign(label=label).pivot_table(
            index="label", columns="task", values="value", aggfunc="first", sort=False
        )
        if not wide.empty:
            panels.append((wide, m, higher_is_better(m)))
    if not panels:
        raise UirbenchError("nothing to plot: no per-task rows for the chosen methods/metrics")
    colors = method_colors(list(dict.fromkeys(x for w, _, _ in panels for x in w.index)))
    written = []
    for wide, m, hb in panels:
        written += radar(wide, m, hb, Path(out) / f"radar_{m}", colors)
    if len(panels) > 1:
        written += radar_row(panels, Path(out) / "radar_all", colors)
    return written
