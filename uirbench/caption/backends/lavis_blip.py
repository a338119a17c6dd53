"""``lavis`` backend: the LAVIS ``blip_caption`` models (``large_coco`` by default).

LAVIS 1.0.2 pins transformers<4.27, timm 0.4.12 and opencv 4.5.5 (built for numpy<2), which
conflict with the main environment, so it lives in its own venv (``pip install -e '.[lavis]'`` then
``pip install --no-deps salesforce-lavis==1.0.2``; scripts/test_lavis.sh makes one and tests it).
It is imported only when this backend is chosen.
LAVIS decodes after its prompt "a picture of " with beam search by default; here the settings are
explicit and recorded in the fingerprint: 3 beams, at most ``max_new_tokens`` (32) tokens after
the prompt (LAVIS's ``max_length`` counts the prompt, so the prompt length is added), at least 5.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from uirbench.caption.backends.transformers_blip import resolve_device
from uirbench.caption.base import MAX_NEW_TOKENS, Item, register_backend
from uirbench.errors import UirbenchError

LAVIS_MODEL_TYPES = ("base_coco", "large_coco")


def import_lavis():  # type: ignore[no-untyped-def]
    """Import LAVIS or explain how to get the separate environment it needs."""
    try:
        from lavis.models import load_model_and_preprocess
    except ImportError as exc:
        raise UirbenchError(
            f"--backend lavis needs LAVIS ({exc}). It pins transformers<4.27 and numpy<2, so "
            "install it in its own environment: `bash scripts/test_lavis.sh` creates one "
            "(~/.cache/uirbench/venv-lavis); run "
            "`uirbench caption --backend lavis` from there (see docs/captions.md)."
        ) from exc
    return load_model_and_preprocess


@register_backend("lavis")
class LavisBlip:
    name = "lavis"
    needs_pixels = True

    def __init__(
        self,
        model: str = "large_coco",
        device: str | None = "auto",
        batch_size: int = 16,
        max_new_tokens: int = MAX_NEW_TOKENS,
        num_beams: int = 3,
        min_length: int = 5,
        **_: object,
    ) -> None:
        import torch

        if model not in LAVIS_MODEL_TYPES:
            raise UirbenchError(
                f"--model {model!r}: the lavis backend takes a blip_caption model type, one of "
                f"{', '.join(LAVIS_MODEL_TYPES)}"
            )
        load = import_lavis()
        self.device = resolve_device(device)
        self.model, vis, _ = load(
            name="blip_caption", model_type=model, is_eval=True, device=torch.device(self.device)
        )
        self.vis = vis["eval"]
        self.batch_size = batch_size
        prompt = int(getattr(self.model, "prompt_length", 0))
        self.gen = dict(
            num_beams=num_beams,
            max_length=max_new_tokens + prompt,
            min_length=min_length + prompt,
        )
        self.fingerprint = (
            f"lavis:blip_caption/{model}:beams={num_beams}:max_new_tokens={max_new_tokens}"
            f":min_new_tokens={min_length}"
        )

    def caption(self, items: Sequence[Item], images: Sequence[np.ndarray] | None) -> list[str]:
        import torch
        from PIL import Image

        assert images is not None
        batch = torch.stack([self.vis(Image.fromarray(im)) for im in images]).to(self.device)
        with torch.inference_mode():
            caps = self.model.generate({"image": batch}, use_nucleus_sampling=False, **self.gen)
        return [str(c).strip() for c in caps]
