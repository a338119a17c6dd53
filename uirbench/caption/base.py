"""The one small interface every caption backend implements, and the backend registry.

A backend turns a batch of GT images into captions. The runner owns everything else (dedup,
cache, rank split, outputs), so a new backend is one class and one registry line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from uirbench.registry import Registry

# What the official data used (clip-interrogator 0.6.0 -> BLIP-large, unconditional, 32 tokens).
DEFAULT_MODEL = "Salesforce/blip-image-captioning-large"
MAX_NEW_TOKENS = 32


@dataclass(frozen=True)
class Item:
    """One distinct GT image to caption (the first index row that uses it)."""

    gt_sha256: str
    gt_path: str  # relative to the root, as in the index
    source_image: str | None = None

    @property
    def gt_name(self) -> str:
        return self.gt_path.rsplit("/", 1)[-1]


class Captioner(Protocol):
    """A caption backend.

    ``fingerprint`` names the model and every setting that changes the text; cache entries are
    keyed by (fingerprint, GT sha256), so switching model never reuses stale captions.
    ``needs_pixels`` is False for backends (sidecar) that caption from names alone.
    """

    name: str
    fingerprint: str
    needs_pixels: bool
    batch_size: int

    def caption(self, items: Sequence[Item], images: Sequence[np.ndarray] | None) -> list[str]:
        """Captions for ``items`` in order; ``images`` are HxWx3 uint8 RGB when needs_pixels."""
        ...


BACKENDS: Registry[Callable[..., Captioner]] = Registry("caption backend")


def register_backend(name: str) -> Callable[[Callable[..., Captioner]], Callable[..., Captioner]]:
    """Add a backend to :data:`BACKENDS` under ``name`` (the ``--backend`` value)."""
    return BACKENDS.register(name)


def build_captioner(name: str, **options: Any) -> Captioner:
    """Instantiate backend ``name``; options the backend does not take are ignored if None. An
    unknown name is a ValueError (:class:`~uirbench.registry.UnknownNameError`) naming the
    known backends."""
    return BACKENDS.pick(name)(**{k: v for k, v in options.items() if v is not None})
