"""DA-CLIP (Luo et al., ICLR 2024) on the installed open_clip, key- and forward-compatible with the
official release (Algolzw/daclip-uir).

A controller (a copy of the CLIP visual tower) runs on the LQ image; after each of its blocks a
zero-initialised linear layer turns the hidden state into a control that is added to the output of a
block of the frozen CLIP image encoder. The controller's output is the degradation embedding, the
controlled encoder's output the content embedding. As in the official code, the controls are
consumed in reverse block order (the official loop ``pop()``s them): block ``i`` of the encoder
receives the control of controller block ``L-1-i``. Zero-initialised layers make the untrained model
equal to CLIP.

State-dict layout (631 tensors for ViT-B/32), identical to ``daclip_ViT-B-32.pt``:
``clip.*`` (the open_clip CLIP), ``visual.*`` (an alias of ``clip.visual``), ``visual_control.*``
(``visual_control.transformer.transformer.resblocks.N.*`` and
``visual_control.transformer.zero_modules.N.{weight,bias}``) and ``logit_scale``.
"""

from __future__ import annotations

import copy
import math
from functools import cache
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from uirbench.errors import UirbenchError
from uirbench.hub import unreachable
from uirbench.io import atomic_path
from uirbench.models.config import config_names, read_config
from uirbench.weights import load_tensor_file, read_meta

OFFICIAL_STRIP_PREFIXES = ("module.",)


# ---------------------------------------------------------------------------------------- configs
def list_configs() -> list[str]:
    """Names of the packaged DA-CLIP configs (``daclip_ViT-B-32``, ``daclip_tiny``, ...)."""
    return config_names(daclip=True)


def load_config(config: str | Path | dict) -> dict:
    """A DA-CLIP config by packaged name (``daclip_tiny`` or ``tiny``), JSON path or dict (a
    fresh copy; :func:`uirbench.models.config.read_config`)."""
    return read_config(config, daclip=True)


# ---------------------------------------------------------------------------------------- modules
def _zero_linear(width: int) -> nn.Linear:
    layer = nn.Linear(width, width, bias=True)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class ControlTransformer(nn.Module):
    """The controller's transformer: the copied CLIP blocks plus one zero-initialised linear per
    block (named as the official ``ControlTransformer``: ``transformer.*``, ``zero_modules.N``)."""

    def __init__(self, transformer: nn.Module):
        super().__init__()
        self.transformer = transformer
        self.width = transformer.width
        self.layers = transformer.layers
        self.zero_modules = nn.ModuleList(_zero_linear(self.width) for _ in range(self.layers))

    @property
    def batch_first(self) -> bool:
        return getattr(self.transformer, "batch_first", True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Run the blocks on batch-first tokens; returns (tokens, controls, one per block)."""
        controls = []
        for block, zero in zip(self.transformer.resblocks, self.zero_modules, strict=True):
            x = _run_block(block, x, self.transformer)
            controls.append(zero(x))
        return x, controls


def _run_block(block: nn.Module, x: torch.Tensor, owner: nn.Module) -> torch.Tensor:
    """One block on batch-first tokens (transposed for an open_clip built sequence-first)."""
    seq_first = not getattr(owner, "batch_first", True)
    if seq_first:
        x = x.transpose(0, 1)
    if getattr(owner, "grad_checkpointing", False) and x.requires_grad:
        from torch.utils.checkpoint import checkpoint

        x = checkpoint(block, x, use_reentrant=False)
    else:
        x = block(x)
    return x.transpose(0, 1) if seq_first else x


def _head(visual: nn.Module, x: torch.Tensor) -> torch.Tensor:
    pooled, _ = visual._pool(x)
    return pooled @ visual.proj if visual.proj is not None else pooled


class DaCLIP(nn.Module):
    """DA-CLIP around an open_clip ``CLIP``; attribute names define the official key layout."""

    def __init__(self, clip_model: nn.Module):
        super().__init__()
        self.clip = clip_model
        self.visual = clip_model.visual  # alias, as in the official class: keys visual.* too
        control = copy.deepcopy(clip_model.visual)
        control.transformer = ControlTransformer(control.transformer)
        self.visual_control = control
        self.logit_scale = nn.Parameter(clip_model.logit_scale.detach().clone())

    # -- initialisation ---------------------------------------------------------------------
    @torch.no_grad()
    def init_controller_from_clip(self) -> None:
        """Copy CLIP's visual weights into the controller (zero layers stay zero) and its
        temperature into ``logit_scale``: the official ``initial_controller``."""
        ctrl = self.visual_control.state_dict()
        for key, value in self.clip.visual.state_dict().items():
            target = key.replace("transformer.", "transformer.transformer.", 1)
            ctrl[target if key.startswith("transformer.") else key].copy_(value)
        self.logit_scale.copy_(self.clip.logit_scale)

    def lock_clip(self) -> None:
        """Freeze the CLIP model (both towers); only the controller and ``logit_scale`` train."""
        for p in self.clip.parameters():
            p.requires_grad_(False)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.clip.visual.transformer.grad_checkpointing = enable
        self.clip.transformer.grad_checkpointing = enable
        self.visual_control.transformer.transformer.grad_checkpointing = enable

    # -- encoders ---------------------------------------------------------------------------
    def encode_control(self, image: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Controller: (degradation embedding, per-block controls)."""
        ctrl = self.visual_control
        x, controls = ctrl.transformer(ctrl._embeds(image))
        return _head(ctrl, x), controls

    def encode_content(self, image: torch.Tensor, controls: list[torch.Tensor]) -> torch.Tensor:
        """The CLIP image encoder with the controls added after each block, in reverse order."""
        visual = self.clip.visual
        blocks = visual.transformer.resblocks
        if len(controls) != len(blocks):
            raise ValueError(f"{len(controls)} controls for {len(blocks)} blocks")
        x = visual._embeds(image)
        for i, block in enumerate(blocks):
            x = _run_block(block, x, visual.transformer) + controls[len(blocks) - 1 - i]
        return _head(visual, x)

    def encode_image(
        self, image: torch.Tensor, control: bool = False, normalize: bool = False
    ) -> Any:
        """As the official method: ``control=True`` gives (content, degradation) embeddings,
        ``control=False`` plain CLIP image features."""
        if not control:
            return self.clip.encode_image(image, normalize=normalize)
        degradation, controls = self.encode_control(image)
        content = self.encode_content(image, controls)
        if normalize:
            content, degradation = F.normalize(content, dim=-1), F.normalize(degradation, dim=-1)
        return content, degradation

    def encode_text(self, text: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        return self.clip.encode_text(text, normalize=normalize)

    def forward(
        self,
        image: torch.Tensor | None = None,
        text: torch.Tensor | None = None,
        content: bool = True,
    ) -> dict[str, torch.Tensor | None]:
        """Official output dict; ``text`` is caption and degradation tokens concatenated on the
        last dimension (the official data layout). ``content=False`` skips the content encoder
        (``image_features`` is None): a trainer without the content loss needs only the
        controller's degradation embedding, and the frozen encoder is half the image cost."""
        caption, degradation = text.chunk(2, dim=-1) if text is not None else (None, None)
        if image is None:
            img, img_deg = None, None
        elif content:
            img, img_deg = self.encode_image(image, control=True, normalize=True)
        else:
            img, img_deg = None, F.normalize(self.encode_control(image)[0], dim=-1)
        return {
            "image_features": img,
            "text_features": self.encode_text(caption, True) if caption is not None else None,
            "image_degra_features": img_deg,
            "text_degra_features": (
                self.encode_text(degradation, True) if degradation is not None else None
            ),
            "logit_scale": self.logit_scale.exp(),
        }


# ---------------------------------------------------------------------------------------- builders
def build_clip(cfg: dict) -> nn.Module:
    """The open_clip ``CLIP`` of a DA-CLIP config (random init)."""
    from open_clip.model import CLIP

    return CLIP(
        embed_dim=cfg["embed_dim"],
        vision_cfg=dict(cfg["vision_cfg"]),
        text_cfg=dict(cfg["text_cfg"]),
        quick_gelu=cfg.get("quick_gelu", False),
        init_logit_scale=cfg.get("init_logit_scale", math.log(1 / 0.07)),
    )


def build_daclip(
    config: str | Path | dict = "daclip_ViT-B-32",
    clip_weights: str | None = None,
    weights: str | Path | None = None,
    device: str | torch.device = "cpu",
    cache_dir: str | None = None,
) -> DaCLIP:
    """Build DA-CLIP from a config.

    ``weights``: a DA-CLIP checkpoint (official ``.pt``, raw or ``module.``-prefixed, or a
    uirbench ``.safetensors`` checkpoint), loaded strictly. Otherwise ``clip_weights`` (an
    open_clip pretrained tag such as ``laion2b_s34b_b79k``, or a local CLIP weights file; default:
    the config's ``clip_pretrained``, ``"none"`` for random init) initialises the frozen CLIP and
    the controller is copied from it, as the official ``create_model``.
    """
    cfg = load_config(config)
    model = DaCLIP(build_clip(cfg))
    if weights is not None:
        load_daclip_weights(model, weights)
    else:
        source = clip_weights if clip_weights is not None else cfg.get("clip_pretrained")
        if source and source != "none":
            load_clip_weights(model.clip, cfg, source, cache_dir=cache_dir)
        model.init_controller_from_clip()
    model.lock_clip()
    return model.to(device)


# ---------------------------------------------------------------------------------------- weights
def _unwrap(state: dict, path: str | Path) -> dict[str, torch.Tensor]:
    """Accept a raw state dict, ``{"state_dict": ...}`` (open_clip training checkpoints) and
    DDP ``module.`` prefixes."""
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    out = {}
    for key, value in state.items():
        if not torch.is_tensor(value):
            raise UirbenchError(f"{path}: entry {key!r} is not a tensor; not a weights file")
        for prefix in OFFICIAL_STRIP_PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix) :]
        out[key] = value
    return out


def read_daclip_state(path: str | Path) -> dict[str, torch.Tensor]:
    """DA-CLIP tensors from an official ``.pt`` or a uirbench ``.safetensors`` (official layout,
    possibly without the ``visual.*`` alias, which is restored from ``clip.visual.*``)."""
    state = _unwrap(load_tensor_file(path), path)
    if any(k.startswith("model.") for k in state):  # a uirbench training checkpoint
        state = {k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")}
    for key in [k for k in state if k.startswith("clip.visual.")]:
        state.setdefault(key[len("clip.") :], state[key])
    return state


def checkpoint_config(path: str | Path) -> dict | None:
    """The DA-CLIP config a uirbench checkpoint was trained with (``model_config`` in the JSON
    beside its ``.safetensors``); None for an official ``.pt`` (which records none)."""
    path = Path(path)
    meta = path.with_suffix(".json")
    if path.suffix != ".safetensors" or not meta.exists():
        return None
    return read_meta(meta).get("model_config")


def load_daclip_weights(model: DaCLIP, path: str | Path) -> None:
    """Load a DA-CLIP checkpoint strictly; a key mismatch names what is missing/unexpected."""
    state = read_daclip_state(path)
    missing, unexpected = _key_diff(model.state_dict(), state)
    if missing or unexpected:
        raise UirbenchError(
            f"{path} does not match the DA-CLIP config: {len(missing)} missing keys "
            f"(e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}); "
            "pick the config the checkpoint was trained with (--config)"
        )
    _check_shapes(model.state_dict(), state, path)
    model.load_state_dict(state, strict=True)


def _key_diff(expected: dict, got: dict) -> tuple[list[str], list[str]]:
    return sorted(set(expected) - set(got)), sorted(set(got) - set(expected))


def _check_shapes(expected: dict, got: dict, path: str | Path) -> None:
    bad = [k for k in expected if tuple(expected[k].shape) != tuple(got[k].shape)]
    if bad:
        k = bad[0]
        raise UirbenchError(
            f"{path}: {len(bad)} tensors have the wrong shape (e.g. {k}: "
            f"{tuple(got[k].shape)} in the file, {tuple(expected[k].shape)} in the config)"
        )


def resolve_clip_weights(cfg: dict, source: str, cache_dir: str | None = None) -> Path:
    """A local CLIP weights path, or an open_clip pretrained tag resolved through the HF cache."""
    if Path(source).exists():
        return Path(source)
    import open_clip

    model_name = cfg.get("clip_model")
    pcfg = open_clip.pretrained.get_pretrained_cfg(model_name, source) if model_name else {}
    if not pcfg:
        raise UirbenchError(
            f"CLIP weights {source!r}: neither a file nor an open_clip pretrained tag of "
            f"{model_name!r} (tags: {open_clip.list_pretrained_tags_by_model(model_name or '')})"
        )
    from huggingface_hub import constants

    def missing(why: str) -> UirbenchError:
        return UirbenchError(
            f"could not get the CLIP weights {model_name}/{source} (Hugging Face "
            f"{pcfg.get('hf_hub') or pcfg.get('url')}): {why}. Put the file in the Hugging Face "
            f"cache ({cache_dir or constants.HF_HUB_CACHE}) or pass a local file: "
            "--clip-weights /path/to/open_clip_pytorch_model.bin (classify), "
            "clip_weights=/path/... (train daclip recipe override)"
        )

    # The cache first, with the network switched off: answers in milliseconds either way.
    offline_before = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        return Path(open_clip.pretrained.download_pretrained(pcfg, cache_dir=cache_dir))
    except Exception:
        pass
    finally:
        constants.HF_HUB_OFFLINE = offline_before
    why = unreachable(constants.ENDPOINT if pcfg.get("hf_hub") else str(pcfg.get("url") or ""))
    if why:
        raise missing(f"not in the cache, and {why}")
    try:
        return Path(open_clip.pretrained.download_pretrained(pcfg, cache_dir=cache_dir))
    except Exception as exc:
        raise missing(type(exc).__name__) from exc


def load_clip_weights(
    clip: nn.Module, cfg: dict, source: str, cache_dir: str | None = None
) -> Path:
    """Load open_clip CLIP weights (tag or file) into ``clip``, strictly."""
    path = resolve_clip_weights(cfg, source, cache_dir)
    state = _unwrap(load_tensor_file(path), path)
    state.pop("attn_mask", None)
    missing, unexpected = _key_diff(clip.state_dict(), state)
    if missing or unexpected:
        raise UirbenchError(
            f"{path} is not a CLIP checkpoint for this config: missing {missing[:3]}, "
            f"unexpected {unexpected[:3]}"
        )
    _check_shapes(clip.state_dict(), state, path)
    clip.load_state_dict(state, strict=True)
    return path


def official_state_dict(model: DaCLIP) -> dict[str, torch.Tensor]:
    """The official layout (``visual.*`` alias included), as ``daclip_ViT-B-32.pt`` holds it."""
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}


def export_official(model: DaCLIP, path: str | Path) -> Path:
    """Write an official-layout ``.pt`` (a plain tensor dict: loads with ``weights_only=True``
    and into the official ``DaCLIP`` strictly)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(official_state_dict(model), tmp)
    return path


def compact_state_dict(model: DaCLIP) -> dict[str, torch.Tensor]:
    """Official layout without the ``visual.*`` alias (it duplicates ``clip.visual.*``)."""
    return {k: v for k, v in official_state_dict(model).items() if not k.startswith("visual.")}


# ---------------------------------------------------------------------------------------- inputs
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # open_clip OPENAI_DATASET_MEAN
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def preprocess(images: torch.Tensor, image_size: int) -> torch.Tensor:
    """uint8 (or [0, 1] float) Bx3xHxW -> the model input: resized to ``image_size`` square with
    antialiased bicubic interpolation, then normalised with CLIP's mean and std. For training
    crops (already square) and native patches (already ``image_size``: normalised only);
    evaluation shows DA-CLIP whole images through :func:`official_view`."""
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    if tuple(x.shape[-2:]) != (image_size, image_size):
        x = F.interpolate(x, size=(image_size, image_size), mode="bicubic", antialias=True)
        x = x.clamp_(0, 1)
    mean = torch.tensor(CLIP_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


@cache
def _tokenizer(context_length: int) -> Any:
    from open_clip.tokenizer import SimpleTokenizer

    return SimpleTokenizer(context_length=context_length)


def tokenize(texts: list[str], context_length: int = 77) -> torch.Tensor:
    """CLIP BPE tokens (open_clip's tokenizer), padded/truncated to ``context_length``."""
    return _tokenizer(context_length)(texts)


@torch.no_grad()
def encode_texts(
    model: DaCLIP, texts: list[str], batch_size: int = 256, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """Normalised text embeddings of ``texts`` (fp32), by the frozen text tower."""
    ctx = model.clip.context_length
    out = []
    for start in range(0, len(texts), batch_size):
        tokens = tokenize(texts[start : start + batch_size], ctx).to(device)
        out.append(model.encode_text(tokens, normalize=True).float())
    return torch.cat(out) if out else torch.empty(0, model.clip.text_projection.shape[-1])
