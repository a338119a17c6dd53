"""Checkpoints as safetensors + JSON: written atomically, read without unpickling anything.

A checkpoint ``<stem>`` is two files: ``<stem>.safetensors`` (every tensor, flat names) and
``<stem>.json`` (everything else: step, recipe, optimizer hyper-parameters, RNG states as lists).
The JSON is written last, so a checkpoint whose JSON exists is complete. Foreign weight files
(``.pt``/``.pth``/``.bin``) are read with ``torch.load(weights_only=True)``: a file that needs
arbitrary objects unpickled is refused with a clear error rather than executed.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from uirbench.errors import UirbenchError
from uirbench.io import atomic_path, atomic_write_text

SAFETENSORS_SUFFIX = ".safetensors"
META_SUFFIX = ".json"


def _stem(path: str | Path) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix in (SAFETENSORS_SUFFIX, META_SUFFIX) else path


def save_checkpoint(stem: str | Path, tensors: Mapping[str, torch.Tensor], meta: dict) -> Path:
    """Write ``<stem>.safetensors`` then ``<stem>.json``, each atomically; returns the stem.

    Tensors sharing memory are cloned (safetensors refuses aliases), saved contiguous on CPU.
    """
    from safetensors.torch import save_file

    stem = _stem(stem)
    flat = {k: v.detach().to("cpu").clone().contiguous() for k, v in tensors.items()}
    with atomic_path(stem.with_name(stem.name + SAFETENSORS_SUFFIX)) as tmp:
        save_file(flat, str(tmp), metadata={"format": "pt"})
    atomic_write_text(stem.with_name(stem.name + META_SUFFIX), json.dumps(meta, indent=1) + "\n")
    return stem


def load_checkpoint(stem: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a checkpoint written by :func:`save_checkpoint`: (tensors, meta)."""
    stem = _stem(stem)
    meta_path = stem.with_name(stem.name + META_SUFFIX)
    tensor_path = stem.with_name(stem.name + SAFETENSORS_SUFFIX)
    if not tensor_path.exists():
        raise UirbenchError(f"checkpoint {tensor_path} not found")
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    return load_tensor_file(tensor_path), meta


def load_tensor_file(path: str | Path) -> dict[str, Any]:
    """Load a weights file safely: safetensors, or a torch pickle restricted to tensors and
    plain containers (``weights_only=True``). Anything else is refused, never executed."""
    path = Path(path)
    if not path.exists():
        raise UirbenchError(f"weights file {path} not found; check the path")
    if path.suffix == SAFETENSORS_SUFFIX:
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:
            raise UirbenchError(f"{path} is not a valid safetensors file: {exc}") from exc
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UirbenchError(
            f"refusing to load {path}: it holds pickled Python objects beyond tensors and plain "
            "containers, and unpickling them could run arbitrary code. Re-save only the "
            "state_dict (torch.save(model.state_dict(), ...)) or convert it to safetensors."
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise UirbenchError(f"cannot read {path} as a torch weights file: {exc}") from exc
    if not isinstance(obj, dict):
        raise UirbenchError(f"{path} holds a {type(obj).__name__}, not a dict of tensors")
    return obj


def flatten_optimizer(state: dict, prefix: str = "optim.") -> tuple[dict[str, torch.Tensor], dict]:
    """Split ``optimizer.state_dict()`` into tensors (per-parameter state) and JSON-able rest."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, pstate in state["state"].items():
        for name, value in pstate.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}{pid}.{name}"] = value
            else:
                scalars.setdefault(str(pid), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def unflatten_optimizer(
    tensors: Mapping[str, torch.Tensor], meta: dict, prefix: str = "optim."
) -> dict:
    """Inverse of :func:`flatten_optimizer`."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix):
            pid, name = key[len(prefix) :].split(".", 1)
            state.setdefault(int(pid), {})[name] = value
    for pid, values in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


def rng_state() -> dict:
    """CPU torch RNG state as a JSON-able list (GPU generators are reseeded per step instead)."""
    return {"torch": torch.get_rng_state().tolist()}


def set_rng_state(state: dict) -> None:
    if "torch" in state:
        torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
