"""Parity of uirbench's Wild-IR network (and its posterior sampling) with the official wild-ir code.

Fixtures in tests/fixtures/wildir/ were made by ``make.py`` there, running the official
``config/wild-ir`` ``ConditionalUNet`` and ``utils/sde_utils.IRSDE`` once. The tiny network's
weights are regenerated from a seed and checked by sha256 (as in test_restore_parity.py).

Tolerances: one network pass, 1e-5 absolute in float32 (the same arithmetic in another order:
uirbench's two-pass LayerNorm variance and torch's thread-count-dependent conv summation move
outputs of order 1 by ~1e-6). The 4-step trajectory, 1e-3: each posterior step turns the
network's noise into x0 with a factor up to exp(thetas_cumsum[t] * dt) (<= 1/eps = 200), so
float noise of 1e-6 per pass reaches ~1e-4 at the end (see test_restore_parity.py).
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
from uirbench.models.networks import build_network, load_model_config
from uirbench.models.table import MODELS

FIX = Path(__file__).parent / "fixtures" / "wildir"
TOL = 1e-5
TRAJECTORY_TOL = 1e-3


# The fixture recipe is the restore fixtures' one (tests/test_restore_parity.py), loaded from
# that file rather than written twice (tests are not a package: pyiqa ships a `tests`).
_spec = importlib.util.spec_from_file_location(
    "_restore_parity", Path(__file__).with_name("test_restore_parity.py")
)
_restore_parity = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_restore_parity)
_fill_like_official = _restore_parity._fill_like_official


@pytest.fixture(scope="module")
def tiny() -> tuple[ConditionalUNet, dict[str, torch.Tensor], dict]:
    path = FIX / "tiny.safetensors"
    with safe_open(str(path), "pt") as f:
        meta = json.loads(f.metadata()["config"])
    net = ConditionalUNet(**meta["net"]).eval()
    assert [[k, list(v.shape)] for k, v in net.state_dict().items()] == meta["keys"], (
        "state_dict keys/shapes/order differ from the official wild-ir network"
    )
    assert _fill_like_official(net, meta["weight_seed"]) == meta["weights_sha256"]
    return net, load_file(str(path)), meta


def test_tiny_wildir_unet_matches_official(tiny) -> None:
    net, t, _ = tiny
    ctx = {"text_context": t["input.text_context"], "image_context": t["input.image_context"]}
    with torch.no_grad():
        out = net(t["input.xt"], t["input.cond"], t["input.time"], **ctx)
        out17 = net(
            t["input.xt"][:1], t["input.cond"][:1], 17, **{k: v[:1] for k, v in ctx.items()}
        )
        no_text = net(
            t["input.xt"], t["input.cond"], t["input.time"], image_context=ctx["image_context"]
        )
    assert out.shape == t["output"].shape == (2, 3, 20, 36)
    torch.testing.assert_close(out, t["output"], rtol=0, atol=TOL)
    torch.testing.assert_close(out17, t["output_t17"], rtol=0, atol=TOL)
    # use_degra_context is off: the degradation embedding must change nothing (official too)
    torch.testing.assert_close(no_text, t["output_no_text"], rtol=0, atol=TOL)
    torch.testing.assert_close(no_text, out, rtol=0, atol=0)


def test_half_resolution_step_is_used(tiny) -> None:
    """Without the Wild-IR downsample/upsample pair (scale 1) the weights give another output."""
    net, t, meta = tiny
    plain = ConditionalUNet(**{**meta["net"], "scale": 1}).eval()
    state = {
        k: v for k, v in net.state_dict().items() if not k.startswith(("downsample", "upsample"))
    }
    plain.load_state_dict(state, strict=True)
    with torch.no_grad():
        out = plain(
            t["input.xt"], t["input.cond"], t["input.time"], image_context=t["input.image_context"]
        )
    assert (out - t["output"]).abs().max() > 1e-2
    with pytest.raises(ValueError, match=r"scale must be 1 or 0\.5"):
        ConditionalUNet(**{**meta["net"], "scale": 0.25})


def test_posterior_trajectory_matches_official(tiny) -> None:
    """uirbench's sampler (IRSDE.sample, posterior) with the official seeds and the wild network."""
    net, t, meta = tiny
    sde = IRSDE(max_sigma=50, T=meta["traj_T"], schedule="cosine", eps=0.005)
    lq = t["traj.lq"]
    start = torch.Generator().manual_seed(7)
    state = sde.start_state(lq, generator=start)
    torch.testing.assert_close(state, t["traj.state"], rtol=0, atol=1e-7)
    ctx = {
        "text_context": t["input.text_context"][:1],
        "image_context": t["input.image_context"][:1],
    }

    def model(x: torch.Tensor, mu: torch.Tensor, time: float) -> torch.Tensor:
        return net(x, mu, time, **ctx)

    out = sde.sample(
        model, lq, xt=state, mode="posterior", generator=torch.Generator().manual_seed(8)
    )
    torch.testing.assert_close(out, t["traj.posterior"], rtol=0, atol=TRAJECTORY_TOL)


def test_paper_wildir_keys_equal_official() -> None:
    """The packaged wild-ir config builds exactly the official key set, so wild-ir.pth loads."""
    ref = json.loads((FIX / "paper_keys.json").read_text())
    cfg = load_model_config(MODELS["wild-ir"].config)
    assert {k: cfg["net"][k] for k in ref["net"]} == ref["net"]  # the official test.yml setting
    net = build_network(cfg)
    assert [[k, list(v.shape)] for k, v in net.state_dict().items()] == ref["keys"]
    assert sum(p.numel() for p in net.parameters()) == ref["n_params"] == 49470467
    assert IRSDE.from_config(cfg["sde"]).T == 100 and cfg["sde"]["sampling_mode"] == "posterior"


def test_wild_ir_zoo_weights_come_with_its_vit_l14_daclip(tmp_path: Path, monkeypatch) -> None:
    """`--model wild-ir --weights zoo` pairs wild-ir.pth with the card's ViT-L/14 DA-CLIP (not
    the paper's ViT-B/32) and names no degradation (the ten task texts are not its label space).
    The download and the 1.7 GB DA-CLIP are replaced: a tiny network file and a tiny DA-CLIP."""
    from uirbench.models import restorer as R
    from uirbench.models.daclip_context import build_daclip_context
    from uirbench.models.registry import build_restorer

    net = build_network(load_model_config("irsde_wild_tiny"))
    torch.save(net.state_dict(), tmp_path / "wild-ir.pth")
    files = {"model": tmp_path / "wild-ir.pth", "daclip": tmp_path / "wild-daclip_ViT-L-14.pt"}
    monkeypatch.setattr(R, "fetch_zoo_weights", lambda name: files)
    seen: dict = {}

    def tiny_daclip(spec: dict, device: str = "cpu"):
        seen.update(spec)
        return build_daclip_context({"config": "daclip_tiny", "weights": None, "seed": 0})

    monkeypatch.setattr(R, "build_daclip_context", tiny_daclip)
    r = build_restorer("wild-ir", weights="zoo", config="irsde_wild_tiny", steps=2)
    assert seen == {"config": "daclip_ViT-L-14", "weights": str(files["daclip"])}
    assert r.sampling_mode == "posterior" and r.model.scale == 0.5
    out = r.restore(torch.rand(1, 3, 24, 40, generator=torch.Generator().manual_seed(0)))
    assert out.shape == (1, 3, 24, 40) and torch.isfinite(out).all()
    assert r.last_degradation == []
    # --daclip wild-daclip_ViT-L-14.pt without --daclip-config: the card's config, not ViT-B/32
    seen.clear()
    spec = {"config": None, "weights": str(files["daclip"])}
    build_restorer("wild-ir", weights=str(files["model"]), config="irsde_wild_tiny", daclip=spec)
    assert seen["config"] == "daclip_ViT-L-14"
    assert R._card_daclip("ours") == {"config": "daclip_ViT-B-32", "degradations": None}


def test_vitl14_daclip_has_the_official_keys_and_shapes() -> None:
    """uirbench's daclip_ViT-L-14 config builds the official DA-CLIP ViT-L/14 layout (1087
    tensors, ``visual.*`` alias included), so wild-daclip_ViT-L-14.pt loads strictly. Built on
    the meta device: the layout without drawing 0.9 G parameters."""
    from uirbench.models.daclip import DaCLIP, build_clip
    from uirbench.models.daclip import load_config as load_daclip_config

    ref = json.loads((FIX / "daclip_ViT-L-14_keys.json").read_text())
    cfg = load_daclip_config(load_zoo_daclip_config())
    assert (cfg["embed_dim"], cfg["vision_cfg"], cfg["text_cfg"]) == (
        ref["config"]["embed_dim"],
        ref["config"]["vision_cfg"],
        ref["config"]["text_cfg"],
    )
    with torch.device("meta"):
        model = DaCLIP(build_clip(cfg))
    ours = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    assert len(ref["keys"]) == 1087
    assert ours == ref["keys"]
    # the wild network's cross-attention takes this DA-CLIP's content embedding
    assert cfg["embed_dim"] == load_model_config(MODELS["wild-ir"].config)["net"]["context_dim"]


def load_zoo_daclip_config() -> str:
    """The DA-CLIP config the wild-ir zoo card pairs with its weights."""
    import yaml

    from uirbench.paths import zoo_dir

    card = yaml.safe_load((zoo_dir() / f"{MODELS['wild-ir'].card}.yaml").read_text())
    return card["architecture"]["daclip_config"]
