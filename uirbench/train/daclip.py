"""Train DA-CLIP from a recipe on a built root's shards (``uirbench train daclip``).

What the official trainer does, plus what it leaves on the table:
- the text tower is frozen, so caption and degradation-text embeddings are computed once per run
  (not every step) and looked up by sample;
- every source of randomness is derived from (seed, epoch, sample), and each rank takes a slice of
  each global batch: N processes follow the one-process loss curve, and a resumed run ends with
  the same weights as an uninterrupted one;
- checkpoints are safetensors + JSON, written atomically at the end of every epoch.
Loss: CLIP contrastive loss on (content, caption) + on (degradation, degradation text), with
features gathered across ranks. ``loss: official`` uses batch-diagonal labels as released;
``class-aware`` does not treat samples sharing a degradation as negatives of each other.
Views: ``data.crop_mode: resize`` (default, the paper) resizes each (cropped) image to the
model's input size; ``native`` cuts random patches of that size at the image's own pixel scale,
so a small model still sees noise, JPEG blocks, blur and streaks, and classification then
averages an ``eval.grid`` x ``eval.grid`` of native patches (recorded in the checkpoint).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from uirbench.data.shardset import ShardSet
from uirbench.errors import UirbenchError
from uirbench.evaluate.classify import classify_split
from uirbench.io import decode_image
from uirbench.models.daclip import (
    build_daclip,
    compact_state_dict,
    encode_texts,
    load_config,
    preprocess,
    read_daclip_state,
)
from uirbench.models.daclip_view import eval_view, offset_range
from uirbench.train import ddp
from uirbench.train.loop import Log, Trainer, run
from uirbench.train.recipe import load_recipe
from uirbench.train.recipe import log as recipe_log

DEFAULTS: dict[str, Any] = {
    "model": "daclip",  # what is trained (restoration recipes name a restoration model here)
    "model_config": "daclip_ViT-B-32",  # packaged config name or JSON path
    "clip_weights": None,  # open_clip tag or file; None: the config's clip_pretrained
    "init_weights": None,  # a DA-CLIP checkpoint to start from (fine-tuning)
    "output": "runs/daclip",
    "data": {
        "root": None,  # a built root (uirbench build-data); required
        "train_split": "train",
        "val_split": "val",
        "crop_mode": "resize",  # resize: (crop, then) bicubic to the model's size | native
        "crop_scale": None,  # [min, max] area of a random square crop; None: whole image
        "flips": False,  # random flips / 90-degree turns (native mode: texture keeps its class)
        # random permutation of the RGB channels: new colours for the same degradation (noise,
        # blocks, streaks, veils, holes and darkness survive it), against content overfitting
        "channel_shuffle": False,
        # native mode: patches per sample; the sample's embedding is their normalised mean (as
        # eval.grid sees an image), so a local degradation (drops, a shadow edge) is learnt
        # from a set of patches of which only some show it
        "patches": 1,
        # native mode: crop offsets (training patches and eval.grid's) are phase + a multiple
        # of align; 1: any offset. A JPEG's 8x8 blocks start at the image's corner, so with
        # align 8, phase 4 every block edge crosses the middle of an 8 px ViT patch, where the
        # patch embedding sees it as a step; phase 0 hides the edges between patches
        "align": 1,
        "phase": 0,
        # native mode: a training patch must show its degradation: at least this fraction of
        # its pixels differ from the GT patch by more than 8 grey levels (up to 8 draws, else
        # the draw with the most). Drops, shadows, strokes and flakes leave parts of an image
        # clean, and a clean patch labelled "raindrop" teaches nothing. 0: off. Uses the GT
        # only to pick training crops; classification never sees it.
        "evidence": 0.0,
        "cache_images": False,  # keep decoded LQ images in memory (small datasets)
        "workers": 0,
    },
    "optim": {
        "lr": 3.0e-5,
        "betas": [0.9, 0.98],
        "eps": 1.0e-6,
        "weight_decay": 0.05,  # not on gains, biases, logit_scale (as open_clip)
        "warmup_steps": 100,
        "eta_min": 0.0,  # the cosine ends at this lr (open_clip: 0)
        "fused": "auto",  # fused AdamW kernel: auto = where torch supports it
    },
    "eval": {
        # native mode only: classify a grid x grid of native-scale patches of each image and
        # average their degradation embeddings (1: the centre patch)
        "grid": 1,
    },
    "train": {
        "epochs": 50,  # the schedule's length, in passes over the train split
        "batch_size": 3136,  # global, over all processes
        "loss": "official",  # official | class-aware
        # weight of the content (image-caption) loss; the degradation loss has weight 1. The
        # content loss trains the controller too (through the zero-init connections): on a few
        # photos with one caption each it teaches the controller to tell the photos apart
        "content_weight": 1.0,
        "max_logit_scale": 100.0,
        "amp": "auto",  # auto | off | bf16 | fp16
        "device": "auto",
        "seed": 0,
        "threads": 0,  # torch CPU threads per process; 0: torch default
        "grad_checkpointing": False,
        "resume": "auto",  # auto (the output's last checkpoint if any) | a checkpoint | null
        "stop_at": None,  # stop (with a checkpoint) after this step; the schedule keeps its length
        "progress": True,
    },
    "log": {"every": 10},  # steps
    "val": {"every": 0},  # epochs; 0: classify the val split when the run stops only
    "checkpoint": {"every": 1},  # epochs (and when the run stops)
}
# Keys of the DA-CLIP vocabulary before the trainers shared one (read with a warning)
RENAMES = {
    "train.max_steps": "train.stop_at",
    "train.log_every": "log.every",
    "train.eval_every_epochs": "val.every",
}
LOSSES = ("official", "class-aware")
CROP_MODES = ("resize", "native")


# -------------------------------------------------------------------------------------- losses
def contrastive_loss(
    image: torch.Tensor, text: torch.Tensor, scale: torch.Tensor, classes: torch.Tensor | None
) -> torch.Tensor:
    """Symmetric InfoNCE over a (global) batch with diagonal labels. With ``classes``, the other
    samples of a sample's class are removed from its negatives (masked out of the softmax), so
    identical degradation texts no longer pull the loss floor up to log(samples per class)."""
    logits = scale * image @ text.t()
    labels = torch.arange(len(image), device=image.device)
    if classes is not None:
        same = classes[:, None] == classes[None, :]
        same.fill_diagonal_(False)
        logits = logits.masked_fill(same, float("-inf"))
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2


def daclip_loss(
    content: torch.Tensor | None,
    caption: torch.Tensor,
    degradation: torch.Tensor,
    degradation_text: torch.Tensor,
    scale: torch.Tensor,
    classes: torch.Tensor,
    kind: str = "official",
    content_weight: float = 1.0,
) -> dict[str, torch.Tensor]:
    """{"contrastive": content-caption loss, "degradation": degradation loss, "loss":
    content_weight * contrastive + degradation}. With ``content_weight`` 0 the content features
    may be None (not computed) and the result has no "contrastive" entry."""
    if kind not in LOSSES:
        raise UirbenchError(f"loss must be one of {', '.join(LOSSES)}, got {kind!r}")
    degra = contrastive_loss(
        degradation, degradation_text, scale, classes if kind == "class-aware" else None
    )
    if content_weight == 0:
        return {"degradation": degra, "loss": degra}
    if content is None:
        raise ValueError("content features are needed when content_weight is not 0")
    clip = contrastive_loss(content, caption, scale, None)
    return {"contrastive": clip, "degradation": degra, "loss": content_weight * clip + degra}


# -------------------------------------------------------------------------------------- data
@dataclass
class SplitData:
    """A split's samples: caption/degradation text ids into a shared text table, classes."""

    shards: Any  # ShardSet
    caption_ids: torch.Tensor
    degradation_ids: torch.Tensor
    classes: torch.Tensor
    uncaptioned: int


def read_split(root: str | Path, split: str, texts: dict[str, int]) -> SplitData:
    """Index a split's shards; captions fall back to the degradation text when absent."""
    shards = ShardSet(root, split)
    cap, deg, cls = [], [], []
    missing = 0
    for i in range(len(shards)):
        degradation = shards.text(i, "deg.txt")
        if shards.has(i, "txt") and shards.text(i, "txt"):
            caption = shards.text(i, "txt")
        else:
            caption, missing = degradation, missing + 1
        cap.append(texts.setdefault(caption, len(texts)))
        deg.append(texts.setdefault(degradation, len(texts)))
        cls.append(int(shards.text(i, "cls")))
    return SplitData(shards, torch.tensor(cap), torch.tensor(deg), torch.tensor(cls), missing)


class ImageSource:
    """Decoded LQ (or ``field``) images of a split as uint8 CxHxW tensors (optionally cached)."""

    def __init__(self, shards: Any, cache: bool, field: str = "lq.png"):
        self.shards, self.field = shards, field
        self.cache: dict[int, torch.Tensor] | None = {} if cache else None

    def __call__(self, i: int) -> torch.Tensor:
        if self.cache is not None and i in self.cache:
            return self.cache[i]
        img = decode_image(self.shards.read(i, self.field), self.shards.samples[i].key)
        t = torch.from_numpy(img).permute(2, 0, 1).contiguous()
        if self.cache is not None:
            self.cache[i] = t
        return t


def random_square_crop(img: torch.Tensor, scale: tuple[float, float], g: torch.Generator):
    """A random square crop covering ``scale`` (min, max) of the shorter side squared."""
    _, h, w = img.shape
    side = min(h, w)
    area = scale[0] + (scale[1] - scale[0]) * torch.rand((), generator=g).item()
    s = max(1, round(side * math.sqrt(area)))
    top = int(torch.randint(0, h - s + 1, (), generator=g))
    left = int(torch.randint(0, w - s + 1, (), generator=g))
    return img[:, top : top + s, left : left + s]


def random_native_crop(
    img: torch.Tensor, size: int, g: torch.Generator, align: int = 1, phase: int = 0
) -> torch.Tensor:
    """A random ``size`` square at the image's own pixel scale (no resampling, so noise, JPEG
    blocks and streaks keep their frequency), its offsets multiples of ``align``; images
    smaller than ``size`` are returned whole."""
    _, h, w = img.shape
    if h < size or w < size:
        return img
    top, left = native_offsets(img, size, g, align, phase)
    return img[:, top : top + size, left : left + size]


def native_offsets(
    img: torch.Tensor, size: int, g: torch.Generator, align: int = 1, phase: int = 0
):
    """(top, left) of a random native crop, each ``phase`` + a multiple of ``align`` (0, 0 and
    no draw for an image smaller than it; phase 0 where the image has no room for it)."""
    _, h, w = img.shape
    if h < size or w < size:
        return 0, 0
    offsets = []
    for n in (h, w):
        first, steps = offset_range(n, size, align, phase)
        offsets.append(first + align * int(torch.randint(0, steps + 1, (), generator=g)))
    return offsets[0], offsets[1]


def evidence_crop(
    lq: torch.Tensor,
    gt: torch.Tensor,
    size: int,
    g: torch.Generator,
    align: int,
    need: float,
    phase: int = 0,
) -> torch.Tensor:
    """A native crop of ``lq`` in which at least ``need`` of the pixels differ from ``gt`` by
    more than 8 grey levels (the first of 8 draws that does, else the draw with the most)."""
    if lq.shape[1] < size or lq.shape[2] < size:
        return lq
    best, best_frac = None, -1.0
    for _ in range(8):
        top, left = native_offsets(lq, size, g, align, phase)
        a = lq[:, top : top + size, left : left + size]
        b = gt[:, top : top + size, left : left + size]
        frac = float(((a.short() - b.short()).abs().amax(0) > 8).float().mean())
        if frac >= need:
            return a
        if frac > best_frac:
            best, best_frac = a, frac
    return best


def random_dihedral(img: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """One of the 8 flips/quarter turns of a square image, chosen by ``g``."""
    k = int(torch.randint(0, 8, (), generator=g))
    if k >= 4:
        img = img.flip(-1)
    return torch.rot90(img, k % 4, dims=(-2, -1)) if k % 4 else img


class BatchMaker(torch.utils.data.Dataset):
    """Item ``k`` = the model-ready images of planned batch ``k`` (for a DataLoader with workers).

    Crops are seeded by (seed, epoch, sample index), never by process or order."""

    def __init__(
        self,
        source: ImageSource,
        plan: list[tuple[int, list[int]]],
        cfg: dict,
        size: int,
        gt_source: ImageSource | None = None,
    ):
        self.source, self.plan, self.size, self.gt_source = source, plan, size, gt_source
        self.seed = cfg["train"]["seed"]
        self.scale = cfg["data"]["crop_scale"]
        self.native = cfg["data"]["crop_mode"] == "native"
        self.flips = bool(cfg["data"]["flips"])
        self.shuffle = bool(cfg["data"]["channel_shuffle"])
        self.patches = int(cfg["data"]["patches"]) if self.native else 1
        self.align = int(cfg["data"]["align"])
        self.phase = int(cfg["data"]["phase"])
        self.evidence = float(cfg["data"]["evidence"]) if self.native else 0.0
        if self.evidence and gt_source is None:
            raise ValueError("data.evidence needs the GT images (gt_source)")

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, k: int) -> torch.Tensor | UirbenchError:
        epoch, indices = self.plan[k]
        out = []
        for i in indices:
            try:
                img = self.source(i)
                gt = self.gt_source(i) if self.evidence else None
            except UirbenchError as exc:  # raised by train(): no worker traceback in the message
                return exc
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch * 100_003 + i)
            for _ in range(self.patches):
                view = img
                if self.native and gt is not None:
                    view = evidence_crop(
                        img, gt, self.size, g, self.align, self.evidence, self.phase
                    )
                elif self.native:
                    view = random_native_crop(img, self.size, g, self.align, self.phase)
                elif self.scale:
                    view = random_square_crop(img, tuple(self.scale), g)
                if self.flips:
                    view = random_dihedral(view, g)
                if self.shuffle:
                    view = view[torch.randperm(3, generator=g)]
                out.append(preprocess(view[None], self.size)[0])
        return torch.stack(out)


def epoch_order(n: int, epoch: int, seed: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 7919 + epoch))


# -------------------------------------------------------------------------------------- training
def pool_patches(features: torch.Tensor, k: int) -> torch.Tensor:
    """(B*k)xD unit embeddings of k patches per sample -> Bxd: their mean, renormalised."""
    if k == 1:
        return features
    return F.normalize(features.view(-1, k, features.shape[-1]).mean(dim=1), dim=-1)


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """open_clip's split: no decay on 1-d tensors (gains, biases, embeddings' class token),
    norms and ``logit_scale``."""
    params = dict(model.named_parameters())
    no_decay, decay = _group_names(model)
    return [
        {"params": [params[n] for n in no_decay], "weight_decay": 0.0},
        {"params": [params[n] for n in decay], "weight_decay": weight_decay},
    ]


def _group_names(model: torch.nn.Module, also: str | None = None) -> tuple[list[str], list[str]]:
    """Names of the trainable parameters in :func:`param_groups`' order (no decay, decay);
    ``also``: a name fragment of frozen parameters to count as trainable."""
    no_decay: list[str] = []
    decay: list[str] = []
    for name, p in model.named_parameters():
        if not (p.requires_grad or (also and also in name)):
            continue
        exclude = p.ndim < 2 or "ln" in name or "bias" in name or "logit_scale" in name
        (no_decay if exclude else decay).append(name)
    return no_decay, decay


def _without_zero_modules(state: dict, model: torch.nn.Module) -> dict:
    """An optimizer state saved while the zero-initialised connections trained (every run before
    uirbench froze them when the content loss is off), re-indexed for the optimizer without
    them. Their moments were all zero (their gradient was exactly zero), so nothing is lost."""
    old = [n for group in _group_names(model, also=".zero_modules.") for n in group]
    new = {n: i for i, n in enumerate(n for group in _group_names(model) for n in group)}
    groups = [dict(g) for g in state["param_groups"]]
    if sum(len(g["params"]) for g in groups) != len(old):
        return state  # not that layout: load_state_dict reports the mismatch
    index = dict(zip((i for g in groups for i in g["params"]), old, strict=True))
    for g in groups:
        g["params"] = [new[index[i]] for i in g["params"] if index[i] in new]
    kept = {new[index[i]]: v for i, v in state["state"].items() if index[i] in new}
    return {"state": kept, "param_groups": groups}


def make_optimizer(model: torch.nn.Module, cfg: dict, device: torch.device) -> torch.optim.AdamW:
    o = cfg["optim"]
    fused = o["fused"]
    if fused == "auto":
        fused = device.type in ("cuda", "cpu")
    return torch.optim.AdamW(
        param_groups(model, o["weight_decay"]),
        lr=o["lr"],
        betas=tuple(o["betas"]),
        eps=o["eps"],
        fused=bool(fused),
    )


class DaclipTrainer(Trainer):
    """DA-CLIP's hooks of the training loop (:mod:`uirbench.train.loop`)."""

    label = "train daclip"
    log_name = "metrics.jsonl"
    validate_at_stop = True

    def __init__(self, cfg: dict, log: Log) -> None:
        super().__init__(cfg, log)
        t_cfg, d_cfg = cfg["train"], cfg["data"]
        if cfg["model"] != "daclip":
            raise UirbenchError(
                f"model={cfg['model']!r}: train daclip trains daclip; name the DA-CLIP config "
                "in model_config (e.g. model_config=daclip_tiny)"
            )
        if not d_cfg["root"]:
            raise UirbenchError("data.root is not set: pass root=/path/to/built/root")
        if t_cfg["loss"] not in LOSSES:
            raise UirbenchError(f"train.loss must be one of {', '.join(LOSSES)}")
        if d_cfg["crop_mode"] not in CROP_MODES:
            raise UirbenchError(
                f"data.crop_mode must be one of {', '.join(CROP_MODES)}, got {d_cfg['crop_mode']!r}"
            )
        if int(d_cfg["align"]) < 1:
            raise UirbenchError(f"data.align must be >= 1, got {d_cfg['align']!r}")
        if not 0 <= int(d_cfg["phase"]) < int(d_cfg["align"]):
            raise UirbenchError(
                f"data.phase must be in [0, data.align), got {d_cfg['phase']!r} with align"
                f" {d_cfg['align']!r}"
            )
        if int(cfg["eval"]["grid"]) < 1:
            raise UirbenchError(f"eval.grid must be >= 1, got {cfg['eval']['grid']!r}")
        self.K = int(d_cfg["patches"]) if d_cfg["crop_mode"] == "native" else 1
        if self.K < 1:
            raise UirbenchError(f"data.patches must be >= 1, got {d_cfg['patches']!r}")
        self.last: dict[str, float] = {}
        self.val_accuracy: float | None = None

    def build(self, env: ddp.DistEnv) -> None:
        cfg, t_cfg, d_cfg = self.cfg, self.cfg["train"], self.cfg["data"]
        device = env.device
        self.model_cfg = load_config(cfg["model_config"])
        model = build_daclip(self.model_cfg, clip_weights=cfg["clip_weights"] or None, weights=None)
        if cfg["init_weights"]:
            model.load_state_dict(read_daclip_state(cfg["init_weights"]), strict=True)
        if t_cfg["grad_checkpointing"]:
            model.set_grad_checkpointing(True)
        self.model = model.to(device)
        self.size = self.model_cfg["vision_cfg"]["image_size"]
        self.texts: dict[str, int] = {}
        self.data = read_split(d_cfg["root"], d_cfg["train_split"], self.texts)
        t0 = time.perf_counter()
        self.text_table = encode_texts(model, list(self.texts), device=device)
        self.text_seconds = time.perf_counter() - t0
        self.G = G = int(t_cfg["batch_size"])
        self.n = n = len(self.data.classes)
        if n < G:
            raise UirbenchError(f"batch_size {G} is larger than the {n} training samples")
        self.local = ddp.local_slice(G, env)
        self.unit_steps = n // G  # steps per epoch: val.every / checkpoint.every count epochs
        self.total = self.unit_steps * int(t_cfg["epochs"])
        # Without the content loss only the controller's degradation embedding is used: the
        # frozen content encoder is not run (half the image FLOPs) and the zero-initialised
        # connections into it, whose gradient is then exactly zero, are frozen (DDP needs every
        # trainable parameter used; AdamW keeps no state for them). The trained weights are
        # bit-identical to computing the content loss with weight 0; the checkpoint's optimizer
        # state lacks the zero layers.
        self.with_content = float(t_cfg["content_weight"]) != 0
        if not self.with_content:
            model.visual_control.transformer.zero_modules.requires_grad_(False)
        self.optimizer = make_optimizer(model, cfg, device)
        self.max_log_scale = math.log(float(t_cfg["max_logit_scale"]))

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict, source: Path) -> None:
        state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
        missing = self.model.load_state_dict(state, strict=False)
        if missing.unexpected_keys or [
            k for k in missing.missing_keys if not k.startswith("visual.")
        ]:
            raise UirbenchError(f"{source} does not match this recipe's model")

    def optimizer_state(self, state: dict) -> dict:
        return state if self.with_content else _without_zero_modules(state, self.model)

    def state(self, step: int) -> tuple[dict[str, torch.Tensor], dict]:
        tensors = {f"model.{k}": v for k, v in compact_state_dict(self.model).items()}
        meta = {
            "epoch": step // self.unit_steps,
            "model_config": self.model_cfg,
            "metrics": {"step": step, **self.last},
        }
        return tensors, meta

    def begin(self, start: int, stop: int) -> dict | None:
        self.start = start
        if self.env.is_main:
            data = self.data
            self.log(
                f"DA-CLIP {self.cfg['model_config']}: {self.n} train samples of "
                f"{len(set(data.classes.tolist()))} classes ({data.uncaptioned} without "
                f"caption: degradation text used), {len(self.texts)} texts embedded once in "
                f"{self.text_seconds:.1f}s, {world_desc(self.env)}, global batch {self.G}, "
                f"steps {start}->{stop} of {self.total}, amp {self.amp_dtype}"
            )
        return None

    def batches(self, start: int, stop: int) -> Any:
        cfg, d_cfg = self.cfg, self.cfg["data"]
        seed, G, spe = int(cfg["train"]["seed"]), self.G, self.unit_steps
        source = ImageSource(self.data.shards, bool(d_cfg["cache_images"]))
        gt_source = None
        if d_cfg["crop_mode"] == "native" and float(d_cfg["evidence"]) > 0:
            gt_source = ImageSource(self.data.shards, bool(d_cfg["cache_images"]), "gt.png")
        plan = []
        for step in range(start, stop):
            epoch, b = divmod(step, spe)
            order = epoch_order(self.n, epoch, seed)
            plan.append((epoch, order[b * G : (b + 1) * G][self.local].tolist()))
        return torch.utils.data.DataLoader(
            BatchMaker(source, plan, cfg, self.size, gt_source),
            batch_size=None,
            num_workers=int(d_cfg["workers"]),
            persistent_workers=False,
        )

    def loss(self, step: int, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        t_cfg, G, env, K = self.cfg["train"], self.G, self.env, self.K
        epoch, b = divmod(step, self.unit_steps)
        order = epoch_order(self.n, epoch, int(t_cfg["seed"]))[b * G : (b + 1) * G]
        images = batch.to(env.device, non_blocking=True)
        with self.autocast():
            res = self.net(images, content=self.with_content)
        content = (
            ddp.gather_features(pool_patches(res["image_features"].float(), K), env)
            if self.with_content
            else None
        )
        degradation = ddp.gather_features(pool_patches(res["image_degra_features"].float(), K), env)
        data = self.data
        loss = daclip_loss(
            content,
            self.text_table[data.caption_ids[order]],
            degradation,
            self.text_table[data.degradation_ids[order]],
            res["logit_scale"].float(),
            data.classes[order].to(env.device),
            t_cfg["loss"],
            float(t_cfg["content_weight"]),
        )
        self.last = {k: float(v.detach()) for k, v in loss.items()}
        return loss["loss"], self.last

    def after_step(self) -> None:
        with torch.no_grad():
            self.model.logit_scale.clamp_(0, self.max_log_scale)

    def log_record(
        self, step: int, lr: float, seconds: float, interval: list[dict[str, float]]
    ) -> dict:
        record = {"step": step, "epoch": (step - 1) // self.unit_steps, "lr": lr, **interval[-1]}
        record["logit_scale"] = float(self.model.logit_scale.detach().exp())
        record["samples_per_s"] = (step - self.start) * self.G / max(1e-9, seconds)
        return record

    def validate(self, step: int) -> dict | None:
        if not self.cfg["data"]["val_split"]:
            return None
        self.val_accuracy = _val_accuracy(self.model, self.cfg, self.size, self.env.device)
        epoch = (step - 1) // self.unit_steps
        return {"step": step, "epoch": epoch, "val_accuracy": self.val_accuracy}

    def summary(self) -> dict:
        out: dict[str, Any] = dict(self.last)
        if self.val_accuracy is not None:
            out["val_accuracy"] = self.val_accuracy
        return out


def train(recipe: dict, log: Log = print) -> dict:
    """Run (or resume) a training run; returns a summary (final step, loss, val accuracy, paths)."""
    return run(DaclipTrainer(recipe, log))


def world_desc(env: Any) -> str:
    return f"{env.world_size} process(es) on {env.device.type}"


def _val_accuracy(model, cfg: dict, size: int, device) -> float:
    model.eval()
    try:
        table = classify_split(
            model, cfg["data"]["root"], cfg["data"]["val_split"], device=device, **eval_view(cfg)
        )
    finally:
        model.train()
    return float(table["correct"].sum() / table["total"].sum())


def load_daclip_recipe(path: str | Path, overrides: list[str] | None = None) -> dict:
    """DEFAULTS <- a recipe <- ``key=value`` overrides, keys of the older DA-CLIP vocabulary
    (:data:`RENAMES`, a config name in ``model``) read with a warning."""
    overrides = [_migrate_model_override(item) for item in overrides or []]
    return load_recipe(path, DEFAULTS, overrides, renames=RENAMES, migrate=_migrate_model)


def _migrate_model(given: dict, where: str) -> dict:
    """DA-CLIP recipes named the config in ``model``; it is now ``model_config``, as in the
    restoration recipes, and ``model`` names what is trained (daclip)."""
    model = given.get("model")
    if model is None or model == "daclip":
        return given
    if "model_config" in given:
        raise UirbenchError(
            f"{where}: model {model!r} is not daclip and model_config is set too; "
            "write model: daclip and the config in model_config"
        )
    recipe_log.warning(
        "%s: model: %s is now model_config: %s (model is daclip); rename it", where, model, model
    )
    return {**given, "model": "daclip", "model_config": model}


def _migrate_model_override(item: str) -> str:
    key, sep, value = item.partition("=")
    if not sep or key.strip() != "model" or value.strip() == "daclip":
        return item
    recipe_log.warning(
        "override model=%s is now model_config=%s; use model_config=%s", value, value, value
    )
    return f"model_config={value}"
