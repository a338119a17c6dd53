"""One unit of build work (a pair) and how a worker process executes it.

A :class:`PairJob` says where the GT comes from, where the LQ comes from (an upstream file or a
synthesis operator with its parameters and seed) and where both go. Executing it writes both
PNGs atomically and returns the pair's index row. Jobs are small and picklable; large shared
inputs (mask banks, decoded demo photos) live in the per-process :data:`_CONTEXT`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from uirbench.data.layout import pair_relpaths, sample_key
from uirbench.data.synth import apply
from uirbench.errors import UirbenchError
from uirbench.io import atomic_write_bytes, decode_image, encode_png, sha256_bytes
from uirbench.tasks import get_task


@dataclass(frozen=True)
class PairJob:
    split: str
    task: str
    stem: str
    source: str
    source_image: str
    gt_file: str | None = None  # upstream GT file
    gt_crop: tuple[int, int, int] | None = None  # (x, y, size) crop of a context photo
    lq_file: str | None = None  # upstream LQ file (real paired data)
    synth: str = "paired"  # "paired" or a synthesis operator name
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    mask_bank: str | None = None  # name of a mask bank in the context (inpainting)

    @property
    def key(self) -> str:
        return sample_key(self.split, get_task(self.task), self.stem)

    def fingerprint(self) -> str:
        """Hash of all that determines the output: a journal entry is reused only if equal."""
        spec = asdict(self)
        # Upstream paths depend on where the raw data lives; source_image names the file instead.
        spec.pop("gt_file")
        spec.pop("lq_file")
        blob = json.dumps(spec, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


# Per-process shared inputs: {"photos": {id: HxWx3 uint8}, "masks": {bank: (masks, ids)}}.
_CONTEXT: dict[str, Any] = {"photos": {}, "masks": {}}


def init_worker(context: dict[str, Any]) -> None:
    """Pool initializer: install the shared inputs once per worker process."""
    _CONTEXT.update(context)
    cv2.setNumThreads(1)  # parallelism comes from the pool; nested threads only contend


def _read_source(path: str) -> tuple[bytes, np.ndarray]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UirbenchError(f"{path}: cannot read source image ({exc.strerror})") from exc
    return data, decode_image(data, path)


def _png_bytes(data: bytes | None, rgb: np.ndarray) -> bytes:
    """Reuse upstream PNG bytes when they already hold 8-bit RGB (exact, and no re-encode)."""
    if data is not None and data[:8] == b"\x89PNG\r\n\x1a\n":
        raw = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if raw is not None and raw.dtype == np.uint8 and raw.ndim == 3 and raw.shape[2] == 3:
            return data
    return encode_png(rgb)


def run_job(job: PairJob, root: str) -> dict[str, Any]:
    """Execute one job under ``root``; return its index row (without caption)."""
    task = get_task(job.task)
    if job.gt_crop is not None:
        x, y, s = job.gt_crop
        gt = np.ascontiguousarray(_CONTEXT["photos"][job.source_image][y : y + s, x : x + s])
        gt_data = encode_png(gt)
    else:
        assert job.gt_file is not None
        raw, gt = _read_source(job.gt_file)
        gt_data = _png_bytes(raw, gt)

    if job.synth == "paired":
        if job.lq_file is None:
            raise ValueError(f"{job.key}: a paired job needs an LQ file")
        raw_lq, lq = _read_source(job.lq_file)
        if lq.shape != gt.shape:
            raise UirbenchError(
                f"size mismatch in pair {job.key}: LQ {job.lq_file} is {lq.shape[1]}x{lq.shape[0]}"
                f", GT {job.gt_file} is {gt.shape[1]}x{gt.shape[0]}"
            )
        lq_data = _png_bytes(raw_lq, lq)
        used: dict[str, Any] = {}
    else:
        extra: dict[str, Any] = {}
        if job.mask_bank is not None:
            masks, ids = _CONTEXT["masks"][job.mask_bank]
            extra = {"masks": masks, "mask_ids": ids}
        lq, used = apply(job.synth, gt, job.seed, **job.params, **extra)
        lq_data = encode_png(lq)

    lq_rel, gt_rel = pair_relpaths(job.split, task, job.stem)
    atomic_write_bytes(Path(root) / gt_rel, gt_data)
    atomic_write_bytes(Path(root) / lq_rel, lq_data)
    return {
        "key": job.key,
        "split": job.split,
        "task": job.task,
        "stem": job.stem,
        "lq_path": lq_rel,
        "gt_path": gt_rel,
        "source": job.source,
        "source_image": job.source_image,
        "synth": job.synth,
        "params": json.dumps(used, sort_keys=True),
        "seed": job.seed,
        "job": job.fingerprint(),
        "lq_sha256": sha256_bytes(lq_data),
        "gt_sha256": sha256_bytes(gt_data),
        "width": int(gt.shape[1]),
        "height": int(gt.shape[0]),
        "caption": None,
    }
