"""Pair a folder of restored images with the GT of a built root, by name.

Accepted layouts: ``<dir>/<task>/<stem>.<ext>`` (task id or official folder name) or flat
``<dir>/<stem>.<ext>`` when stems are unique across the selected tasks. A missing, extra,
ambiguous or size-mismatched file is an error listing every offender: silently skipping an image
would change a task's mean without anyone noticing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from PIL import Image

from uirbench.errors import UirbenchError
from uirbench.io import IMAGE_SUFFIXES
from uirbench.tasks import TASK_IDS, get_task

_MAX_LISTED = 20


@dataclass(frozen=True)
class Pair:
    key: str  # index key <split>/<task id>/<stem>
    task: str
    stem: str
    output: Path
    gt: Path
    conversions: tuple[str, ...] = ()  # what decoding changes (see :func:`conversions`)


# Kinds of conversion an output goes through before scoring, and what each means for its score.
CONVERSIONS = {
    "grayscale": "grayscale, replicated to 3 channels (its colour error is scored as is)",
    "alpha": "alpha channel dropped (not composited)",
    "palette": "palette image, expanded to RGB",
    "bit depth": "not 8 bits per channel",
    "lossy": "lossy format (JPEG/WebP): its compression error counts against the method",
}


def conversions(im: Image.Image) -> tuple[str, ...]:
    """The conversions (keys of :data:`CONVERSIONS`) decoding this image to 8-bit RGB implies,
    from its header: a score of a grey, translucent or JPEG output is not a score of what the
    method produced, so each is reported."""
    out = []
    mode = im.mode
    if mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"):
        out.append("grayscale")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in im.info):
        out.append("alpha")
    if mode in ("P", "PA"):
        out.append("palette")
    if mode in ("1", "I", "I;16", "I;16B", "I;16L", "F") or mode.startswith("I;16"):
        out.append("bit depth")
    if (im.format or "").upper() in ("JPEG", "MPO", "WEBP"):
        out.append("lossy")
    return tuple(out)


def conversion_warnings(pairs: list[Pair], outputs: Path) -> list[str]:
    """One warning per kind of conversion, naming the files (the first few)."""
    by_kind: dict[str, list[str]] = {}
    for p in pairs:
        for kind in p.conversions:
            by_kind.setdefault(kind, []).append(str(p.output.relative_to(outputs)))
    out = []
    for kind, files in by_kind.items():
        shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
        out.append(f"outputs converted before scoring: {len(files)} {CONVERSIONS[kind]}: {shown}")
    return out


def _listing(title: str, items: list[str]) -> str:
    shown = "\n".join(f"    {s}" for s in items[:_MAX_LISTED])
    more = f"\n    ... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return f"  {title} ({len(items)}):\n{shown}{more}"


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def image_files(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` (by extension), sorted."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def original_names(rows: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(task, original file stem) -> index stem, for rows whose stem was made file-name-safe.

    ``build-data --from`` renames ``my photo.v2.png`` to ``my-photo-v2`` and keeps the original
    in ``source_image``; outputs a method wrote under the original names pair too. An original
    stem two photos of a task share (same name in two subfolders) is left out: ambiguous.
    """
    if "source_image" not in rows or "source" not in rows:
        return {}
    seen: dict[tuple[str, str], list[str]] = {}
    stems = set(zip(rows["task"], rows["stem"], strict=True))
    for task, stem, src, source in zip(
        rows["task"], rows["stem"], rows["source_image"], rows["source"], strict=True
    ):
        if source != "from" or not src:
            continue
        original = Path(str(src)).stem
        if original != stem and (task, original) not in stems:
            seen.setdefault((task, original), []).append(stem)
    return {k: v[0] for k, v in seen.items() if len(v) == 1}


def _links(outputs: Path) -> list[str]:
    """Symbolic links among the entries pairing looks at (top level and one folder down)."""
    found = []
    for p in sorted(outputs.iterdir()):
        if p.is_symlink():
            found.append(f"{p.name} -> {os.readlink(p)}")
        elif p.is_dir():
            found += [
                f"{p.name}/{q.name} -> {os.readlink(q)}"
                for q in sorted(p.iterdir())
                if q.is_symlink()
            ]
    return found


def pair_outputs(
    outputs: str | Path, rows: pd.DataFrame, root: str | Path, follow_symlinks: bool = False
) -> list[Pair]:
    """Match every index row (already filtered to the split and tasks) with one output file.

    A submission is read as the plain files in ``outputs``: symbolic links are refused unless
    ``follow_symlinks`` (a link can point anywhere, e.g. at the GT, which scores inf dB), and an
    output that is the GT file itself (a hard link, or a followed link) is refused always."""
    outputs, root = Path(outputs), Path(root)
    if not outputs.is_dir():
        raise UirbenchError(f"--outputs {outputs}: not a directory")
    links = [] if follow_symlinks else _links(outputs)
    if links:
        raise UirbenchError(
            f"--outputs {outputs} holds symbolic links; a submission is read as plain files (a "
            f"link can point anywhere, e.g. at the GT):\n{_listing('links', links)}\n"
            "Copy the files in, or pass --follow-symlinks if you trust where they point."
        )
    wanted_tasks = set(rows["task"])
    subdirs = [p for p in sorted(outputs.iterdir()) if p.is_dir()]
    if not image_files(outputs) and not any(image_files(d) for d in subdirs):
        hint = ""
        if any((d / "GT").is_dir() for d in subdirs):
            hint = (
                "; these task folders hold LQ/ and GT/ (a dataset split): --outputs wants the "
                "restored images themselves, e.g. <dir>/<task>/<name>.png"
            )
        raise UirbenchError(
            f"--outputs {outputs}: no images in {outputs} "
            f"({'/'.join(e.lstrip('.') for e in IMAGE_SUFFIXES)}, flat or in <task>/ folders){hint}"
        )
    found: dict[tuple[str, str], Path] = {}
    extra: list[str] = []
    duplicate: list[str] = []
    alias = original_names(rows)

    def canon(task: str, file_stem: str) -> str:
        return alias.get((task, file_stem), file_stem)

    if subdirs:  # <task>/<stem>.<ext>
        for d in subdirs:
            try:  # a group of `--gt` is named as given; a paper task by id or official name
                task = d.name if d.name in wanted_tasks else get_task(d.name).id
            except ValueError:
                known = ", ".join(sorted(wanted_tasks - set(TASK_IDS)) + TASK_IDS)
                extra.append(f"{d.name}/ (not a task; tasks: {known})")
                continue
            if task not in wanted_tasks:
                continue  # a task not selected with --tasks
            for f in image_files(d):
                k = (task, canon(task, f.stem))
                if k in found:
                    duplicate.append(f"{d.name}/{f.name} and {found[k].name}")
                found[k] = f
        extra += [f"{f.name} (top-level file next to task folders)" for f in image_files(outputs)]
    else:  # flat: <stem>.<ext>
        by_stem: dict[str, list[str]] = {}
        for task, stem in zip(rows["task"], rows["stem"], strict=True):
            by_stem.setdefault(stem, []).append(task)
        for task, original in alias:
            by_stem.setdefault(original, []).append(task)
        ambiguous = sorted(s for s, ts in by_stem.items() if len(ts) > 1)
        if ambiguous:
            raise UirbenchError(
                f"--outputs {outputs} is flat but these names occur in several tasks, so they "
                f"cannot be paired:\n{_listing('ambiguous names', ambiguous)}\n"
                "Lay the outputs out as <task>/<name>.png, or pass --tasks with one task."
            )
        for f in image_files(outputs):
            if f.stem not in by_stem:
                extra.append(f.name)
                continue
            task = by_stem[f.stem][0]
            k = (task, canon(task, f.stem))
            if k in found:
                duplicate.append(f"{f.name} and {found[k].name}")
            found[k] = f

    original_of = {(t, stem): orig for (t, orig), stem in alias.items()}
    pairs: list[Pair] = []
    missing: list[str] = []
    mismatched: list[str] = []
    unreadable: list[str] = []
    for row in rows.itertuples(index=False):
        k = (row.task, row.stem)
        out = found.pop(k, None)
        if out is None:
            folder = f"{row.task}/" if subdirs else ""
            orig = original_of.get(k)
            missing.append(f"{folder}{row.stem}.png" + (f" (or {orig}.png)" if orig else ""))
            continue
        try:
            with Image.open(out) as im:  # header only: the size, to list every mismatch at once
                w, h = im.size
                conv = conversions(im)
                if im.getexif().get(0x0112) in (5, 6, 7, 8):  # shown (and read) rotated by 90
                    w, h = h, w
        except (OSError, Image.DecompressionBombError) as exc:
            unreadable.append(f"{out.relative_to(outputs)}: {exc.__class__.__name__}")
            continue
        if (w, h) != (int(row.width), int(row.height)):
            mismatched.append(f"{out.relative_to(outputs)}: {w}x{h}, GT {row.width}x{row.height}")
        pairs.append(Pair(row.key, row.task, row.stem, out, root / row.gt_path, conv))
    extra += [str(p.relative_to(outputs)) for p in found.values()]
    same = [str(p.output.relative_to(outputs)) for p in pairs if _same_file(p.output, p.gt)]
    if same:
        raise UirbenchError(
            f"--outputs {outputs}: these outputs are the GT files themselves (hard or symbolic "
            f"links to the GT), not restorations:\n{_listing('the GT itself', same)}"
        )

    problems = []
    if missing:
        problems.append(_listing("missing (no output for this GT)", missing))
    if extra:
        problems.append(_listing("extra (no GT with this name)", sorted(extra)))
    if duplicate:
        problems.append(_listing("duplicates (same name, several extensions)", duplicate))
    if mismatched:
        problems.append(_listing("size differs from GT", mismatched))
    if unreadable:
        problems.append(
            _listing("not a readable image (empty, corrupt or not an image)", unreadable)
        )
    if problems and not pairs and any((d / "GT").is_dir() for d in subdirs):
        problems.append(
            "  hint: these task folders hold LQ/ and GT/ (a dataset split); --outputs wants the "
            "restored images themselves, e.g. <dir>/<task>/<name>.png"
        )
    if problems:
        raise UirbenchError(
            f"--outputs {outputs} does not match the {len(rows)} GT images of the selected "
            "tasks:\n" + "\n".join(problems) + "\nFix the folder so each GT has exactly one "
            "output of the same size, named like the GT."
        )
    return pairs
