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
    """Adherent drops on a glass pane in front of a lens focused on the scene.

    Modelled on RainDrop (Qian et al., CVPR 2018), the benchmark's raindrop source: photos taken
    through a 3 mm glass plate sprayed with water, held 2-5 cm from the lens, with the camera
    focused on the background; its images (720x480) show many drops of varied size covering a
    large part of the frame (no coverage statistic is published: 20-50% is an estimate, not a
    measurement). So: drops are added until a drawn fraction of the frame is covered;
    radii are log-normal (median 3% of the short side, 1-12%) with a random aspect and a
    slightly irregular outline; each drop is a small fish-eye lens showing an inverted, minified
    (x1.5-3) and defocused view of the scene around it, with a darker rim (light lost at the
    steep edge); and the drops themselves are out of focus, so the layer is composited with a
    Gaussian defocus (premultiplied alpha). Sizes are relative, so the look is resolution-free.
    """
    h, w = gt.shape[:2]
    short = min(h, w)
    img = gt.astype(np.float32)
    target = float(rng.uniform(0.2, 0.5))
    magnify = float(rng.uniform(1.5, 3.0))
    blur = max(1.0, 0.012 * short)
    defocus = float(rng.uniform(0.004, 0.01)) * short
    scene = cv2.GaussianBlur(img, (0, 0), blur)
    layer = np.zeros_like(img)  # premultiplied drop colour
    alpha = np.zeros((h, w), np.float32)
    covered, n, want = 0, 0, target * h * w
    while covered < want and n < 4000:
        n += 1
        r = float(np.clip(rng.lognormal(np.log(0.03), 0.5), 0.01, 0.12)) * short
        aspect = float(rng.uniform(0.75, 1.3))
        a2, a3 = rng.uniform(0, 0.12, 2)
        p2, p3 = rng.uniform(0, 2 * np.pi, 2)
        cx, cy = float(rng.uniform(0, w)), float(rng.uniform(0, h))
        ry = r * aspect
        reach = 1.25  # outline bound: 1 + a2 + a3 < 1.25
        x0, x1 = max(int(cx - reach * r), 0), min(int(cx + reach * r) + 1, w)
        y0, y1 = max(int(cy - reach * ry), 0), min(int(cy + reach * ry) + 1, h)
        if x0 >= x1 or y0 >= y1:
            continue
        xx = np.arange(x0, x1, dtype=np.float32)[None, :]
        yy = np.arange(y0, y1, dtype=np.float32)[:, None]
        dx, dy = (xx - cx) / r, (yy - cy) / ry
        theta = np.arctan2(dy, dx)
        outline = 1 + a2 * np.cos(2 * theta + p2) + a3 * np.cos(3 * theta + p3)
        d = np.sqrt(dx * dx + dy * dy) / outline
        inside = d < 1.0
        if not inside.any():
            continue
        # refraction: the point mirrored through the centre, pushed out by the magnification
        sx = np.clip(np.rint(cx - (xx - cx) * magnify), 0, w - 1).astype(np.intp)
        sy = np.clip(np.rint(cy - (yy - cy) * magnify), 0, h - 1).astype(np.intp)
        sy, sx = np.broadcast_arrays(sy, sx)
        rim = 1.0 - 0.35 * np.clip((d - 0.7) / 0.3, 0, 1)[:, :, None]
        view = (scene[sy, sx] * 0.9 + 255 * 0.08) * rim
        box_a = alpha[y0:y1, x0:x1]
        covered += int((inside & (box_a == 0)).sum())
        layer[y0:y1, x0:x1][inside] = view[inside]
        box_a[inside] = 1.0
    alpha_soft = cv2.GaussianBlur(alpha, (0, 0), defocus)[:, :, None]
    layer_soft = cv2.GaussianBlur(layer * alpha[:, :, None], (0, 0), defocus)
    out = img * (1.0 - alpha_soft) + layer_soft
    params = {"drops": n, "coverage": round(covered / (h * w), 4), "magnify": round(magnify, 4)}
    return _to_uint8(out), params | {"defocus": round(defocus, 3)}


def shadow(gt: np.ndarray, rng: np.random.Generator) -> Result:
    """Cast shadow: a large soft-edged region lit by skylight only.

    Modelled on SRD (Qu et al., CVPR 2017), the benchmark's shadow source: outdoor photos in
    which an occluder's shadow covers a large part of the frame (often a fifth to a half: an
    estimate, SRD publishes no area statistic), with a soft penumbra and a
    blue cast (the umbra loses direct sunlight and keeps bluer skylight).
    The region is a low-frequency random field, tilted so the shadow tends to enter from one
    side, thresholded at the quantile that gives a drawn coverage (20-50%); the edge is blurred
    into a penumbra of 0.5-2.5% of the short side; inside, each channel is scaled by its own
    attenuation (red 0.25-0.55, green and blue relatively brighter), the per-channel linear
    shadow model of Le & Samaras (ICCV 2019) without its small offset.
    """
    h, w = gt.shape[:2]
    short = min(h, w)
    coverage = float(rng.uniform(0.2, 0.5))
    scale = min(1.0, 96 / max(h, w))  # the field is drawn small and upsampled: cheap at any size
    ch, cw = max(8, round(h * scale)), max(8, round(w * scale))
    tilt = rng.uniform(-1, 1, 2)
    yy, xx = np.mgrid[0:ch, 0:cw].astype(np.float32)
    ramp = tilt[0] * xx / cw + tilt[1] * yy / ch
    field = _smooth_field(rng, ch, cw, int(rng.integers(3, 6))) + ramp.astype(np.float32)
    threshold = float(np.quantile(field, 1.0 - coverage))
    field = cv2.resize(field, (w, h), interpolation=cv2.INTER_LINEAR)
    mask = (field > threshold).astype(np.float32)
    penumbra = float(rng.uniform(0.005, 0.025)) * short
    mask = cv2.GaussianBlur(mask, (0, 0), penumbra)[:, :, None]
    red = float(rng.uniform(0.25, 0.55))
    atten = np.minimum(red * np.array([1.0, rng.uniform(1.0, 1.15), rng.uniform(1.1, 1.45)]), 0.95)
    factor = 1.0 - mask * (1.0 - atten.astype(np.float32))
    out = gt.astype(np.float32) * factor
    params = {"coverage": round(coverage, 4), "penumbra": round(penumbra, 3)}
    return _to_uint8(out), params | {"attenuation": [round(float(a), 4) for a in atten]}


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
