"""The raindrop and shadow stand-ins look like their upstream data (RainDrop, SRD) in the ways
the docstrings claim: how much of the frame they cover, the shadow's colour cast, resolution."""

import numpy as np
import pytest
import skimage.data

from uirbench.data.synth import apply

GT = np.ascontiguousarray(skimage.data.astronaut()[100:356, 150:406])  # 256 x 256
SEEDS = range(8)


def _changed(lq: np.ndarray, gt: np.ndarray, tol: int = 12) -> float:
    """Fraction of pixels whose largest channel change exceeds ``tol`` grey levels."""
    return float((np.abs(lq.astype(int) - gt.astype(int)).max(-1) > tol).mean())


@pytest.mark.parametrize("seed", SEEDS)
def test_raindrops_are_many_and_cover_a_large_part_of_the_frame(seed):
    lq, params = apply("raindrops", GT, seed)
    assert 0.2 <= params["coverage"] <= 0.55
    assert params["drops"] >= 20
    # the drops show a refracted view, so most covered pixels differ visibly from the GT
    assert 0.1 <= _changed(lq, GT) <= 0.7


@pytest.mark.parametrize("seed", SEEDS)
def test_shadow_covers_a_fifth_to_a_half_with_a_blue_cast(seed):
    lq, params = apply("shadow", GT, seed)
    ratio = (lq.astype(float) + 1) / (GT.astype(float) + 1)
    umbra = ratio.mean(-1) < 0.7
    assert 0.15 <= umbra.mean() <= 0.55
    assert abs(umbra.mean() - params["coverage"]) < 0.12
    bright = umbra & (GT.min(-1) > 40)  # away from clipping and rounding
    r, g, b = (np.median(ratio[..., c][bright]) for c in range(3))
    assert b > r and g >= r - 0.02  # skylight is bluer than direct sun
    lit = (np.abs(lq.astype(int) - GT.astype(int)).max(-1) == 0).mean()
    assert lit >= 0.3  # the rest of the frame is untouched


@pytest.mark.parametrize("op", ["raindrops", "shadow"])
def test_coverage_does_not_depend_on_resolution(op):
    big = np.ascontiguousarray(np.repeat(np.repeat(GT, 2, 0), 2, 1))
    small_cov = np.mean([_changed(apply(op, GT, s)[0], GT) for s in SEEDS])
    big_cov = np.mean([_changed(apply(op, big, s)[0], big) for s in SEEDS])
    assert abs(small_cov - big_cov) < 0.1
