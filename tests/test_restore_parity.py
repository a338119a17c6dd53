"""Parity of uirbench's IR-SDE UNet, SDE and NAFNet with the official implementations.

Fixtures in tests/fixtures/restore/ were made by running the official classes (see the README
there). The UNet fixtures hold the official state_dict key list, a sha256 of its weights and
the seed they were drawn from (the weights are ~1M parameters; regenerating them keeps the
fixtures small); the NAFNet fixture holds its weights.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from uirbench.models.irsde import IRSDE, ConditionalUNet
from uirbench.models.nafnet import NAFNet

FIX = Path(__file__).parent / "fixtures" / "restore"
TOL = 1e-5


def _load(name: str) -> tuple[dict[str, torch.Tensor], dict]:
    path = FIX / f"{name}.safetensors"
    with safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()["config"])
    return load_file(str(path)), meta


# The fixtures' weight recipe, one copy loaded by path (tests are not a package: pyiqa ships a
# `tests`; the fixture scripts load the same file).
_spec = importlib.util.spec_from_file_location(
    "_weight_recipe", Path(__file__).parent / "fixtures" / "weight_recipe.py"
)
_weight_recipe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_weight_recipe)
_fill_like_official = _weight_recipe.fill_like_official


def _unet(name: str) -> tuple[ConditionalUNet, dict[str, torch.Tensor], dict]:
    tensors, meta = _load(name)
    net = ConditionalUNet(**meta["net"]).eval()
    ours = [[k, list(v.shape)] for k, v in net.state_dict().items()]
    assert ours == meta["keys"], "state_dict keys/shapes/order differ from the official network"
    digest = _fill_like_official(net, meta["weight_seed"])
    assert digest == meta["weights_sha256"], "regenerated weights differ (torch RNG changed?)"
    return net, tensors, meta


@pytest.mark.parametrize("name", ["unet_daclip", "unet_plain"])
def test_unet_matches_official(name: str) -> None:
    net, t, meta = _unet(name)
    kw = {}
    if meta["net"]["use_degra_context"]:
        kw = {"text_context": t["input.text_context"], "image_context": t["input.image_context"]}
    with torch.no_grad():
        out = net(t["input.xt"], t["input.cond"], t["input.time"], **kw)
        out17 = net(t["input.xt"][:1], t["input.cond"][:1], 17, **{k: v[:1] for k, v in kw.items()})
    assert out.shape == t["output"].shape
    torch.testing.assert_close(out, t["output"], rtol=0, atol=TOL)
    torch.testing.assert_close(out17, t["output_t17"], rtol=0, atol=TOL)


def test_unet_strict_load_roundtrip_and_context_matters() -> None:
    net, t, _ = _unet("unet_daclip")
    fresh = ConditionalUNet(**_load("unet_daclip")[1]["net"]).eval()
    fresh.load_state_dict(net.state_dict(), strict=True)
    kw = {"text_context": t["input.text_context"], "image_context": t["input.image_context"]}
    with torch.no_grad():
        a = fresh(t["input.xt"], t["input.cond"], t["input.time"], **kw)
        flipped = {k: -v for k, v in kw.items()}
        b = fresh(t["input.xt"], t["input.cond"], t["input.time"], **flipped)
    torch.testing.assert_close(a, t["output"], rtol=0, atol=TOL)
    assert (a - b).abs().max() > 1e-3, "DA-CLIP context has no effect"


def test_sde_schedules_match_official() -> None:
    t, _ = _load("sde")
    for sched in ("cosine", "linear"):
        sde = IRSDE(max_sigma=50, T=100, schedule=sched, eps=0.005)
        for k in ("thetas", "sigmas", "thetas_cumsum", "sigma_bars"):
            torch.testing.assert_close(getattr(sde, k), t[f"{sched}.{k}"], rtol=0, atol=1e-7)
        torch.testing.assert_close(sde.dt.reshape(1), t[f"{sched}.dt"], rtol=1e-6, atol=0)


def test_sde_steps_match_official() -> None:
    t, _ = _load("sde")
    sde = IRSDE(max_sigma=50, T=100, schedule="cosine", eps=0.005)
    x0, mu, xt, pred = t["x0"], t["mu"], t["xt"], t["pred_noise"]
    for s in (100, 57, 1):
        torch.testing.assert_close(sde.mu_bar(x0, mu, s), t[f"t{s}.mu_bar"], rtol=0, atol=TOL)
        score = sde.score_from_noise(pred, s)
        torch.testing.assert_close(score, t[f"t{s}.score"], rtol=1e-5, atol=TOL)
        torch.testing.assert_close(
            sde.x0_from_noise(xt, mu, pred, s), t[f"t{s}.x0_from_noise"], rtol=1e-5, atol=TOL
        )
        torch.testing.assert_close(
            sde.reverse_optimum_step(xt, x0, mu, s), t[f"t{s}.optimum_step"], rtol=0, atol=TOL
        )
        torch.testing.assert_close(
            sde.reverse_optimum_std(s).reshape(1), t[f"t{s}.optimum_std"], rtol=1e-5, atol=1e-7
        )
        torch.testing.assert_close(
            sde.reverse_sde_step_mean(xt, mu, score, s), t[f"t{s}.sde_step_mean"], rtol=0, atol=TOL
        )
        z = t[f"t{s}.noise"]
        torch.testing.assert_close(
            sde.reverse_sde_step(xt, mu, score, s, noise=z), t[f"t{s}.sde_step"], rtol=0, atol=TOL
        )
        torch.testing.assert_close(
            sde.reverse_posterior_step(xt, mu, pred, s, noise=z),
            t[f"t{s}.posterior_step"],
            rtol=0,
            atol=TOL,
        )
    tb = t["batch.t"]
    torch.testing.assert_close(
        sde.mu_bar(t["batch.x0"], t["batch.mu"], tb), t["batch.mu_bar"], rtol=0, atol=TOL
    )
    torch.testing.assert_close(sde.sigma_bar(tb), t["batch.sigma_bar"], rtol=0, atol=1e-7)
    torch.testing.assert_close(
        sde.reverse_optimum_step(t["batch.xt"], t["batch.x0"], t["batch.mu"], tb),
        t["batch.optimum_step"],
        rtol=0,
        atol=TOL,
    )


TRAJECTORY_TOL = 1e-3


@pytest.mark.parametrize("mode", ["posterior", "sde"])
def test_sde_sampling_trajectory_matches_official(mode: str) -> None:
    """A whole 5-step reverse process with the official tiny UNet and fixed noise."""
    t, meta = _load("sde")
    net, _, _ = _unet(meta["traj_net"])
    sde = IRSDE(max_sigma=50, T=meta["traj_T"], schedule="cosine", eps=0.005)
    lq = t["traj.lq"]
    state = sde.start_state(lq, noise=t["traj.start_noise"])
    torch.testing.assert_close(state, t["traj.state"], rtol=0, atol=1e-7)
    noises = iter(t["traj.noises"])
    x = state
    with torch.no_grad():
        for s in range(sde.T, 0, -1):
            pred = net(x, lq, float(s))
            if mode == "posterior":
                x = sde.reverse_posterior_step(x, lq, pred, s, noise=next(noises))
            else:
                score = sde.score_from_noise(pred, s)
                x = sde.reverse_sde_step(x, lq, score, s, noise=next(noises))
    # Each step matches at 1e-5 (test_sde_steps_match_official); over a chain the x0 estimate
    # multiplies float noise by up to exp(theta_cumsum dt) (<= 1/eps = 200), so the summation order
    # of the conv kernels (it changes with torch's thread count) moves the end by ~1e-4.
    torch.testing.assert_close(x, t[f"traj.{mode}"], rtol=0, atol=TRAJECTORY_TOL)


def test_nafnet_matches_official() -> None:
    t, cfg = _load("nafnet")
    net = NAFNet(**cfg).eval()
    weights = {k.removeprefix("weights."): v for k, v in t.items() if k.startswith("weights.")}
    net.load_state_dict(weights, strict=True)
    with torch.no_grad():
        out = net(t["input"])
    torch.testing.assert_close(out, t["output"], rtol=0, atol=TOL)


def test_paper_unet_keys_equal_official() -> None:
    """The paper-size network has exactly the official key set, so universal-ir.pth loads."""
    ref = json.loads((FIX / "unet_paper_keys.json").read_text())
    net = ConditionalUNet(**ref["net"])
    assert [[k, list(v.shape)] for k, v in net.state_dict().items()] == ref["keys"]
    assert sum(p.numel() for p in net.parameters()) == ref["n_params"]
