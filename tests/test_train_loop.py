"""The one training loop (uirbench/train/loop.py): its periods, resume == uninterrupted and EMA
on a toy trainer; both real trainers run through it and keep none of its parts; the recipes'
one vocabulary, old keys read with a one-line warning."""

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path

import pytest
import torch
import yaml

from uirbench.errors import UirbenchError
from uirbench.train import loop
from uirbench.train.checkpoint import load_checkpoint
from uirbench.train.ema import EMA

REPO = Path(__file__).parents[1]
TRAIN = REPO / "uirbench" / "train"


class Toy(loop.Trainer):
    """Fits y = 3x with one linear layer; batches drawn from the step's own generator."""

    label = "toy"

    def __init__(self, cfg: dict, log=lambda m: None, ema: bool = False) -> None:
        super().__init__(cfg, log)
        self.use_ema, self.validated, self.began = ema, [], None

    def build(self, env) -> None:
        self.model = torch.nn.Linear(4, 1)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.cfg["optim"]["lr"])
        self.total = self.cfg["train"]["iterations"]
        self.unit_steps = self.cfg["unit_steps"]
        if self.use_ema:
            self.ema = EMA(self.model, beta=0.9, every=1, after=1)

    def load_state(self, tensors, meta, source) -> None:
        self.model.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("toy.")})

    def state(self, step):
        return {f"toy.{k}": v for k, v in self.model.state_dict().items()}, {"kind": "toy"}

    def begin(self, start, stop):
        self.began = (start, stop)
        return {"step": start, "began": True}

    def batches(self, start, stop):
        for step in range(start, stop):
            x = torch.randn(8, 4, generator=torch.Generator().manual_seed(step))
            yield x, 3 * x.sum(1, keepdim=True)

    def loss(self, step, batch):
        x, y = batch
        with self.autocast():
            loss = torch.nn.functional.mse_loss(self.net(x), y)
        return loss, {"loss": float(loss.detach())}

    def log_record(self, step, lr, seconds, interval):
        return {"step": step, "lr": lr, "n": len(interval), "loss": interval[-1]["loss"]}

    def validate(self, step):
        self.validated.append(step)
        return {"step": step, "val": True}


def _cfg(out: Path, **train) -> dict:
    return {
        "output": str(out),
        "unit_steps": 1,
        "train": {"iterations": 10, "batch_size": 8, "seed": 0, "threads": 0, "device": "cpu",
                  "amp": "off", "resume": "auto", "stop_at": None, "progress": False, **train},
        "optim": {"lr": 0.05, "warmup_steps": 2, "eta_min": 0.001},
        "log": {"every": 3},
        "val": {"every": 4},
        "checkpoint": {"every": 5},
    }  # fmt: skip


def _tensors(out: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(out / "checkpoints" / "last")[0]


def _log(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]


def test_periods_lr_and_summary(tmp_path: Path) -> None:
    toy = Toy(_cfg(tmp_path))
    summary = loop.run(toy)
    assert summary["step"] == 10 and summary["world_size"] == 1
    assert toy.validated == [4, 8, 10]  # every val.every steps and at the end of the schedule
    records = _log(tmp_path)
    assert records[0] == {"step": 0, "began": True}
    logged = [r for r in records if "lr" in r]
    assert [r["step"] for r in logged] == [3, 6, 9, 10]
    assert [r["n"] for r in logged] == [3, 3, 3, 1]  # the steps since the last record
    from uirbench.train.schedule import cosine_lr

    assert logged[0]["lr"] == cosine_lr(2, 0.05, 10, warmup=2, eta_min=0.001)
    _, meta = load_checkpoint(tmp_path / "checkpoints" / "last")
    assert meta["step"] == 10 and meta["kind"] == "toy" and meta["global_batch"] == 8


def test_checkpoint_every_counts_the_trainers_unit(tmp_path: Path) -> None:
    """unit_steps 2 (an 'epoch' of two steps): val.every 4 and checkpoint.every 5 count units;
    stop_at ends the run with a checkpoint but without validation (the schedule goes on)."""
    cfg = _cfg(tmp_path, stop_at=7)
    cfg["unit_steps"] = 2
    toy = Toy(cfg)
    assert loop.run(toy)["step"] == 7
    assert toy.validated == []  # 8 steps per val: none before the stop
    assert load_checkpoint(tmp_path / "checkpoints" / "last")[1]["step"] == 7


@pytest.mark.parametrize("ema", [False, True])
def test_resume_equals_uninterrupted(tmp_path: Path, ema: bool) -> None:
    loop.run(Toy(_cfg(tmp_path / "a"), ema=ema))
    loop.run(Toy(_cfg(tmp_path / "b", stop_at=6), ema=ema))
    resumed = Toy(_cfg(tmp_path / "b"), ema=ema)
    assert loop.run(resumed)["step"] == 10 and resumed.began == (6, 10)
    a, b = _tensors(tmp_path / "a"), _tensors(tmp_path / "b")
    assert a.keys() == b.keys() and any(k.startswith("ema.") for k in a) == ema
    for k in a:
        assert torch.equal(a[k], b[k]), k
    if ema:  # the EMA was updated: it lags the model and has left the initial weights
        torch.manual_seed(0)
        init = torch.nn.Linear(4, 1).weight
        assert not torch.equal(a["ema.weight"], a["toy.weight"])
        assert not torch.equal(a["ema.weight"], init)
    steps = [r["step"] for r in _log(tmp_path / "b") if "lr" in r]
    assert steps == [3, 6, 9, 10]  # the cut run's records up to its checkpoint, none twice


def test_resume_refuses_another_batch_size(tmp_path: Path) -> None:
    loop.run(Toy(_cfg(tmp_path, stop_at=2)))
    with pytest.raises(UirbenchError, match="batch_size 8, not 4"):
        loop.run(Toy(_cfg(tmp_path, batch_size=4)))


def _calls(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            f = node.func
            names.add(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
    return names


def test_both_trainers_run_through_the_one_loop() -> None:
    """The trainers supply hooks; the loop's parts (optimiser step, LR, resume, checkpoint,
    log, progress, EMA update, DDP wrap) are called from loop.py only."""
    from uirbench.train.daclip import DaclipTrainer
    from uirbench.train.restore import RestoreTrainer

    assert issubclass(DaclipTrainer, loop.Trainer) and issubclass(RestoreTrainer, loop.Trainer)
    loop_parts = {"backward", "cosine_lr", "save_checkpoint", "load_checkpoint",
                  "find_resume_checkpoint", "JsonlLog", "grad_scaler", "wrap", "TrainProgress",
                  "unflatten_optimizer", "flatten_optimizer", "init_distributed"}  # fmt: skip
    assert loop_parts <= _calls(TRAIN / "loop.py")
    for name in ("daclip.py", "restore.py"):
        assert not loop_parts & _calls(TRAIN / name), name
        assert "def train(" in (TRAIN / name).read_text()
        assert "return run(" in (TRAIN / name).read_text()


# ------------------------------------------------------------------------ one vocabulary
OLD_DACLIP = """
model: daclip_tiny
data: {root: /nowhere}
train: {epochs: 3, max_steps: 5, log_every: 2, eval_every_epochs: 1, threads: null}
"""


def _renames(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "uirbench.train.recipe" and r.levelno == logging.WARNING]  # fmt: skip


def test_old_daclip_keys_load_with_a_one_line_warning(tmp_path: Path, caplog) -> None:
    pytest.importorskip("open_clip", reason="DA-CLIP needs the optional [train] extra")
    from uirbench.train.daclip import load_daclip_recipe

    old = tmp_path / "old.yaml"
    old.write_text(OLD_DACLIP)
    caplog.set_level(logging.WARNING, "uirbench")
    cfg = load_daclip_recipe(old, ["train.log_every=7"])
    messages = _renames(caplog)
    assert len(messages) == 5 and all("\n" not in m for m in messages)
    renamed = [("train.max_steps", "train.stop_at"), ("train.log_every", "log.every"),
               ("train.eval_every_epochs", "val.every"), ("model:", "model_config:")]  # fmt: skip
    for old_key, new_key in renamed:
        assert any(old_key in m and new_key in m and str(old) in m for m in messages), old_key
    assert any("override train.log_every= is now log.every=" in m for m in messages)
    assert cfg["model"] == "daclip" and cfg["model_config"] == "daclip_tiny"
    assert cfg["train"]["stop_at"] == 5 and cfg["val"]["every"] == 1
    assert cfg["log"]["every"] == 7 and "max_steps" not in cfg["train"]
    # the same settings in the new vocabulary load silently to the same recipe
    new = tmp_path / "new.yaml"
    new.write_text(yaml.safe_dump({
        "model": "daclip", "model_config": "daclip_tiny", "data": {"root": "/nowhere"},
        "train": {"epochs": 3, "stop_at": 5, "threads": None},
        "log": {"every": 2}, "val": {"every": 1},
    }))  # fmt: skip
    caplog.clear()
    assert load_daclip_recipe(new, ["log.every=7"]) == cfg
    assert _renames(caplog) == []
    load_daclip_recipe(old, ["max_steps=4"])  # a leaf name of an old key
    assert "override max_steps= is now train.stop_at=; use train.stop_at=4" in _renames(caplog)


def test_old_and_new_key_together_are_refused(tmp_path: Path) -> None:
    pytest.importorskip("open_clip", reason="DA-CLIP needs the optional [train] extra")
    from uirbench.train.daclip import load_daclip_recipe

    both = tmp_path / "both.yaml"
    both.write_text("train: {max_steps: 5, stop_at: 6}\n")
    with pytest.raises(UirbenchError, match=r"both train.max_steps .* and train.stop_at"):
        load_daclip_recipe(both)
    both.write_text("model: daclip_tiny\nmodel_config: daclip_ViT-B-32\n")
    with pytest.raises(UirbenchError, match="model_config is set too"):
        load_daclip_recipe(both)


def test_the_trainers_share_one_vocabulary(caplog) -> None:
    """Every setting the loop reads has the same key in both trainers' defaults; the length key
    (epochs: DA-CLIP's passes over the split; iterations: restoration's steps) is the one
    difference, and each packaged recipe uses the current keys only."""
    pytest.importorskip("open_clip", reason="DA-CLIP needs the optional [train] extra")
    from uirbench.train import daclip, restore

    def leaves(tree: dict, prefix: str = "") -> set[str]:
        out = set()
        for k, v in tree.items():
            out |= leaves(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k}
        return out

    shared = {"model", "model_config", "init_weights", "output", "data.root", "data.workers",
              "data.train_split", "data.val_split", "data.cache_images", "train.batch_size",
              "train.seed", "train.amp", "train.device", "train.threads", "train.resume",
              "train.stop_at", "train.progress", "train.grad_checkpointing", "train.loss",
              "optim.lr", "optim.betas", "optim.weight_decay", "optim.warmup_steps",
              "optim.eta_min", "log.every", "val.every", "checkpoint.every"}  # fmt: skip
    d, r = leaves(daclip.DEFAULTS), leaves(restore.DEFAULTS)
    assert shared <= d and shared <= r
    assert daclip.DEFAULTS["train"]["threads"] == restore.DEFAULTS["train"]["threads"] == 0
    assert "train.epochs" in d and "train.iterations" in r
    assert not set(daclip.RENAMES) & d
    caplog.set_level(logging.WARNING, "uirbench")
    for path in sorted((REPO / "uirbench" / "recipes").glob("*.yaml")):
        if path.stem.startswith("daclip"):
            daclip.load_daclip_recipe(path)
        else:
            restore.load_restore_recipe(path, ["data.root=/x"])
    assert _renames(caplog) == []  # the packaged recipes use the current keys only
