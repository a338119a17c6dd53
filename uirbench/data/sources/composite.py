"""CDD-11 (OneRestore, ECCV 2024): composite degradations of one clear image set.

Upstream layout (OneRestore README, "Prepare Dataset")::

    {train,test}/clear/000001.png
    {train,test}/<degradation>/000001.png     low, haze, rain, snow, low_haze, low_rain, low_snow,
                                              haze_rain, haze_snow, low_haze_rain, low_haze_snow

The degraded image and its clear image share the file name. ``val`` is upstream ``test``.
"""

from __future__ import annotations

from pathlib import Path

from uirbench.data.sources import register
from uirbench.data.sources.common import (
    SourcePair,
    child,
    find_dirs,
    images_in,
    keyed,
    one_dir,
    pair_up,
)
from uirbench.errors import UirbenchError

CDD11_TYPES = (
    "low",
    "haze",
    "rain",
    "snow",
    "low_haze",
    "low_rain",
    "low_snow",
    "haze_rain",
    "haze_snow",
    "low_haze_rain",
    "low_haze_snow",
)


@register("cdd11")
def cdd11(src_dir: Path, split: str, *, degradation: str) -> list[SourcePair]:
    """One CDD-11 type: ``<split>/<degradation>/<n>`` paired with ``<split>/clear/<n>``."""
    if degradation not in CDD11_TYPES:
        raise UirbenchError(
            f"CDD-11 has no degradation {degradation!r}; its types: {', '.join(CDD11_TYPES)}"
        )
    name = "train" if split == "train" else "test"
    root = one_dir(
        find_dirs(src_dir, name, must_contain=("clear", degradation)),
        f"CDD-11 '{name}' folder with clear/ and {degradation}/",
        src_dir,
    )
    gt = keyed(images_in(child(root, "clear")), lambda p: p.stem)
    lq = keyed(images_in(child(root, degradation)), lambda p: p.stem)
    return pair_up(lq, gt, src_dir)


__all__ = ["CDD11_TYPES", "cdd11"]
