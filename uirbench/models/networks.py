"""Restoration model configs (``uirbench/models/configs/*.json``) and the networks they build.

A config is ``{"arch": "irsde"|"nafnet", "net": {...}, "sde": {...}}``; which config a model
name uses by default is its row in :mod:`uirbench.models.table`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from uirbench.errors import UirbenchError
from uirbench.models.config import read_config
from uirbench.models.irsde.unet import ConditionalUNet
from uirbench.models.irsde.unet import pad_multiple as unet_pad_multiple
from uirbench.models.nafnet import NAFNet


def load_model_config(config: str | Path | dict) -> dict[str, Any]:
    """A restoration model config: a dict, a packaged name (``irsde_daclip_tiny``) or a JSON
    path (:func:`uirbench.models.config.read_config`)."""
    return read_config(config)


def build_network(cfg: dict[str, Any]) -> torch.nn.Module:
    """The bare network of a model config (random init)."""
    if cfg["arch"] == "irsde":
        return ConditionalUNet(**cfg["net"])
    if cfg["arch"] == "nafnet":
        return NAFNet(**cfg["net"])
    raise UirbenchError(f"model config has unknown arch {cfg['arch']!r}; use 'irsde' or 'nafnet'")


def pad_multiple(cfg: dict[str, Any]) -> int:
    """Side multiple the network pads to; tiles are multiples of it so no tile is padded."""
    if cfg["arch"] == "irsde":
        return unet_pad_multiple(len(cfg["net"]["ch_mult"]))
    return 2 ** len(cfg["net"]["enc_blk_nums"])  # NAFNet's padder_size


def uses_daclip(cfg: dict[str, Any]) -> bool:
    """Whether the network takes DA-CLIP embeddings (so restoring needs a DA-CLIP model)."""
    net = cfg["net"]
    if cfg["arch"] == "irsde":
        return bool(net.get("context_dim")) and bool(
            net.get("use_degra_context") or net.get("use_image_context")
        )
    return bool(net.get("context_dim"))
