"""Render a leaderboard table (strings) as CSV, Markdown or LaTeX (booktabs), best values bold."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from uirbench.evaluate.metrics import higher_is_better
from uirbench.io import atomic_write_text
from uirbench.tasks import TASKS

TASK_LABELS = {t.id: t.id.replace("-", " ").title().replace(" ", "-") for t in TASKS}
TASK_LABELS["jpeg"] = "JPEG"
NUMERIC_SKIP = {"Method", "Source", "Note", "Flags"}
FLAGS = "Flags"
DAGGER = "†"


def _num(s: object) -> float:
    try:
        return float(s)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _flagged(table: pd.DataFrame) -> pd.Series:
    """Rows whose result is not comparable with the others (a non-empty Flags cell)."""
    if FLAGS not in table:
        return pd.Series(False, index=table.index)
    return table[FLAGS].fillna("").astype(str).str.len() > 0


def _best(table: pd.DataFrame, metric: str | None) -> dict[str, float]:
    """Best value per numeric column; columns are tasks of ``metric``, or metrics themselves.

    Flagged rows compete only when every row is flagged: a subset or a demo root never takes
    the bold from a comparable row.
    """
    flagged = _flagged(table)
    if not flagged.all():
        table = table[~flagged]
    out = {}
    for c in table.columns:
        if c in NUMERIC_SKIP or c == "Mean of tasks":
            continue
        pick = max if higher_is_better(metric or c) else min
        vals = [v for v in map(_num, table[c]) if not math.isnan(v)]
        if len(vals) > 1:
            out[c] = pick(vals)
    return out


def _header(c: str) -> str:
    return TASK_LABELS.get(c, c)


def _footnote(table: pd.DataFrame) -> list[str]:
    """(method, flags) lines for the flagged rows."""
    flagged = _flagged(table)
    return [f"{r['Method']}: {r[FLAGS]}" for _, r in table[flagged].iterrows()]


def _bold_ok(table: pd.DataFrame) -> pd.Series:
    flagged = _flagged(table)
    return flagged if flagged.all() else ~flagged


def _markdown(table: pd.DataFrame, title: str, best: dict[str, float]) -> str:
    notes = _footnote(table)
    ok = _bold_ok(table)
    table = table.assign(
        Method=[
            f"{m} {DAGGER}" if f else m
            for m, f in zip(table["Method"], _flagged(table), strict=True)
        ]
    )
    cols = [
        c
        for c in table.columns
        if c != FLAGS and not (c in ("Mean of tasks", "Note") and not table[c].astype(bool).any())
    ]
    lines = [
        f"## {title}",
        "",
        "| " + " | ".join(_header(c) for c in cols) + " |",
        "|" + "|".join("---" if c in NUMERIC_SKIP else "---:" for c in cols) + "|",
    ]
    for i, r in table.iterrows():
        cells = []
        for c in cols:
            v = str(r[c])
            cells.append(f"**{v}**" if ok[i] and c in best and _num(v) == best[c] else v)
        lines.append("| " + " | ".join(cells) + " |")
    if notes:
        lines += ["", f"{DAGGER} Not comparable with the unmarked rows (never bold against them):"]
        lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _tex_escape(s: str) -> str:
    for a, b in (
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("_", r"\_"),
        ("#", r"\#"),
        ("$", r"\$"),
        ("{", r"\{"),
        ("}", r"\}"),
        ("~", r"\~{}"),
    ):
        s = s.replace(a, b)
    return s.replace("!=", r"$\neq$")


def _latex(table: pd.DataFrame, title: str, best: dict[str, float]) -> str:
    notes = _footnote(table)
    ok, flagged = _bold_ok(table), _flagged(table)
    cols = [
        c
        for c in table.columns
        if c != FLAGS and not (c in ("Mean of tasks", "Note") and not table[c].astype(bool).any())
    ]
    spec = "".join("l" if c in NUMERIC_SKIP else "r" for c in cols)
    lines = [
        f"% {title}",
        f"\\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(_tex_escape(_header(c)) for c in cols) + r" \\",
        r"\midrule",
    ]
    for i, r in table.iterrows():
        cells = []
        for c in cols:
            v = _tex_escape(str(r[c]))
            if c == "Method" and flagged[i]:
                v += r"$^\dagger$"
            elif ok[i] and c in best and _num(r[c]) == best[c]:
                v = f"\\textbf{{{v}}}"
            cells.append(v)
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if notes:
        lines.append(
            r"\par\footnotesize $^\dagger$ Not comparable with the unmarked rows (never bold "
            r"against them): " + "; ".join(_tex_escape(n) for n in notes) + r"\par"
        )
    return "\n".join(lines) + "\n"


def render(table: pd.DataFrame, path: Path, fmt: str, title: str, metric: str | None) -> Path:
    """Write ``table`` to ``path`` in ``fmt`` (csv keeps every column, even empty ones)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        text = table.to_csv(index=False)
    elif fmt == "md":
        text = _markdown(table, title, _best(table, metric))
    else:
        text = _latex(table, title, _best(table, metric))
    atomic_write_text(path, text)
    return path
