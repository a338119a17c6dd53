"""Exponential moving average of model weights, as ``ema_pytorch.EMA`` (used by the official
DA-CLIP/IR-SDE training with ``beta=0.995, update_every=10``) with its defaults: the first call
copies the weights; every ``every`` calls, the EMA is copied while ``step <= after`` and then
lerped with decay ``min(beta, 1 - (1 + step - after - 1) ** -power)`` (warm-up), buffers too.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Holds ``ema_model``, a frozen copy of ``model``; call :meth:`update` after each step."""

    def __init__(
        self,
        model: nn.Module,
        beta: float = 0.995,
        every: int = 10,
        after: int = 100,
        power: float = 2 / 3,
        inv_gamma: float = 1.0,
    ) -> None:
        self.model = model
        self.ema_model = copy.deepcopy(model).eval().requires_grad_(False)
        self.beta, self.every, self.after = beta, every, after
        self.power, self.inv_gamma = power, inv_gamma
        self.step = 0
        self.initted = False

    def decay(self) -> float:
        epoch = max(self.step - self.after - 1, 0)
        if epoch <= 0:
            return 0.0
        return min(max(1 - (1 + epoch / self.inv_gamma) ** -self.power, 0.0), self.beta)

    @torch.no_grad()
    def update(self) -> None:
        step = self.step
        self.step += 1
        if not self.initted:
            self._copy()
            self.initted = True
            return
        if step % self.every:
            return
        if step <= self.after:
            self._copy()
            return
        d = self.decay()
        for e, m in zip(self._tensors(self.ema_model), self._tensors(self.model), strict=True):
            if e.is_floating_point():
                e.lerp_(m.detach(), 1 - d)
            else:
                e.copy_(m)

    @staticmethod
    def _tensors(model: nn.Module) -> list[torch.Tensor]:
        return [*model.parameters(), *model.buffers()]

    def _copy(self) -> None:
        for e, m in zip(self._tensors(self.ema_model), self._tensors(self.model), strict=True):
            e.copy_(m.detach())

    def state(self) -> dict:
        return {"step": self.step, "initted": self.initted}

    def load_state(self, state: dict, weights: dict[str, torch.Tensor]) -> None:
        self.step, self.initted = int(state["step"]), bool(state["initted"])
        self.ema_model.load_state_dict(weights, strict=True)
