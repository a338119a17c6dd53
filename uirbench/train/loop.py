"""The one training loop of every trainer (``train daclip``, ``train restore``), as BasicSR's
``train.py`` + ``base_model.py``: the loop owns what all trainers share, a :class:`Trainer`
subclass supplies what differs (its model, data, loss, validation and checkpoint contents).

The loop owns: the task set of the root, threads, the process group (DDP wrap, barriers), the
seed, the stop condition (``train.stop_at`` or the end of the schedule), the cosine learning rate
of ``optim.lr``/``warmup_steps``/``eta_min`` (:mod:`uirbench.train.schedule`), mixed precision
(:mod:`uirbench.train.amp`), the optimiser step, EMA (:mod:`uirbench.train.ema`), the metrics
log and its periods (``log.every``), validation (``val.every``, and at the end of the schedule),
checkpoints (``checkpoint.every``, and when the run stops) and resuming from them
(``train.resume``), and one progress bar with ETA.

Periods: ``log.every`` counts steps; ``val.every`` and ``checkpoint.every`` count the unit of the
run's length (:attr:`Trainer.unit_steps` steps: 1 for ``train.iterations``, an epoch for
``train.epochs``); 0 switches the periodic one off.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from uirbench.data.task_file import tasks_for_root
from uirbench.errors import UirbenchError
from uirbench.tasks import using
from uirbench.train import amp, ddp
from uirbench.train.checkpoint import (
    find_resume_checkpoint,
    flatten_optimizer,
    load_checkpoint,
    save_checkpoint,
    unflatten_optimizer,
)
from uirbench.train.ema import EMA
from uirbench.train.log import JsonlLog
from uirbench.train.schedule import cosine_lr

Log = Callable[[str], None]


class Trainer:
    """Hooks of one kind of training. :meth:`build` sets the attributes below; the loop calls the
    rest. ``autocast`` (a context factory), ``amp_dtype``, ``net`` (the model, DDP-wrapped when
    distributed) and ``env`` are set by the loop before :meth:`begin`."""

    label = "train"  # progress bar and messages
    log_name = "log.jsonl"  # the metrics log, in the output folder

    # set by build()
    model: torch.nn.Module  # what the optimiser trains (unwrapped)
    optimizer: torch.optim.Optimizer
    total: int  # steps in the schedule
    unit_steps: int = 1  # steps per unit of val.every / checkpoint.every
    ema: EMA | None = None
    # validate when the run stops (train.stop_at), not only every val.every and at the end of
    # the schedule: DA-CLIP's result is its val accuracy, and it costs seconds
    validate_at_stop = False

    # set by the loop
    net: torch.nn.Module
    env: ddp.DistEnv
    autocast: Callable[[], Any]
    amp_dtype: torch.dtype | None  # what autocast casts to (None: full precision)

    def __init__(self, cfg: dict, log: Log) -> None:
        self.cfg, self.log = cfg, log

    def build(self, env: ddp.DistEnv) -> None:
        """Model, optimiser, data, ``total`` (after the loop seeded torch with ``train.seed``)."""
        raise NotImplementedError

    def load_state(self, tensors: dict[str, torch.Tensor], meta: dict, source: Path) -> None:
        """Load the model part of a checkpoint (the loop loads optimiser, EMA and step)."""
        raise NotImplementedError

    def optimizer_state(self, state: dict) -> dict:
        """A checkpoint's optimiser state made to fit this run's optimiser (default: as saved)."""
        return state

    def state(self, step: int) -> tuple[dict[str, torch.Tensor], dict]:
        """(tensors, metadata) of the model part of a checkpoint at ``step``."""
        raise NotImplementedError

    def begin(self, start: int, stop: int) -> dict | None:
        """Called once before the first step (log lines); returns a record for the log (a
        baseline validation) or None."""
        return None

    def batches(self, start: int, stop: int) -> Iterable[Any]:
        """Batches of steps ``start`` to ``stop - 1``, in order; an item may be a UirbenchError
        (raised by the loop, so a data worker's error reads without its traceback)."""
        raise NotImplementedError

    def loss(self, step: int, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        """The loss to minimise at ``step`` and the numbers to show (``loss`` among them)."""
        raise NotImplementedError

    def after_step(self) -> None:
        """After each optimiser step (before EMA), e.g. clamping a parameter."""

    def log_record(
        self, step: int, lr: float, seconds: float, interval: list[dict[str, float]]
    ) -> dict:
        """The log record at ``step``; ``interval``: the numbers of each step since the last one.
        Called on every process (it may reduce across them)."""
        raise NotImplementedError

    def validate(self, step: int) -> dict | None:
        """Main process only: a record for the log (None: nothing to validate)."""
        return None

    def summary(self) -> dict:
        """Trainer-specific part of the summary :func:`run` returns."""
        return {}


def checkpoint_stem(cfg: dict) -> Path:
    return Path(cfg["output"]) / "checkpoints" / "last"


def find_resume(cfg: dict, log: Log | None = None) -> Path | None:
    """The checkpoint ``train.resume`` names: ``auto`` the output's last (or its intact previous
    one, if a kill interrupted saving last), a path, or none (null)."""
    r = cfg["train"]["resume"]
    if r in (None, False, "none"):
        return None
    if r == "auto":
        return find_resume_checkpoint(checkpoint_stem(cfg), log)
    path = Path(r)
    if not path.with_suffix(".json").exists():
        raise UirbenchError(f"train.resume={r}: no checkpoint {path.with_suffix('.json')}")
    return path


def stop_step(cfg: dict, total: int) -> int:
    """Where the run stops: ``train.stop_at`` (the schedule keeps its length) or ``total``."""
    stop_at = cfg["train"]["stop_at"]
    return min(total, int(stop_at)) if stop_at else total


def due(step: int, every: int) -> bool:
    return bool(every) and step % every == 0


def run(trainer: Trainer) -> dict:
    """Train (or resume) with the root's task set in force; returns a summary."""
    root = trainer.cfg.get("data", {}).get("root")
    with using(tasks_for_root(root) if root else None):
        return _run(trainer)


def _run(trainer: Trainer) -> dict:
    cfg, tc, oc = trainer.cfg, trainer.cfg["train"], trainer.cfg["optim"]
    if tc["threads"]:
        torch.set_num_threads(int(tc["threads"]))
    env = ddp.init_distributed(tc["device"])
    trainer.env = env
    log = trainer.log if env.is_main else None
    torch.manual_seed(tc["seed"])
    trainer.build(env)
    model, optimizer, ema = trainer.model, trainer.optimizer, trainer.ema
    gb = int(tc["batch_size"])
    out, stem = Path(cfg["output"]), checkpoint_stem(cfg)

    start = 0
    resume = find_resume(cfg, log)
    if resume is not None:
        tensors, meta = load_checkpoint(resume)
        if meta.get("global_batch", gb) != gb:
            raise UirbenchError(
                f"{resume} was trained with batch_size {meta.get('global_batch')}, not {gb}; "
                f"set train.batch_size={meta.get('global_batch')} or a new output"
            )
        trainer.load_state(tensors, meta, resume)
        if ema is not None:
            ema.load_state(meta["ema"], _strip(tensors, "ema."))
        opt_state = unflatten_optimizer(tensors, meta["optimizer"])
        optimizer.load_state_dict(trainer.optimizer_state(opt_state))
        start = int(meta["step"])
        if log:
            log(f"resumed {out} from {resume} at step {start}")
    total = trainer.total
    stop = stop_step(cfg, total)
    trainer.net = ddp.wrap(model, env)
    dtype = amp.resolve({False: "off", True: "auto"}.get(tc["amp"], tc["amp"]), env.device)
    trainer.amp_dtype, trainer.autocast = dtype, amp.autocast(dtype, env.device)
    scaler = amp.grad_scaler(dtype, env.device)
    metrics = JsonlLog(out / trainer.log_name, start if resume else None, env.is_main)
    log_every = int(cfg["log"]["every"])
    val_every = int(cfg["val"]["every"]) * trainer.unit_steps
    ckpt_every = int(cfg["checkpoint"]["every"]) * trainer.unit_steps

    def save(step: int) -> None:
        if env.is_main:
            tensors, meta = trainer.state(step)
            if ema is not None:
                tensors |= {f"ema.{k}": v for k, v in ema.ema_model.state_dict().items()}
                meta["ema"] = ema.state()
            opt_tensors, opt_meta = flatten_optimizer(optimizer.state_dict())
            meta = {
                "step": step, **meta, "global_batch": gb, "world_size": env.world_size,
                "optimizer": opt_meta, "recipe": cfg,
            }  # fmt: skip
            save_checkpoint(stem, {**tensors, **opt_tensors}, meta)

    progress = TrainProgress(env.is_main and tc["progress"], trainer.label, start, stop)
    trainer.log = progress.above(trainer.log)  # lines above the bar, never inside it
    first = trainer.begin(start, stop)
    if first is not None:
        metrics.write(first)
    t0 = time.perf_counter()
    interval: list[dict[str, float]] = []
    step, validated = start, -1
    model.train()
    for batch in trainer.batches(start, stop):
        if isinstance(batch, UirbenchError):
            raise batch
        lr = cosine_lr(step, oc["lr"], total, warmup=int(oc["warmup_steps"]), eta_min=oc["eta_min"])
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        loss, numbers = trainer.loss(step, batch)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        trainer.after_step()
        if ema is not None:
            ema.update()
        step += 1
        interval.append(numbers)
        seconds = time.perf_counter() - t0
        progress.update(step, numbers["loss"], (step - start) * gb / max(seconds, 1e-9))
        if due(step, log_every) or step == stop:
            metrics.write(trainer.log_record(step, lr, seconds, interval))
            interval = []
        if due(step, val_every) or step == total:
            record = trainer.validate(step) if env.is_main else None
            if record is not None:
                metrics.write(record)
            validated = step
            ddp.barrier(env)
        if due(step, ckpt_every) or step == stop:
            save(step)
            ddp.barrier(env)
    progress.close()
    if trainer.validate_at_stop and validated != step and env.is_main:
        record = trainer.validate(step)
        if record is not None:
            metrics.write(record)
    summary = {
        "step": step, "checkpoint": str(stem) + ".safetensors", "world_size": env.world_size,
        **trainer.summary(),
    }  # fmt: skip
    summary["seconds"] = time.perf_counter() - t0
    ddp.barrier(env)
    ddp.shutdown(env)
    return summary


def _strip(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors under ``prefix``, without it."""
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


class TrainProgress:
    """The trainers' progress bar: step M/N, loss, samples/s and the time left (or nothing)."""

    def __init__(self, enabled: bool, label: str, start: int, stop: int) -> None:
        self.bar: Progress | None = None
        if enabled:
            self.bar = Progress(
                TextColumn(label),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4f}  {task.fields[sps]:.1f} samples/s"),
                TimeRemainingColumn(),
            )
            self.bar.start()
            self.task = self.bar.add_task(
                label, total=stop, completed=start, loss=float("nan"), sps=0.0
            )

    def update(self, step: int, loss: float, samples_per_s: float) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=step, loss=loss, sps=samples_per_s)

    def above(self, log: Log) -> Log:
        """``log`` while the bar is live: through the bar's console, so each line is printed
        above the bar instead of being drawn into it by a second console."""
        if self.bar is None:
            return log
        console = self.bar.console
        return lambda msg: console.print(msg, highlight=False, soft_wrap=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
