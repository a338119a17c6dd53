"""The learning-rate schedule of both trainers: optional linear warmup, then cosine decay.

A closed form of the step (no scheduler state to save or restore on resume). DA-CLIP uses
open_clip's (warmup, then cosine to zero); restoration the official IR-SDE/NAFNet one (no
warmup, cosine to ``eta_min``).
"""

from __future__ import annotations

import math


def cosine_lr(
    step: int, base: float, total: int, *, warmup: int = 0, eta_min: float = 0.0
) -> float:
    """LR at ``step`` (0-based): ``base * (step + 1) / warmup`` during warmup, then
    ``eta_min + (base - eta_min) * (1 + cos(pi * t)) / 2`` with t going from 0 at the end of the
    warmup to 1 at ``total``."""
    if step < warmup:
        return base * (step + 1) / warmup
    span = max(1, total - warmup)
    return eta_min + (base - eta_min) * (1 + math.cos(math.pi * (step - warmup) / span)) / 2
