"""`uirbench export`: checkpoints -> the official files, checked against the official-code
fixtures (tests/fixtures/daclip and tests/fixtures/restore): the exported file holds exactly the
official key set (and, for the UNet, the official key order and weight bytes), so the official
strict loaders (open_clip ``load_checkpoint``, ``BaseModel.load_network``, BasicSR
``load_network``) accept it."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from typer.testing import CliRunner

from uirbench.cli.app import app
from uirbench.train.checkpoint import save_checkpoint

FIX = Path(__file__).parent / "fixtures"


def _parity_helpers():
    spec = importlib.util.spec_from_file_location(
        "rp", Path(__file__).parent / "test_restore_parity.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _export(*args: str) -> str:
    res = CliRunner().invoke(app, ["export", *args])
    assert res.exit_code == 0, res.output
    return res.output


def test_daclip_training_checkpoint_exports_to_the_official_layout(tmp_path: Path) -> None:
    from uirbench.models.daclip import build_daclip, compact_state_dict

    cfg = json.loads((FIX / "daclip" / "tiny_config.json").read_text())
    official = load_file(str(FIX / "daclip" / "tiny_official_weights.safetensors"))
    model = build_daclip(cfg, weights=FIX / "daclip" / "tiny_official_weights.safetensors")
    # a training checkpoint: model.* keys without the visual.* alias, plus optimizer tensors
    tensors = {f"model.{k}": v for k, v in compact_state_dict(model).items()}
    tensors["optim.state.0.exp_avg"] = torch.zeros(3)
    save_checkpoint(tmp_path / "last", tensors, {"model_config": cfg})
    assert not any(k.startswith("visual.") for k in tensors)
    _export("daclip", str(tmp_path / "last.safetensors"), str(tmp_path / "daclip.pt"))
    got = torch.load(tmp_path / "daclip.pt", map_location="cpu", weights_only=True)
    assert set(got) == set(official)  # 169 tensors: clip.*, visual.*, visual_control.*, ...
    for k, v in official.items():
        assert torch.equal(got[k], v), k


def test_irsde_checkpoint_exports_the_official_state_dict(tmp_path: Path) -> None:
    rp = _parity_helpers()
    from uirbench.models.irsde import ConditionalUNet

    with safe_open(str(FIX / "restore" / "unet_daclip.safetensors"), "pt") as f:
        meta = json.loads(f.metadata()["config"])
    ema = ConditionalUNet(**meta["net"])
    assert rp._fill_like_official(ema, meta["weight_seed"]) == meta["weights_sha256"]
    raw = ConditionalUNet(**meta["net"])  # the non-EMA weights must not be exported
    tensors = {f"net.{k}": v for k, v in raw.state_dict().items()}
    tensors |= {f"ema.{k}": v for k, v in ema.state_dict().items()}
    cfg = {"arch": "irsde", "net": meta["net"], "sde": {"max_sigma": 50, "T": 100}}
    save_checkpoint(tmp_path / "last", tensors, {"model_config": cfg, "daclip": None})
    out = _export("restore", str(tmp_path / "last.safetensors"), str(tmp_path / "ir.pth"))
    assert "load_network" in out
    got = torch.load(tmp_path / "ir.pth", map_location="cpu", weights_only=True)
    assert [[k, list(v.shape)] for k, v in got.items()] == meta["keys"]  # official order
    h = hashlib.sha256()
    for v in got.values():
        h.update(v.contiguous().numpy().tobytes())
    assert h.hexdigest() == meta["weights_sha256"]  # the EMA weights, byte for byte


def test_nafnet_checkpoint_exports_basicsr_params(tmp_path: Path) -> None:
    from uirbench.models.registry import build_restorer

    fx = load_file(str(FIX / "restore" / "nafnet.safetensors"))
    with safe_open(str(FIX / "restore" / "nafnet.safetensors"), "pt") as f:
        net_cfg = json.loads(f.metadata()["config"])
    official = {k[len("weights.") :]: v for k, v in fx.items() if k.startswith("weights.")}
    cfg = {"arch": "nafnet", "net": net_cfg}
    save_checkpoint(
        tmp_path / "last", {f"net.{k}": v for k, v in official.items()}, {"model_config": cfg}
    )
    _export("restore", str(tmp_path / "last.safetensors"), str(tmp_path / "naf.pth"))
    got = torch.load(tmp_path / "naf.pth", map_location="cpu", weights_only=True)
    assert list(got) == ["params"] and set(got["params"]) == set(official)
    for k, v in official.items():
        assert torch.equal(got["params"][k], v), k
    # and uirbench reads the exported file back: same outputs as the official network
    r = build_restorer("nafnet", weights=str(tmp_path / "naf.pth"), config=cfg)
    with torch.no_grad():
        torch.testing.assert_close(r.model(fx["input"]), fx["output"], rtol=0, atol=1e-5)
