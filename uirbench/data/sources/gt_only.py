"""Adapters for GT-only sources (the LQ is synthesised): DIV2K, Flickr2K, LIVE1, CBSD68."""

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
