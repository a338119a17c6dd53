"""`uirbench train restore`: losses, even task sampling, EMA, resume == uninterrupted, and 2-process
gloo DDP == one process with the same global batch (so gradients are averaged correctly)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from uirbench.data.index import to_table, write_index
from uirbench.data.layout import pair_relpaths, sample_key
from uirbench.io import sha256_file, write_png
from uirbench.tasks import get_task
from uirbench.train.checkpoint import load_checkpoint
from uirbench.train.ema import EMA
from uirbench.train.restore import (
    DEFAULTS,
    PairSource,
    batch_plan,
    load_restore_recipe,
    train,
)

REPO = Path(__file__).resolve().parents[1]
TASKS = ("noisy", "hazy", "jpeg")


def make_root(root: Path, side: int = 40, train_per_task=(3, 1, 2)) -> Path:
    """Tiny root: unequal task sizes (3, 1, 2 train pairs) to check even task sampling."""
    rng = np.random.default_rng(0)
    rows = []
    for split in ("train", "val"):
        for task_id, n_pairs in zip(TASKS, train_per_task, strict=True):
            task = get_task(task_id)
            for i in range(n_pairs if split == "train" else 1):
                stem = f"img{i}"
                gt = rng.integers(0, 256, (side, side, 3)).astype(np.uint8)
                lq = np.clip(gt.astype(int) + rng.integers(-30, 30, gt.shape), 0, 255)
                lq_rel, gt_rel = pair_relpaths(split, task, stem)
                write_png(root / gt_rel, gt)
                write_png(root / lq_rel, lq.astype(np.uint8))
                rows.append(
                    dict(
                        key=sample_key(split, task, stem),
                        split=split,
                        task=task.id,
                        stem=stem,
                        lq_path=lq_rel,
                        gt_path=gt_rel,
                        source="test",
                        source_image="",
                        synth="test",
                        params="{}",
                        seed=0,
                        lq_sha256=sha256_file(root / lq_rel),
                        gt_sha256=sha256_file(root / gt_rel),
                        width=side,
                        height=side,
                        caption=None,
                    )
                )
    write_index(root, to_table(rows))
    return root


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return make_root(tmp_path_factory.mktemp("root"))


def _recipe(tmp: Path, root: Path, model: str, config: str, **over) -> Path:
    import yaml

    r = {
        "model": model,
        "model_config": config,
        "daclip": {"config": "daclip_tiny", "weights": None, "seed": 0}
        if "daclip" in config
        else None,
        "output": str(tmp / "run"),
        "data": {"root": str(root), "tasks": ",".join(TASKS), "patch_size": 32,
                 "cache_images": True},
        "train": {"iterations": 6, "batch_size": 4, "seed": 0, "amp": "off", "device": "cpu",
                  "threads": 1, "progress": False},
        "optim": {"lr": 1.0e-3, "eta_min": 1.0e-5},
        "ema": {"beta": 0.9, "every": 2, "after": 2},
        "val": {"every": 1000, "per_task": 1, "size": 32},
        "log": {"every": 2},
        "checkpoint": {"every": 1000},
    }  # fmt: skip
    for k, v in over.items():
        r[k] = {**r[k], **v} if isinstance(v, dict) else v
    path = tmp / f"{model}.yaml"
    tmp.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(r))
    return path


def _weights(run: Path) -> dict[str, torch.Tensor]:
    tensors, _ = load_checkpoint(run / "checkpoints" / "last")
    return {k: v for k, v in tensors.items() if k.startswith(("net.", "ema."))}


def test_tasks_are_sampled_evenly_whatever_their_sizes(root: Path) -> None:
    cfg = load_restore_recipe(_recipe(root.parent, root, "nafnet", "nafnet_tiny"))
    src = PairSource(root, "train", ",".join(TASKS), cache=False)
    counts = dict.fromkeys(TASKS, 0)
    for step in range(30):
        for spec in batch_plan(src, step, 4, cfg):
            counts[spec["task"]] += 1
    assert set(counts.values()) == {40}
    assert batch_plan(src, 7, 4, cfg) == batch_plan(src, 7, 4, cfg)


def test_ema_follows_ema_pytorch_schedule() -> None:
    net = torch.nn.Linear(1, 1, bias=False)
    ema = EMA(net, beta=0.9, every=2, after=2)
    seen = []
    for step in range(8):
        net.weight.data.fill_(float(step))
        ema.update()
        seen.append(float(ema.ema_model.weight))
    # step 0: copy (init); 1: skip; 2: copy (<= after); 3: skip; 4: lerp with decay
    # 1 - (1 + 5-2-1)**(-2/3) = 0.5193 (< beta); 6: decay 1 - 4**(-2/3) = 0.6031.
    d4 = 1 - 3 ** (-2 / 3)
    e4 = 2 * d4 + 4 * (1 - d4)
    d6 = 1 - 5 ** (-2 / 3)
    assert seen[:4] == [0.0, 0.0, 2.0, 2.0]
    assert seen[4] == pytest.approx(e4, rel=1e-6)
    assert seen[6] == pytest.approx(e4 * d6 + 6 * (1 - d6), rel=1e-6)


@pytest.mark.parametrize(
    ("model", "config"), [("irsde", "irsde_tiny"), ("nafnet-daclip", "nafnet_daclip_tiny")]
)
def test_resume_equals_uninterrupted(tmp_path: Path, root: Path, model: str, config: str) -> None:
    full = load_restore_recipe(_recipe(tmp_path / "a", root, model, config))
    summary = train(full, log=lambda m: None)
    assert summary["step"] == 6
    cut = _recipe(tmp_path / "b", root, model, config, train={"stop_at": 3})
    assert train(load_restore_recipe(cut), log=lambda m: None)["step"] == 3
    resumed = train(load_restore_recipe(cut, ["train.stop_at=null"]), log=lambda m: None)
    assert resumed["step"] == 6
    a, b = _weights(tmp_path / "a" / "run"), _weights(tmp_path / "b" / "run")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    log = (tmp_path / "b" / "run" / "log.jsonl").read_text().splitlines()
    steps = [__import__("json").loads(line).get("step") for line in log]
    assert steps == sorted(steps) and steps.count(4) == 1  # no duplicated records after resume
    # the checkpoint restores images through the registry and the CLI (config, DA-CLIP and EMA
    # weights come from the checkpoint's metadata)
    from typer.testing import CliRunner

    from uirbench.cli.app import app
    from uirbench.models.registry import build_restorer

    ckpt = tmp_path / "a" / "run" / "checkpoints" / "last.safetensors"
    r = build_restorer(model, weights=str(ckpt))
    for k, v in r.model.state_dict().items():
        assert torch.equal(v, a[f"ema.{k}"])
    lq_dir = root / "val" / get_task("noisy").folder / "LQ"
    res = CliRunner().invoke(
        app, ["restore", str(lq_dir), "--model", model, "--weights", str(ckpt),
              "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "out").glob("*.png"))) == 1
    assert ("predicted:" in res.output) == (model == "nafnet-daclip")


@pytest.mark.slow
def test_two_process_gloo_ddp_equals_one_process(tmp_path: Path, root: Path) -> None:
    """Each rank takes half of the same global batch; DDP averages the gradients, so the weights
    after training equal the one-process run's (to float rounding)."""
    single = load_restore_recipe(_recipe(tmp_path / "one", root, "irsde", "irsde_tiny"))
    single["train"]["iterations"] = 3
    train(single, log=lambda m: None)
    recipe = _recipe(tmp_path / "two", root, "irsde", "irsde_tiny", train={"iterations": 3})
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_port", str(29500 + os.getpid() % 1000), "-m", "uirbench", "train", "restore",
        "--recipe", str(recipe),
    ]  # fmt: skip
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    _, meta = load_checkpoint(tmp_path / "two" / "run" / "checkpoints" / "last")
    assert meta["world_size"] == 2
    a, b = _weights(tmp_path / "one" / "run"), _weights(tmp_path / "two" / "run")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=1e-4, atol=1e-5)
    # and it is not trivially equal to the untrained network
    tensors, _ = load_checkpoint(tmp_path / "one" / "run" / "checkpoints" / "last")
    torch.manual_seed(0)
    from uirbench.restore import build_network, load_model_config

    init = build_network(load_model_config("irsde_tiny")).state_dict()
    assert any(not torch.allclose(tensors[f"net.{k}"], v) for k, v in init.items())


def test_recipe_defaults_and_errors(tmp_path: Path, root: Path) -> None:
    from uirbench.errors import UirbenchError

    assert DEFAULTS["optim"]["betas"] == [0.9, 0.99] and DEFAULTS["ema"]["beta"] == 0.995
    paper = load_restore_recipe("irsde_daclip", [f"root={root}"])
    assert paper["train"]["batch_size"] == 16 and paper["train"]["iterations"] == 700000
    assert paper["data"]["patch_size"] == 256 and paper["optim"]["eta_min"] == 1e-6
    with pytest.raises(UirbenchError, match=r"data\.root is not set"):
        load_restore_recipe("irsde_daclip")
    with pytest.raises(UirbenchError, match="unknown recipe setting"):
        load_restore_recipe("irsde_daclip", [f"root={root}", "lr_x=1"])
    cfg = load_restore_recipe(_recipe(tmp_path, root, "ours", "irsde_daclip_tiny"))
    cfg["daclip"] = None
    with pytest.raises(UirbenchError, match="uses DA-CLIP"):
        train(cfg, log=lambda m: None)


def test_sde_x0_loss_is_minimised_by_the_true_x0_and_step_loss_is_not() -> None:
    """The claims in ``Objective``'s docstring, on the tiny T=20 SDE (residual prediction)."""
    import copy

    from uirbench.models.irsde.sde import IRSDE
    from uirbench.restore import load_model_config
    from uirbench.train.restore import Objective

    net_cfg = load_model_config("irsde_tiny")
    assert net_cfg["sde"]["T"] == 20 and net_cfg["sde"]["prediction"] == "residual"
    g = torch.Generator().manual_seed(0)
    gt, lq = torch.rand(64, 3, 16, 16, generator=g), torch.rand(64, 3, 16, 16, generator=g)

    def oracle(xt, mu, t, offset=0.0):  # the true residual x0 - mu, plus an optional error
        return gt - mu + offset

    losses = {}
    for kind in ("x0", "step"):
        cfg = copy.deepcopy(DEFAULTS)
        cfg["train"]["sde_loss"] = kind
        objective = Objective(cfg, net_cfg, torch.device("cpu"))
        losses[kind] = float(objective(oracle, lq, gt, {}, 0, slice(None), 64))
    assert losses["x0"] < 1e-6  # the true x0 is this loss's minimum (zero)
    assert losses["step"] > 1e-3  # the Euler-Maruyama vs posterior gap stays

    # Weight of an x0 error in the step loss: 1 at t=1, ~0 at t=T (so `step` barely trains there).
    sde = IRSDE.from_config(net_cfg["sde"])
    xt, d = torch.rand(1, 3, 8, 8, generator=g), 1e-2
    weights = []
    for t in (1, sde.T):
        steps = [
            sde.reverse_sde_step_mean(
                xt, lq[:1, :, :8, :8],
                sde.score_from_noise(sde.noise_from_output(r, xt, lq[:1, :, :8, :8], t), t), t,
            )
            for r in (gt[:1, :, :8, :8], gt[:1, :, :8, :8] + d)
        ]  # fmt: skip
        weights.append(float((steps[1] - steps[0]).abs().mean()) / d)
    assert abs(weights[0] - 1.0) < 1e-3 and weights[1] < 0.01

    cfg = copy.deepcopy(DEFAULTS)
    cfg["train"]["sde_loss"] = "x_0"
    from uirbench.errors import UirbenchError

    with pytest.raises(UirbenchError, match=r"train\.sde_loss"):
        Objective(cfg, net_cfg, torch.device("cpu"))


def test_a_moved_runs_folder_evaluates_with_its_recorded_daclip(tmp_path: Path, root: Path) -> None:
    """The checkpoint records its DA-CLIP by sha256 and by a path relative to itself: moving the
    whole runs folder keeps it working; the DA-CLIP config comes from the DA-CLIP checkpoint."""
    import json
    import shutil

    from uirbench.errors import UirbenchError
    from uirbench.evaluate import run
    from uirbench.models.daclip import build_daclip, compact_state_dict, load_config
    from uirbench.train.checkpoint import save_checkpoint

    # a DA-CLIP unlike the packaged daclip_tiny (1 layer per tower): only its own config loads it
    cfg = load_config("daclip_tiny")
    cfg["vision_cfg"]["layers"] = cfg["text_cfg"]["layers"] = 1
    torch.manual_seed(5)
    dac = build_daclip(cfg, clip_weights="none")
    runs = tmp_path / "runs"
    tensors = {f"model.{k}": v for k, v in compact_state_dict(dac).items()}
    save_checkpoint(runs / "daclip" / "checkpoints" / "last", tensors, {"model_config": cfg})
    dac_path = runs / "daclip" / "checkpoints" / "last.safetensors"
    recipe = load_restore_recipe(
        _recipe(tmp_path, root, "nafnet-daclip", "nafnet_daclip_tiny", train={"iterations": 2})
    )
    recipe["output"] = str(runs / "nafnet")
    recipe["daclip"] = {"config": "daclip_tiny", "weights": str(dac_path)}  # config: ignored
    train(recipe, log=lambda m: None)
    ckpt = runs / "nafnet" / "checkpoints" / "last.safetensors"
    rec = json.loads(ckpt.with_suffix(".json").read_text())["daclip"]
    assert rec["weights_relpath"] == "../../daclip/checkpoints/last.safetensors"
    assert rec["weights_sha256"] == sha256_file(dac_path)

    kw = {"root": root, "model": "nafnet-daclip", "metrics": "psnr", "workers": 0}
    before = run(weights=str(ckpt), out=tmp_path / "r0", **kw)
    moved = tmp_path / "elsewhere" / "runs2"
    moved.parent.mkdir()
    shutil.move(str(runs), str(moved))
    new_ckpt = moved / "nafnet" / "checkpoints" / "last.safetensors"
    after = run(weights=str(new_ckpt), out=tmp_path / "r1", **kw)
    assert after["per_task"] == before["per_task"]
    assert after["source"]["info"]["daclip"]["weights"] == str(
        moved / "daclip" / "checkpoints" / "last.safetensors"
    )
    # --daclip names it explicitly (same meaning as in restore); a changed file is refused
    explicit = moved / "daclip" / "checkpoints" / "last.safetensors"
    again = run(weights=str(new_ckpt), daclip=explicit, out=tmp_path / "r2", **kw)
    assert again["per_task"] == before["per_task"]
    other = build_daclip(cfg, clip_weights="none")
    tensors = {f"model.{k}": v for k, v in compact_state_dict(other).items()}
    save_checkpoint(moved / "daclip" / "checkpoints" / "last", tensors, {"model_config": cfg})
    with pytest.raises(UirbenchError, match=r"trained with DA-CLIP .*another sha256.*--daclip"):
        run(weights=str(new_ckpt), out=tmp_path / "r3", **kw)
