"""Export uirbench checkpoints in the official file formats, so the official code reads them.

- DA-CLIP -> the official ``.pt``: a plain tensor dict in the official key layout (``clip.*``,
  the ``visual.*`` alias, ``visual_control.*``, ``logit_scale``), as ``daclip_ViT-B-32.pt``; the
  official ``open_clip.create_model_from_pretrained('daclip_ViT-B-32', pretrained=PATH)`` loads
  it strictly.
- IR-SDE (``ours``, ``irsde``) -> the official ``.pth``: the network's plain ``state_dict`` (the
  EMA weights when the checkpoint has them), as the official ``save_network`` writes it; the
  official ``BaseModel.load_network`` loads it strictly.
- NAFNet (``nafnet``, ``nafnet-daclip``) -> BasicSR's ``{"params": state_dict}``, which BasicSR's
  ``load_network(param_key='params')`` (NAFNet's official code) loads strictly.

Training checkpoints hold ``model.*`` / ``net.*`` / ``ema.*`` keys, optimizer tensors and no
``visual.*`` alias: they are not official files until exported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from uirbench.errors import UirbenchError
from uirbench.io import atomic_path
from uirbench.models.daclip import build_daclip, checkpoint_config, export_official
from uirbench.models.loading import trained_network_state
from uirbench.models.networks import build_network
from uirbench.weights import load_checkpoint


def export_daclip(checkpoint: str | Path, out: str | Path, config: Any = None) -> Path:
    """A DA-CLIP checkpoint (uirbench ``.safetensors`` or any file :func:`build_daclip` reads) ->
    the official ``.pt``. The config comes from the checkpoint's JSON, else ``config``, else
    ``daclip_ViT-B-32``; the weights are loaded strictly before anything is written."""
    cfg = checkpoint_config(checkpoint) or config or "daclip_ViT-B-32"
    model = build_daclip(cfg, weights=checkpoint)
    return export_official(model, out)


def restoration_state(checkpoint: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(network weights, metadata) of a uirbench restoration checkpoint: the EMA weights when
    present (the official code evaluates and releases its EMA), else the raw ones."""
    path = Path(checkpoint)
    if path.suffix not in (".safetensors", ".json"):
        raise UirbenchError(
            f"{path}: give a uirbench restoration checkpoint (.safetensors with its .json); an "
            "official .pth needs no export"
        )
    tensors, meta = load_checkpoint(path)
    picked = trained_network_state(tensors)
    if picked is not None:
        return picked, meta
    raise UirbenchError(f"{path} holds no net.* or ema.* weights; not a restoration checkpoint")


def export_restoration(checkpoint: str | Path, out: str | Path) -> tuple[Path, str]:
    """A uirbench restoration checkpoint -> the official weights file; returns (path, format).
    The weights are loaded strictly into the checkpoint's network first and written in its
    ``state_dict`` order (the official order: parity-tested)."""
    state, meta = restoration_state(checkpoint)
    cfg = meta.get("model_config")
    if not isinstance(cfg, dict):
        raise UirbenchError(f"{checkpoint}: its JSON records no model_config; cannot export")
    net = build_network(cfg)
    missing = sorted(set(net.state_dict()) - set(state))
    unexpected = sorted(set(state) - set(net.state_dict()))
    if missing or unexpected:
        raise UirbenchError(
            f"{checkpoint}: weights do not fit its own model_config ({len(missing)} missing, "
            f"{len(unexpected)} unexpected keys, e.g. {(missing or unexpected)[:2]})"
        )
    net.load_state_dict(state, strict=True)
    plain = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    if cfg["arch"] == "irsde":
        obj: dict[str, Any] = plain
        fmt = "official IR-SDE state_dict (BaseModel.load_network)"
    else:
        obj = {"params": plain}
        fmt = "BasicSR {'params': state_dict} (NAFNet's load_network)"
    out = Path(out)
    with atomic_path(out) as tmp:
        torch.save(obj, tmp)
    return out, fmt
