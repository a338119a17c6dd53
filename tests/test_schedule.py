"""The one LR schedule gives each trainer exactly (bit for bit) the LR its own schedule gave."""

from __future__ import annotations

import math

import pytest

from uirbench.train.schedule import cosine_lr


def _daclip_before(step: int, base: float, warmup: int, total: int) -> float:
    """train/daclip.py's cosine_lr before the merge (open_clip's)."""
    if step < warmup:
        return base * (step + 1) / warmup
    span = max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / span)) * base


def _restore_before(step: int, lr: float, eta_min: float, total: int) -> float:
    """train/restore.py's cosine_lr before the merge."""
    return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * step / total)) / 2


def test_daclip_open_clip_schedule():
    assert cosine_lr(0, 1.0, 100, warmup=10) == pytest.approx(0.1)
    assert cosine_lr(9, 1.0, 100, warmup=10) == pytest.approx(1.0)
    assert cosine_lr(10, 1.0, 100, warmup=10) == pytest.approx(1.0)
    assert cosine_lr(55, 1.0, 100, warmup=10) == pytest.approx(0.5)
    assert cosine_lr(100, 1.0, 100, warmup=10) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("base", "warmup", "total"),
    [(3e-5, 100, 5000), (2e-3, 20, 110 * 3), (1e-4, 0, 77), (1.0, 10, 11)],
)
def test_daclip_lr_is_bit_identical(base, warmup, total):
    for step in range(total + 1):
        assert cosine_lr(step, base, total, warmup=warmup) == _daclip_before(
            step, base, warmup, total
        )


@pytest.mark.parametrize(
    ("lr", "eta_min", "total"), [(2e-4, 1e-6, 7000), (1e-3, 1e-5, 600), (1e-3, 0.0, 13)]
)
def test_restore_lr_is_bit_identical(lr, eta_min, total):
    for step in range(total + 1):
        assert cosine_lr(step, lr, total, eta_min=eta_min) == _restore_before(
            step, lr, eta_min, total
        )
