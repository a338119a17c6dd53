"""The paper's IR-SDE training loss (``sde_loss: step``) equals the official DA-CLIP loss on
fixed inputs: tests/fixtures/irsde_loss/loss.safetensors, made by running the official
IRSDE + MatchingLoss (see make.py there for the exact lines and how to regenerate it)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from uirbench.train import restore as tr

FIXTURE = Path(__file__).parent / "fixtures" / "irsde_loss" / "loss.safetensors"
SEED = 20240122  # make.py's SEED: the generator the official inputs were drawn from
CONFIGS = {"paper": (50, 100), "tiny": (50, 20)}
# fp32 arithmetic on values ~1 in a different operation order: |a - b| <~ 1e-6 per element; the
# loss is a mean of such differences. For scale: scoring at t-1 instead of t moves the tiny
# config's l1 loss by 6.5e-4, 300x this tolerance.
TOL = 2e-6


def net(x: torch.Tensor, mu: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """make.py's closed-form 'network' (the fixture was computed with this function)."""
    return 0.8 * torch.tanh(3 * (x - mu)) + 0.01 * t.reshape(-1, 1, 1, 1).float()


@pytest.fixture(scope="module")
def fx() -> dict[str, torch.Tensor]:
    return load_file(str(FIXTURE))


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("loss", ["l1", "l2"])
def test_step_loss_equals_the_official_loss(fx, config: str, loss: str, monkeypatch) -> None:
    max_sigma, T = CONFIGS[config]
    cfg = {"train": {"loss": loss, "seed": 0, "sde_loss": "step"}}
    net_cfg = {
        "arch": "irsde",
        "sde": {"max_sigma": max_sigma, "T": T, "schedule": "cosine", "eps": 0.005},
    }
    objective = tr.Objective(cfg, net_cfg, torch.device("cpu"))
    # hand the trainer the generator the official inputs were drawn from (randint, then randn)
    monkeypatch.setattr(tr, "step_generator", lambda *a, **k: torch.Generator().manual_seed(SEED))
    seen = {}

    def recording_net(x, mu, t):
        seen["xt"], seen["t"] = x, t
        return net(x, mu, t)

    gt, lq = fx["gt"], fx["lq"]
    got = objective(recording_net, lq, gt, {}, step=0, part=slice(None), global_batch=len(gt))
    assert torch.equal(seen["t"], fx[f"{config}.t"].reshape(-1))  # the same draws reached it
    torch.testing.assert_close(seen["xt"], fx[f"{config}.xt"], rtol=0, atol=TOL)
    want = fx[f"{config}.loss_{loss}"]
    assert abs(float(got) - float(want)) <= TOL * max(1.0, abs(float(want))), (float(got), want)
    assert float(want) > 1e-4  # a loss of ~0 would make the comparison vacuous


def test_fixture_steps_match_the_sde_methods(fx) -> None:
    """The two steps the loss compares, one by one (a wrong step that happened to give the same
    mean would still fail here)."""
    from uirbench.models.irsde.sde import IRSDE

    for config, (max_sigma, T) in CONFIGS.items():
        sde = IRSDE(max_sigma, T, "cosine", 0.005)
        t, xt, gt, lq = fx[f"{config}.t"], fx[f"{config}.xt"], fx["gt"], fx["lq"]
        score = sde.score_from_noise(net(xt, lq, t), t)
        expected = sde.reverse_sde_step_mean(xt, lq, score, t)
        torch.testing.assert_close(expected, fx[f"{config}.expected"], rtol=0, atol=TOL)
        optimum = sde.reverse_optimum_step(xt, gt, lq, t)
        torch.testing.assert_close(optimum, fx[f"{config}.optimum"], rtol=0, atol=TOL)
