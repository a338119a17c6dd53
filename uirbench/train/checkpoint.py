"""Writing training checkpoints (safetensors + JSON) atomically, and finding one to resume from.

The format and every reader live in :mod:`uirbench.weights` (restore, evaluate and the models read
weights without depending on the trainers); this module adds what only a trainer does. Each file
of a checkpoint is renamed into place atomically, but a kill between the two renames would pair
new tensors with the previous JSON, so the JSON records the sha256 of its tensors file (checked on
every load), and while a new checkpoint is written the current one stays reachable as
``<stem>.prev.*`` (hard links, no copy; removed once the new pair is complete), so there is always
one intact pair to resume from.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from uirbench.errors import UirbenchError
from uirbench.io import (
    TMP_PREFIX,
    atomic_path,
    atomic_write_text,
    owned_temp_prefix,
    temporary_is_stale,
)
from uirbench.weights import (  # noqa: F401  (re-exported: the trainers' one checkpoint module)
    DIGEST_KEY,
    META_SUFFIX,
    PREVIOUS,
    SAFETENSORS_SUFFIX,
    CheckpointMismatchError,
    checkpoint_files,
    checkpoint_stem,
    load_checkpoint,
    load_tensor_file,
    previous_stem,
    verify_checkpoint,
    write_safetensors,
)


def save_checkpoint(stem: str | Path, tensors: Mapping[str, torch.Tensor], meta: dict) -> Path:
    """Write ``<stem>.safetensors`` then ``<stem>.json`` (with the tensors' sha256), each
    atomically; returns the stem. The checkpoint being replaced is kept as ``<stem>.prev.*``
    until the new pair is complete, so a kill at any moment leaves one intact pair.

    Tensors are streamed one at a time (:func:`write_safetensors`), so tensors sharing memory
    need no clone and the peak extra memory is one tensor.
    """
    stem = checkpoint_stem(stem)
    tensor_path, meta_path = checkpoint_files(stem)
    prev = previous_stem(stem)
    for stale in stem.parent.glob(TMP_PREFIX + "*"):  # a half-written file of a killed run
        if temporary_is_stale(stale):  # never another live process's temporary
            stale.unlink(missing_ok=True)
    _keep_current_as_previous(stem, prev)
    with atomic_path(tensor_path) as tmp:
        digest = write_safetensors(tmp, tensors, {"format": "pt"})
    atomic_write_text(meta_path, json.dumps({**meta, DIGEST_KEY: digest}, indent=1) + "\n")
    # JSON first: a lone .prev.safetensors is never used
    for path in reversed(checkpoint_files(prev)):
        path.unlink(missing_ok=True)
    return stem


def _keep_current_as_previous(stem: Path, prev: Path) -> None:
    """Hard-link the current complete pair to ``prev`` (copy where links are unsupported).

    If a ``prev`` pair is already there, a run was killed mid-save: the current pair is linked
    over it only if it verifies; otherwise ``prev`` is the intact one and stays.
    """
    tensor_path, meta_path = checkpoint_files(stem)
    if not (tensor_path.exists() and meta_path.exists()):
        return
    prev_tensors, prev_meta = checkpoint_files(prev)
    if prev_meta.exists():
        try:
            verify_checkpoint(stem)
        except UirbenchError:
            return
    prev_meta.unlink(missing_ok=True)  # never a moment where prev's JSON meets other tensors
    _link_or_copy(tensor_path, prev_tensors)
    _link_or_copy(meta_path, prev_meta)


def _link_or_copy(src: Path, dest: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=owned_temp_prefix(), suffix=dest.suffix, dir=dest.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
        # rename() between two links to one file does nothing and leaves tmp: drop it
        Path(tmp).unlink(missing_ok=True)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def find_resume_checkpoint(stem: str | Path, log: Any = None) -> Path | None:
    """The newest intact checkpoint to resume from: ``<stem>``, else ``<stem>.prev`` (left by a
    run killed while saving), else None when neither exists. A checkpoint that fails its check
    with no intact fallback raises that error rather than starting over silently."""
    stem = checkpoint_stem(stem)
    found = [s for s in (stem, previous_stem(stem)) if checkpoint_files(s)[1].exists()]
    first_error: UirbenchError | None = None
    for candidate in found:
        try:
            verify_checkpoint(candidate)
        except UirbenchError as exc:
            first_error = first_error or exc
            continue
        if first_error is not None and log is not None:
            log(f"{first_error}\nresuming from {candidate} instead")
        return candidate
    if first_error is not None:
        raise first_error
    return None


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
