"""Degradation operators: ``OPS[name](gt, rng, **params) -> (lq, params_used)``.

Every operator takes an HxWx3 uint8 RGB GT and a seeded ``numpy.random.Generator`` and returns a
uint8 LQ of the same size plus the JSON-able parameters it actually used (they go into the
index). Same GT, seed and parameters give the same bytes on any machine.

``noise``, ``jpeg`` and ``inpaint_mask`` are the benchmark's exact definitions (DESIGN.md,
Synthesis). The others are physically motivated stand-ins for the seven degradations that the
benchmark takes from real paired datasets; they build the offline demo and ``--from DIR``.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from uirbench.data.synth import exact, physical, wild
from uirbench.registry import Registry
from uirbench.tasks import TASKS, Task

Op = Callable[..., tuple[np.ndarray, dict[str, Any]]]

OPS: Registry[Op] = Registry(
    "synthesis operator",
    {
        "noise": exact.gaussian_noise,
        "jpeg": exact.jpeg,
        "inpaint_mask": exact.inpaint_mask,
        "motion_blur": physical.motion_blur,
        "haze": physical.haze,
        "low_light": physical.low_light,
        "rain_streaks": physical.rain_streaks,
        "raindrops": physical.raindrops,
        "shadow": physical.shadow,
        "snow": physical.snow,
        "wild": wild.wild_degrade,
        "gaussian_blur": wild.gaussian_blur,
    },
)

# Operators whose LQ does not compress (i.i.d. noise of sigma 50 on 8 bits): their PNGs are
# stored uncompressed, 11x faster to encode for 2% more bytes (uirbench.io.PNG_STORED_PARAMS).
INCOMPRESSIBLE_OPS = frozenset({"noise"})

# The operator that stands in for each task when synthesising all ten from clean photos.
DEFAULT_OP_FOR_TASK: dict[str, tuple[str, dict[str, Any]]] = {
    "blurry": ("motion_blur", {}),
    "hazy": ("haze", {}),
    "jpeg": ("jpeg", {"quality": 10}),
    "low-light": ("low_light", {}),
    "noisy": ("noise", {"sigma": 50}),
    "raindrop": ("raindrops", {}),
    "rainy": ("rain_streaks", {}),
    "shadowed": ("shadow", {}),
    "snowy": ("snow", {}),
    "inpainting": ("inpaint_mask", {}),
}


def pair_seed(global_seed: int, split: str, task: str, stem: str) -> int:
    """Per-pair seed from (global seed, split, task, stem): one pair never depends on another.

    The task is part of the key (DESIGN.md names only seed, split and stem) so that, when one
    photo is degraded for all ten tasks, the tasks' random draws are independent.
    """
    digest = hashlib.sha256(f"{global_seed}/{split}/{task}/{stem}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def apply(op: str, gt: np.ndarray, seed: int, **params: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """Run operator ``op`` on ``gt`` with a generator seeded by ``seed``."""
    fn = OPS.pick(op)  # unknown: a ValueError naming the known operators
    rng = np.random.Generator(np.random.PCG64(seed))
    lq, used = fn(gt, rng, **params)
    if lq.shape != gt.shape or lq.dtype != np.uint8:
        raise AssertionError(f"operator {op} returned {lq.dtype} {lq.shape} for {gt.shape}")
    return lq, used


def operator_params(op: str) -> list[str]:
    """The keyword parameters a user may set for operator ``op`` (task files check against it)."""
    sig = inspect.signature(OPS[op])
    internal = {"gt", "rng", "masks", "mask_ids", "banks"}
    return [
        name
        for name, p in sig.parameters.items()
        if name not in internal and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


# The degradation text each operator stands for (a chain's default DA-CLIP text lists them).
_STEP_TEXT = {op: task for task, (op, _) in DEFAULT_OP_FOR_TASK.items()}


def default_step_text(op: str) -> str:
    """``motion_blur`` -> ``motion-blurry`` (its task's text); others: the name in words."""
    by_id = {t.id: t for t in TASKS}
    return by_id[_STEP_TEXT[op]].degradation if op in _STEP_TEXT else op.replace("_", " ")


def pair_degradation_text(task: Task, params: str | dict[str, Any] | None) -> str:
    """The DA-CLIP degradation text of one pair: what its synthesis says it applied, else its
    task's text.

    An operator whose draw decides the degradations (``wild``: random_degrade) records them as
    ``params.text`` (``"blur, noise, jpeg block"``), and that per-pair multi-label text is what
    the official wild DA-CLIP trained on; inside a chain, the steps' texts are listed in order
    (a step without its own text gives its operator's task text). Every other pair has its
    task's text (a composite task's lists each degradation already). Classification still uses
    one text per task (:mod:`uirbench.evaluate.classify`).
    """
    used = json.loads(params) if isinstance(params, str) and params else (params or {})
    if isinstance(used.get("text"), str):
        return used["text"]
    steps = used.get("steps")
    if isinstance(steps, list) and any(isinstance(s.get("text"), str) for s in steps):
        parts: list[str] = []
        for step in steps:
            text = step.get("text") if isinstance(step.get("text"), str) else None
            parts += text.split(", ") if text is not None else [default_step_text(step["op"])]
        return ", ".join(dict.fromkeys(p for p in parts if p != "clean")) or "clean"
    return task.degradation


def chain(
    gt: np.ndarray,
    rng: np.random.Generator,
    steps: Sequence[tuple[str, dict[str, Any]]] = (),
    **shared: Any,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Composite degradation: ``steps`` applied in order, each with its own seed from ``rng``.

    Each step's seed is drawn before any step runs, so changing one step's parameters leaves
    the others' random draws unchanged. ``shared`` inputs (a mask bank, PSF banks) go to the
    steps whose operator takes them.
    """
    if not steps:
        raise ValueError("a chain needs at least one step")
    seeds = [int(s) for s in rng.integers(0, 2**63 - 1, size=len(steps), dtype=np.int64)]
    lq, used = gt, []
    for (op, params), seed in zip(steps, seeds, strict=True):
        if op == "chain":
            raise ValueError("a chain cannot contain a chain")
        takes = inspect.signature(OPS[op]).parameters
        lq, p = apply(op, lq, seed, **params, **{k: v for k, v in shared.items() if k in takes})
        used.append({"op": op, **p})
    return lq, {"steps": used}


OPS.register("chain")(chain)
