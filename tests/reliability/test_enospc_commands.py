"""A full disk in each command that writes results: caption (cache and outputs), both trainers
(checkpoints and logs), evaluate (results files) and the leaderboard (tables and charts). Each
stops with a UirbenchError naming the file (the CLI prints it without a traceback), the previous
good files are intact (byte for byte, or the checkpoint still verifies), no temporary is left,
and a rerun with space finishes.

The disk is simulated at the write() call (``full_disk`` in conftest.py): a write past the free
space writes what fits, then raises ENOSPC, so half-written files are exercised too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from uirbench.errors import UirbenchError
from uirbench.train.checkpoint import find_resume_checkpoint, load_checkpoint, previous_stem


@pytest.fixture(scope="module")
def val_root(demo_subset) -> Path:
    return demo_subset("noisy,jpeg", "val")


@pytest.fixture(scope="module")
def train_root(demo_subset) -> Path:
    return demo_subset("noisy,jpeg")


def _bytes(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _no_space(path_part: str):
    return pytest.raises(
        UirbenchError, match=rf"no space left on device while writing .*{path_part}"
    )


# --- caption ------------------------------------------------------------------------------------


def test_caption_on_a_full_disk(tmp_path, val_root, full_disk, cli):
    from uirbench.caption import build_captioner, caption_root
    from uirbench.caption.cache import read_cache

    reference, root = tmp_path / "reference", tmp_path / "root"
    shutil.copytree(val_root, reference)
    shutil.copytree(val_root, root)
    captioner = build_captioner("sidecar")
    caption_root(reference, captioner, csv_paths="relative", progress=False)
    before = _bytes(root)

    # 1. the cache: room for the first batch's two lines, the next batch's are torn
    (part,) = (reference / ".uirbench" / "captions").glob("*.jsonl")
    two_lines = sum(len(line) for line in part.read_bytes().splitlines(keepends=True)[:2])
    captioner.batch_size = 2
    with full_disk(root / ".uirbench", free=two_lines + 20), _no_space(r"part-00000\.jsonl"):
        caption_root(root, captioner, csv_paths="relative", progress=False)
    cached = read_cache(root, captioner.fingerprint)
    assert len(cached) == 2  # the complete batch is kept; the torn line is skipped
    assert {k: v for k, v in _bytes(root).items() if "captions/" not in k} == before

    # 2. the outputs (every caption cached first): the index and CSV fit, the shard does not
    caption_root(root, captioner, write=False, progress=False)
    sizes = _bytes(reference)
    free = len(sizes["index.parquet"]) + len(sizes["daclip_val.csv"]) + 1000
    with full_disk(root, free=free), _no_space(r"shards/val-000000\.tar"):
        caption_root(root, captioner, csv_paths="relative", progress=False)
    now = _bytes(root)
    assert now["shards/val-000000.tar"] == before["shards/val-000000.tar"]  # the old shard
    assert now["index.parquet"] == sizes["index.parquet"]  # each file old or new, never torn
    assert not cli.temporaries(root)

    # 3. with space again: the same outputs as a run that never ran out
    caption_root(root, captioner, csv_paths="relative", progress=False)
    assert {k: v for k, v in _bytes(root).items() if "captions/" not in k} == {
        k: v for k, v in sizes.items() if "captions/" not in k
    }


# --- trainers -----------------------------------------------------------------------------------


def _restore_recipe(tmp: Path, root: Path) -> Path:
    recipe = {
        "model": "nafnet", "model_config": "nafnet_tiny", "output": str(tmp / "run"),
        "data": {"root": str(root), "tasks": "noisy,jpeg", "patch_size": 32, "cache_images": True},
        "train": {"iterations": 4, "batch_size": 4, "seed": 0, "amp": "off", "device": "cpu",
                  "threads": 1, "progress": False},
        "optim": {"lr": 1.0e-3, "eta_min": 1.0e-5},
        "ema": {"beta": 0.9, "every": 2, "after": 2},
        "val": {"every": 1000, "per_task": 1, "size": 32},
        "log": {"every": 1}, "checkpoint": {"every": 2},
    }  # fmt: skip
    tmp.mkdir(parents=True)
    (tmp / "recipe.yaml").write_text(yaml.safe_dump(recipe))
    return tmp / "recipe.yaml"


@pytest.mark.parametrize("fails", ["tensors", "json"])
def test_train_restore_checkpoint_on_a_full_disk(tmp_path, train_root, full_disk, cli, fails):
    from uirbench.train.restore import load_restore_recipe, train

    quiet = {"log": lambda m: None}
    reference = _restore_recipe(tmp_path / "reference", train_root)
    train(load_restore_recipe(reference), **quiet)
    recipe = _restore_recipe(tmp_path / "full", train_root)
    train(load_restore_recipe(recipe, ["train.stop_at=2"]), **quiet)
    ckpts = tmp_path / "full" / "run" / "checkpoints"
    stem = ckpts / "last"
    size = (ckpts / "last.safetensors").stat().st_size
    # the step-4 checkpoint: no room for its tensors, or room for them but not for the JSON
    free = 0 if fails == "tensors" else size + 10
    with (
        full_disk(ckpts, free=free),
        _no_space(r"last\.safetensors" if fails == "tensors" else r"last\.json"),
    ):
        train(load_restore_recipe(recipe), **quiet)
    found = find_resume_checkpoint(stem)  # verified: tensors and JSON belong together
    assert load_checkpoint(found)[1]["step"] == 2
    assert found == (stem if fails == "tensors" else previous_stem(stem))
    assert not cli.temporaries(ckpts)
    # with space again the run finishes as if nothing had happened
    train(load_restore_recipe(recipe), **quiet)
    a, _ = load_checkpoint(tmp_path / "reference" / "run" / "checkpoints" / "last")
    b, meta = load_checkpoint(stem)
    assert meta["step"] == 4 and a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert sorted(p.name for p in ckpts.iterdir()) == ["last.json", "last.safetensors"]


MICRO_DACLIP = {
    "embed_dim": 32,
    "init_logit_scale": 4.6,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def test_train_daclip_checkpoint_and_log_on_a_full_disk(tmp_path, train_root, full_disk, cli):
    from uirbench.train import daclip as td

    config = tmp_path / "micro.json"
    config.write_text(json.dumps(MICRO_DACLIP))
    recipe = Path(__file__).parents[2] / "uirbench" / "recipes" / "daclip_tiny.yaml"
    run = tmp_path / "run"

    def go(*extra: str) -> dict:
        overrides = [
            f"root={train_root}", f"model_config={config}", f"output={run}", "batch_size=16",
            "epochs=2", "warmup_steps=2", "val_split=null", "progress=false", "log.every=1",
            "threads=1", *extra,
        ]  # fmt: skip
        return td.train(td.load_daclip_recipe(recipe, overrides), log=lambda m: None)

    first = go("stop_at=2")["step"]
    stem = run / "checkpoints" / "last"
    # the log: its next append finds no space
    with full_disk(run, free=0) as disk, _no_space(r"metrics\.jsonl"):
        go()
    assert disk["refused"] == 1
    # the epoch-end checkpoint: no room for its tensors
    logged = (run / "metrics.jsonl").read_bytes()
    with full_disk(run / "checkpoints", free=0), _no_space(r"last\.safetensors"):
        go()
    assert load_checkpoint(find_resume_checkpoint(stem))[1]["step"] == first
    assert not cli.temporaries(run)
    assert (run / "metrics.jsonl").read_bytes().startswith(logged)
    assert go()["step"] > first


# --- evaluate and the leaderboard ----------------------------------------------------------------


def test_evaluate_results_on_a_full_disk_keep_all_four_previous_files(
    tmp_path, val_root, full_disk, cli
):
    from uirbench.evaluate.runner import run

    out = tmp_path / "results"
    kw = {"root": val_root, "model": "identity", "out": out, "metrics": "psnr", "workers": 0}
    run(**kw, tasks="noisy")
    before = _bytes(out)
    assert set(before) == {"per_image.csv", "per_task.csv", "per_task.md", "results.json"}
    # a second evaluation (other tasks): room for its per-image CSV only (no resume journal, so
    # the result files are the only writes)
    room = len(before["per_image.csv"]) * 2 + 10
    with full_disk(out, free=room), _no_space(r"per_task\.csv"):
        run(**kw, tasks="noisy,jpeg", resume=False)
    assert _bytes(out) == before  # not one new file next to three old ones
    assert not cli.temporaries(out)
    # with the resume journal, no room at all: the journal is named, the results kept
    with full_disk(out, free=0), _no_space(r"\.evaluate-journal\.jsonl"):
        run(**kw, tasks="noisy,jpeg")
    after = _bytes(out)
    after.pop(".evaluate-journal.jsonl", None)  # what it kept is the resume state
    assert after == before
    assert not cli.temporaries(out)


def test_leaderboard_export_and_plot_on_a_full_disk(tmp_path, val_root, full_disk):
    from uirbench.evaluate.runner import run
    from uirbench.report.leaderboard import export, plot

    res = tmp_path / "res"
    run(root=val_root, model="identity", out=res, metrics="psnr,ssim", workers=0)
    out = tmp_path / "board"
    export([res / "results.json"], out, fmt="md")
    plot([res / "results.json"], out)
    before = _bytes(out)
    assert {"leaderboard_psnr.md", "radar_psnr.png", "radar_psnr.svg"} <= set(before)
    # (a demo-root result beside the paper's rows needs allow_mixed: it is flagged there)
    with full_disk(out, free=0), _no_space(r"leaderboard_psnr\.md"):
        export([res / "results.json"], out, fmt="md", include_paper=True, allow_mixed=True)
    with full_disk(out, free=2000), _no_space(r"radar_psnr\.png"):  # part of a chart fits
        plot([res / "results.json"], out, include_paper=True, allow_mixed=True)
    assert _bytes(out) == before
    assert not [p for p in out.iterdir() if p.name.startswith(".uirbench-tmp-")]


def test_classify_tables_on_a_full_disk_keep_both_previous_files(tmp_path, full_disk):
    import pandas as pd

    from uirbench.evaluate.classify import row_columns, to_markdown, write_outputs

    def table(name: str, value: float) -> pd.DataFrame:
        return pd.DataFrame([{c: value for c in row_columns()} | {"model": name}])

    out = tmp_path / "classify"
    write_outputs(table("a", 50.0), out, "first")
    before = _bytes(out)
    assert set(before) == {"classify.csv", "classify.md"}
    caption = "second, with a longer caption than the first one had"
    room = len(to_markdown(table("b", 75.0), caption).encode()) + 10  # the new table fits, not both
    with full_disk(out, free=room), _no_space(r"classify\.csv"):
        write_outputs(table("b", 75.0), out, caption)
    assert _bytes(out) == before  # not a new Markdown table beside the old CSV
    assert not [p for p in out.iterdir() if p.name.startswith(".uirbench-tmp-")]
