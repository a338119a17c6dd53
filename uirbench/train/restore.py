"""Train a restoration model (IR-SDE or NAFNet, with or without DA-CLIP) from a recipe
(``uirbench train restore``).

The official recipe: random 256 crops with flips and 90-degree rotations, tasks sampled evenly
whatever their sizes, AdamW (2e-4, betas 0.9/0.99), cosine decay to 1e-6, EMA (0.995 every 10
steps), L1 on the optimal reverse step x_{t-1} (IR-SDE, maximum-likelihood loss) or on the image
(NAFNet); DA-CLIP embeddings of each LQ crop from a frozen DA-CLIP (224 bicubic, OpenAI mean/std).

Reproducibility: everything random in step ``s`` (tasks, images, crops, flips, SDE times and
noise) is drawn for the whole global batch from a generator seeded by (seed, s), and each rank
takes its slice. So N DDP processes see exactly the batches of one process, and a run resumed
from a checkpoint ends with the same weights as an uninterrupted one. The learning rate is the
closed-form cosine of the step (no scheduler state to restore).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from uirbench.data.index import read_index
from uirbench.data.trust import read_pair_file
from uirbench.errors import UirbenchError
from uirbench.evaluate.metrics.psnr import psnr_tensor
from uirbench.io import decode_image
from uirbench.models.daclip_context import build_daclip_context, daclip_record
from uirbench.models.images import to_tensor
from uirbench.models.irsde.sde import IRSDE
from uirbench.models.loading import load_network_weights, network_state_from_file
from uirbench.models.networks import build_network, load_model_config, uses_daclip
from uirbench.models.registry import build_restorer
from uirbench.models.restorer import ModelRestorer
from uirbench.models.table import trainable
from uirbench.tasks import parse_tasks
from uirbench.train import ddp
from uirbench.train.ema import EMA
from uirbench.train.loop import Log, Trainer, checkpoint_stem, run
from uirbench.train.recipe import load_recipe

DEFAULTS: dict[str, Any] = {
    "model": "ours",  # registry name: ours, irsde, nafnet, nafnet-daclip
    "model_config": None,  # config name/JSON path; None: the model's paper config
    "daclip": None,  # {config, weights, seed}: frozen DA-CLIP (weights null: random init)
    "init_weights": None,  # start from these network weights (fine-tuning)
    "output": "runs/restore",
    "data": {
        "root": None,  # a built root (uirbench build-data); required
        "train_split": "train",
        "val_split": "val",
        "tasks": "all",
        "patch_size": 256,
        "flips": True,
        "rotations": True,
        "cache_images": False,  # keep decoded images in memory (small datasets)
        "workers": 0,
    },
    "train": {
        "iterations": 700000,  # the schedule's length, in steps
        "batch_size": 16,  # global, over all processes
        "loss": "l1",  # l1 | l2
        # IR-SDE only: "step" (the paper: distance between the predicted and the optimal reverse
        # step x_{t-1}) or "x0" (distance between the x_0 estimate and the GT, every t weighted
        # equally; for short chains, see Objective)
        "sde_loss": "step",
        "seed": 0,
        "amp": "auto",  # auto | off | bf16 | fp16
        "device": "auto",
        "threads": 0,  # torch CPU threads per process; 0: torch default
        "grad_checkpointing": False,
        "resume": "auto",  # auto (the output's last checkpoint if any) | a checkpoint | null
        "stop_at": None,  # stop (with a checkpoint) after this step: for tests and job limits
        "progress": True,
    },
    # cosine from lr to eta_min over train.iterations (after warmup_steps of linear warmup)
    "optim": {
        "lr": 2.0e-4,
        "betas": [0.9, 0.99],
        "weight_decay": 0.0,
        "warmup_steps": 0,
        "eta_min": 1.0e-6,
    },
    "ema": {"beta": 0.995, "every": 10, "after": 100},
    # steps; validation also at the end of the schedule, a checkpoint also when the run stops
    "val": {"every": 10000, "per_task": 2, "size": 256, "sampling_mode": "posterior"},
    "log": {"every": 200},
    "checkpoint": {"every": 10000},
}


def load_restore_recipe(path: str | Path, overrides: list[str] | None = None) -> dict:
    recipe = load_recipe(path, DEFAULTS, overrides or [])
    if not recipe["data"]["root"]:
        raise UirbenchError(
            f"recipe {path}: data.root is not set; pass root=/path/to/built/root "
            "(build one with `uirbench build-data --preset demo --root DIR`)"
        )
    return recipe


# ------------------------------------------------------------------------------------- data
class PairSource:
    """LQ/GT pairs of one split grouped by task, decoded on demand (optionally cached)."""

    def __init__(self, root: str | Path, split: str, tasks: str, cache: bool) -> None:
        self.root = Path(root)
        df = read_index(self.root)
        df = df[df["split"] == split].sort_values("key")
        self.tasks = [t.id for t in parse_tasks(tasks)]
        self.pairs: dict[str, list[tuple[str, str, str]]] = {}
        for task in self.tasks:
            rows = df[df["task"] == task]
            if rows.empty:
                raise UirbenchError(
                    f"{self.root}: no {split} pairs for task {task!r}; build it or restrict "
                    "data.tasks"
                )
            self.pairs[task] = list(
                zip(rows["stem"], rows["lq_path"], rows["gt_path"], strict=True)
            )
        # Each file read is checked against the index's sha256 (verify before trust).
        self.sha256 = dict(zip(df["lq_path"], df["lq_sha256"], strict=True))
        self.sha256.update(zip(df["gt_path"], df["gt_sha256"], strict=True))
        self.cache: dict[str, np.ndarray] | None = {} if cache else None

    def read(self, rel: str) -> np.ndarray:
        if self.cache is not None and rel in self.cache:
            return self.cache[rel]
        img = decode_image(read_pair_file(self.root, rel, self.sha256[rel]), self.root / rel)
        if self.cache is not None:
            self.cache[rel] = img
        return img


def step_generator(seed: int, step: int, stream: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(((seed * 1_000_003 + step) * 7 + stream) % (2**63))


def batch_plan(source: PairSource, step: int, batch: int, cfg: dict) -> list[dict]:
    """Sample specs of a global batch: tasks round-robin (evenly, whatever their sizes), then a
    random image, crop and flip/rotation per sample, all from the (seed, step) generator."""
    g = step_generator(cfg["train"]["seed"], step)
    n = len(source.tasks)
    specs = []
    for i in range(batch):
        task = source.tasks[(step * batch + i) % n]
        idx = int(torch.randint(len(source.pairs[task]), (1,), generator=g))
        r = torch.rand(4, generator=g).tolist()
        specs.append({"task": task, "idx": idx, "r": r})
    return specs


def load_sample(source: PairSource, spec: dict, cfg: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Aligned LQ/GT crop (3xPxP float in [0, 1]) with the spec's flips and rotation."""
    _, lq_rel, gt_rel = source.pairs[spec["task"]][spec["idx"]]
    lq, gt = source.read(lq_rel), source.read(gt_rel)
    if lq.shape != gt.shape:
        raise UirbenchError(f"{lq_rel} and {gt_rel} differ in size: {lq.shape} vs {gt.shape}")
    p = cfg["data"]["patch_size"]
    h, w = lq.shape[:2]
    if h < p or w < p:
        pad = ((0, max(0, p - h)), (0, max(0, p - w)), (0, 0))
        lq, gt = np.pad(lq, pad, mode="reflect"), np.pad(gt, pad, mode="reflect")
        h, w = lq.shape[:2]
    ry, rx, rf, rr = spec["r"]
    y, x = int(ry * (h - p + 1)), int(rx * (w - p + 1))
    lq, gt = lq[y : y + p, x : x + p], gt[y : y + p, x : x + p]
    out = []
    for img in (lq, gt):
        t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float() / 255
        if cfg["data"]["flips"]:
            if rf < 0.5:
                t = t.flip(-1)
            if (rf * 2) % 1 < 0.5:
                t = t.flip(-2)
        if cfg["data"]["rotations"] and rr < 0.5:
            t = t.transpose(-1, -2)
        out.append(t)
    return out[0], out[1]


class StepBatches(torch.utils.data.Dataset):
    """Item ``s`` = this rank's part of the global batch of step ``s`` (for a DataLoader)."""

    def __init__(self, source: PairSource, cfg: dict, part: slice, first: int, last: int):
        self.source, self.cfg, self.part = source, cfg, part
        self.first, self.last = first, last

    def __len__(self) -> int:
        return self.last - self.first

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor] | UirbenchError:
        step = self.first + k
        specs = batch_plan(self.source, step, self.cfg["train"]["batch_size"], self.cfg)
        try:
            pairs = [load_sample(self.source, s, self.cfg) for s in specs[self.part]]
        except UirbenchError as exc:  # raised by train(): no worker traceback in the message
            return exc
        return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])


# ------------------------------------------------------------------------------------- losses
SDE_LOSSES = ("step", "x0")


class Objective:
    """Training loss of a model: IR-SDE maximum-likelihood step matching or image L1/L2.

    IR-SDE ``sde_loss``: ``step`` (the paper) matches the Euler-Maruyama reverse step computed
    from the prediction to the optimal (posterior-mean) step. ``x0`` measures the error of the
    x_0 estimate itself, which is what the posterior sampler consumes. Two differences matter
    for a short chain (the tiny configs' T=20):
    - weight: an x_0 error e moves the step by w_t * e, w_t = sigma_t^2 dt
      exp(-thetas_cumsum[t] dt) / sigma_bar_t^2: 1.0 at t=1, 0.18 at t=10, 0.005 at t=20, so
      under ``step`` the first reverse steps, the ones that must restore, get almost no gradient;
    - target: even the true x_0 leaves a gap between the Euler-Maruyama and the posterior step
      (0.017 mean at t=20 of T=20, 0.0008 at t=100 of T=100), so ``step``'s best x_0 at large
      t is off by gap / w_t: more than the whole [0, 1] range at t=20 of T=20.
    ``x0`` weights every t equally and is minimised by the true x_0 at every t
    (tests/test_restore_train.py checks both claims).
    """

    def __init__(self, cfg: dict, net_cfg: dict, device: torch.device) -> None:
        self.kind = net_cfg["arch"]
        self.dist = F.l1_loss if cfg["train"]["loss"] == "l1" else F.mse_loss
        self.seed = cfg["train"]["seed"]
        self.sde_loss = cfg["train"]["sde_loss"]
        if self.sde_loss not in SDE_LOSSES:
            raise UirbenchError(
                f"train.sde_loss={self.sde_loss!r} is not one of {SDE_LOSSES}; "
                "use step (the paper) or x0"
            )
        self.sde = None
        if self.kind == "irsde":
            self.sde = IRSDE.from_config(net_cfg["sde"], device=device)

    def __call__(self, net, lq, gt, ctx: dict, step: int, part: slice, global_batch: int):
        if self.sde is None:
            return self.dist(net(lq, **ctx), gt)
        # SDE times and noise for the whole global batch from the step generator, then sliced.
        g = step_generator(self.seed, step, stream=1)
        t = torch.randint(1, self.sde.T + 1, (global_batch, 1, 1, 1), generator=g)[part]
        noise = torch.randn((global_batch, *gt.shape[1:]), generator=g)[part]
        t, noise = t.to(gt.device), noise.to(gt.device)
        xt = noise * self.sde.sigma_bar(t) + self.sde.mu_bar(gt, lq, t)
        out = net(xt, lq, t.reshape(-1), **ctx).float()
        if self.sde_loss == "x0":
            return self.dist(self.sde.x0_from_output(out, xt, lq, t), gt)
        pred = self.sde.noise_from_output(out, xt, lq, t)
        score = self.sde.score_from_noise(pred, t)
        expected = self.sde.reverse_sde_step_mean(xt, lq, score, t)
        optimum = self.sde.reverse_optimum_step(xt, gt, lq, t)
        return self.dist(expected, optimum)


# ------------------------------------------------------------------------------------- validation
def validation_set(root: Path, cfg: dict, tasks: list[str]) -> dict[str, list]:
    """The first ``per_task`` val pairs of each task (sorted by key), centre-cropped to ``size``."""
    source = PairSource(root, cfg["data"]["val_split"], ",".join(tasks), cache=False)
    size, out = cfg["val"]["size"], {}
    for task in tasks:
        pairs = []
        for _, lq_rel, gt_rel in source.pairs[task][: cfg["val"]["per_task"]]:
            lq, gt = source.read(lq_rel), source.read(gt_rel)
            h, w = lq.shape[:2]
            ch, cw = min(h, size), min(w, size)
            y, x = (h - ch) // 2, (w - cw) // 2
            pairs.append(tuple(to_tensor(a[y : y + ch, x : x + cw]) for a in (lq, gt)))
        out[task] = pairs
    return out


def evaluate(restorer: Any, val: dict[str, list]) -> dict[str, float]:
    """Mean PSNR per task of ``restorer`` on the validation pairs."""
    return {
        task: float(np.mean([psnr_tensor(restorer.restore(lq).cpu(), gt) for lq, gt in pairs]))
        for task, pairs in val.items()
    }


# ------------------------------------------------------------------------------------- hooks
class RestoreTrainer(Trainer):
    """Restoration's hooks of the training loop (:mod:`uirbench.train.loop`)."""

    label = "train restore"
    log_name = "log.jsonl"

    def build(self, env: ddp.DistEnv) -> None:
        cfg, tc = self.cfg, self.cfg["train"]
        device = env.device
        models = trainable()
        if cfg["model"] not in models:
            raise UirbenchError(f"model {cfg['model']!r}: choose one of {', '.join(models)}")
        self.net_cfg = net_cfg = load_model_config(
            cfg["model_config"] or models[cfg["model"]].config
        )
        net = build_network(net_cfg).to(device)
        if tc["grad_checkpointing"] and hasattr(net, "set_grad_checkpointing"):
            net.set_grad_checkpointing(True)
        if cfg["init_weights"]:
            state, _ = network_state_from_file(cfg["init_weights"])
            load_network_weights(net, state, cfg["init_weights"])
        self.daclip = None
        if uses_daclip(net_cfg):
            if not cfg["daclip"]:
                raise UirbenchError(
                    f"model config of {cfg['model']!r} uses DA-CLIP: set daclip.config/weights "
                    "in the recipe (daclip.weights=PATH to a DA-CLIP checkpoint)"
                )
            self.daclip = build_daclip_context(cfg["daclip"], device=str(device))
        # sha256 + path relative to the checkpoints: the run folder can move (see restore.build)
        self.daclip_meta = (
            daclip_record(cfg["daclip"], checkpoint_stem(cfg).parent)
            if self.daclip
            else cfg["daclip"]
        )
        self.model = net
        self.ema = EMA(net, cfg["ema"]["beta"], cfg["ema"]["every"], cfg["ema"]["after"])
        o = cfg["optim"]
        self.optimizer = torch.optim.AdamW(
            net.parameters(), lr=o["lr"], betas=tuple(o["betas"]), weight_decay=o["weight_decay"]
        )
        self.total = tc["iterations"]
        self.objective = Objective(cfg, net_cfg, device)
        d = cfg["data"]
        self.source = PairSource(d["root"], d["train_split"], d["tasks"], d["cache_images"])
        self.part = ddp.local_slice(tc["batch_size"], env)
        self.last_val: dict[str, float] = {}

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict, source: Path) -> None:
        self.model.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})

    def state(self, step: int) -> tuple[dict[str, torch.Tensor], dict]:
        tensors = {f"net.{k}": v for k, v in self.model.state_dict().items()}
        meta = {"model": self.cfg["model"], "model_config": self.net_cfg,
                "daclip": self.daclip_meta}  # fmt: skip
        return tensors, meta

    def begin(self, start: int, stop: int) -> dict | None:
        """The validation pairs and, on a fresh run, the identity baseline's PSNRs (step 0)."""
        cfg = self.cfg
        self.val: dict[str, list] = {}
        if self.env.is_main:
            self.val = validation_set(Path(cfg["data"]["root"]), cfg, self.source.tasks)
        if self.val and start == 0:
            return {"step": 0, "val_psnr_identity": evaluate(build_restorer("identity"), self.val)}
        return None

    def batches(self, start: int, stop: int) -> Any:
        return torch.utils.data.DataLoader(
            StepBatches(self.source, self.cfg, self.part, start, stop),
            batch_size=None,
            num_workers=self.cfg["data"]["workers"],
        )

    def loss(self, step: int, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        device = self.env.device
        lq, gt = batch[0].to(device), batch[1].to(device)
        ctx = {}
        if self.daclip is not None:
            content, degradation = self.daclip.encode(lq)
            ctx = {"text_context": degradation, "image_context": content}
        with self.autocast():
            loss = self.objective(
                self.net, lq, gt, ctx, step, self.part, self.cfg["train"]["batch_size"]
            )
        return loss, {"loss": float(loss.detach())}

    def log_record(
        self, step: int, lr: float, seconds: float, interval: list[dict[str, float]]
    ) -> dict:
        mean = sum(n["loss"] for n in interval) / len(interval)
        return {"step": step, "loss": ddp.all_reduce_mean(mean, self.env), "lr": lr,
                "seconds": seconds}  # fmt: skip

    def validate(self, step: int) -> dict | None:
        if not self.val:
            return None
        restorer = ModelRestorer(
            self.cfg["model"], self.net_cfg, self.ema.ema_model, daclip=self.daclip,
            device=str(self.env.device), sampling_mode=self.cfg["val"]["sampling_mode"],
            seed=self.cfg["train"]["seed"], tile=0,
        )  # fmt: skip
        self.last_val = evaluate(restorer, self.val)
        mean = float(np.mean(list(self.last_val.values())))
        self.log(f"step {step}: val PSNR {mean:.2f} dB (EMA)")
        return {"step": step, "val_psnr": self.last_val, "val_psnr_mean": mean}

    def summary(self) -> dict:
        return {"val_psnr": self.last_val}


def train(recipe: dict, log: Log = print) -> dict:
    """Run (or resume) a training; returns a summary with the last validation PSNRs."""
    return run(RestoreTrainer(recipe, log))
