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
from uirbench.data.synth import INCOMPRESSIBLE_OPS, apply
from uirbench.errors import UirbenchError
from uirbench.io import atomic_write_bytes, decode_image, encode_png, is_rgb8_png, sha256_bytes
from uirbench.tasks import activate, get_task


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
    psf_bank: str | None = None  # name of measured-PSF banks in the context (the wild op)
    png: str = "compressed"  # how PNGs this job encodes are written: see PNG_MODES

    @property
    def stored_png(self) -> bool:
        return self.png == "stored"

    @property
    def key(self) -> str:
        return sample_key(self.split, get_task(self.task), self.stem)

    def fingerprint(self) -> str:
        """Hash of all that determines the output: a journal entry is reused only if equal."""
        spec = asdict(self)
        # Upstream paths depend on where the raw data lives; source_image names the file instead.
        spec.pop("gt_file")
        spec.pop("lq_file")
        if spec["png"] == "compressed":  # the default: fingerprints from before the option hold
            spec.pop("png")
        if spec["psf_bank"] is None:  # likewise for the PSF banks
            spec.pop("psf_bank")
        blob = json.dumps(spec, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


# How build-data writes the PNGs it encodes (pixels are identical either way):
# compressed: OpenCV's defaults (sigma-50 noise still stored: it does not compress);
# stored: no deflate, no row filter: ~5 ms less per encode at CBSD68 size, files up to 2.3x larger
# (q10 JPEG LQ 199 -> 464 KB, clean 288 -> 464 KB). Upstream 8-bit RGB PNGs are copied as they are.
PNG_MODES = ("compressed", "stored")

# Per-process shared inputs: {"photos": {id: HxWx3 uint8}, "masks": {bank: (masks, ids)},
# "psf": {bank: PsfBanks}}.
_CONTEXT: dict[str, Any] = {"photos": {}, "masks": {}, "psf": {}}


def init_worker(context: dict[str, Any]) -> None:
    """Pool initializer: install the shared inputs once per worker process."""
    _CONTEXT.update(context)
    activate(context.get("tasks"))  # user tasks (--tasks-file) reach spawned workers too
    cv2.setNumThreads(1)  # parallelism comes from the pool; nested threads only contend


def _read_source(path: str) -> tuple[bytes, np.ndarray]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UirbenchError(f"{path}: cannot read source image ({exc.strerror})") from exc
    return data, decode_image(data, path)


def _as_png(raw: bytes, rgb: np.ndarray, stored: bool) -> bytes:
    """Upstream bytes when they already are an 8-bit RGB PNG (exact, no re-encode), else encode."""
    return raw if is_rgb8_png(raw) else encode_png(rgb, stored=stored)


def gt_identity(job: PairJob) -> tuple[Any, ...]:
    """Jobs with equal identity share one GT image (e.g. noisy and jpeg of one photo)."""
    return (job.gt_file, job.source_image, job.gt_crop)


def _load_gt(job: PairJob) -> tuple[np.ndarray, bytes]:
    if job.gt_crop is not None:
        x, y, s = job.gt_crop
        gt = np.ascontiguousarray(_CONTEXT["photos"][job.source_image][y : y + s, x : x + s])
        return gt, encode_png(gt, stored=job.stored_png)
    assert job.gt_file is not None
    raw, gt = _read_source(job.gt_file)
    return gt, _as_png(raw, gt, job.stored_png)


def run_group(jobs: list[PairJob], root: str) -> list[dict[str, Any]]:
    """Execute jobs that share one GT (see :func:`gt_identity`), decoding it only once."""
    gt, gt_data = _load_gt(jobs[0])
    gt_sha = sha256_bytes(gt_data)
    return [_run(job, root, gt, gt_data, gt_sha) for job in jobs]


def _run(job: PairJob, root: str, gt: np.ndarray, gt_data: bytes, gt_sha: str) -> dict[str, Any]:
    task = get_task(job.task)
    if job.synth == "paired":
        if job.lq_file is None:
            raise ValueError(f"{job.key}: a paired job needs an LQ file")
        raw_lq, lq = _read_source(job.lq_file)
        if lq.shape != gt.shape:
            raise UirbenchError(
                f"size mismatch in pair {job.key}: LQ {job.lq_file} is {lq.shape[1]}x{lq.shape[0]}"
                f", GT {job.gt_file} is {gt.shape[1]}x{gt.shape[0]}"
            )
        lq_data = _as_png(raw_lq, lq, job.stored_png)
        used: dict[str, Any] = {}
    else:
        extra: dict[str, Any] = {}
        if job.mask_bank is not None:
            masks, ids = _CONTEXT["masks"][job.mask_bank]
            extra = {"masks": masks, "mask_ids": ids}
        if job.psf_bank is not None:
            extra["banks"] = _CONTEXT["psf"][job.psf_bank]
        # An upstream LQ with a synthesis: a composite on real pairs (blur on Rain100H's rainy
        # image, daclip-mix): the operator degrades the LQ further, the GT stays clean.
        base = gt
        if job.lq_file is not None:
            _, base = _read_source(job.lq_file)
            if base.shape != gt.shape:
                raise UirbenchError(
                    f"size mismatch in pair {job.key}: LQ {job.lq_file} is {base.shape[1]}x"
                    f"{base.shape[0]}, GT {job.gt_file} is {gt.shape[1]}x{gt.shape[0]}"
                )
        try:
            lq, used = apply(job.synth, base, job.seed, **job.params, **extra)
        except UirbenchError as exc:  # name the photo: the message alone says only its size
            raise UirbenchError(f"{job.gt_file or job.source_image} ({job.key}): {exc}") from None
        lq_data = encode_png(lq, stored=job.stored_png or job.synth in INCOMPRESSIBLE_OPS)

    lq_rel, gt_rel = pair_relpaths(job.split, task, job.stem)
    # Not fsynced: a resumed build re-verifies every file by hash before trusting it.
    atomic_write_bytes(Path(root) / gt_rel, gt_data, durable=False)
    atomic_write_bytes(Path(root) / lq_rel, lq_data, durable=False)
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
        "gt_sha256": gt_sha,
        "width": int(gt.shape[1]),
        "height": int(gt.shape[0]),
        "caption": None,
    }
