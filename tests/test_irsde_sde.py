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
