"""The three degradations the benchmark synthesises, exactly as DESIGN.md defines them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from uirbench.errors import UirbenchError


def gaussian_noise(
    gt: np.ndarray, rng: np.random.Generator, sigma: float = 50.0, quantize: str = "round"
) -> tuple[np.ndarray, dict[str, Any]]:
    """GT + N(0, sigma) per pixel and channel, in float32, clipped to [0, 255], then quantised.

    ``quantize="round"`` (uir10): nearest-even (``np.rint``), which keeps the noise zero-mean.
    ``quantize="truncate"`` (aio3): ``np.clip(gt + n * sigma, 0, 255).astype(np.uint8)`` as
    AirNet's and PromptIR's ``DenoiseTestDataset._add_gaussian_noise`` do: it drops the fraction,
    so the noisy image is on average ~0.5 grey levels darker than the GT.
    float32 (not float64) halves the memory traffic.
    """
    if quantize not in ("round", "truncate"):
        raise ValueError(f"noise: quantize must be 'round' or 'truncate', got {quantize!r}")
    noise = rng.standard_normal(gt.shape, dtype=np.float32)
    noise *= np.float32(sigma)
    noise += gt
    if quantize == "round":
        np.rint(noise, out=noise)
    np.clip(noise, 0, 255, out=noise)
    used: dict[str, Any] = {"sigma": float(sigma)}
    if quantize != "round":  # uir10 rows keep their params (and index bytes) unchanged
        used["quantize"] = quantize
    return noise.astype(np.uint8), used


JPEG_MAX_SIDE = 65500  # libjpeg's JPEG_MAX_DIMENSION


def jpeg(
    gt: np.ndarray, rng: np.random.Generator, quality: int = 10
) -> tuple[np.ndarray, dict[str, Any]]:
    """OpenCV JPEG (4:2:0) at ``quality`` on the BGR image, decoded back: the official recipe."""
    h, w = gt.shape[:2]
    if max(h, w) > JPEG_MAX_SIDE:  # libjpeg's limit: a 66,000 px panorama cannot be a JPEG
        raise UirbenchError(
            f"{w} x {h} px is larger than a JPEG can be ({JPEG_MAX_SIDE:,} px per side); "
            "downscale the photo, or leave the jpeg task out (--tasks)"
        )
    ok, buf = cv2.imencode(".jpg", gt[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("OpenCV failed to JPEG-encode an image")
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(bgr[:, :, ::-1]), {"quality": int(quality), "subsampling": "4:2:0"}


def inpaint_mask(
    gt: np.ndarray,
    rng: np.random.Generator,
    masks: Sequence[np.ndarray] = (),
    mask_ids: Sequence[str] = (),
) -> tuple[np.ndarray, dict[str, Any]]:
    """Apply one of ``masks`` (seeded choice): GT where the mask keeps, white (255) in holes.

    Masks are HxW uint8, 255 = keep, 0 = hole (RePaint convention). A mask of another size is
    resized with area interpolation and thresholded at 128, so holes stay hard-edged.
    """
    if not masks:
        raise ValueError("inpaint_mask needs a non-empty mask bank")
    i = int(rng.integers(len(masks)))
    mask = masks[i]
    h, w = gt.shape[:2]
    if mask.shape[:2] != (h, w):
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_AREA)
    keep = mask >= 128
    lq = np.where(keep[:, :, None], gt, np.uint8(255))
    mask_id = mask_ids[i] if mask_ids else str(i)
    return lq, {"mask_id": mask_id}
