"""Both trainers SIGKILLed mid-run, then rerun: the final checkpoint is bit-identical to an
uninterrupted run's (deterministic CPU settings: one thread, fixed seeds), the logs hold each
step once, and no temporary or leftover checkpoint file remains.

Kill points: from outside once the run's JSONL log shows a step past a checkpoint (the rerun
resumes from that checkpoint and redoes the steps after it); inside the window between a
checkpoint's two renames (new tensors on disk, the JSON still the previous step's: the rerun must
detect the mismatch and resume from the kept previous pair); and (DA-CLIP) while the tensors file
is being written (the half-written temporary is removed by the next save)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from uirbench.train.checkpoint import find_resume_checkpoint, load_checkpoint, previous_stem

pytest.importorskip("open_clip", reason="DA-CLIP needs the optional [train] extra")

WINDOW = "uirbench.train.checkpoint:atomic_write_text"  # the JSON rename of a checkpoint
MICRO_DACLIP = {
    "embed_dim": 32,
    "init_logit_scale": 4.6,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def root(demo_subset) -> Path:
    return demo_subset("noisy,jpeg")


def _assert_same_checkpoint(a: Path, b: Path) -> None:
    ta, ma = load_checkpoint(a)
    tb, mb = load_checkpoint(b)
    assert ma["step"] == mb["step"]
    assert ta.keys() == tb.keys()
    for k in ta:
        assert torch.equal(ta[k], tb[k]), k


def _assert_clean(run: Path, cli) -> None:
    files = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert files == ["last.json", "last.safetensors"], files  # no .prev pair left over
    assert not cli.temporaries(run)


def _assert_window_kill_left_a_mismatch(stem: Path) -> int:
    """The pair at ``stem`` is refused and the kept previous one is found; returns its step."""
    with pytest.raises(Exception, match="does not belong to"):
        load_checkpoint(stem)
    assert find_resume_checkpoint(stem) == previous_stem(stem)
    return load_checkpoint(previous_stem(stem))[1]["step"]


def _step(stem: Path) -> int:
    """Step of the checkpoint a rerun resumes from (a kill may land mid-save)."""
    return load_checkpoint(find_resume_checkpoint(stem))[1]["step"]


def _restore_recipe(tmp: Path, root: Path, model: str, config: str) -> Path:
    recipe = {
        "model": model,
        "model_config": config,
        "output": str(tmp / "run"),
        "data": {"root": str(root), "tasks": "noisy,jpeg", "patch_size": 32,
                 "cache_images": True},
        "train": {"iterations": 8, "batch_size": 4, "seed": 0, "amp": "off", "device": "cpu",
                  "threads": 1, "progress": False},
        "optim": {"lr": 1.0e-3, "eta_min": 1.0e-5},
        "ema": {"beta": 0.9, "every": 2, "after": 2},
        "val": {"every": 1000, "per_task": 1, "size": 32},
        "log": {"every": 1},
        "checkpoint": {"every": 2},
    }  # fmt: skip
    tmp.mkdir(parents=True)
    path = tmp / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


@pytest.mark.slow
@pytest.mark.parametrize(("model", "config"), [("nafnet", "nafnet_tiny"), ("irsde", "irsde_tiny")])
def test_train_restore_sigkilled_twice_resumes_to_the_same_weights(
    tmp_path, root, cli, model, config
):
    from uirbench.train.restore import load_restore_recipe, train

    reference = _restore_recipe(tmp_path / "reference", root, model, config)
    train(load_restore_recipe(reference), log=lambda m: None)

    recipe = _restore_recipe(tmp_path / "killed", root, model, config)
    run = tmp_path / "killed" / "run"
    args = ["train", "restore", "--recipe", str(recipe)]
    # 1: from outside, once the log shows step 3 (checkpoints every 2 steps): redo from step 2+
    cli.kill_when(args, lambda: max(cli.jsonl_steps(run / "log.jsonl"), default=0) >= 3)
    first = (max(cli.jsonl_steps(run / "log.jsonl")), _step(run / "checkpoints" / "last"))
    # 2: the rerun is killed between the tensors and the JSON rename of its second checkpoint
    cli.kill_inside(args, WINDOW, "last.json", nth=2)
    kept = _assert_window_kill_left_a_mismatch(run / "checkpoints" / "last")
    print(
        f"\ntrain restore {model}: SIGKILL 1 after step {first[0]} (checkpoint {first[1]}); "
        f"SIGKILL 2 between the renames of the step-{kept + 2} checkpoint; rerun from {kept}"
    )
    out = cli.run(args)
    assert "does not belong to" in out and "last.prev" in out  # it said why it went back
    _assert_same_checkpoint(tmp_path / "reference" / "run" / "checkpoints" / "last",
                            run / "checkpoints" / "last")  # fmt: skip
    steps = [s for s in cli.jsonl_steps(run / "log.jsonl") if s]
    assert steps == sorted(steps) and len(set(steps)) == len(steps) - 1  # only 8: loss + val
    _assert_clean(run, cli)


@pytest.mark.slow
def test_train_daclip_sigkilled_three_times_resumes_to_the_same_weights(tmp_path, root, cli):
    from uirbench.train import daclip as td

    config = tmp_path / "micro.json"
    config.write_text(json.dumps(MICRO_DACLIP))
    recipe = Path(__file__).parents[2] / "uirbench" / "recipes" / "daclip_tiny.yaml"

    def overrides(out: Path) -> list[str]:
        return [
            f"root={root}", f"model_config={config}", f"output={out}", "batch_size=16", "epochs=3",
            "warmup_steps=2", "val_split=null", "progress=false", "log.every=1", "threads=1",
            "workers=0",
        ]  # fmt: skip

    reference = tmp_path / "reference"
    summary = td.train(td.load_daclip_recipe(recipe, overrides(reference)), log=lambda m: None)
    per_epoch = summary["step"] // 3
    assert per_epoch >= 2  # so a kill can land between two checkpoints

    run = tmp_path / "killed"
    args = ["train", "daclip", "--recipe", str(recipe), *overrides(run)]
    # 1: from outside, one step after the first epoch's checkpoint
    cli.kill_when(args, lambda: max(cli.jsonl_steps(run / "metrics.jsonl"), default=0) > per_epoch)
    first = (max(cli.jsonl_steps(run / "metrics.jsonl")), _step(run / "checkpoints" / "last"))
    # 2: the rerun is killed between the two renames of its next checkpoint
    cli.kill_inside(args, WINDOW, "last.json", nth=1)
    kept = _assert_window_kill_left_a_mismatch(run / "checkpoints" / "last")
    # 3: the next rerun (from the kept pair) is killed as it starts writing the tensors file
    cli.kill_inside(args, "uirbench.train.checkpoint:write_safetensors", ".uirbench-tmp-")
    assert cli.temporaries(run)  # the half-written file; the next save removes it
    assert _assert_window_kill_left_a_mismatch(run / "checkpoints" / "last") == kept
    print(
        f"\ntrain daclip: SIGKILL 1 after step {first[0]} (checkpoint {first[1]}); SIGKILL 2 "
        f"between the renames of the step-{kept + per_epoch} checkpoint; SIGKILL 3 while "
        f"writing its tensors again; rerun from {kept} to {summary['step']}"
    )
    out = cli.run(args)
    assert "does not belong to" in out and "last.prev" in out
    _assert_same_checkpoint(reference / "checkpoints" / "last", run / "checkpoints" / "last")
    steps = cli.jsonl_steps(run / "metrics.jsonl")
    assert steps == list(range(1, summary["step"] + 1))  # each step logged once, in order
    _assert_clean(run, cli)


def test_a_log_line_torn_by_a_kill_does_not_stop_the_resume(tmp_path):
    """A SIGKILL during a log append leaves half a JSON line; resuming drops it (and the
    records past the checkpoint's step) instead of failing on it."""
    from uirbench.train.log import JsonlLog as Log  # the log of both trainers

    path = tmp_path / "log.jsonl"
    records = [{"step": s, "loss": 1.0 / s} for s in (1, 2, 3)]
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"step": 4, "lo')
    log = Log(path, 2, True)
    log.write({"step": 3, "loss": 0.5})
    assert path.read_text().splitlines() == [
        *(json.dumps(r) for r in records[:2]), json.dumps({"step": 3, "loss": 0.5}),
    ]  # fmt: skip
