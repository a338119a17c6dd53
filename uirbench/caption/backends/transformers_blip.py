"""``transformers`` backend: BLIP through ``BlipForConditionalGeneration``, as the official data.

The official captions came from clip-interrogator 0.6.0, which runs
``Salesforce/blip-image-captioning-large`` unconditionally with ``max_new_tokens=32``, greedy,
fp16 on CUDA, one image per call. Here the same model and settings run batched (every row starts
from the same single BOS token, so no padding enters the prompt and batching does not change the
greedy result beyond float rounding). Images go through the PIL image processor, as in
transformers 4.x that the official data used.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from uirbench.caption.base import DEFAULT_MODEL, MAX_NEW_TOKENS, Item, register_backend
from uirbench.errors import UirbenchError
from uirbench.hub import unreachable


def resolve_device(device: str | None) -> str:
    """``auto`` -> ``cuda:<LOCAL_RANK>`` when CUDA is available, else ``cpu``.

    A bare ``cuda`` also means this rank's GPU, so ``--device cuda`` under torchrun does not put
    every rank on GPU 0.
    """
    import os

    import torch

    if device in (None, "auto", "cuda"):
        if torch.cuda.is_available():
            return f"cuda:{int(os.environ.get('LOCAL_RANK', 0)) % torch.cuda.device_count()}"
        if device == "cuda":
            raise UirbenchError("--device cuda: no CUDA device is visible; use --device cpu")
        return "cpu"
    return device


def _missing_weights(model: str, exc: Exception) -> UirbenchError:
    from huggingface_hub import constants

    repo_dir = Path(constants.HF_HUB_CACHE) / ("models--" + model.replace("/", "--"))
    why = str(exc).split(". ")[0][:200]
    return UirbenchError(
        f"cannot load BLIP weights {model!r}: not in the Hugging Face cache and not downloadable "
        f"({type(exc).__name__}: {why}). The cache path that would satisfy it is "
        f"{repo_dir}/snapshots/<revision>/ with refs/main (set HF_HOME or HF_HUB_CACHE to a "
        f"cache that has it; fill one on a connected machine with `hf download {model}`), "
        f"or pass --model <folder written by save_pretrained>."
    )


def load_blip(model: str, device: str, dtype: Any) -> tuple[Any, Any, str]:
    """(model, processor, revision) for a hub id or local folder; clear error when absent."""
    import transformers
    from transformers import BlipForConditionalGeneration, BlipProcessor

    local = Path(model).is_dir()
    if not local and Path(model).exists():
        raise UirbenchError(f"--model {model}: not a folder (expected a save_pretrained folder)")
    proc_kw: dict[str, Any] = (
        {"backend": "pil"}
        if int(transformers.__version__.split(".")[0]) >= 5
        else {"use_fast": False}
    )
    if not local:
        from huggingface_hub import constants, try_to_load_from_cache

        # Fail in seconds, not minutes of client retries, when the weights are neither cached
        # nor downloadable; when cached and offline, load them without touching the network.
        cached = isinstance(try_to_load_from_cache(model, "config.json"), str)
        why = unreachable(constants.ENDPOINT)
        if why and not cached:
            raise _missing_weights(model, OSError(why))
        if why:
            proc_kw["local_files_only"] = True
    try:
        processor = BlipProcessor.from_pretrained(model, **proc_kw)
        net = BlipForConditionalGeneration.from_pretrained(
            model, local_files_only=proc_kw.get("local_files_only", False)
        )
    except (OSError, ValueError) as exc:
        if local:
            raise UirbenchError(
                f"--model {model}: not a loadable BLIP folder ({exc}); it must hold "
                f"config.json, the weights and the processor files from save_pretrained"
            ) from exc
        raise _missing_weights(model, exc) from exc
    net = net.to(device=device, dtype=dtype).eval()
    return net, processor, "local" if local else _cached_revision(model)


def _cached_revision(model: str) -> str:
    """The snapshot (commit) the hub id resolved to, read from the cache it was loaded from."""
    from huggingface_hub import try_to_load_from_cache

    path = try_to_load_from_cache(model, "config.json")
    return Path(path).parent.name if isinstance(path, str) else "unknown"


@register_backend("transformers")
class TransformersBlip:
    """Batched BLIP captioning; fp16 on CUDA, fp32 on CPU."""

    name = "transformers"
    needs_pixels = True

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        device: str | None = "auto",
        batch_size: int = 16,
        max_new_tokens: int = MAX_NEW_TOKENS,
        fp16: bool | None = None,
    ) -> None:
        import torch

        self.device = resolve_device(device)
        self.fp16 = self.device.startswith("cuda") if fp16 is None else fp16
        self.dtype = torch.float16 if self.fp16 else torch.float32
        self.model_id = model
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.model, self.processor, revision = load_blip(model, self.device, self.dtype)
        # The model's name, not where it was loaded from, plus every setting that changes text.
        # (fp16 and batching only change float rounding; they are recorded for traceability.)
        ident = model if not Path(model).is_dir() else f"local:{Path(model).resolve()}"
        self.fingerprint = (
            f"transformers:{ident}@{revision}:greedy:max_new_tokens={max_new_tokens}"
            f":{'fp16' if self.fp16 else 'fp32'}"
        )

    def caption(self, items: Sequence[Item], images: Sequence[np.ndarray] | None) -> list[str]:
        import torch
        from PIL import Image

        assert images is not None and len(images) == len(items)
        pil = [Image.fromarray(im) for im in images]
        inputs = self.processor(images=pil, return_tensors="pt")
        pixels = inputs["pixel_values"].to(self.device, self.dtype)
        with torch.inference_mode():
            tokens = self.model.generate(
                pixel_values=pixels,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                num_beams=1,
            )
        return [t.strip() for t in self.processor.batch_decode(tokens, skip_special_tokens=True)]
