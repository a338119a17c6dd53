"""Seeded, physically motivated stand-ins for the seven degradations taken from real datasets.

They exist so that the offline demo and a user's own photos (``--from DIR``) get all ten tasks.
They are not the benchmark's data: scores on them are not comparable with the paper's.
Each draws its parameters from ``rng`` and returns them, so a pair can be regenerated exactly.
All arithmetic is float32 with explicit rounding; OpenCV filters use reflected borders.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

Result = tuple[np.ndarray, dict[str, Any]]


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _smooth_field(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Low-frequency random field in [0, 1]: a coarse grid of uniforms upsampled bicubically."""
    coarse = rng.random((cells, cells), dtype=np.float32)
    field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    field -= field.min()
    return field / max(float(field.max()), 1e-6)


def motion_blur(gt: np.ndarray, rng: np.random.Generator) -> Result:
    """Camera shake: a random-walk trajectory kernel (as GoPro-style blur), normalised to 1."""
    size = int(rng.integers(11, 24)) | 1
    steps = 64
    angle = rng.uniform(0, np.pi)
    drift = np.cumsum(rng.normal(0, 0.15, steps)) + angle
    pts = np.cumsum(np.stack([np.cos(drift), np.sin(drift)], 1), 0)
    pts -= pts.mean(0)
    scale = (size / 2 - 1) / max(float(np.abs(pts).max()), 1e-6)
    pts = pts * scale + size / 2
    kernel = np.zeros((size, size), np.float32)
    for x, y in pts:
        kernel[int(np.clip(y, 0, size - 1)), int(np.clip(x, 0, size - 1))] += 1
    kernel = cv2.GaussianBlur(kernel, (3, 3), 0.5)
    kernel /= kernel.sum()
    out = cv2.filter2D(gt.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT)
    return _to_uint8(out), {"kernel_size": size, "angle": round(float(angle), 4)}


def haze(gt: np.ndarray, rng: np.random.Generator) -> Result:
    """Atmospheric scattering I = J t + A (1 - t), t = exp(-beta d).

    With no depth map, depth d rises towards the top of the frame plus low-frequency variation.
    """
    h, w = gt.shape[:2]
    beta = float(rng.uniform(0.8, 1.8))
    airlight = float(rng.uniform(0.75, 0.95))
    ramp = np.linspace(1.0, 0.3, h, dtype=np.float32)[:, None] * np.ones((1, w), np.float32)
    depth = 0.7 * ramp + 0.3 * _smooth_field(rng, h, w, 4)
    t = np.exp(-beta * depth)[:, :, None]
    out = gt.astype(np.float32) * t + 255.0 * airlight * (1.0 - t)
    return _to_uint8(out), {"beta": round(beta, 4), "airlight": round(airlight, 4)}


def low_light(gt: np.ndarray, rng: np.random.Generator) -> Result:
    """Under-exposure: gamma darkening and gain, then shot (Poisson) and read (Gaussian) noise."""
    gamma = float(rng.uniform(1.5, 2.5))
    gain = float(rng.uniform(0.15, 0.35))
    photons = float(rng.uniform(60, 150))  # full-well scale: fewer photons, more shot noise
    read = float(rng.uniform(1.0, 3.0))
    x = (gt.astype(np.float32) / 255.0) ** gamma * gain
    x = rng.poisson(x * photons).astype(np.float32) / photons
    out = x * 255.0 + rng.normal(0, read, gt.shape).astype(np.float32)
    params = {"gamma": round(gamma, 4), "gain": round(gain, 4), "photons": round(photons, 2)}
    return _to_uint8(out), params | {"read_noise": round(read, 4)}


def rain_streaks(gt: np.ndarray, rng: np.random.Generator) -> Result:
    """Rain: sparse drops smeared along one direction by a line kernel, screen-blended."""
    h, w = gt.shape[:2]
    density = float(rng.uniform(0.004, 0.012))
    length = int(rng.integers(15, 35))
    angle = float(rng.uniform(-25, 25))
    drops = (rng.random((h, w), dtype=np.float32) < density).astype(np.float32)
    drops *= rng.uniform(0.6, 1.0, (h, w)).astype(np.float32)
    kernel = np.zeros((length, length), np.float32)
    kernel[:, length // 2] = 1.0
    rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rot, (length, length))
    kernel /= max(float(kernel.sum()), 1e-6)
    streaks = cv2.filter2D(drops, -1, kernel, borderType=cv2.BORDER_REFLECT) * length * 0.35
    streaks = np.clip(streaks, 0, 1)[:, :, None]
    x = gt.astype(np.float32) / 255.0
    out = 1.0 - (1.0 - x) * (1.0 - 0.85 * streaks)
    params = {"density": round(density, 5), "length": length, "angle": round(angle, 3)}
    return _to_uint8(out * 255.0), params


def raindrops(gt: np.ndarray, rng: np.random.Generator) -> Result:
    """Adherent drops on the lens: discs that show a blurred, flipped view of their surroundings."""
    h, w = gt.shape[:2]
    n = int(rng.integers(12, 30))
    img = gt.astype(np.float32)
    blurred = cv2.GaussianBlur(img, (0, 0), 4)
    out = img.copy()
    for _ in range(n):
        r = float(rng.uniform(0.02, 0.07)) * min(h, w)
        ry = r * float(rng.uniform(0.8, 1.2))
        cx, cy = float(rng.uniform(0, w)), float(rng.uniform(0, h))
        # work in the drop's bounding box only: cost scales with drop area, not image area
        x0, x1 = max(int(cx - r), 0), min(int(cx + r) + 1, w)
        y0, y1 = max(int(cy - ry), 0), min(int(cy + ry) + 1, h)
        if x0 >= x1 or y0 >= y1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        d = ((xx - cx) / r) ** 2 + ((yy - cy) / ry) ** 2
        inside = d < 1.0
        # refraction: sample the blurred image at the point mirrored through the drop centre
        sy = np.clip(np.rint(2 * cy - yy), 0, h - 1).astype(np.intp)
        sx = np.clip(np.rint(2 * cx - xx), 0, w - 1).astype(np.intp)
        refr = blurred[sy, sx] * 0.85 + 255 * 0.1
        edge = np.clip((d - 0.75) / 0.25, 0, 1)[:, :, None] * 0.5
        box = out[y0:y1, x0:x1]
        drop = refr * (1 - edge) + img[y0:y1, x0:x1] * 0.4 * edge
        box[inside] = drop[inside]
    return _to_uint8(cv2.GaussianBlur(out, (3, 3), 0.6)), {"drops": n}


def shadow(gt: np.ndarray, rng: np.random.Generator) -> Result:
    """Cast shadow: a random soft-edged polygon attenuating direct light, slightly blue-shifted."""
    h, w = gt.shape[:2]
    k = int(rng.integers(4, 8))
    centre = rng.uniform(0.25, 0.75, 2) * (w, h)
    radii = rng.uniform(0.2, 0.5, k) * min(h, w)
    angles = np.sort(rng.uniform(0, 2 * np.pi, k))
    poly = np.stack([centre[0] + radii * np.cos(angles), centre[1] + radii * np.sin(angles)], 1)
    mask = np.zeros((h, w), np.float32)
    cv2.fillPoly(mask, [np.rint(poly).astype(np.int32)], 1.0)
    softness = float(rng.uniform(2, 8))
    mask = cv2.GaussianBlur(mask, (0, 0), softness)[:, :, None]
    strength = float(rng.uniform(0.35, 0.6))
    tint = np.array([1.0, 1.0, 1.15], np.float32)  # skylight is bluer than direct sun
    factor = 1.0 - mask * (1.0 - strength * tint)
    out = gt.astype(np.float32) * factor
    return _to_uint8(out), {"vertices": k, "strength": round(strength, 4)}


def snow(gt: np.ndarray, rng: np.random.Generator) -> Result:
    """Falling snow: flakes of several sizes, slightly motion-blurred, over a veil of light."""
    h, w = gt.shape[:2]
    layer = np.zeros((h, w), np.float32)
    total = 0
    for radius, count in ((1, 0.004), (2, 0.0012), (3, 0.0003)):
        n = int(count * h * w * float(rng.uniform(0.6, 1.4)))
        total += n
        ys, xs = rng.integers(0, h, n), rng.integers(0, w, n)
        alpha = rng.uniform(0.5, 1.0, n)
        for y, x, a in zip(ys, xs, alpha, strict=True):
            cv2.circle(layer, (int(x), int(y)), radius, float(a), -1, lineType=cv2.LINE_AA)
    angle = float(rng.uniform(-30, 30))
    size = 5
    kernel = np.zeros((size, size), np.float32)
    kernel[:, size // 2] = 1.0 / size
    rot = cv2.getRotationMatrix2D((size / 2 - 0.5, size / 2 - 0.5), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rot, (size, size))
    layer = np.clip(cv2.filter2D(layer, -1, kernel, borderType=cv2.BORDER_REFLECT) * 1.3, 0, 1)
    veil = float(rng.uniform(0.05, 0.15))
    x = gt.astype(np.float32) * (1 - veil) + 255 * veil
    out = x * (1 - layer[:, :, None]) + 255 * layer[:, :, None]
    return _to_uint8(out), {"flakes": total, "angle": round(angle, 3), "veil": round(veil, 4)}
