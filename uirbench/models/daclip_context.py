"""DA-CLIP conditioning of a restoration model: the (content, degradation) embeddings of LQ
images (the official ``clip_transform`` view), the predicted degradation, and how a checkpoint
records the DA-CLIP it was trained with."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from uirbench.errors import UirbenchError
from uirbench.io import sha256_file
from uirbench.models.daclip import build_daclip, checkpoint_config
from uirbench.models.daclip_view import official_precision, official_view
from uirbench.tasks import TASKS


class DaclipContext:
    """DA-CLIP conditioning of LQ images: (content, degradation) embeddings and the predicted
    degradation type.

    ``model`` is a :class:`uirbench.models.daclip.DaCLIP` (anything with
    ``encode_image(x, control=True) -> (content, degradation)`` and ``encode_text``), or any object
    with ``encode(x224) -> (content, degradation)`` taking preprocessed images.
    """

    def __init__(
        self,
        model: Any,
        image_size: int | None = None,
        degradations: Sequence[str] | None = None,
        tokenizer: Callable | None = None,
    ) -> None:
        self.model = model
        size = image_size or _visual_size(model) or 224
        self.image_size = int(size)
        if degradations is None:
            degradations = [t.degradation for t in TASKS]
        self.degradations = list(degradations)
        self._tokenizer = tokenizer
        self._text: torch.Tensor | None = None

    def preprocess(self, lq: torch.Tensor) -> torch.Tensor:
        """Bx3xHxW in [0, 1] -> the official ``clip_transform`` view (truncated to uint8, PIL
        bicubic of the short side to ``image_size``, centre crop, OpenAI mean/std):
        :func:`uirbench.models.daclip_view.official_view`."""
        return official_view(lq, self.image_size)

    @torch.no_grad()
    def encode(self, lq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(content, degradation) embeddings, float32, of LQ images in [0, 1] (fp16 autocast on
        CUDA, as the official test)."""
        x = self.preprocess(lq)
        with official_precision(x.device):
            if hasattr(self.model, "encode_image"):
                content, degradation = self.model.encode_image(x, control=True)
            else:
                content, degradation = self.model.encode(x)
        return content.float(), degradation.float()

    @torch.no_grad()
    def predict(self, degradation: torch.Tensor) -> list[tuple[str, float]]:
        """Nearest degradation text (cosine, softmax of 100x) for each degradation embedding."""
        if not hasattr(self.model, "encode_text") or not self.degradations:
            return []
        if self._text is None:
            tokenizer = self._tokenizer
            if tokenizer is None:
                import open_clip  # heavy and optional: only to name the degradation

                tokenizer = open_clip.get_tokenizer("ViT-B-32")
            device = degradation.device
            tokens = tokenizer(self.degradations).to(device)
            self._text = F.normalize(self.model.encode_text(tokens).float(), dim=-1)
        probs = (100 * F.normalize(degradation, dim=-1) @ self._text.T).softmax(dim=-1)
        conf, idx = probs.max(dim=-1)
        return [(self.degradations[i], float(c)) for i, c in zip(idx, conf, strict=True)]


def _visual_size(model: Any) -> int | None:
    visual = getattr(getattr(model, "clip", model), "visual", None)
    size = getattr(visual, "image_size", None)
    if isinstance(size, (tuple, list)):
        return int(size[0])
    return int(size) if size else None


def build_daclip_context(spec: Any, device: str = "cpu") -> DaclipContext | None:
    """A :class:`DaclipContext` from a spec: an existing context or model, or a dict
    ``{"config": "daclip_ViT-B-32", "weights": PATH|None, "seed": 0}`` (no weights: a frozen
    randomly initialised DA-CLIP, drawn from ``seed`` - features, but no degradation knowledge).
    A uirbench DA-CLIP checkpoint brings its own config (its JSON); ``config`` is for files that
    record none (the official ``.pt``), default ``daclip_ViT-B-32``."""
    if spec is None:
        return None
    if isinstance(spec, DaclipContext):
        return spec
    if not isinstance(spec, dict):
        return DaclipContext(spec)
    weights = spec.get("weights")
    if weights:
        config = checkpoint_config(weights) or spec.get("config") or "daclip_ViT-B-32"
        model = build_daclip(config, weights=weights, device=device)
    else:
        state = torch.get_rng_state()
        torch.manual_seed(int(spec.get("seed", 0)))
        try:
            model = build_daclip(spec.get("config") or "daclip_tiny", clip_weights="none")
        finally:
            torch.set_rng_state(state)
        model = model.to(device)
    return DaclipContext(model.eval())


def daclip_record(spec: dict | None, checkpoint_dir: str | Path) -> dict | None:
    """What a restoration checkpoint in ``checkpoint_dir`` records of its DA-CLIP: the spec plus
    the file's sha256, its absolute path and its path relative to the checkpoint, so the run
    folder can move (with the DA-CLIP inside or beside it) and still find the same file."""
    if not spec or not spec.get("weights"):
        return spec
    path = Path(spec["weights"]).resolve()
    if not path.is_file():
        raise UirbenchError(f"DA-CLIP checkpoint {spec['weights']} not found (daclip.weights)")
    return {
        **spec,
        "weights": str(path),
        "weights_relpath": os.path.relpath(path, Path(checkpoint_dir).resolve()),
        "weights_sha256": sha256_file(path),
    }


def resolve_daclip_record(spec: dict | None, checkpoint: str | Path) -> dict | None:
    """The DA-CLIP a restoration checkpoint recorded (:func:`daclip_record`), found first at its
    path relative to ``checkpoint``, then at the recorded path, and accepted only with the
    recorded sha256. Older records (no sha256) are taken at their recorded path."""
    if not isinstance(spec, dict) or not spec.get("weights"):
        return spec
    candidates = []
    if spec.get("weights_relpath"):
        beside = Path(checkpoint).resolve().parent / spec["weights_relpath"]
        candidates.append(Path(os.path.normpath(beside)))
    candidates.append(Path(spec["weights"]))
    want = spec.get("weights_sha256")
    wrong = []
    for path in dict.fromkeys(candidates):
        if not path.is_file():
            continue
        if want and sha256_file(path) != want:
            wrong.append(str(path))
            continue
        return {**spec, "weights": str(path)}
    where = " or ".join(str(c) for c in dict.fromkeys(candidates))
    found = f"; {', '.join(wrong)} has another sha256" if wrong else ""
    raise UirbenchError(
        f"{checkpoint} was trained with DA-CLIP {Path(spec['weights']).name} (sha256 "
        f"{str(want)[:12]}...), not found at {where}{found}: pass that DA-CLIP with --daclip PATH"
    )
