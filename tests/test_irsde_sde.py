"""IR-SDE sampling with an oracle noise predictor: the sampler itself must recover the GT."""

from __future__ import annotations

import pytest
import torch

from uirbench.models.irsde.sde import IRSDE


@pytest.mark.parametrize("steps", [20, 100])
def test_oracle_sampling_recovers_gt(steps: int) -> None:
    g = torch.Generator().manual_seed(0)
    gt = torch.rand(1, 3, 16, 16, generator=g)
    lq = gt * 0.5 + 0.2
    sde = IRSDE(50, steps, "cosine", 0.005)

    def oracle(x: torch.Tensor, mu: torch.Tensor, t: float) -> torch.Tensor:
        return (x - sde.mu_bar(gt, mu, int(t))) / sde.sigma_bar(int(t))

    post = sde.sample(oracle, lq, mode="posterior", generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(post, gt, rtol=0, atol=1e-5)  # the posterior step is exact
    em = sde.sample(oracle, lq, mode="sde", generator=torch.Generator().manual_seed(1))
    # Euler-Maruyama has discretisation error that shrinks with more steps. Thresholds measured
    # (2026-12-01, this sampler, noise seeds 1-5): max |em - gt| 0.095-0.115 at 20 steps and
    # 0.011-0.017 at 100, so 0.15 / 0.02 are ~1.2-1.3x the worst seed; the 5x finer chain cuts
    # the error ~7x, as a first-order scheme should. The LQ itself is 0.13 off on average.
    assert (em - gt).abs().max() < (0.15 if steps == 20 else 0.02)
    assert (em - gt).abs().mean() < (lq - gt).abs().mean() / 3


def test_start_state_and_training_states() -> None:
    sde = IRSDE(50, 100, "cosine", 0.005)
    lq = torch.full((2, 3, 64, 64), 0.5)
    x = sde.start_state(lq, generator=torch.Generator().manual_seed(0))
    assert abs(float((x - lq).std()) - 50 / 255) < 0.01
    gt = torch.zeros_like(lq)
    t, xt = sde.random_states(gt, lq, generator=torch.Generator().manual_seed(0))
    assert t.shape == (2, 1, 1, 1) and int(t.min()) >= 1 and int(t.max()) <= 100
    for i in range(2):  # x_t ~ N(mu_bar, sigma_bar^2) per sample
        resid = xt[i] - sde.mu_bar(gt[i], lq[i], t[i])
        assert abs(float(resid.std()) / float(sde.sigma_bar(t[i])) - 1) < 0.05
    # at t = T the mean has reverted to the LQ up to eps
    torch.testing.assert_close(sde.mu_bar(gt, lq, 100), lq * (1 - 0.005), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="unknown SDE schedule"):
        IRSDE(50, 100, "quadratic")


def test_residual_prediction_is_the_same_model() -> None:
    """A network predicting the residual x0 - mu stands for exactly the noise it implies: the
    oracle residual samples the GT like the oracle noise, and the conversion round-trips."""
    g = torch.Generator().manual_seed(0)
    gt = torch.rand(2, 3, 16, 16, generator=g)
    lq = gt * 0.5 + 0.2
    sde = IRSDE(50, 20, "cosine", 0.005, prediction="residual")
    t = torch.tensor([3, 17]).reshape(2, 1, 1, 1)
    noise = torch.randn(gt.shape, generator=g)
    xt = noise * sde.sigma_bar(t) + sde.mu_bar(gt, lq, t)
    torch.testing.assert_close(sde.noise_from_output(gt - lq, xt, lq, t), noise, atol=1e-4, rtol=0)
    torch.testing.assert_close(IRSDE(50, 20).noise_from_output(noise, xt, lq, t), noise)

    post = sde.sample(
        lambda x, mu, t: gt - mu, lq, mode="posterior", generator=torch.Generator().manual_seed(1)
    )
    torch.testing.assert_close(post, gt, rtol=0, atol=1e-5)
    # a residual off by d moves the result by d (no amplification along the chain)
    g1 = torch.Generator().manual_seed(1)
    off = sde.sample(lambda x, mu, t: gt - mu + 0.01, lq, generator=g1)
    assert float((off - gt).abs().max()) < 0.0101
    with pytest.raises(ValueError, match="unknown SDE prediction"):
        IRSDE(50, 20, prediction="x0")
    cfg = {"max_sigma": 50, "T": 20, "schedule": "cosine", "eps": 0.005}
    assert IRSDE.from_config(cfg).prediction == "noise"


def gens_of(n: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(i) for i in range(n)]


def _per_image_model(x: torch.Tensor, mu: torch.Tensor, t: float) -> torch.Tensor:
    """A per-image network (no batch mixing), so only the noise can couple images."""
    return torch.tanh(3 * (x - mu)) * 0.1 + t / 1000


def test_per_image_noise_is_independent_of_the_batch() -> None:
    """Image X samples the same output alone, in a batch of 3 at any position, and beside other
    neighbours; one shared generator (the old behaviour) does not."""
    from uirbench.models.irsde.sde import image_generators, image_seed

    sde = IRSDE(50, 10, "cosine", 0.005)
    g = torch.Generator().manual_seed(0)
    imgs = {k: torch.rand(1, 3, 16, 12, generator=g) for k in "xabcd"}

    def run(keys: str, seed: int = 0) -> torch.Tensor:
        lq = torch.cat([imgs[k] for k in keys])
        gens = image_generators(seed, list(keys))
        return sde.sample(_per_image_model, lq, generator=gens)

    alone = run("x")
    for keys, pos in (("xab", 0), ("axb", 1), ("cdx", 2)):
        assert torch.equal(run(keys)[pos : pos + 1], alone), keys
    assert not torch.equal(run("x", seed=1), alone)  # the seed still matters
    assert image_seed(0, "x") != image_seed(0, "y") and image_seed(0, "x") == image_seed(0, "x")
    # the old way: one generator for the batch; X's noise depends on its neighbours
    lq = torch.cat([imgs["a"], imgs["x"]])
    shared = sde.sample(_per_image_model, lq, generator=torch.Generator().manual_seed(0))
    shared_alone = sde.sample(
        _per_image_model, imgs["x"], generator=torch.Generator().manual_seed(0)
    )
    assert not torch.equal(shared[1:], shared_alone)
    with pytest.raises(ValueError, match="2 generators for a batch of 3"):
        sde.sample(_per_image_model, lq.repeat(2, 1, 1, 1)[:3], generator=gens_of(2))


def test_fewer_sampling_steps_rebuild_the_schedule_and_scale_time() -> None:
    """with_steps(S) is the official IRSDE(sample_T=S): the schedule of an S-step SDE, the
    network called at t * T / S; the oracle still recovers the GT exactly."""
    sde = IRSDE(50, 100, "cosine", 0.005)
    short = sde.with_steps(25)
    ref = IRSDE(50, 25, "cosine", 0.005)
    for name in ("thetas", "sigmas", "thetas_cumsum", "sigma_bars", "dt"):
        assert torch.equal(getattr(short, name), getattr(ref, name)), name
    assert sde.with_steps(None) is sde and sde.with_steps(100) is sde
    with pytest.raises(ValueError, match=">= 1"):
        sde.with_steps(0)
    g = torch.Generator().manual_seed(0)
    gt = torch.rand(1, 3, 8, 8, generator=g)
    lq = gt * 0.5 + 0.2
    times: list[float] = []

    def oracle(x: torch.Tensor, mu: torch.Tensor, t: float) -> torch.Tensor:
        times.append(t)
        s = round(t / 4)  # the step of the 25-step chain
        return (x - short.mu_bar(gt, mu, s)) / short.sigma_bar(s)

    out = short.sample(oracle, lq, generator=torch.Generator().manual_seed(1))
    assert times == [4.0 * s for s in range(25, 0, -1)]
    torch.testing.assert_close(out, gt, rtol=0, atol=1e-5)
