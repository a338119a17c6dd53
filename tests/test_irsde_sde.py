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
    # Euler-Maruyama has discretisation error that shrinks with more steps
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
