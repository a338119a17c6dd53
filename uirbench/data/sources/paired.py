"""Adapters for the upstream datasets that ship real (LQ, GT) pairs.

Each function documents the upstream layout it reads; folders are found by name anywhere below the
source folder, so an extra top-level folder from an archive does not matter.
"""

from __future__ import annotations

import re
from pathlib import Path

from uirbench.data.sources import register
from uirbench.data.sources.common import (
    SourcePair,
    child,
    find_dirs,
    finish,
    images_in,
    is_image,
    keyed,
    one_dir,
    pair_up,
)
from uirbench.errors import UirbenchError


def _upstream(split: str, val_name: str = "test") -> str:
    return "train" if split == "train" else val_name


@register("gopro")
def gopro(src_dir: Path, split: str) -> list[SourcePair]:
    """GoPro_Large: ``{train,test}/GOPRxxxx_xx_xx/{blur,blur_gamma,sharp}/NNNNNN.png``.

    LQ is ``blur`` (never ``blur_gamma``); the stem joins sequence and frame
    (``GOPR0384_11_00-000001``) because frame numbers repeat across sequences.
    """
    name = _upstream(split)
    roots = [
        d
        for d in find_dirs(src_dir, name)
        if any((s / "sharp").is_dir() for s in d.iterdir() if s.is_dir())
    ]
    root = one_dir(roots, f"GoPro '{name}' folder (with <sequence>/sharp inside)", src_dir)
    pairs: list[SourcePair] = []
    for seq in sorted(s for s in root.iterdir() if s.is_dir()):
        if not (seq / "sharp").is_dir() or not (seq / "blur").is_dir():
            missing = "sharp" if not (seq / "sharp").is_dir() else "blur"
            raise UirbenchError(f"{seq}: GoPro sequence without its '{missing}' folder")
        gt = keyed(images_in(seq / "sharp"), lambda p: p.stem)
        lq = keyed(images_in(seq / "blur"), lambda p: p.stem)
        pairs += pair_up(lq, gt, src_dir, stem_of=lambda k, s=seq.name: f"{s}-{k}")
    return finish(pairs)


@register("reside6k")
def reside6k(src_dir: Path, split: str) -> list[SourcePair]:
    """RESIDE-6K: ``{train,test}/{GT,hazy}/<name>``, the same name on both sides."""
    name = _upstream(split)
    root = one_dir(
        find_dirs(src_dir, name, must_contain=("gt", "hazy")), f"RESIDE-6K '{name}'", src_dir
    )
    gt = keyed(images_in(child(root, "GT")), lambda p: p.stem)
    lq = keyed(images_in(child(root, "hazy")), lambda p: p.stem)
    return pair_up(lq, gt, src_dir)


@register("lol")
def lol(src_dir: Path, split: str) -> list[SourcePair]:
    """LOL: ``our485/{low,high}`` (train) and ``eval15/{low,high}`` (test), same names."""
    name = "our485" if split == "train" else "eval15"
    found = find_dirs(src_dir, name, must_contain=("low", "high"))
    # the DA-CLIP zip and the Hub zip hold the same files; either copy may be present
    found = found[:1] if found else found
    root = one_dir(found, f"LOL '{name}'", src_dir)
    gt = keyed(images_in(child(root, "high")), lambda p: p.stem)
    lq = keyed(images_in(child(root, "low")), lambda p: p.stem)
    return pair_up(lq, gt, src_dir)


_RAINDROP = re.compile(r"^(\d+)_(rain|clean)$", re.IGNORECASE)


@register("raindrop")
def raindrop(src_dir: Path, split: str, *, test_set: str = "test_a") -> list[SourcePair]:
    """RainDrop: ``{train,test_a,test_b}/{data/N_rain.png, gt/N_clean.png}``; val = ``test_a``."""
    name = _upstream(split, test_set)
    root = one_dir(
        find_dirs(src_dir, name, must_contain=("data", "gt")), f"RainDrop '{name}'", src_dir
    )

    def key(suffix: str):
        def k(p: Path) -> str | None:
            m = _RAINDROP.match(p.stem)
            if not m or m.group(2).lower() != suffix:
                raise UirbenchError(f"{p}: expected a name like N_{suffix}.png in RainDrop")
            return m.group(1)

        return k

    gt = keyed(images_in(child(root, "gt")), key("clean"))
    lq = keyed(images_in(child(root, "data")), key("rain"))
    return pair_up(lq, gt, src_dir)


_RAIN100 = re.compile(r"^(no)?rain-(\d+)$", re.IGNORECASE)


@register("rain100h")
def rain100h(src_dir: Path, split: str) -> list[SourcePair]:
    """RainTrainH (train) / Rain100H (test): ``rain-NNN.png`` (LQ) and ``norain-NNN.png`` (GT).

    The two archives are told apart by a path component named RainTrainH or Rain100H; inside,
    files may sit in one folder or in sub-folders (e.g. ``rainy/``).
    """
    want = "raintrainh" if split == "train" else "rain100h"
    files = [
        p
        for p in sorted(src_dir.rglob("*"))
        if is_image(p) and want in {c.lower() for c in p.relative_to(src_dir).parts[:-1]}
    ]
    if not files:
        raise UirbenchError(
            f"{src_dir}: no images below a folder named {want} (any case); "
            "extract RainTrainH.zip / Rain100H.zip there (see docs/datasets.md)"
        )
    gt, lq = {}, {}
    for p in files:
        m = _RAIN100.match(p.stem)
        if not m:
            continue  # e.g. other resolutions or readme images
        side = gt if m.group(1) else lq
        k = m.group(2)
        if k in side:
            raise UirbenchError(f"{side[k]} and {p} are both pair {k!r}; keep one copy")
        side[k] = p
    return pair_up(lq, gt, src_dir, stem_of=lambda k: f"rain-{k}")


@register("srd")
def srd(src_dir: Path, split: str) -> list[SourcePair]:
    """SRD: ``{train,test}/{shadow,shadow_free}``; GT ``<n>_no_shadow`` (train) / ``<n>_free``."""
    name = _upstream(split)
    root = one_dir(
        find_dirs(src_dir, name, must_contain=("shadow", "shadow_free")), f"SRD '{name}'", src_dir
    )
    suffixes = ("_no_shadow", "_free")

    def gt_key(p: Path) -> str:
        for s in suffixes:
            if p.stem.endswith(s):
                return p.stem[: -len(s)]
        raise UirbenchError(f"{p}: SRD GT name must end in _no_shadow or _free")

    gt = keyed(images_in(child(root, "shadow_free")), gt_key)
    lq = keyed(images_in(child(root, "shadow")), lambda p: p.stem)
    return pair_up(lq, gt, src_dir)


_SNOW_SIDES = (("synthetic", "gt"), ("lq", "gt"))  # upstream layout, then an LQ/GT re-pack


@register("snow100k")
def snow100k(
    src_dir: Path, split: str, *, subset: str | None = None, level: str | None = None
) -> list[SourcePair]:
    """Snow100K: ``.../{synthetic,gt,mask}/<name>``; ``subset`` keeps names containing it.

    The split's folder is the one whose path (below the source folder) has ``train``/``test`` in a
    component name; with several candidates (the test set has Snow100K-L/M/S), ``level`` picks
    ``Snow100K-<level>``. A re-packed subset with ``{LQ,GT}`` folders instead is read the same way.
    """
    word = "train" if split == "train" else "test"
    cands: list[tuple[Path, str, str]] = []
    for lq_name, gt_name in _SNOW_SIDES:
        for d in find_dirs(src_dir, lq_name):
            parent = d.parent
            if not any(c.is_dir() and c.name.lower() == gt_name for c in parent.iterdir()):
                continue
            parts = [c.lower() for c in parent.relative_to(src_dir).parts]
            if any(word in c for c in parts):
                cands.append((parent, lq_name, gt_name))
    if level and len(cands) > 1:
        cands = [c for c in cands if f"snow100k-{level.lower()}" in str(c[0]).lower()]
    root = one_dir(
        [c[0] for c in cands], f"Snow100K {word} folder (with synthetic/ and gt/)", src_dir
    )
    _, lq_name, gt_name = next(c for c in cands if c[0] == root)

    def keep(p: Path) -> str | None:
        return p.stem if subset is None or subset in p.stem else None

    gt = keyed(images_in(child(root, gt_name)), keep)
    lq = keyed(images_in(child(root, lq_name)), keep)
    pairs = pair_up(lq, gt, src_dir)
    if not pairs:
        raise UirbenchError(f"{root}: no Snow100K pairs with {subset!r} in the name")
    return pairs


__all__ = ["gopro", "lol", "rain100h", "raindrop", "reside6k", "snow100k", "srd"]
