"""Evaluation profiles (``profiles.yaml``): which colour space, crop and metric options to use.

A profile is data so that a results JSON can carry it verbatim and a reader can tell exactly how a
number was computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

from uirbench.errors import UirbenchError
from uirbench.evaluate.metrics.color import rgb_to_y


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    color: str
    y_round: bool
    crop_border: int
    default_metrics: tuple[str, ...]
    pyiqa: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Centre crop to a multiple of this many pixels before anything else (AirNet/PromptIR's
    # crop_img(base=16), applied to every test image they load); 0: none.
    crop_multiple: int = 0
    ssim: str = "matlab"  # SSIM variant: "matlab" (Wang et al.) or "skimage" (its defaults)
    source: dict[str, Any] = field(default_factory=dict)  # where the protocol was read from
    # CLI overrides over the named profile (--crop-border, --y-channel); empty when none.
    overrides: dict[str, Any] = field(default_factory=dict)

    def with_overrides(
        self, crop_border: int | None = None, y_channel: bool | None = None
    ) -> Profile:
        """This profile with ``crop_border`` and/or the Y channel changed.

        The result's name says what changed (``daclip+crop_border=0+y_channel``) and
        ``overrides`` records it, so a score computed this way is never taken for the named
        profile's (results.json, leaderboards).
        """
        changes: dict[str, Any] = {}
        if crop_border is not None and crop_border != self.crop_border:
            if crop_border < 0:
                raise UirbenchError(f"--crop-border {crop_border}: must be 0 or more pixels")
            changes["crop_border"] = crop_border
        if y_channel is not None and y_channel != (self.color == "y"):
            changes["color"] = "y" if y_channel else "rgb"
        if not changes:
            return self
        tag = "+".join(
            f"{k}={v}" if k == "crop_border" else ("y_channel" if v == "y" else "rgb")
            for k, v in changes.items()
        )
        return replace(
            self, name=f"{self.name}+{tag}", overrides={**self.overrides, **changes}, **changes
        )

    def prepare(self, rgb: np.ndarray) -> np.ndarray:
        """The array PSNR/SSIM see: centre-cropped to ``crop_multiple``, border-cropped, then Y
        channel if the profile says so."""
        if self.crop_multiple > 1:
            rgb = crop_to_multiple(rgb, self.crop_multiple)
        c = self.crop_border
        if c:
            if rgb.shape[0] <= 2 * c or rgb.shape[1] <= 2 * c:
                raise ValueError(f"image {rgb.shape[:2]} too small for crop_border={c}")
            rgb = rgb[c:-c, c:-c]
        if self.color == "y":
            return rgb_to_y(rgb, round_to_uint8=self.y_round)
        return rgb

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "color": self.color,
            "y_round": self.y_round,
            "crop_border": self.crop_border,
            "default_metrics": list(self.default_metrics),
            "pyiqa": self.pyiqa,
            "crop_multiple": self.crop_multiple,
            "ssim": self.ssim,
            "source": self.source,
            "overrides": self.overrides,
        }


def crop_to_multiple(img: np.ndarray, base: int) -> np.ndarray:
    """AirNet's / PromptIR's ``utils/image_utils.py: crop_img``: the centre HxW that are multiples
    of ``base``, the odd pixel going to the bottom/right (``crop_h // 2`` off the top)."""
    h, w = img.shape[:2]
    ch, cw = h % base, w % base
    return img[ch // 2 : h - ch + ch // 2, cw // 2 : w - cw + cw // 2]


@cache
def _load() -> dict[str, Profile]:
    text = resources.files("uirbench.evaluate").joinpath("profiles.yaml").read_text()
    out = {}
    for name, d in yaml.safe_load(text).items():
        if d["color"] not in ("rgb", "y"):
            raise ValueError(f"profiles.yaml: {name}.color must be rgb or y, got {d['color']!r}")
        out[name] = Profile(
            name=name,
            description=" ".join(d["description"].split()),
            color=d["color"],
            y_round=bool(d.get("y_round", True)),
            crop_border=int(d["crop_border"]),
            default_metrics=tuple(d["default_metrics"]),
            pyiqa=d.get("pyiqa", {}),
            crop_multiple=int(d.get("crop_multiple", 0)),
            ssim=d.get("ssim", "matlab"),
            source=d.get("source", {}),
        )
        if out[name].ssim not in ("matlab", "skimage"):
            raise ValueError(f"profiles.yaml: {name}.ssim must be matlab or skimage")
    return out


PROFILE_NAMES: tuple[str, ...] = tuple(_load())


def get_profile(name: str) -> Profile:
    """Look a profile up by name (``daclip``, ``y``, ``basicsr``, ``promptir``)."""
    try:
        return _load()[name]
    except KeyError:
        raise UirbenchError(
            f"unknown profile {name!r} (--profile); known: {', '.join(PROFILE_NAMES)}"
        ) from None
