"""Model registry: name -> builder of a :class:`Restorer` (a plain dict filled at import).

A Restorer takes a batch of LQ images (Bx3xHxW float in [0, 1]) and returns the restored batch
in the same range and size. Models with DA-CLIP also report the predicted degradation.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from uirbench.errors import UirbenchError
from uirbench.models.table import MODELS
from uirbench.registry import Registry


@dataclass
class Restorer:
    """A ready-to-run restoration model."""

    name: str
    net: Callable[[torch.Tensor], torch.Tensor]
    uses_daclip: bool = False
    weights_sha256: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    random_init: bool = False  # untrained weights, asked for with --random-init

    @torch.no_grad()
    def restore(self, lq: torch.Tensor, keys: Sequence[str] | None = None) -> torch.Tensor:
        """Restore a batch. ``keys`` name the images (e.g. ``val/noisy/0001``): stochastic
        models draw each image's noise from (seed, key), so the result does not depend on the
        batch; deterministic models ignore them."""
        return self.net(lq).clamp_(0, 1)


def _identity(weights: str | None = None, device: str = "cpu", **_: Any) -> Restorer:
    """The sanity row of every leaderboard: returns the LQ unchanged."""
    return Restorer(name="identity", net=lambda x: x.clone())


BUILDERS: Registry[Callable[..., Restorer]] = Registry("model")
BUILDERS.register("identity")(_identity)


def _restoration_model(name: str) -> Callable[..., Restorer]:
    """IR-SDE / NAFNet models are built by uirbench.models.restorer (imported on use: it
    imports this module for :class:`Restorer`)."""

    def make(weights: str | None = None, device: str = "cpu", **kw: Any) -> Restorer:
        # a real cycle: uirbench.models.restorer imports this module for Restorer
        from uirbench.models.restorer import build

        return build(name, weights=weights, device=device, **kw)

    return make


for _name, _row in MODELS.items():
    if _row.config:  # identity has no network
        BUILDERS.register(_name)(_restoration_model(_name))


def register(name: str, builder: Callable[..., Restorer]) -> None:
    """Add a model builder under ``name`` (``--model``)."""
    BUILDERS.register(name)(builder)


def daclip_option(daclip: str | os.PathLike | None, config: str | None) -> dict[str, Any]:
    """:func:`build_restorer`'s ``daclip`` keyword from the ``--daclip PATH`` and
    ``--daclip-config NAME`` options ({} when no path is given); a config without a path is
    refused, naming both options."""
    if daclip is not None:
        return {"daclip": {"config": config, "weights": str(daclip)}}
    if config is not None:
        raise UirbenchError("--daclip-config names the config of --daclip PATH: pass both")
    return {}


def build_restorer(
    name: str, weights: str | None = None, device: str = "cpu", **kw: Any
) -> Restorer:
    """Build a registered model by name (``identity``, ``ours``, ``irsde``, ``nafnet``, ...)."""
    return BUILDERS.pick(name)(weights=weights, device=device, **kw)
