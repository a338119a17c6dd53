"""Adapters for the three-task setting of AirNet / PromptIR (``--preset aio3``).

Upstream layouts (AirNet ``test/README.md`` and PromptIR ``INSTALL.md`` name the folders; the
JORDER and RESIDE releases use their own names, and both are read):

- BSD400 (denoising train): one folder of 400 images; WED: ``pristine_images/00001.bmp ...``.
- Rain100L: AirNet/PromptIR test ``Rain100L/{input,target}/<name>`` (same name both sides) and
  train ``Derain/{rainy/rain-N.png, gt/norain-N.png}``; or the JORDER release
  (``rain-NNN.png`` / ``norain-NNN.png`` below a ``Rain100L`` / ``RainTrainL`` folder).
- SOTS outdoor: ``{hazy,gt}`` (RESIDE) or ``{input,target}`` (AirNet); hazy ``0001_0.8_0.2.jpg``
  pairs with GT ``0001.png``: the GT is named by the hazy name's part before the first ``_``,
  as ``DerainDehazeDataset._get_gt_path`` does. One hazy image per GT: a second one is an error.
- RESIDE OTS (dehazing train): ``{synthetic,original}`` (PromptIR) or ``{haze,clear}`` (RESIDE-β);
  many hazy images per GT, each its own pair (the stem is the hazy name).
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
    gt_only,
    images_in,
    is_image,
    keyed,
    one_dir,
    pair_up,
    rel,
    sanitize_stem,
)
from uirbench.errors import UirbenchError


def _only(split: str, allowed: str, name: str) -> None:
    if split != allowed:
        raise UirbenchError(f"source {name} is a {allowed} source in aio3; it has no {split} split")


def _image_folder(src_dir: Path, name: str | None, what: str) -> Path:
    """The folder called ``name`` holding images (or, without a name, the one folder that does)."""
    if name is not None:
        found = [d for d in find_dirs(src_dir, name) if images_in(d)]
    else:
        found = sorted({p.parent for p in src_dir.rglob("*") if is_image(p)})
    return one_dir(found, what, src_dir)


@register("bsd400")
def bsd400(src_dir: Path, split: str) -> list[SourcePair]:
    """BSD400: the one folder of images below the source (400 greyscale images; replicated to RGB
    on reading, as PromptIR's ``Image.open(...).convert('RGB')``)."""
    _only(split, "train", "bsd400")
    root = _image_folder(src_dir, None, "folder of BSD400 images")
    return gt_only(images_in(root), src_dir, stem_of=lambda p: f"bsd400-{p.stem}")


@register("wed")
def wed(src_dir: Path, split: str) -> list[SourcePair]:
    """Waterloo Exploration Database: ``pristine_images/00001.bmp ... 04744.bmp``."""
    _only(split, "train", "wed")
    root = _image_folder(src_dir, "pristine_images", "WED pristine_images folder")
    return gt_only(images_in(root), src_dir, stem_of=lambda p: f"wed-{p.stem}")


_JORDER = re.compile(r"^(no)?rain-(\d+)$", re.IGNORECASE)


def _jorder_pairs(files: list[Path], src_dir: Path) -> list[SourcePair]:
    """``rain-N`` (LQ) with ``norain-N`` (GT); N compared as written (``001`` is not ``1``)."""
    gt: dict[str, Path] = {}
    lq: dict[str, Path] = {}
    for p in files:
        m = _JORDER.match(p.stem)
        if not m:
            raise UirbenchError(f"{p}: expected a name like rain-N.png or norain-N.png (Rain100L)")
        side = gt if m.group(1) else lq
        if m.group(2) in side:
            raise UirbenchError(f"{side[m.group(2)]} and {p} are both pair {m.group(2)!r}")
        side[m.group(2)] = p
    return pair_up(lq, gt, src_dir, stem_of=lambda k: f"rain-{k}")


@register("rain100l")
def rain100l(src_dir: Path, split: str) -> list[SourcePair]:
    """Rain100L test (val) / its 200-pair train set, in the AirNet/PromptIR or JORDER layout."""
    if split == "val":
        found = find_dirs(src_dir, "rain100l", must_contain=("input", "target"))
        if found:
            root = one_dir(found, "Rain100L folder with input/ and target/", src_dir)
            lq = keyed(images_in(child(root, "input")), lambda p: p.stem)
            gt = keyed(images_in(child(root, "target")), lambda p: p.stem)
            return pair_up(lq, gt, src_dir)
        want = "rain100l"
    else:
        found = [
            d
            for d in find_dirs(src_dir, "rainy")
            if any(c.is_dir() and c.name.lower() == "gt" for c in d.parent.iterdir())
        ]
        if found:
            root = one_dir([d.parent for d in found], "folder with rainy/ and gt/", src_dir)
            files = images_in(child(root, "rainy")) + images_in(child(root, "gt"))
            return _jorder_pairs(files, src_dir)
        want = "raintrainl"
    files = [
        p
        for p in sorted(src_dir.rglob("*"))
        if is_image(p) and want in {c.lower() for c in p.relative_to(src_dir).parts[:-1]}
    ]
    if not files:
        layout = "Rain100L/{input,target}" if split == "val" else "{rainy,gt} (PromptIR Derain)"
        raise UirbenchError(
            f"{src_dir}: no Rain100L {split} images: expected {layout} or JORDER's rain-N/norain-N "
            f"files below a folder named {want} (see docs/benchmarks.md)"
        )
    return _jorder_pairs(files, src_dir)


def _sides(src_dir: Path, layouts: tuple[tuple[str, str], ...], what: str) -> tuple[Path, Path]:
    """(LQ folder, GT folder): sibling folders named by one of ``layouts`` (LQ name, GT name)."""
    cands = []
    for lq_name, gt_name in layouts:
        for d in find_dirs(src_dir, lq_name):
            if any(c.is_dir() and c.name.lower() == gt_name for c in d.parent.iterdir()):
                cands.append((d.parent, lq_name, gt_name))
    root = one_dir([c[0] for c in cands], what, src_dir)
    _, lq_name, gt_name = next(c for c in cands if c[0] == root)
    return child(root, lq_name), child(root, gt_name)


def _hazy_key(p: Path) -> str:
    return p.stem.split("_")[0]


@register("sots_outdoor")
def sots_outdoor(src_dir: Path, split: str) -> list[SourcePair]:
    """SOTS outdoor (500 pairs): ``{hazy,gt}`` or ``{input,target}``; stem = the GT name."""
    _only(split, "val", "sots_outdoor")
    lq_dir, gt_dir = _sides(
        src_dir, (("hazy", "gt"), ("input", "target")), "SOTS outdoor folder (hazy/ + gt/)"
    )
    lq = keyed(images_in(lq_dir), _hazy_key)  # a second hazy image of one GT: an error
    gt = keyed(images_in(gt_dir), lambda p: p.stem)
    return pair_up(lq, gt, src_dir)


@register("ots")
def ots(src_dir: Path, split: str) -> list[SourcePair]:
    """RESIDE OTS: every hazy image below ``synthetic/`` (or ``haze/``) with its GT in
    ``original/`` (or ``clear/``) named by the part before the first '_'. A hazy image whose GT is
    missing is an error; clear images that no hazy image uses are not pairs."""
    _only(split, "train", "ots")
    layouts = (("synthetic", "original"), ("haze", "clear"))
    lq_dir, gt_dir = _sides(src_dir, layouts, "OTS folder (synthetic/ + original/)")
    gt = keyed(images_in(gt_dir), lambda p: p.stem)
    hazy = sorted(p for p in lq_dir.rglob("*") if is_image(p))
    orphans = [p for p in hazy if _hazy_key(p) not in gt]
    if orphans:
        listed = "\n".join(f"  hazy without GT: {p}" for p in orphans[:10])
        more = f"\n  ... and {len(orphans) - 10} more" if len(orphans) > 10 else ""
        raise UirbenchError(
            f"{src_dir}: {len(orphans)} OTS hazy image(s) have no GT in {gt_dir.name}/ "
            f"(named by the part before the first '_'):\n{listed}{more}"
        )
    return finish(
        [
            SourcePair(sanitize_stem(p.stem), gt[_hazy_key(p)], p, rel(gt[_hazy_key(p)], src_dir))
            for p in hazy
        ]
    )


__all__ = ["bsd400", "ots", "rain100l", "sots_outdoor", "wed"]
