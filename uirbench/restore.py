"""Restoration models as ready-to-run :class:`Restorer` objects, and restoring a user's images.

One entry point per concern:

* :func:`build_model` / :func:`build` - a network from a packaged config (``irsde_daclip``,
  ``nafnet_tiny``, ...) with weights from a file or the zoo, wrapped with its sampler and
  DA-CLIP conditioning into a :class:`ModelRestorer`;
* :class:`DaclipContext` - DA-CLIP embeddings of LQ images (the official ``clip_transform`` view)
  and the predicted degradation;
* :func:`tiled` - run any image-to-image function over overlapping tiles and blend them, so
  images of any size fit in memory; IR-SDE is tiled per sampling step (the SDE update and its
  noise are applied to the whole image, only the network runs per tile);
* :func:`restore_paths` - what ``uirbench restore`` does.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from uirbench import hub
from uirbench.errors import ChecksumError, UirbenchError
from uirbench.hub import Remote
from uirbench.io import sha256_file
from uirbench.models.registry import Restorer

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
# Images above this many pixels are restored in tiles unless told otherwise (the IR-SDE bottom
# level has full self-attention: cost grows with the square of the pixel count).
AUTO_TILE_PIXELS = 1024 * 1024
DEFAULT_TILE = 512
DEFAULT_OVERLAP = 64

# Default config per registered model name (the paper sizes).
MODEL_CONFIGS = {
    "ours": "irsde_daclip",
    "irsde": "irsde",
    "nafnet": "nafnet",
    "nafnet-daclip": "nafnet_daclip",
}


# ------------------------------------------------------------------------------------- configs
def load_model_config(config: str | Path | dict) -> dict[str, Any]:
    """A model config: a dict, a packaged name (``irsde_daclip_tiny``) or a JSON path."""
    if isinstance(config, dict):
        return config
    from uirbench.models.irsde.unet import load_config

    path = Path(config)
    if path.suffix == ".json" and path.exists():
        return json.loads(path.read_text())
    try:
        return load_config(str(config))
    except FileNotFoundError:
        raise UirbenchError(
            f"unknown model config {config!r}: give a name from uirbench/models/configs/ "
            "(irsde, irsde_daclip, irsde_tiny, irsde_daclip_tiny, nafnet, nafnet_daclip, "
            "nafnet_tiny, nafnet_daclip_tiny) or a path to a JSON file"
        ) from None


def build_network(cfg: dict[str, Any]) -> torch.nn.Module:
    """The bare network of a model config (random init)."""
    if cfg["arch"] == "irsde":
        from uirbench.models.irsde.unet import ConditionalUNet

        return ConditionalUNet(**cfg["net"])
    if cfg["arch"] == "nafnet":
        from uirbench.models.nafnet import NAFNet

        return NAFNet(**cfg["net"])
    raise UirbenchError(f"model config has unknown arch {cfg['arch']!r}; use 'irsde' or 'nafnet'")


def pad_multiple(cfg: dict[str, Any]) -> int:
    """Side multiple the network pads to; tiles are multiples of it so no tile is padded."""
    if cfg["arch"] == "irsde":
        return 2 ** len(cfg["net"]["ch_mult"])
    return 2 ** len(cfg["net"]["enc_blk_nums"])


def uses_daclip(cfg: dict[str, Any]) -> bool:
    net = cfg["net"]
    if cfg["arch"] == "irsde":
        return bool(net.get("context_dim")) and bool(
            net.get("use_degra_context") or net.get("use_image_context")
        )
    return bool(net.get("context_dim"))


# ------------------------------------------------------------------------------------- weights
def network_state_from_file(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Weights of a network from an official ``.pth`` or a uirbench checkpoint.

    uirbench training checkpoints hold ``net.*`` and ``ema.*`` (+ optimizer) tensors; the EMA
    weights are used when present (the official code also evaluates its EMA). Official files are
    plain state dicts, possibly with DDP's ``module.`` prefix. Returns (state, meta).
    """
    from uirbench.weights import load_checkpoint, load_tensor_file

    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        tensors, meta = load_checkpoint(path)
    else:
        tensors, meta = load_tensor_file(path), {}
        if isinstance(tensors.get("params"), dict):  # BasicSR's {"params": state_dict}
            tensors = tensors["params"]
    for prefix in ("ema.", "net."):
        picked = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        if picked:
            return picked, meta
    return {k.removeprefix("module."): v for k, v in tensors.items()}, meta


def load_network_weights(net: torch.nn.Module, state: dict[str, torch.Tensor], source: str):
    """Strict load with a message that names the file and the mismatching keys."""
    own = net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise UirbenchError(
            f"weights {source} do not fit the model config: {len(missing)} missing keys "
            f"(e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}); "
            "pick the config the weights were trained with (--config)"
        )
    bad = [k for k in own if own[k].shape != state[k].shape]
    if bad:
        raise UirbenchError(
            f"weights {source}: shape mismatch for {bad[:3]} "
            f"(model {tuple(own[bad[0]].shape)}, file {tuple(state[bad[0]].shape)}); "
            "pick the config the weights were trained with (--config)"
        )
    net.load_state_dict(state, strict=True)


# ------------------------------------------------------------------------------------- DA-CLIP
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
            from uirbench.tasks import TASKS

            degradations = [t.degradation for t in TASKS]
        self.degradations = list(degradations)
        self._tokenizer = tokenizer
        self._text: torch.Tensor | None = None

    def preprocess(self, lq: torch.Tensor) -> torch.Tensor:
        """Bx3xHxW in [0, 1] -> the official ``clip_transform`` view (truncated to uint8, PIL
        bicubic of the short side to ``image_size``, centre crop, OpenAI mean/std):
        :func:`uirbench.models.daclip_view.official_view`."""
        from uirbench.models.daclip_view import official_view

        return official_view(lq, self.image_size)

    @torch.no_grad()
    def encode(self, lq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(content, degradation) embeddings, float32, of LQ images in [0, 1] (fp16 autocast on
        CUDA, as the official test)."""
        from uirbench.models.daclip_view import official_precision

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
        if not hasattr(self.model, "encode_text"):
            return []
        if self._text is None:
            tokenizer = self._tokenizer
            if tokenizer is None:
                import open_clip

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
    from uirbench.models.daclip import build_daclip, checkpoint_config

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
    import os

    from uirbench.io import sha256_file

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
    import os

    from uirbench.io import sha256_file

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


# ------------------------------------------------------------------------------------- tiling
def _starts(size: int, tile: int, overlap: int) -> list[int]:
    if size <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, size - tile, stride))
    return [*starts, size - tile]


def _ramp(n: int, overlap: int, left: bool, right: bool) -> torch.Tensor:
    """1-D blending weight: rises over ``overlap`` pixels on sides shared with a neighbour."""
    w = torch.ones(n)
    if overlap > 0:
        r = (torch.arange(overlap, dtype=torch.float32) + 0.5) / overlap
        if left:
            w[:overlap] = r
        if right:
            w[n - overlap :] = r.flip(0)
    return w


def tiled(
    fn: Callable[..., torch.Tensor],
    inputs: Sequence[torch.Tensor],
    tile: int,
    overlap: int,
    multiple: int = 1,
    on_tile: Callable[[], None] | None = None,
) -> torch.Tensor:
    """Apply ``fn(*crops)`` to aligned overlapping crops of ``inputs`` (Bx?xHxW, same H, W) and
    blend the outputs with linear ramps in the overlaps. Returns what ``fn`` on the whole image
    would, up to the network's effects at tile borders. ``on_tile()`` after each tile."""
    h, w = inputs[0].shape[-2:]
    tile = max(multiple, tile // multiple * multiple)
    if h <= tile and w <= tile:
        return fn(*inputs)
    overlap = min(overlap, tile // 2)
    ys, xs = _starts(h, tile, overlap), _starts(w, tile, overlap)
    out = weight = None
    for iy, y in enumerate(ys):
        for ix, x in enumerate(xs):
            crops = [t[..., y : y + tile, x : x + tile] for t in inputs]
            res = fn(*crops)
            th, tw = res.shape[-2:]
            wy = _ramp(th, min(overlap, th // 2), iy > 0, iy < len(ys) - 1)
            wx = _ramp(tw, min(overlap, tw // 2), ix > 0, ix < len(xs) - 1)
            wt = (wy[:, None] * wx[None, :]).to(res)
            if out is None:
                out = res.new_zeros((*res.shape[:-2], h, w))
                weight = res.new_zeros((h, w))
            out[..., y : y + th, x : x + tw] += res * wt
            weight[y : y + th, x : x + tw] += wt
            if on_tile is not None:
                on_tile()
    return out / weight


# ------------------------------------------------------------------------------------- zoo
def zoo_card(name: str) -> dict[str, Any]:
    """The zoo card ``uirbench/zoo/<name>.yaml`` (architecture, recipe, weight files, numbers)."""
    import yaml

    from uirbench.paths import zoo_dir

    path = zoo_dir() / f"{name}.yaml"
    if not path.exists():
        raise UirbenchError(f"no zoo card {path}; known cards: {_card_names()}")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise UirbenchError(f"zoo card {path} is not valid (safe) YAML: {exc}") from None


def _card_names() -> str:
    from uirbench.paths import zoo_dir

    return ", ".join(sorted(p.stem for p in zoo_dir().glob("*.yaml"))) or "none"


def weights_cache_dir() -> Path | None:
    """``$UIRBENCH_WEIGHTS``: a folder holding zoo files by name (e.g. a shared mirror), or None
    to use the standard caches (Hugging Face's for hub-hosted files, torch.hub's otherwise)."""
    env = os.environ.get("UIRBENCH_WEIGHTS")
    return Path(env) if env else None


def zoo_remotes(name: str, cache_dir: str | Path | None = None) -> list[tuple[str, Remote]]:
    """(role, :class:`~uirbench.hub.Remote`) of each weight file of a zoo card, sha256 as pinned."""
    card = zoo_card(name)
    entries = card.get("weights") or []
    if not entries:
        raise UirbenchError(
            f"model {name!r} has no released weights (zoo card {name}.yaml); train it with "
            f"`uirbench train restore --recipe {Path(card.get('recipe', '<recipe>')).stem}` and "
            "pass --weights PATH"
        )
    folder = Path(cache_dir) if cache_dir else weights_cache_dir()
    out = []
    for entry in entries:
        pinned = entry.get("sha256")
        if pinned is not None and not (
            isinstance(pinned, str) and len(pinned) == 64 and set(pinned) <= set("0123456789abcdef")
        ):
            raise UirbenchError(
                f"zoo card {name}.yaml: sha256 of {entry['file']} must be a quoted 64-character "
                f"lowercase hex string or null, got {pinned!r}"
            )
        hf = entry.get("hf") if folder is None else None
        if hf:
            r = Remote(
                f"zoo {name} {entry.get('role', 'model')}",
                entry["url"],
                hf_repo=hf["repo"],
                hf_file=hf["file"],
                sha256=pinned,
            )
        else:
            dest = (folder or Path(hub.torch_hub_dir()) / "checkpoints") / entry["file"]
            r = Remote(
                f"zoo {name} {entry.get('role', 'model')}", entry["url"], path=dest, sha256=pinned
            )
        out.append((entry.get("role", "model"), r))
    return out


def fetch_zoo_weights(name: str, cache_dir: str | Path | None = None) -> dict[str, Path]:
    """The verified weight files of a zoo card (downloaded once through :mod:`uirbench.hub`);
    returns ``{role: path}``.

    A file whose card has no ``sha256`` yet is accepted and its sha256 printed, to be pinned in
    the card (the authors publish no checksums); a pinned one must match or it is refused.
    """
    out: dict[str, Path] = {}
    for role, r in zoo_remotes(name, cache_dir):
        try:
            path = hub.fetch(r)
        except ChecksumError as exc:
            raise ChecksumError(f"{exc} (pinned in zoo card {name}.yaml)") from None
        if not r.sha256:
            print(
                f"{path.name}: sha256 {sha256_file(path)} (not pinned yet: add it to the zoo card "
                f"{name}.yaml)"
            )
        out[role] = path
    return out


# ------------------------------------------------------------------------------------- restorer
class ModelRestorer(Restorer):
    """A network + (for IR-SDE) its sampler + optional DA-CLIP, restoring Bx3xHxW in [0, 1]."""

    def __init__(
        self,
        name: str,
        cfg: dict[str, Any],
        net: torch.nn.Module,
        daclip: DaclipContext | None = None,
        device: str = "cpu",
        weights_sha256: str | None = None,
        sampling_mode: str | None = None,
        seed: int = 0,
        tile: int | None = None,
        overlap: int = DEFAULT_OVERLAP,
        steps: int | None = None,
        net_batch: int | None = None,
    ) -> None:
        super().__init__(name=name, net=self._run, uses_daclip=daclip is not None)
        self.weights_sha256 = weights_sha256
        self.cfg = cfg
        self.model = net.to(device).eval()
        self.daclip = daclip
        self.device = torch.device(device)
        self.seed = seed
        self.tile = tile
        self.overlap = overlap
        self.multiple = pad_multiple(cfg)
        self.last_degradation: list[tuple[str, float]] = []
        # called after every network pass (a tile, or the whole image; per sampling step for
        # IR-SDE): the CLI's progress bar (network_passes() gives the count per image)
        self.on_pass: Callable[[], None] | None = None
        # Images per network call. On CPU, 1: oneDNN/MKL pick batch-size-dependent conv and
        # GEMM kernels (per-layer differences up to 4e-6), so only one image per call keeps an
        # image's output identical to restoring it alone - and batching is no faster there
        # (tiny UNet, 128 px, 1 thread: 0.14 s per image-step at batch 1, 0.22 at batch 8).
        self.net_batch = net_batch or (1 if self.device.type == "cpu" else None)
        # on_step(images, steps_done, steps_total) after every sampling step (progress/ETA)
        self.on_step: Callable[[int, int, int], None] | None = None
        self.sde = None
        self.steps = None
        if cfg["arch"] == "irsde":
            from uirbench.models.irsde.sde import IRSDE

            train_sde = IRSDE.from_config(cfg["sde"], device=device)
            self.sde = train_sde.with_steps(steps or cfg["sde"].get("sample_steps"))
            self.steps = self.sde.T
            self.sampling_mode = sampling_mode or cfg["sde"].get("sampling_mode", "posterior")
        self.info = {"config": cfg, "tile": tile, "overlap": overlap, "sample_steps": self.steps}

    def _tile_size(self, h: int, w: int) -> int | None:
        if self.tile == 0:
            return None
        if self.tile:
            return self.tile
        return DEFAULT_TILE if h * w > AUTO_TILE_PIXELS else None

    def contexts(self, lq: torch.Tensor) -> dict[str, torch.Tensor]:
        """DA-CLIP embeddings, computed once per image (not per sampling step)."""
        if self.daclip is None:
            return {}
        parts = [self.daclip.encode(chunk) for chunk in self._chunks(lq)]
        content = torch.cat([p[0] for p in parts])
        degradation = torch.cat([p[1] for p in parts])
        self.last_degradation = self.daclip.predict(degradation)
        return {"text_context": degradation, "image_context": content}

    def _chunks(self, x: torch.Tensor) -> list[torch.Tensor]:
        n = self.net_batch or x.shape[0]
        return list(x.split(n)) if x.shape[0] > n else [x]

    def restore(self, lq: torch.Tensor, keys: Sequence[str] | None = None) -> torch.Tensor:
        """Restore a batch; IR-SDE draws image i's noise from (seed, ``keys[i]``), by default
        a digest of the image itself, so no image's result depends on its batch."""
        return self._run(lq, keys).clamp_(0, 1)

    @torch.no_grad()
    def _run(self, lq: torch.Tensor, keys: Sequence[str] | None = None) -> torch.Tensor:
        lq = lq.to(self.device, torch.float32)
        ctx = self.contexts(lq)
        tile = self._tile_size(*lq.shape[-2:])

        def net(*inputs: torch.Tensor, t: float | None = None) -> torch.Tensor:
            # the network on chunks of net_batch images, each chunk with its own embeddings
            n = self.net_batch or lq.shape[0]
            outs = []
            for i in range(0, lq.shape[0], n):
                parts = [x[i : i + n] for x in inputs]
                c = {k: v[i : i + n] for k, v in ctx.items()}

                def fn(*a: torch.Tensor, c: dict = c) -> torch.Tensor:
                    return self.model(*a, **c) if t is None else self.model(*a, t, **c)

                if tile is None:
                    outs.append(fn(*parts))
                    if self.on_pass is not None:
                        self.on_pass()
                else:
                    outs.append(
                        tiled(fn, parts, tile, self.overlap, self.multiple, on_tile=self.on_pass)
                    )
            return outs[0] if len(outs) == 1 else torch.cat(outs)

        if self.sde is None:
            return net(lq)
        from uirbench.models.irsde.sde import image_generators

        if keys is None:
            keys = [image_digest(x) for x in lq]
        if len(keys) != lq.shape[0]:
            raise ValueError(f"{len(keys)} keys for a batch of {lq.shape[0]} images")
        gens = image_generators(self.seed, list(keys), self.device)
        total = self.sde.T

        def noise_model(x: torch.Tensor, mu: torch.Tensor, t: float) -> torch.Tensor:
            return net(x, mu, t=t)

        def step(t: int) -> None:
            if self.on_step is not None:
                self.on_step(lq.shape[0], total - t + 1, total)

        return self.sde.sample(
            noise_model, lq, mode=self.sampling_mode, generator=gens, progress=step
        )


def image_digest(x: torch.Tensor) -> str:
    """A key for an image without a name: the sha256 of its float32 pixels (so a pair of
    calls with the same image draws the same noise whatever else is in the batch)."""
    data = x.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
    return "sha256:" + hashlib.sha256(data).hexdigest()


RANDOM_INIT_HINT = (
    "--random-init to run untrained weights (pipeline tests only; scores are flagged)"
)


def build(
    name: str,
    weights: str | None = None,
    device: str = "cpu",
    config: str | dict | None = None,
    daclip: Any = None,
    random_init: bool = False,
    **kw: Any,
) -> ModelRestorer:
    """Build a registered model. ``weights``: a file or ``"zoo"`` (download the card's weights).
    Without weights the model is refused unless ``random_init`` says untrained weights are
    wanted (tests of the pipeline; results record it): a score from weights that were never
    loaded must not pass for a result. ``config`` overrides the model's default config (a
    uirbench checkpoint's own config is used when it has one). ``daclip``: see
    :func:`build_daclip_context`; DA-CLIP models without it use the card's or checkpoint's."""
    from uirbench.io import sha256_file

    if weights is None and not random_init:
        raise UirbenchError(
            f"model {name!r} has no weights: pass --weights PATH (a checkpoint, or 'zoo' for the "
            f"released ones), or {RANDOM_INIT_HINT}"
        )
    if weights is not None and random_init:
        raise UirbenchError("--random-init and --weights exclude each other; drop one")
    meta: dict[str, Any] = {}
    state = None
    sha = None
    if weights == "zoo":
        files = fetch_zoo_weights(name)
        weights = str(files["model"])
        if daclip is None and "daclip" in files:
            daclip = {"config": "daclip_ViT-B-32", "weights": str(files["daclip"])}
    if weights is not None:
        state, meta = network_state_from_file(weights)
        sha = sha256_file(weights) if Path(weights).is_file() else None
    cfg = load_model_config(config or meta.get("model_config") or MODEL_CONFIGS[name])
    net = build_network(cfg)
    if state is not None:
        load_network_weights(net, state, str(weights))
    ctx = None
    if uses_daclip(cfg):
        spec = daclip or resolve_daclip_record(meta.get("daclip"), weights)
        if spec is None and random_init:
            spec = {"config": _daclip_config_for(cfg), "weights": None, "seed": 0}
        user_spec = isinstance(daclip, dict)  # a checkpoint's recorded (seeded) one is not refused
        if user_spec and not spec.get("weights") and not random_init:
            raise UirbenchError(
                f"model {name!r}: the DA-CLIP spec has no weights: pass --daclip PATH, or "
                f"{RANDOM_INIT_HINT}"
            )
        ctx = build_daclip_context(spec, device=device)
        if ctx is None:
            raise UirbenchError(
                f"model {name!r} needs DA-CLIP embeddings: pass a DA-CLIP checkpoint "
                "(--daclip PATH) or use --weights zoo"
            )
    restorer = ModelRestorer(name, cfg, net, daclip=ctx, device=device, weights_sha256=sha, **kw)
    restorer.random_init = random_init
    if ctx is not None and isinstance(spec, dict):  # which DA-CLIP made these outputs
        restorer.info["daclip"] = {
            k: spec[k] for k in ("config", "weights", "weights_sha256", "seed") if k in spec
        }
    return restorer


def _daclip_config_for(cfg: dict[str, Any]) -> str:
    """The packaged DA-CLIP config whose embedding width is the network's context width."""
    from uirbench.models.daclip import list_configs, load_config

    width = cfg["net"].get("context_dim")
    for name in list_configs():
        if load_config(name).get("embed_dim") == width:
            return name
    raise UirbenchError(f"no packaged DA-CLIP config has embed_dim {width}; pass --daclip PATH")


def tile_grid(restorer: Restorer, h: int, w: int) -> int:
    """How many tiles ``restorer`` uses for an HxW image (1: whole image)."""
    if not isinstance(restorer, ModelRestorer):
        return 1
    tile = restorer._tile_size(h, w)
    if tile is None:
        return 1
    tile = max(restorer.multiple, tile // restorer.multiple * restorer.multiple)
    overlap = min(restorer.overlap, tile // 2)
    return len(_starts(h, tile, overlap)) * len(_starts(w, tile, overlap))


def network_passes(restorer: Restorer, h: int, w: int) -> int:
    """Network calls restoring an HxW image takes: tiles x sampling steps (IR-SDE)."""
    if not isinstance(restorer, ModelRestorer):
        return 1
    return tile_grid(restorer, h, w) * (restorer.sde.T if restorer.sde is not None else 1)


# ------------------------------------------------------------------------------------- files
def list_images(inputs: Iterable[str | Path]) -> list[Path]:
    """Image files named directly or found (sorted, recursively) in folders."""
    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
            )
            if not found:
                raise UirbenchError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found in {p}")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise UirbenchError(f"input {p} does not exist; give image files or folders")
    return files


def to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255


def to_uint8(x: torch.Tensor) -> np.ndarray:
    arr = (x[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
    return np.ascontiguousarray(arr)


def output_paths(inputs: Iterable[str | Path], out_dir: str | Path) -> list[tuple[Path, Path]]:
    """``(input, output)`` for every image: ``<out_dir>/<path relative to its folder>.png``, or
    ``<out_dir>/<name>.png`` for a file given directly.

    Refuses two inputs that would write one output (``d1/pic.jpg d2/pic.png``, or ``pic.jpg``
    beside ``pic.png``) before anything is written, instead of silently keeping the last.
    """
    out_dir = Path(out_dir)
    inputs = list(inputs)
    roots = [Path(i) for i in inputs if Path(i).is_dir()]
    planned: dict[Path, Path] = {}
    pairs = []
    for path in list_images(inputs):
        root = next((r for r in roots if r in path.parents), None)
        rel = path.relative_to(root) if root else Path(path.name)
        dest = (out_dir / rel).with_suffix(".png")
        if dest in planned:
            if planned[dest].resolve() == path.resolve():
                continue  # the same file named twice (e.g. a file and its folder)
            raise UirbenchError(
                f"{planned[dest]} and {path} would both be written to {dest}; restore them in "
                "separate runs (--out) or rename one"
            )
        planned[dest] = path
        pairs.append((path, dest))
    return pairs


def check_inputs(files: Iterable[Path]) -> None:
    """Decode every input once before the first output is written; name all that fail."""
    from uirbench.io import read_image

    bad = []
    for path in files:
        try:
            read_image(path)
        except UirbenchError as exc:
            bad.append(str(exc))
    if bad:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise UirbenchError(
            f"{len(bad)} input image(s) cannot be read, nothing was written: "
            + "; ".join(bad[:5])
            + more
        )


def restore_paths(
    restorer: Restorer,
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    on_image: Callable[[Path, Path, list[tuple[str, float]]], None] | None = None,
    on_start: Callable[[Path, int, int], None] | None = None,
) -> list[Path]:
    """Restore every image, writing ``<out_dir>/<relative path>.png``; returns the outputs.

    Every output path is planned (no two inputs may share one) and every input decoded before
    the first output is written, so a bad 5th file stops the run with nothing half-done.
    ``on_start(path, h, w)`` before each image, ``on_image(path, dest, degradation)`` after.
    """
    pairs = output_paths(inputs, out_dir)
    check_inputs(p for p, _ in pairs)
    return restore_pairs(restorer, pairs, on_image=on_image, on_start=on_start)


def restore_pairs(
    restorer: Restorer,
    pairs: Iterable[tuple[Path, Path]],
    on_image: Callable[[Path, Path, list[tuple[str, float]]], None] | None = None,
    on_start: Callable[[Path, int, int], None] | None = None,
) -> list[Path]:
    """Restore planned ``(input, output)`` pairs (:func:`output_paths`, :func:`check_inputs`)."""
    from uirbench.io import read_image, write_png

    written = []
    for path, dest in pairs:
        img = read_image(path)
        if on_start is not None:
            on_start(path, *img.shape[:2])
        restored = restorer.restore(to_tensor(img))
        write_png(dest, to_uint8(restored))
        written.append(dest)
        if on_image is not None:
            on_image(path, dest, getattr(restorer, "last_degradation", []))
    return written


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of images in [0, 1] quantised to uint8 (for training-time validation)."""
    a8 = (a.clamp(0, 1) * 255).round()
    b8 = (b.clamp(0, 1) * 255).round()
    mse = torch.mean((a8 - b8) ** 2).item()
    return float("inf") if mse == 0 else 10 * math.log10(255**2 / mse)
