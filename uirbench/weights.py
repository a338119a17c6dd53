"""Safe weight files: the safetensors + JSON checkpoint format, read without unpickling anything.

Everything that loads weights (the networks in :mod:`uirbench.models`, restoration, the pyiqa
metrics, the trainers) reads them here, so nothing below the trainers depends on them.

A checkpoint ``<stem>`` is two files: ``<stem>.safetensors`` (every tensor, flat names) and
``<stem>.json`` (everything else: step, recipe, optimizer hyper-parameters). The JSON records the
sha256 of its tensors file and every load checks it (a kill between the two renames of a save
would otherwise pair new tensors with the previous JSON); checkpoints written before the digest
existed load as before (nothing to check). Writing a checkpoint (atomically, keeping the previous
pair) is the trainers' job: :mod:`uirbench.train.checkpoint`.
Foreign weight files (``.pt``/``.pth``/``.bin``) are read with ``torch.load(weights_only=True)``:
a file that needs arbitrary objects unpickled is refused with a clear error rather than executed.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import struct
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from uirbench.errors import UirbenchError
from uirbench.io import sha256_file

SAFETENSORS_SUFFIX = ".safetensors"
META_SUFFIX = ".json"
DIGEST_KEY = "tensors_sha256"  # in the JSON: sha256 of the .safetensors written with it
PREVIOUS = ".prev"  # <stem>.prev.*: the last complete checkpoint, kept while a new one is written


class CheckpointMismatchError(UirbenchError):
    """The tensors file is not the one its JSON was written with (or it is damaged)."""


def checkpoint_stem(path: str | Path) -> Path:
    """``<stem>`` of a checkpoint named by its stem, its ``.safetensors`` or its ``.json``."""
    path = Path(path)
    return path.with_suffix("") if path.suffix in (SAFETENSORS_SUFFIX, META_SUFFIX) else path


def checkpoint_files(stem: Path) -> tuple[Path, Path]:
    """(``<stem>.safetensors``, ``<stem>.json``)."""
    return stem.with_name(stem.name + SAFETENSORS_SUFFIX), stem.with_name(stem.name + META_SUFFIX)


def previous_stem(stem: str | Path) -> Path:
    """Where the complete checkpoint is kept while ``stem`` is being rewritten."""
    stem = checkpoint_stem(stem)
    return stem.with_name(stem.name + PREVIOUS)


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


def read_meta(meta_path: Path) -> dict:
    """A checkpoint's JSON as a dict; an unreadable or non-object file is a named error."""
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise UirbenchError(f"cannot read checkpoint metadata {meta_path}: {exc}") from exc
    if not isinstance(meta, dict):
        raise UirbenchError(f"checkpoint metadata {meta_path} is not a JSON object")
    return meta


def check_digest(tensor_path: Path, meta_path: Path, meta: dict) -> None:
    """Raise :class:`CheckpointMismatchError` unless ``tensor_path`` has the recorded digest."""
    want = meta.get(DIGEST_KEY)
    if want is None:  # written before digests were recorded: nothing to check
        return
    got = sha256_file(tensor_path)
    if got == want:
        return
    prev_tensors, prev_meta = checkpoint_files(previous_stem(meta_path))
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
    tensor_path, meta_path = checkpoint_files(checkpoint_stem(stem))
    if not tensor_path.exists():
        raise UirbenchError(f"checkpoint {tensor_path} not found")
    meta = read_meta(meta_path) if meta_path.exists() else {}
    check_digest(tensor_path, meta_path, meta)
    return meta


def load_checkpoint(stem: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a checkpoint written by :func:`save_checkpoint`: (tensors, meta), after checking
    that the two files belong together."""
    tensor_path, _ = checkpoint_files(checkpoint_stem(stem))
    meta = verify_checkpoint(stem)
    meta.pop(DIGEST_KEY, None)
    return load_safetensors(tensor_path), meta


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
                check_digest(path, meta_path, meta)
        return load_safetensors(path)
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


def load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a safetensors file; a damaged file is a named error."""
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as exc:
        raise UirbenchError(f"{path} is not a valid safetensors file: {exc}") from exc
