"""Mixed precision as one switch: ``amp: auto`` is bf16/fp16 autocast on GPU, off on CPU unless
the CPU has native bf16 (AVX512-BF16/AMX), where bf16 autocast is faster and still stable."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import cache

import torch

MODES = ("auto", "off", "bf16", "fp16")


@cache
def cpu_has_native_bf16() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve(mode: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``mode`` on ``device`` (``None``: full precision)."""
    if mode not in MODES:
        raise ValueError(f"amp must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "off":
        return None
    if mode == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if cpu_has_native_bf16() else None
    return torch.bfloat16 if mode == "bf16" else torch.float16


def autocast(
    dtype: torch.dtype | None, device: torch.device
) -> Callable[[], contextlib.AbstractContextManager]:
    """A factory of autocast contexts (a no-op one when ``dtype`` is None)."""
    if dtype is None:
        return contextlib.nullcontext
    return lambda: torch.autocast(device_type=device.type, dtype=dtype)


def grad_scaler(dtype: torch.dtype | None, device: torch.device) -> torch.amp.GradScaler:
    """Loss scaling is needed for fp16 only; a disabled scaler is a pass-through."""
    return torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
