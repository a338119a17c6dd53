"""Weights of a restoration network: from an official ``.pth`` or a uirbench checkpoint, loaded
strictly with a message that names the file and the keys that do not fit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from uirbench.errors import UirbenchError
from uirbench.models.networks import build_network
from uirbench.weights import load_checkpoint, load_tensor_file


def network_state_from_file(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Weights of a network from an official ``.pth`` or a uirbench checkpoint.

    uirbench training checkpoints hold ``net.*`` and ``ema.*`` (+ optimizer) tensors; the EMA
    weights are used when present (the official code also evaluates its EMA). Official files are
    plain state dicts, possibly with DDP's ``module.`` prefix. Returns (state, meta).
    """
    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        tensors, meta = load_checkpoint(path)
    else:
        tensors, meta = load_tensor_file(path), {}
        if isinstance(tensors.get("params"), dict):  # BasicSR's {"params": state_dict}
            tensors = tensors["params"]
    picked = trained_network_state(tensors)
    if picked is not None:
        return picked, meta
    return {k.removeprefix("module."): v for k, v in tensors.items()}, meta


def trained_network_state(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
    """The network of a uirbench training checkpoint: its ``ema.*`` weights when present (the
    official code evaluates and releases its EMA), else ``net.*``; None when it holds neither."""
    for prefix in ("ema.", "net."):
        picked = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        if picked:
            return picked
    return None


def check_config_fits(cfg: dict[str, Any], state: dict[str, torch.Tensor], source: str) -> None:
    """Refuse a config whose network does not have the file's tensor shapes, before allocating
    it: the network is first built on the meta device (no memory). A checkpoint's JSON names its
    config, so an edited JSON could otherwise size a network far beyond the machine's memory."""
    try:
        with torch.device("meta"):
            shapes = {k: tuple(v.shape) for k, v in build_network(cfg).state_dict().items()}
    except (RuntimeError, NotImplementedError, TypeError, ValueError):
        return  # a network that cannot be built on meta: the strict load still checks
    if set(shapes) != set(state):
        missing = sorted(set(shapes) - set(state))
        unexpected = sorted(set(state) - set(shapes))
        raise UirbenchError(
            f"weights {source} do not fit the model config: {len(missing)} missing keys "
            f"(e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}); "
            "pick the config the weights were trained with (--config)"
        )
    bad = [k for k in shapes if shapes[k] != tuple(state[k].shape)]
    if bad:
        k = bad[0]
        raise UirbenchError(
            f"weights {source} do not fit the model config: {len(bad)} tensors differ in shape "
            f"(e.g. {k}: config {shapes[k]}, file {tuple(state[k].shape)}); pick the config the "
            "weights were trained with (--config), or check the checkpoint's JSON"
        )


def load_network_weights(net: torch.nn.Module, state: dict[str, torch.Tensor], source: str):
    """Strict load with a message that names the file and the mismatching keys."""
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise UirbenchError(
            f"weights {source} do not fit the model config: {len(missing)} missing keys "
            f"(e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}); "
            "pick the config the weights were trained with (--config)"
        )
    bad = [k for k in own if own[k].shape != state[k].shape]
    if bad:
        raise UirbenchError(
            f"weights {source}: shape mismatch for {bad[:3]} "
            f"(model {tuple(own[bad[0]].shape)}, file {tuple(state[bad[0]].shape)}); "
            "pick the config the weights were trained with (--config)"
        )
    net.load_state_dict(state, strict=True)
