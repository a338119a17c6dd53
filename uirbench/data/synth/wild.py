"""The official Wild-IR degradation model (``random_degrade``), reproduced and seeded.

Wild-IR (DA-CLIP's in-the-wild model) trains on LSDIR photos degraded on the fly by
``universal-image-restoration/data/deg_util.py: random_degrade`` of the official repository: a
Real-ESRGAN-style chain of three orders of random blur kernels (Gaussian, generalised Gaussian,
plateau, defocus, box, line motion, measured PSFs, sinc ringing, with an occasional Wiener
"deblur" ringing), random resizes, Gaussian/Poisson noise and JPEG. The degradation names it
applies (``blur``, ``ringing artifact``, ``noise``, ``jpeg block``) are the DA-CLIP text.

Why a reproduction instead of calling the official module: the official code draws from the
process-global ``random`` and ``numpy.random`` states, so a dataset built with it depends on
worker scheduling and cannot be rebuilt. Here every draw comes from a :class:`Draws` object,
two private generators (Python's Mersenne Twister and numpy's legacy ``RandomState``) consumed
in exactly the official order. Seeded from one pair seed, a build is byte-identical; seeded as
``random.seed(s); np.random.seed(s)``, it gives the official function's pixels
(tests/test_synth_wild.py, fixtures made by running the official code).

The official function works on OpenCV's BGR float32 [0, 1] images (``util.read_img``); the
channel order matters for the grey Poisson noise (``cv2.COLOR_BGR2GRAY``) and for JPEG's
chroma. :func:`wild_degrade` takes and returns RGB uint8 like every other operator and converts
at its edges.

Two branches need measured PSF banks that the official repository ships as pickles
(``data/psf.pkl``: 3% of first-order kernels; ``data/ucdpsf.pkl``, under-display-camera PSFs:
20% of the skipped blurs). They are data, not code: pass them as :class:`PsfBanks` (load the
official pickles with :func:`load_psf_pickle`, which refuses anything but numpy arrays). A draw
that needs a bank that was not given stops with an error naming it, never a silent substitute.
"""

from __future__ import annotations

import io
import math
import pickle
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
from scipy import fftpack, special

from uirbench.errors import UirbenchError

# The degradation names random_degrade appends, in the official spelling (DA-CLIP wild text).
DEGRADATION_NAMES = ("blur", "ringing artifact", "noise", "jpeg block")

# random_mixed_kernels as predefined_mixed_kernel calls it: kernel family -> probability.
MIXED_KERNEL_PROBS: tuple[tuple[str, float], ...] = (
    ("iso", 0.35),
    ("aniso", 0.2),
    ("generalized_iso", 0.1),
    ("generalized_aniso", 0.03),
    ("plateau_iso", 0.1),
    ("plateau_aniso", 0.03),
    ("defocus", 0.1),
    ("box", 0.03),
    ("line", 0.03),
    ("psf", 0.03),
)

# random_noise: Gaussian with this probability, Poisson with one minus it (drawn separately).
GAUSS_PROB = 0.6

# cv2.resize interpolations in the order random.choice picks them (official random_resize).
_RESIZE_INTERPOLATIONS = (cv2.INTER_AREA, cv2.INTER_CUBIC, cv2.INTER_LINEAR)


@dataclass
class Draws:
    """The two random streams of the official code, private to one degradation.

    ``py`` stands for the ``random`` module, ``np`` for ``numpy.random``; each function below
    consumes them in the official order, so ``Draws.seeded(s)`` reproduces
    ``random.seed(s); np.random.seed(s)`` followed by the official call.
    """

    py: random.Random
    np: np.random.RandomState

    @classmethod
    def seeded(cls, seed: int) -> Draws:
        return cls(random.Random(seed), np.random.RandomState(seed))

    @classmethod
    def from_generator(cls, rng: np.random.Generator) -> Draws:
        """Both streams seeded from a pair's generator (uirbench's per-pair seeding)."""
        py_seed, np_seed = (int(v) for v in rng.integers(0, 2**32, size=2, dtype=np.uint64))
        return cls(random.Random(py_seed), np.random.RandomState(np_seed))


@dataclass
class PsfBanks:
    """Measured PSFs: ``motion`` (official psf.pkl) and ``udc`` (official ucdpsf.pkl, HxWx3)."""

    motion: list[np.ndarray] = field(default_factory=list)
    udc: list[np.ndarray] = field(default_factory=list)

    def pick(self, name: str, draws: Draws) -> np.ndarray:
        bank = self.motion if name == "motion" else self.udc
        if not bank:
            official = "psf.pkl" if name == "motion" else "ucdpsf.pkl"
            raise UirbenchError(
                f"the wild degradation drew a {name} PSF but no {name} PSF bank was given: load "
                f"the official universal-image-restoration/data/{official} with "
                "uirbench.data.synth.wild.load_psf_pickle and pass it as PsfBanks"
            )
        return draws.py.choice(bank)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else (the PSF pickles hold only arrays)."""

    _ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("_codecs", "encode"),  # protocol-2 pickles made by Python 3 spell bytes this way
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        return super().find_class(module, name)


def load_psf_pickle(path: Path) -> list[np.ndarray]:
    """Read an official PSF pickle (Python 2, numpy arrays only) without running its code."""
    try:
        data = _NumpyOnlyUnpickler(io.BytesIO(Path(path).read_bytes()), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise UirbenchError(f"{path}: not a PSF pickle of numpy arrays ({exc})") from exc
    # The official psf.pkl is a dict {0: kernel, 1: ...}; random.choice indexes it like a list.
    if isinstance(data, dict) and sorted(data) == list(range(len(data))):
        data = [data[i] for i in range(len(data))]
    if not isinstance(data, list) or not all(isinstance(a, np.ndarray) for a in data):
        raise UirbenchError(
            f"{path}: expected a list (or 0..n-1 dict) of numpy arrays, got {type(data).__name__}"
        )
    return data


# ----------------------------------------------------------------------------- kernels


def _grid(kernel_size: int) -> np.ndarray:
    """(K, K, 2) grid of (x, y) offsets from the kernel centre."""
    ax = np.arange(-kernel_size // 2 + 1.0, kernel_size // 2 + 1.0)
    xx, yy = np.meshgrid(ax, ax)
    return np.stack([xx, yy], axis=2)


def _inverse_covariance(sig_x: float, sig_y: float, theta: float, isotropic: bool) -> np.ndarray:
    if isotropic:
        cov = np.array([[sig_x**2, 0], [0, sig_x**2]])
    else:
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        cov = np.dot(rot, np.dot(np.array([[sig_x**2, 0], [0, sig_y**2]]), rot.T))
    return np.linalg.inv(cov)


def _mahalanobis2(kernel_size: int, inv_cov: np.ndarray) -> np.ndarray:
    grid = _grid(kernel_size)
    return np.sum(np.dot(grid, inv_cov) * grid, 2)


def _draw_shape(
    draws: Draws,
    sigma_x_range: tuple[float, float],
    sigma_y_range: tuple[float, float],
    rotation_range: tuple[float, float],
    isotropic: bool,
) -> tuple[float, float, float]:
    sig_x = draws.np.uniform(sigma_x_range[0], sigma_x_range[1])
    if isotropic:
        return sig_x, sig_x, 0.0
    sig_y = draws.np.uniform(sigma_y_range[0], sigma_y_range[1])
    theta = draws.np.uniform(rotation_range[0], rotation_range[1])
    return sig_x, sig_y, theta


def _draw_beta(draws: Draws, beta_range: tuple[float, float]) -> float:
    """Half the time below 1, half above (official generalised/plateau kernels)."""
    if draws.np.uniform() < 0.5:
        return draws.np.uniform(beta_range[0], 1)
    return draws.np.uniform(1, beta_range[1])


def _with_kernel_noise(
    kernel: np.ndarray, draws: Draws, noise_range: tuple[float, float] | None
) -> np.ndarray:
    kernel = kernel / np.sum(kernel)
    if noise_range is not None:
        kernel = kernel * draws.np.uniform(noise_range[0], noise_range[1], size=kernel.shape)
    return kernel / np.sum(kernel)


def analytic_kernel(
    family: str,
    kernel_size: int,
    draws: Draws,
    sigma_range: tuple[float, float],
    rotation_range: tuple[float, float] = (-math.pi, math.pi),
    betag_range: tuple[float, float] = (0.5, 2),
    betap_range: tuple[float, float] = (1, 1.5),
    noise_range: tuple[float, float] | None = (0.9, 1.1),
) -> np.ndarray:
    """A Gaussian, generalised-Gaussian or plateau kernel with its shape drawn from ``draws``.

    ``family`` is ``<gaussian|generalized|plateau>_<iso|aniso>`` (the official names ``iso`` and
    ``aniso`` are the Gaussian ones); plateau kernels get no multiplicative noise, as upstream.
    """
    shape, _, mode = family.rpartition("_") if "_" in family else ("gaussian", "", family)
    isotropic = mode == "iso"
    sig_x, sig_y, theta = _draw_shape(draws, sigma_range, sigma_range, rotation_range, isotropic)
    if shape == "gaussian":
        q = _mahalanobis2(kernel_size, _inverse_covariance(sig_x, sig_y, theta, isotropic))
        return _with_kernel_noise(np.exp(-0.5 * q), draws, noise_range)
    if shape == "generalized":
        beta = _draw_beta(draws, betag_range)
        q = _mahalanobis2(kernel_size, _inverse_covariance(sig_x, sig_y, theta, isotropic))
        return _with_kernel_noise(np.exp(-0.5 * np.power(q, beta)), draws, noise_range)
    if shape == "plateau":
        beta = _draw_beta(draws, betap_range)
        q = _mahalanobis2(kernel_size, _inverse_covariance(sig_x, sig_y, theta, isotropic))
        return _with_kernel_noise(np.reciprocal(np.power(q, beta) + 1), draws, None)
    raise ValueError(f"unknown kernel family {family!r}")


def defocus_kernel(kernel_size: int) -> np.ndarray:
    """A uniform disc of radius centre+1 (corners cleared for 3 and 5 px), sum 1."""
    c = kernel_size // 2
    r, q = np.mgrid[0:kernel_size, 0:kernel_size]
    kernel = (((r - c) ** 2 + (q - c) ** 2) < (c + 1) ** 2).astype(np.float32)
    if kernel_size in (3, 5):
        kernel[[0, 0, -1, -1], [0, -1, 0, -1]] = 0
    return kernel / np.count_nonzero(kernel)


def box_kernel(kernel_size: int) -> np.ndarray:
    return np.ones((kernel_size, kernel_size), dtype=np.float32) / (kernel_size * kernel_size)


def _line_anchors(n: int, index: int) -> tuple[int, int, int, int]:
    """End points of the ``index``-th of the 2n-2 lines through an n x n kernel's centre.

    The lines are enumerated by angle from the first column's middle row, round the border
    (pyblur's LineDictionary, which the official code uses).
    """
    a, b = (n - 1) // 2, (n + 1) // 2
    lines: list[tuple[int, int, int, int]] = []
    lines += [(i, 0, n - 1 - i, n - 1) for i in range(a, n)]
    lines += [(n - 1, j, 0, n - 1 - j) for j in range(1, b)]
    lines += [(0, n - 1 - j, n - 1, j) for j in range(b, n)]
    lines += [(i, 0, n - 1 - i, n - 1) for i in range(1, a)]
    return lines[index]


def _raster_line(r0: int, c0: int, r1: int, c1: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of the digital line from (r0, c0) to (r1, c1), one per step of the major axis.

    The same pixels as scikit-image's ``draw.line`` (Bresenham; checked exhaustively on every
    line a kernel can use in tests/test_synth_wild.py).
    """
    # Walk the major axis (u) one pixel a step; the minor axis (v) moves when the error says.
    steep = abs(r1 - r0) > abs(c1 - c0)
    u0, v0, u1, v1 = (r0, c0, r1, c1) if steep else (c0, r0, c1, r1)
    du, dv = abs(u1 - u0), abs(v1 - v0)
    su = 1 if u1 > u0 else -1
    sv = 1 if v1 > v0 else -1
    err = 2 * dv - du
    us, vs = [], []
    u, v = u0, v0
    for _ in range(du):
        us.append(u)
        vs.append(v)
        while err >= 0:
            v += sv
            err -= 2 * du
        u += su
        err += 2 * dv
    us.append(u1)
    vs.append(v1)
    rows, cols = (us, vs) if steep else (vs, us)
    return np.array(rows), np.array(cols)


def line_kernel(kernel_size: int, draws: Draws) -> np.ndarray:
    """A straight motion-blur line at a drawn angle (large kernels shortened by 10 px)."""
    if kernel_size > 15:
        kernel_size -= 10
    centre = kernel_size // 2
    n_lines = centre * 4
    angles = np.linspace(0, 180, n_lines, endpoint=False)
    drawn = int(angles[draws.np.randint(0, n_lines)])
    # The official code truncates the drawn angle to an integer, then snaps it to the nearest
    # line: the snapped index can differ from the drawn one.
    index = int(np.abs(angles - math.fmod(drawn, 180.0)).argmin())
    rr, cc = _raster_line(*_line_anchors(kernel_size, index))
    kernel = np.zeros((kernel_size, kernel_size), dtype=np.float32)
    kernel[rr, cc] = 1
    return kernel / np.count_nonzero(kernel)


def sinc_kernel(cutoff: float, kernel_size: int) -> np.ndarray:
    """Circular low-pass (2-D sinc) filter: the ringing/overshoot kernel, sum 1."""
    c = (kernel_size - 1) / 2
    x, y = np.mgrid[0:kernel_size, 0:kernel_size].astype(np.float64)
    r = np.sqrt((x - c) ** 2 + (y - c) ** 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        kernel = cutoff * special.j1(cutoff * r) / (2 * np.pi * r)
    kernel[(kernel_size - 1) // 2, (kernel_size - 1) // 2] = cutoff**2 / (4 * np.pi)
    return kernel / np.sum(kernel)


def mixed_kernel(
    kernel_size: int, draws: Draws, banks: PsfBanks, blur_range: tuple[float, float]
) -> np.ndarray:
    """One kernel of a family drawn with the official probabilities (predefined_mixed_kernel)."""
    names = [n for n, _ in MIXED_KERNEL_PROBS]
    family = draws.py.choices(names, [p for _, p in MIXED_KERNEL_PROBS])[0]
    if family in ("iso", "aniso"):
        return analytic_kernel(family, kernel_size, draws, blur_range)
    if family.startswith(("generalized", "plateau")):
        return analytic_kernel(family, kernel_size, draws, blur_range)
    if family == "defocus":
        return defocus_kernel(kernel_size)
    if family == "box":
        return box_kernel(kernel_size)
    if family == "line":
        return line_kernel(kernel_size, draws)
    return banks.pick("motion", draws)


# ----------------------------------------------------------------------------- operators


def _wiener_deconvolve(channel: np.ndarray, kernel: np.ndarray, k: float = 0.006) -> np.ndarray:
    """Wiener "deblurring" of one channel with a (normalised) blur kernel: adds ringing."""
    pad = 20
    padded = np.pad(channel, pad, mode="symmetric")
    extra = (padded.shape[0] - kernel.shape[0], padded.shape[1] - kernel.shape[1])
    kernel = np.pad(
        kernel, (((extra[0] + 1) // 2, extra[0] // 2), ((extra[1] + 1) // 2, extra[1] // 2))
    )
    spectrum = fftpack.fft2(fftpack.ifftshift(kernel))
    spectrum = np.conj(spectrum) / (np.abs(spectrum) ** 2 + k)
    out = np.real(fftpack.ifft2(fftpack.fft2(padded) * spectrum))
    return out[pad:-pad, pad:-pad]


def random_blur(
    img: np.ndarray,
    draws: Draws,
    banks: PsfBanks,
    deg_list: list[str],
    max_radius: int = 10,
    sinc_prob: float = 0.1,
    deblur_prob: float = 0.1,
    blur_range: tuple[float, float] = (0.2, 2.2),
) -> np.ndarray:
    """Blur with a mixed or sinc kernel of odd size 5..2*max_radius-1; sometimes Wiener ringing."""
    kernel_size = draws.py.choice([2 * v + 1 for v in range(2, max_radius)])
    sinc = draws.py.random() < sinc_prob
    if sinc:
        low = np.pi / 3 if kernel_size < 13 else np.pi / 5
        kernel = sinc_kernel(draws.np.uniform(low, np.pi), kernel_size)
    else:
        kernel = mixed_kernel(kernel_size, draws, banks, blur_range)
    img = cv2.filter2D(img, -1, kernel)
    deg_list.append("blur")
    if sinc:
        deg_list.append("ringing artifact")
        return img
    if draws.py.random() < deblur_prob and kernel_size < 8:
        blurred = img
        # Upstream renormalises the kernel in place before each channel (a no-op up to the
        # last bits, kept for exactness); a copy keeps a PSF bank entry unchanged, so
        # one pair never depends on the pairs degraded before it.
        kernel = kernel.copy()
        channels = []
        for channel in cv2.split(img):
            kernel /= np.sum(kernel)
            channels.append(_wiener_deconvolve(channel, kernel))
        img = cv2.merge(channels)
        img = img.astype(blurred.dtype)
        deg_list.append("ringing artifact")
        if draws.py.random() < 0.1:
            p = draws.py.uniform(0.1, 0.5)
            img = cv2.addWeighted(blurred, p, img, 1 - p, 0)
    return img


def _centred_to(kernel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Zero-pad (extra pixel bottom/right) or centre-crop a PSF to ``shape``."""
    ph, pw = max(shape[0] - kernel.shape[0], 0), max(shape[1] - kernel.shape[1], 0)
    kernel = np.pad(kernel, ((ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)))
    top = max(kernel.shape[0] - shape[0], 0) // 2
    left = max(kernel.shape[1] - shape[1], 0) // 2
    return kernel[top : top + shape[0], left : left + shape[1]]


def under_display_blur(img: np.ndarray, draws: Draws, banks: PsfBanks) -> np.ndarray:
    """Blend with an under-display-camera PSF applied per channel in the Fourier domain."""
    psf = banks.pick("udc", draws).transpose(2, 0, 1)
    filtered = []
    for channel, k in zip(cv2.split(img), psf, strict=False):
        spectrum = fftpack.fft2(fftpack.ifftshift(_centred_to(k, channel.shape)))
        filtered.append(np.real(fftpack.ifft2(fftpack.fft2(channel) * spectrum)))
    p = draws.py.uniform(0.1, 0.5)
    return cv2.addWeighted(cv2.merge(filtered).astype(img.dtype), p, img, 1 - p, 0)


def random_resize(img: np.ndarray, draws: Draws, size: tuple[int, int] | None = None) -> np.ndarray:
    """Resize by a drawn factor in [1/1.4, 2] (or back to ``size`` = (h, w)), drawn filter."""
    if size is None:
        s = draws.py.uniform(0.5, 1.4)
        size = (int(img.shape[0] / s), int(img.shape[1] / s))
    interpolation = draws.py.choice(_RESIZE_INTERPOLATIONS)
    return cv2.resize(img, (size[1], size[0]), interpolation=interpolation)


def _gaussian_noise(img: np.ndarray, draws: Draws) -> np.ndarray:
    sigma = draws.np.uniform(1, 5)
    grey = draws.np.uniform() < 0.4
    if grey:
        noise = np.float32(draws.np.randn(*img.shape[:2])) * sigma / 255.0
        noise = np.repeat(noise[:, :, None], 3, axis=2)
    else:
        noise = np.float32(draws.np.randn(*img.shape)) * sigma / 255.0
    return np.clip(img + noise, 0, 1)


def _poisson_noise(img: np.ndarray, draws: Draws) -> np.ndarray:
    scale = draws.np.uniform(0.01, 0.5)
    grey = draws.np.uniform() < 0.4
    src = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if grey else img
    src = np.clip((src * 255.0).round(), 0, 255) / 255.0
    levels = 2 ** np.ceil(np.log2(len(np.unique(src))))
    noise = np.float32(draws.np.poisson(src * levels) / float(levels)) - src
    if grey:
        noise = np.repeat(noise[:, :, None], 3, axis=2)
    return np.clip(img + noise * scale, 0, 1)


def random_noise(img: np.ndarray, draws: Draws) -> np.ndarray:
    """Gaussian (sigma 1-5, 60%) and/or Poisson (scale 0.01-0.5, 40%) noise, then 8-bit."""
    if draws.py.random() < GAUSS_PROB:
        img = _gaussian_noise(img, draws)
    if draws.py.random() < 1 - GAUSS_PROB:
        img = _poisson_noise(img, draws)
    return np.clip((img * 255.0).round(), 0, 255).astype(np.uint8) / 255.0


def random_jpeg(img: np.ndarray, draws: Draws, quality_range: tuple[float, float]) -> np.ndarray:
    """OpenCV JPEG at a drawn quality (truncated to an integer, as upstream), decoded back."""
    quality = draws.np.uniform(quality_range[0], quality_range[1])
    ok, buf = cv2.imencode(
        ".jpg", np.clip(img, 0, 1) * 255.0, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)]
    )
    if not ok:
        raise RuntimeError("OpenCV failed to JPEG-encode an image")
    return np.float32(cv2.imdecode(buf, cv2.IMREAD_COLOR)) / 255.0


def random_degrade_bgr(
    img: np.ndarray,
    draws: Draws,
    banks: PsfBanks | None = None,
    blur_prob: float = 0.8,
    resize_prob: float = 0.8,
    noise_prob: float = 0.4,
    jpeg_prob: float = 0.4,
) -> tuple[np.ndarray, list[str]]:
    """The official ``random_degrade`` on a BGR float32 [0, 1] image.

    Returns the degraded image (float64, multiples of 1/255, same size) and the names of the
    degradations applied, in order (duplicates kept, as the official ``deg_list``).
    """
    banks = banks or PsfBanks()
    deg: list[str] = []
    h, w = img.shape[:2]
    first = draws.np.permutation(["blur", "resize", "noise", "jpeg"])
    second = draws.np.permutation(["blur", "noise"])
    third = draws.np.permutation(["blur", "resize", "jpeg"])
    resize = draws.py.random() < resize_prob

    for step in first:
        if step == "blur":
            if draws.py.random() < blur_prob:
                img = random_blur(img, draws, banks, deg, 10, 0.1, 0.1, (0.2, 2.2))
            elif draws.py.random() < 0.2:
                img = under_display_blur(img, draws, banks)
        elif step == "resize" and resize:
            deg.append("blur")
            img = random_resize(img, draws)
        elif step == "noise" and draws.py.random() < noise_prob:
            deg.append("noise")
            img = random_noise(img.astype("float32"), draws)
        elif step == "jpeg" and draws.py.random() < jpeg_prob:
            deg.append("jpeg block")
            img = random_jpeg(img, draws, (60, 95))

    for step in second:
        if step == "blur":
            if draws.py.random() < blur_prob * 0.5:
                img = random_blur(img, draws, banks, deg, 5, 0.1, 0.1, (0.2, 1.5))
            elif draws.py.random() < 0.2:
                img = under_display_blur(img, draws, banks)
        elif step == "noise" and draws.py.random() < noise_prob * 0.5:
            deg.append("noise")
            img = random_noise(img.astype("float32"), draws)

    for step in third:
        if step == "blur" and draws.py.random() < blur_prob:
            img = random_blur(img, draws, banks, deg, 10, 0.8, 0.1, (0.2, 1.0))
        elif step == "resize" and resize:
            deg.append("blur")
            img = random_resize(img, draws, (h, w))
        elif step == "jpeg" and draws.py.random() < jpeg_prob:
            deg.append("jpeg block")
            img = random_jpeg(img, draws, (80, 100))

    return np.clip((img * 255.0).round(), 0, 255) / 255.0, deg


def gaussian_blur_bgr(
    img: np.ndarray,
    draws: Draws,
    kernel_size: int = 21,
    sigma_range: tuple[float, float] = (0.6, 5.0),
) -> tuple[np.ndarray, float]:
    """The official Gaussian blur, ``deg_util.degrade(img, 'blur', kernel_size)``: an isotropic
    Gaussian kernel from ``random_mixed_kernels(['iso'], [1], kernel_size)`` (sigma uniform in
    its default range 0.6-5), applied with ``cv2.filter2D``. Returns the image and the sigma."""
    draws.py.choices(["iso"], [1])  # the family draw random_mixed_kernels makes, even of one
    sigma = float(draws.np.uniform(sigma_range[0], sigma_range[1]))
    q = _mahalanobis2(kernel_size, _inverse_covariance(sigma, sigma, 0.0, True))
    kernel = _with_kernel_noise(np.exp(-0.5 * q), draws, None)
    return cv2.filter2D(img, -1, kernel), sigma


def gaussian_blur(
    gt: np.ndarray,
    rng: np.random.Generator,
    kernel_size: int = 21,
    sigma_range: tuple[float, float] = (0.6, 5.0),
) -> tuple[np.ndarray, dict[str, Any]]:
    """Synthesis operator (``OPS['gaussian_blur']``): the "Gaussian blur" of the official
    DA-CLIP-mix composites (README: Gaussian blur + face inpainting, Gaussian blur + rainy).

    The official mix data code is not published; this is the repository's own Gaussian blur
    (:func:`gaussian_blur_bgr`) at ``random_mixed_kernels``' default kernel size 21, on the BGR
    float32 image as ``util.read_img`` gives it, rounded back to 8 bits.
    """
    if int(kernel_size) != kernel_size or kernel_size < 1 or kernel_size % 2 == 0:
        raise UirbenchError(
            f"gaussian_blur: kernel_size must be a positive odd integer, got {kernel_size!r}"
        )
    low, high = (float(v) for v in sigma_range)
    if not 0 < low < high:
        raise UirbenchError(
            "gaussian_blur: sigma_range must be (low, high) with 0 < low < high, got "
            f"{sigma_range!r}"
        )
    draws = Draws.from_generator(rng)
    bgr = np.ascontiguousarray(gt[:, :, ::-1]).astype(np.float32) / 255.0
    out, sigma = gaussian_blur_bgr(bgr, draws, int(kernel_size), (low, high))
    lq = np.clip((out * 255.0).round(), 0, 255).astype(np.uint8)[:, :, ::-1]
    return np.ascontiguousarray(lq), {"kernel_size": int(kernel_size), "sigma": sigma}


def wild_text(deg_list: list[str]) -> str:
    """The DA-CLIP degradation text for a wild pair: the distinct names, in order applied."""
    return ", ".join(dict.fromkeys(deg_list)) or "clean"


def wild_degrade(
    gt: np.ndarray, rng: np.random.Generator, banks: PsfBanks | None = None, **probs: float
) -> tuple[np.ndarray, dict[str, Any]]:
    """Synthesis operator (``OPS['wild']``): RGB uint8 in, RGB uint8 out, seeded per pair."""
    draws = Draws.from_generator(rng)
    bgr = np.ascontiguousarray(gt[:, :, ::-1]).astype(np.float32) / 255.0
    out, deg = random_degrade_bgr(bgr, draws, banks, **probs)
    lq = np.clip((out * 255.0).round(), 0, 255).astype(np.uint8)[:, :, ::-1]
    return np.ascontiguousarray(lq), {"degradations": deg, "text": wild_text(deg), **probs}
