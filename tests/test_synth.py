"""The synthesis operators: exact definitions (noise, JPEG, inpainting) and determinism."""

import cv2
import numpy as np
import pytest
import skimage.data

from uirbench.data.synth import OPS, apply, pair_seed
from uirbench.data.synth.masks import procedural_thin_masks

GT = np.ascontiguousarray(skimage.data.astronaut()[100:292, 150:406])


def _kwargs(op):
    if op == "inpaint_mask":
        masks, ids = procedural_thin_masks(n=5)
        return {"masks": masks, "mask_ids": ids}
    if op == "chain":  # a composite (task files): noise, then motion blur
        return {"steps": [("noise", {"sigma": 10}), ("motion_blur", {})]}
    return {}


@pytest.mark.parametrize("op", sorted(OPS))
def test_every_operator_is_deterministic_and_changes_the_image(op):
    a, pa = apply(op, GT, 7, **_kwargs(op))
    b, pb = apply(op, GT, 7, **_kwargs(op))
    c, _ = apply(op, GT, 8, **_kwargs(op))
    assert a.dtype == np.uint8 and a.shape == GT.shape
    assert np.array_equal(a, b) and pa == pb
    assert not np.array_equal(a, GT)
    if op != "jpeg":  # JPEG has no randomness
        assert not np.array_equal(a, c)


def test_noise_is_gt_plus_sigma50_gaussian_rounded_and_clipped():
    lq, params = apply("noise", GT, 3, sigma=50)
    assert params == {"sigma": 50.0}
    rng = np.random.Generator(np.random.PCG64(3))
    n = rng.standard_normal(GT.shape, dtype=np.float32) * np.float32(50)
    expected = np.clip(np.rint(GT + n), 0, 255).astype(np.uint8)
    assert np.array_equal(lq, expected)
    # Independent of the RNG stream: the residual's mean and variance against the moments of a
    # clipped normal, computed per pixel from the normal CDF (the clip at 0/255 is what makes the
    # residual non-Gaussian; rounding adds variance 1/12 and no mean).
    from scipy.stats import norm

    g = GT.astype(np.float64).ravel()
    a, b = (0 - g) / 50, (255 - g) / 50
    ez = a * norm.cdf(a) + norm.pdf(a) - norm.pdf(b) + b * norm.sf(b)
    ez2 = (
        a**2 * norm.cdf(a) + b**2 * norm.sf(b) + norm.cdf(b) - norm.cdf(a)
        - (b * norm.pdf(b) - a * norm.pdf(a))
    )  # fmt: skip
    mean_exp = 50 * ez.mean()
    var_exp = 2500 * ez2.mean() + 1 / 12 - mean_exp**2
    resid = lq.astype(np.float64).ravel() - g
    n = resid.size
    # 5 standard errors (the mean's sd/sqrt(n); a variance's ~var*sqrt(2/n)): ~1e-6 by chance
    assert abs(resid.mean() - mean_exp) < 5 * var_exp**0.5 / n**0.5, (resid.mean(), mean_exp)
    assert abs(resid.var() - var_exp) < 5 * var_exp * (2 / n) ** 0.5, (resid.var(), var_exp)


def test_jpeg_equals_opencv_quality10_roundtrip():
    lq, params = apply("jpeg", GT, 0, quality=10)
    ok, buf = cv2.imencode(".jpg", GT[:, :, ::-1].copy(), [cv2.IMWRITE_JPEG_QUALITY, 10])
    assert ok
    ref = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
    assert np.array_equal(lq, ref)
    assert params["quality"] == 10


def test_inpainting_keeps_gt_and_whitens_holes_and_records_the_mask():
    masks, ids = procedural_thin_masks(n=3, size=128)
    lq, params = apply("inpaint_mask", GT, 11, masks=masks, mask_ids=ids)
    i = ids.index(params["mask_id"])
    m = cv2.resize(masks[i], (GT.shape[1], GT.shape[0]), interpolation=cv2.INTER_AREA) >= 128
    assert np.array_equal(lq[m], GT[m])
    assert (lq[~m] == 255).all()
    assert (~m).mean() > 0.01


def test_pair_seed_depends_on_every_part_of_its_key():
    base = pair_seed(0, "train", "noisy", "a")
    assert base == pair_seed(0, "train", "noisy", "a")
    others = [
        pair_seed(1, "train", "noisy", "a"),
        pair_seed(0, "val", "noisy", "a"),
        pair_seed(0, "train", "jpeg", "a"),
        pair_seed(0, "train", "noisy", "b"),
    ]
    assert base not in others and 0 <= base < 2**63
