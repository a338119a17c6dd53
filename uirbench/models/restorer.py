"""Restoration models as ready-to-run :class:`Restorer` objects: a network from its config,
weights from a file or the zoo, its sampler (IR-SDE) and DA-CLIP conditioning, tiled on large
images."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from uirbench.errors import UirbenchError
from uirbench.io import sha256_file
from uirbench.models.daclip import list_configs, load_config
from uirbench.models.daclip_context import (
    DaclipContext,
    build_daclip_context,
    resolve_daclip_record,
)
from uirbench.models.irsde.sde import IRSDE, image_generators
from uirbench.models.loading import (
    check_config_fits,
    load_network_weights,
    network_state_from_file,
)
from uirbench.models.networks import (
    build_network,
    load_model_config,
    pad_multiple,
    uses_daclip,
)
from uirbench.models.registry import Restorer
from uirbench.models.table import MODELS
from uirbench.models.tiling import AUTO_TILE_PIXELS, DEFAULT_OVERLAP, DEFAULT_TILE, _starts, tiled
from uirbench.models.zoo import fetch_zoo_weights, zoo_card


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
        autocast: str | None = None,
    ) -> None:
        super().__init__(name=name, net=self._run, uses_daclip=daclip is not None)
        self.weights_sha256 = weights_sha256
        self.cfg = cfg
        self.model = net.to(device).eval()
        self.daclip = daclip
        self.device = torch.device(device)
        self.seed = seed
        # the network (not the SDE state or its noise) under torch.autocast: "bf16" / "fp16"
        if autocast not in (None, "bf16", "fp16"):
            raise UirbenchError(f"autocast must be bf16 or fp16, got {autocast!r}")
        self.autocast = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(autocast or "")
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
                    if self.autocast is None:
                        return self.model(*a, **c) if t is None else self.model(*a, t, **c)
                    with torch.autocast(self.device.type, dtype=self.autocast):
                        out = self.model(*a, **c) if t is None else self.model(*a, t, **c)
                    return out.float()

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
    card_daclip = _card_daclip(name)
    if weights == "zoo":
        files = fetch_zoo_weights(name)
        weights = str(files["model"])
        if daclip is None and "daclip" in files:
            daclip = {"config": card_daclip["config"], "weights": str(files["daclip"])}
    if isinstance(daclip, dict) and daclip.get("weights") and not daclip.get("config"):
        # an official .pt records no config: the model's own DA-CLIP (wild-ir: ViT-L/14)
        daclip = {**daclip, "config": card_daclip["config"]}
    if weights is not None:
        state, meta = network_state_from_file(weights)
        sha = sha256_file(weights) if Path(weights).is_file() else None
    cfg = load_model_config(config or meta.get("model_config") or MODELS[name].config)
    if state is not None:
        check_config_fits(cfg, state, str(weights))
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
        if card_daclip["degradations"] is not None:
            ctx.degradations = list(card_daclip["degradations"])
    restorer = ModelRestorer(name, cfg, net, daclip=ctx, device=device, weights_sha256=sha, **kw)
    restorer.random_init = random_init
    if ctx is not None and isinstance(spec, dict):  # which DA-CLIP made these outputs
        restorer.info["daclip"] = {
            k: spec[k] for k in ("config", "weights", "weights_sha256", "seed") if k in spec
        }
    return restorer


def _card_daclip(name: str) -> dict[str, Any]:
    """DA-CLIP settings of a model's zoo card: the config its released DA-CLIP file needs
    (``architecture.daclip_config``, default ViT-B/32 as the paper's) and the texts predictions
    are named from (``daclip_degradations``: None = the ten tasks, [] = name none, as for
    Wild-IR whose DA-CLIP training texts are not published)."""
    row = MODELS.get(name)
    card = row.card if row is not None else None
    arch = (zoo_card(card).get("architecture") or {}) if card else {}
    return {
        "config": arch.get("daclip_config", "daclip_ViT-B-32"),
        "degradations": arch.get("daclip_degradations"),
    }


def _daclip_config_for(cfg: dict[str, Any]) -> str:
    """The packaged DA-CLIP config whose embedding width is the network's context width."""
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
