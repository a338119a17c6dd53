"""Checkpoints as safetensors + JSON: written atomically, read without unpickling anything.

A checkpoint ``<stem>`` is two files: ``<stem>.safetensors`` (every tensor, flat names) and
``<stem>.json`` (everything else: step, recipe, optimizer hyper-parameters, RNG states as lists).
Each is renamed into place atomically, but a kill between the two renames would pair new tensors
with the previous JSON. So the JSON records the sha256 of its tensors file and every load checks
it, and while a new checkpoint is written the current one stays reachable as ``<stem>.prev.*``
(hard links, no copy; removed once the new pair is complete), so there is always one intact pair
to resume from. Checkpoints written before the digest existed load as before (nothing to check).
Foreign weight files (``.pt``/``.pth``/``.bin``) are read with ``torch.load(weights_only=True)``:
a file that needs arbitrary objects unpickled is refused with a clear error rather than executed.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import struct
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from uirbench.errors import UirbenchError
from uirbench.io import TMP_PREFIX, atomic_path, atomic_write_text, sha256_file

SAFETENSORS_SUFFIX = ".safetensors"
META_SUFFIX = ".json"
DIGEST_KEY = "tensors_sha256"  # in the JSON: sha256 of the .safetensors written with it
PREVIOUS = ".prev"  # <stem>.prev.*: the last complete checkpoint, kept while a new one is written


class CheckpointMismatchError(UirbenchError):
    """The tensors file is not the one its JSON was written with (or it is damaged)."""


def _stem(path: str | Path) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix in (SAFETENSORS_SUFFIX, META_SUFFIX) else path


def _pair(stem: Path) -> tuple[Path, Path]:
    return stem.with_name(stem.name + SAFETENSORS_SUFFIX), stem.with_name(stem.name + META_SUFFIX)


def previous_stem(stem: str | Path) -> Path:
    """Where the complete checkpoint is kept while ``stem`` is being rewritten."""
    stem = _stem(stem)
    return stem.with_name(stem.name + PREVIOUS)


def save_checkpoint(stem: str | Path, tensors: Mapping[str, torch.Tensor], meta: dict) -> Path:
    """Write ``<stem>.safetensors`` then ``<stem>.json`` (with the tensors' sha256), each
    atomically; returns the stem. The checkpoint being replaced is kept as ``<stem>.prev.*``
    until the new pair is complete, so a kill at any moment leaves one intact pair.

    Tensors are streamed one at a time (:func:`write_safetensors`), so tensors sharing memory
    need no clone and the peak extra memory is one tensor.
    """
    stem = _stem(stem)
    tensor_path, meta_path = _pair(stem)
    prev = previous_stem(stem)
    for stale in stem.parent.glob(TMP_PREFIX + "*"):  # a half-written file of a killed run
        stale.unlink(missing_ok=True)
    _keep_current_as_previous(stem, prev)
    with atomic_path(tensor_path) as tmp:
        digest = write_safetensors(tmp, tensors, {"format": "pt"})
    atomic_write_text(meta_path, json.dumps({**meta, DIGEST_KEY: digest}, indent=1) + "\n")
    for path in reversed(_pair(prev)):  # JSON first: a lone .prev.safetensors is never used
        path.unlink(missing_ok=True)
    return stem


# torch dtype -> safetensors name, in the order of safetensors' own ``Dtype`` enum: the library
# writes tensors by that order descending, then by name, and so does write_safetensors
_DTYPES = {
    torch.bool: "BOOL", torch.uint8: "U8", torch.int8: "I8", torch.int16: "I16",
    torch.float16: "F16", torch.bfloat16: "BF16", torch.int32: "I32", torch.float32: "F32",
    torch.float64: "F64", torch.int64: "I64",
}  # fmt: skip
_DTYPE_RANK = {dtype: rank for rank, dtype in enumerate(_DTYPES)}


def write_safetensors(
    path: str | Path, tensors: Mapping[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> str:
    """Write ``tensors`` to ``path`` in the safetensors format; returns the file's sha256.

    Why not ``safetensors.torch.save_file``: it writes through a temporary file of its own,
    which a killed run leaves behind, and reports a full disk as a ``SafetensorError`` rather
    than an ``OSError`` (so :func:`uirbench.io.atomic_path` could not name it). Here plain
    Python writes go to the caller's (atomic) path, one tensor at a time, hashed on the way.
    The bytes are those ``safetensors.torch.save`` produces (tested): u64 header size, JSON
    header padded to 8 bytes, then the data in the library's order (wide dtypes first, so every
    tensor stays aligned).
    """
    if sys.byteorder != "little":
        raise UirbenchError("writing safetensors needs a little-endian machine")
    flat = {k: v.detach() for k, v in tensors.items()}
    for name, t in flat.items():
        if t.dtype not in _DTYPES:
            raise UirbenchError(f"cannot store tensor {name!r} of dtype {t.dtype} in a checkpoint")
    names = sorted(flat, key=lambda k: (-_DTYPE_RANK[flat[k].dtype], k))
    header: dict[str, Any] = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for name in names:
        t = flat[name]
        size = t.numel() * t.element_size()
        header[name] = {
            "dtype": _DTYPES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for chunk in (struct.pack("<Q", len(blob)), blob):
            f.write(chunk)
            digest.update(chunk)
        for name in names:
            data = flat[name].to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy()
            f.write(data)
            digest.update(data)
    return digest.hexdigest()


def _keep_current_as_previous(stem: Path, prev: Path) -> None:
    """Hard-link the current complete pair to ``prev`` (copy where links are unsupported).

    If a ``prev`` pair is already there, a run was killed mid-save: the current pair is linked
    over it only if it verifies; otherwise ``prev`` is the intact one and stays.
    """
    tensor_path, meta_path = _pair(stem)
    if not (tensor_path.exists() and meta_path.exists()):
        return
    prev_tensors, prev_meta = _pair(prev)
    if prev_meta.exists():
        try:
            verify_checkpoint(stem)
        except UirbenchError:
            return
    prev_meta.unlink(missing_ok=True)  # never a moment where prev's JSON meets other tensors
    _link_or_copy(tensor_path, prev_tensors)
    _link_or_copy(meta_path, prev_meta)


def _link_or_copy(src: Path, dest: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=dest.suffix, dir=dest.parent)
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


def _read_meta(meta_path: Path) -> dict:
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise UirbenchError(f"cannot read checkpoint metadata {meta_path}: {exc}") from exc
    if not isinstance(meta, dict):
        raise UirbenchError(f"checkpoint metadata {meta_path} is not a JSON object")
    return meta


def _check_digest(tensor_path: Path, meta_path: Path, meta: dict) -> None:
    want = meta.get(DIGEST_KEY)
    if want is None:  # written before digests were recorded: nothing to check
        return
    got = sha256_file(tensor_path)
    if got == want:
        return
    prev_tensors, prev_meta = _pair(previous_stem(meta_path))
    if prev_meta.exists() and prev_tensors.exists() and meta_path != prev_meta:
        hint = (
            f"the previous complete checkpoint is kept as {prev_tensors} + {prev_meta}: "
            "train.resume=auto falls back to it, or pass it explicitly"
        )
    else:
        hint = (
            "no previous checkpoint is kept; delete both files to start the run over "
            "(or restore them from a backup)"
        )
    raise CheckpointMismatchError(
        f"checkpoint {tensor_path} does not belong to {meta_path}: its sha256 is {got[:12]}..., "
        f"the JSON was written with {str(want)[:12]}... (a run killed between writing the two "
        f"files, or a damaged file). Not using it; {hint}"
    )


def verify_checkpoint(stem: str | Path) -> dict:
    """Check that ``<stem>.safetensors`` is the file ``<stem>.json`` was written with; returns
    the metadata. Raises :class:`CheckpointMismatchError` (naming both files) if not."""
    tensor_path, meta_path = _pair(_stem(stem))
    if not tensor_path.exists():
        raise UirbenchError(f"checkpoint {tensor_path} not found")
    meta = _read_meta(meta_path) if meta_path.exists() else {}
    _check_digest(tensor_path, meta_path, meta)
    return meta


def load_checkpoint(stem: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a checkpoint written by :func:`save_checkpoint`: (tensors, meta), after checking
    that the two files belong together."""
    tensor_path, _ = _pair(_stem(stem))
    meta = verify_checkpoint(stem)
    meta.pop(DIGEST_KEY, None)
    return _load_safetensors(tensor_path), meta


def find_resume_checkpoint(stem: str | Path, log: Any = None) -> Path | None:
    """The newest intact checkpoint to resume from: ``<stem>``, else ``<stem>.prev`` (left by a
    run killed while saving), else None when neither exists. A checkpoint that fails its check
    with no intact fallback raises that error rather than starting over silently."""
    stem = _stem(stem)
    found = [s for s in (stem, previous_stem(stem)) if _pair(s)[1].exists()]
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


def load_tensor_file(path: str | Path) -> dict[str, Any]:
    """Load a weights file safely: safetensors, or a torch pickle restricted to tensors and
    plain containers (``weights_only=True``). Anything else is refused, never executed."""
    path = Path(path)
    if not path.exists():
        raise UirbenchError(f"weights file {path} not found; check the path")
    if path.suffix == SAFETENSORS_SUFFIX:
        meta_path = path.with_suffix(META_SUFFIX)
        if meta_path.exists():  # a uirbench checkpoint: its tensors must match its JSON
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, ValueError):
                meta = None  # not ours (or unreadable): this loader does not need it
            if isinstance(meta, dict):
                _check_digest(path, meta_path, meta)
        return _load_safetensors(path)
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


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as exc:
        raise UirbenchError(f"{path} is not a valid safetensors file: {exc}") from exc


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
