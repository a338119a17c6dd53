"""Adapters for GT-only sources (the LQ is synthesised): DIV2K, Flickr2K, LIVE1, CBSD68, LSDIR."""

from __future__ import annotations

from pathlib import Path

from uirbench.data.sources import register
from uirbench.data.sources.common import (
    SourcePair,
    find_dirs,
    gt_only,
    images_in,
    is_image,
    one_dir,
)
from uirbench.errors import UirbenchError


def _only(split: str, allowed: str, name: str) -> None:
    if split != allowed:
        raise UirbenchError(
            f"source {name} is a {allowed} source in the benchmark; it has no {split} split"
        )


@register("div2k")
def div2k(src_dir: Path, split: str) -> list[SourcePair]:
    """DIV2K train HR: ``DIV2K_train_HR/0001.png ... 0800.png``."""
    _only(split, "train", "div2k")
    root = one_dir(_with_images(src_dir, "DIV2K_train_HR"), "DIV2K_train_HR folder", src_dir)
    return gt_only(images_in(root), src_dir, stem_of=lambda p: f"div2k-{p.stem}")


@register("flickr2k")
def flickr2k(src_dir: Path, split: str) -> list[SourcePair]:
    """Flickr2K: ``Flickr2K/Flickr2K_HR/000001.png ... 002650.png``."""
    _only(split, "train", "flickr2k")
    root = one_dir(_with_images(src_dir, "Flickr2K_HR"), "Flickr2K_HR folder", src_dir)
    return gt_only(images_in(root), src_dir, stem_of=lambda p: f"flickr2k-{p.stem}")


def _with_images(src_dir: Path, name: str) -> list[Path]:
    """Folders called ``name`` that directly hold images (archives often nest a same-named one)."""
    return [d for d in find_dirs(src_dir, name) if images_in(d)]


def _single_folder(src_dir: Path, suffixes: tuple[str, ...], what: str) -> list[Path]:
    folders = sorted(
        {p.parent for p in src_dir.rglob("*") if is_image(p) and p.suffix.lower() in suffixes}
    )
    root = one_dir(folders, what, src_dir)
    return [p for p in images_in(root) if p.suffix.lower() in suffixes]


@register("live1")
def live1(src_dir: Path, split: str) -> list[SourcePair]:
    """LIVE1: one folder of 29 colour BMPs (``LIVE1/bikes.bmp`` ...)."""
    _only(split, "val", "live1")
    return gt_only(_single_folder(src_dir, (".bmp",), "folder of LIVE1 BMPs"), src_dir)


@register("cbsd68")
def cbsd68(src_dir: Path, split: str) -> list[SourcePair]:
    """CBSD68: one folder of 68 colour PNGs named by BSDS id (``CBSD68/101085.png`` ...)."""
    _only(split, "val", "cbsd68")
    root = one_dir(_with_images(src_dir, "CBSD68"), "CBSD68 folder of PNGs", src_dir)
    return gt_only(images_in(root), src_dir)


@register("lsdir")
def lsdir(src_dir: Path, split: str) -> list[SourcePair]:
    """LSDIR HR: train ``shard-NN/<0001000 ...>/<0000001>.png`` (numbered folders of 1000), val
    ``val1/HR/val/<0000001>.png`` (``val1/X2`` etc. hold LR copies and are not read). File names
    are unique across the training folders; stems are ``lsdir-<name>`` / ``lsdir-val-<name>``."""
    if split == "val":
        found = [d for d in find_dirs(src_dir, "val") if d.parent.name.lower() == "hr"]
        root = one_dir([d for d in found if images_in(d)], "LSDIR val1/HR/val folder", src_dir)
        return gt_only(images_in(root), src_dir, stem_of=lambda p: f"lsdir-val-{p.stem}")
    folders = sorted(
        d
        for d in src_dir.rglob("*")
        if d.is_dir() and len(d.name) == 7 and d.name.isdigit() and "val1" not in d.parts
    )
    files = [p for d in folders for p in images_in(d)]
    if not files:
        raise UirbenchError(
            f"{src_dir}: no LSDIR training images (numbered folders 0001000 ... of PNGs); is "
            "every shard-NN.tar.gz extracted there? (see docs/datasets.md)"
        )
    return gt_only(files, src_dir, stem_of=lambda p: f"lsdir-{p.stem}")


@register("psf_banks")
def psf_banks(src_dir: Path, split: str) -> list[SourcePair]:
    """The official PSF banks are not images: a benchmark names them as a synthesis's
    ``psf_bank`` (loaded by :func:`uirbench.data.uir10.load_psf_banks`), never as a source."""
    raise UirbenchError(
        f"{src_dir}: the PSF banks are not a source of pairs; name them as the wild synthesis's "
        "psf_bank in the benchmark manifest"
    )
