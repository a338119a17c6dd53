"""`uirbench evaluate`: pairing a folder of outputs with GT, model runs, result files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from uirbench.data.index import to_table, write_index
from uirbench.data.layout import pair_relpaths, sample_key
from uirbench.errors import UirbenchError
from uirbench.evaluate import run
from uirbench.evaluate.profiles import get_profile
from uirbench.evaluate.runner import score_pair
from uirbench.io import read_image, sha256_file, write_png
from uirbench.tasks import get_task

SIZES = {"noisy": [(40, 56), (40, 56), (48, 36)], "jpeg": [(32, 44), (32, 44)]}


def make_root(root: Path) -> Path:
    """A tiny val root: noisy (3 pairs, two sizes) and jpeg (2 pairs); stems differ per task."""
    rng = np.random.default_rng(1)
    rows = []
    for task_id, sizes in SIZES.items():
        task = get_task(task_id)
        for i, (h, w) in enumerate(sizes):
            stem = f"{task_id[:2]}{i:02d}"
            gt = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            lq = np.clip(gt.astype(int) + rng.integers(-40, 41, gt.shape), 0, 255).astype(np.uint8)
            lq_rel, gt_rel = pair_relpaths("val", task, stem)
            write_png(root / lq_rel, lq)
            write_png(root / gt_rel, gt)
            rows.append(
                {
                    "key": sample_key("val", task, stem),
                    "split": "val",
                    "task": task.id,
                    "stem": stem,
                    "lq_path": lq_rel,
                    "gt_path": gt_rel,
                    "source": "test",
                    "source_image": "",
                    "synth": "test",
                    "params": "{}",
                    "seed": i,
                    "lq_sha256": sha256_file(root / lq_rel),
                    "gt_sha256": sha256_file(root / gt_rel),
                    "width": w,
                    "height": h,
                    "caption": None,
                }
            )
    write_index(root, to_table(rows))
    return root


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    return make_root(tmp_path / "root")


def copy_lq_as_outputs(root: Path, dest: Path, flat: bool = False) -> Path:
    idx = pd.read_parquet(root / "index.parquet")
    for r in idx.itertuples():
        target = dest / (f"{r.stem}.png" if flat else f"{r.task}/{r.stem}.png")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / r.lq_path, target)
    return dest


def test_outputs_missing_and_extra_are_listed_by_name(root, tmp_path):
    outs = copy_lq_as_outputs(root, tmp_path / "outs")
    (outs / "noisy" / "no01.png").unlink()
    shutil.copy(outs / "noisy" / "no00.png", outs / "noisy" / "stray.png")
    with pytest.raises(UirbenchError) as e:
        run(root=root, outputs=outs, out=tmp_path / "res", metrics="psnr,ssim")
    msg = str(e.value)
    assert "missing" in msg and "noisy/no01.png" in msg
    assert "extra" in msg and "stray.png" in msg
    assert not (tmp_path / "res" / "results.json").exists()


def test_cli_outputs_mismatch_exits_2_listing_both(root, tmp_path):
    outs = copy_lq_as_outputs(root, tmp_path / "outs", flat=True)
    (outs / "jp01.png").unlink()
    shutil.copy(outs / "jp00.png", outs / "unknown.png")
    cmd = [
        sys.executable,
        "-m",
        "uirbench",
        "evaluate",
        "--root",
        str(root),
        "--outputs",
        str(outs),
        "--out",
        str(tmp_path / "res"),
        "--metrics",
        "psnr",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "jp01.png" in r.stderr and "unknown.png" in r.stderr
    assert "Traceback" not in r.stderr


def test_size_mismatch_is_an_error(root, tmp_path):
    outs = copy_lq_as_outputs(root, tmp_path / "outs")
    write_png(outs / "jpeg" / "jp00.png", np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(UirbenchError, match=r"jpeg/jp00.png: 10x10, GT 44x32"):
        run(root=root, outputs=outs, out=tmp_path / "res", metrics="psnr")


def test_outputs_scores_equal_per_pair_scores_and_tables(root, tmp_path):
    outs = copy_lq_as_outputs(root, tmp_path / "outs")
    res = run(root=root, outputs=outs, out=tmp_path / "res", metrics="psnr,ssim", workers=0)
    prof = get_profile("daclip")
    idx = pd.read_parquet(root / "index.parquet")
    want = {}
    for r in idx.itertuples():
        s = score_pair(read_image(root / r.lq_path), read_image(root / r.gt_path), prof)
        want.setdefault(r.task, []).append(s)
    per_task = res["per_task"]
    for task, scores in want.items():
        assert per_task[task]["n"] == len(scores)
        assert per_task[task]["psnr"] == pytest.approx(np.mean([s["psnr"] for s in scores]))
    macro = np.mean([np.mean([s["ssim"] for s in v]) for v in want.values()])
    micro = np.mean([s["ssim"] for v in want.values() for s in v])
    assert per_task["Average (macro)"]["ssim"] == pytest.approx(macro)
    assert per_task["Average (micro)"]["ssim"] == pytest.approx(micro)
    assert macro != pytest.approx(micro)  # the fixture's unequal task sizes tell them apart
    j = json.loads((tmp_path / "res" / "results.json").read_text())
    assert j["dataset"]["index_sha256"] == sha256_file(root / "index.parquet")
    assert j["profile"]["crop_border"] == 4 and j["versions"]["numpy"]
    assert len(pd.read_csv(tmp_path / "res" / "per_image.csv")) == 5
    md = (tmp_path / "res" / "per_task.md").read_text()
    assert "Average (macro)" in md and "Average (micro)" in md and "`daclip`" in md


def test_identity_model_equals_lq_folder_and_saves_images(root, tmp_path):
    outs = copy_lq_as_outputs(root, tmp_path / "outs", flat=True)
    a = run(root=root, outputs=outs, out=tmp_path / "a", metrics="psnr,ssim", workers=0)
    b = run(
        root=root,
        model="identity",
        out=tmp_path / "b",
        metrics="psnr,ssim",
        workers=2,
        batch_size=2,
        save_images=True,
    )
    for task in ("noisy", "jpeg", "Average (macro)"):
        assert a["per_task"][task]["psnr"] == pytest.approx(b["per_task"][task]["psnr"], abs=1e-12)
        assert a["per_task"][task]["ssim"] == pytest.approx(b["per_task"][task]["ssim"], abs=1e-12)
    saved = read_image(tmp_path / "b" / "images" / "noisy" / "no02.png")
    assert np.array_equal(saved, read_image(root / "val/noisy/LQ/no02.png"))
    assert b["source"]["model"] == "identity"
    assert b["seed"] == 0 and "seed" not in a
    assert b["warnings"] == []  # identity needs no weights


def test_tasks_filter_and_unknown_metric(root, tmp_path):
    outs = copy_lq_as_outputs(root, tmp_path / "outs")
    res = run(root=root, outputs=outs, out=tmp_path / "r", metrics="psnr", tasks="jpeg")
    assert set(res["per_task"]) == {"jpeg", "Average (macro)", "Average (micro)"}
    with pytest.raises(UirbenchError, match="unknown metric 'nosuchmetric'"):
        run(root=root, outputs=outs, out=tmp_path / "r2", metrics="psnr,nosuchmetric")


def test_tiny_image_and_checkpoint_path_errors_are_clear(tmp_path):
    root = tmp_path / "root"
    make_root(root)
    outs = copy_lq_as_outputs(root, tmp_path / "outs")
    with pytest.raises(UirbenchError, match=r"--model .* is a file: .*--weights"):
        run(root=root, model=str(root / "index.parquet"), out=tmp_path / "r")
    # Shrink one pair below the SSIM window (11 px + 2 x 4 px crop): the error names the pair.
    idx = pd.read_parquet(root / "index.parquet")
    small = np.zeros((12, 12, 3), np.uint8)
    write_png(root / "val/jpeg-compressed/GT/jp00.png", small)
    write_png(outs / "jpeg" / "jp00.png", small)
    idx.loc[idx["stem"] == "jp00", ["width", "height"]] = (12, 12)
    # recorded in the index, as a build of it would (evaluate refuses a GT the index does not match)
    idx.loc[idx["stem"] == "jp00", "gt_sha256"] = sha256_file(
        root / "val/jpeg-compressed/GT/jp00.png"
    )
    write_index(root, idx)
    with pytest.raises(UirbenchError, match=r"val/jpeg/jp00: ssim: image \(4, 4\) is smaller"):
        run(root=root, outputs=outs, out=tmp_path / "r", metrics="psnr,ssim", workers=0)


def test_model_without_weights_is_flagged(root, tmp_path):
    from uirbench.models.registry import BUILDERS, Restorer

    BUILDERS["_half"] = lambda weights=None, device="cpu", **_: Restorer("_half", lambda x: x / 2)
    try:
        res = run(root=root, model="_half", out=tmp_path / "r", metrics="psnr", tasks="jpeg")
    finally:
        del BUILDERS["_half"]
    assert any("not results" in w for w in res["warnings"])
    assert res["random_init"] is True and res["source"]["random_init"] is True


def test_random_init_is_recorded_and_flagged_in_leaderboards(root, tmp_path):
    from uirbench.models.registry import BUILDERS, Restorer
    from uirbench.report.leaderboard import export

    def build(weights=None, device="cpu", random_init=False, **_):
        return Restorer("_rand", lambda x: x / 2, random_init=random_init)

    BUILDERS["_rand"] = build
    try:
        kw = {"root": root, "model": "_rand", "metrics": "psnr", "tasks": "jpeg"}
        flagged = run(out=tmp_path / "r", random_init=True, name="_rand untrained", **kw)
        trained = run(out=tmp_path / "w", weights=str(root / "index.parquet"), **kw)
    finally:
        del BUILDERS["_rand"]
    assert flagged["random_init"] is True and trained["random_init"] is False
    saved = json.loads((tmp_path / "r" / "results.json").read_text())
    assert saved["random_init"] is True
    (md,) = export([tmp_path / "r", tmp_path / "w"], tmp_path / "lb", fmt="md", metrics="psnr")
    lines = md.read_text().splitlines()
    rows = [line for line in lines if line.startswith("| _rand")]
    assert len(rows) == 2
    assert ["\u2020" in line for line in rows] == ["untrained" in line for line in rows]  # dagger
    assert "- _rand untrained: random-init model (no trained weights)" in lines


def test_pointing_outputs_at_a_dataset_split_gives_a_hint(root, tmp_path):
    with pytest.raises(UirbenchError, match="restored images themselves"):
        run(root=root, outputs=root / "val", out=tmp_path / "r", metrics="psnr")


def test_progress_shows_images_and_sampling_passes(root, tmp_path, capsys):
    from types import SimpleNamespace

    from uirbench.models.registry import BUILDERS, Restorer

    class _Sampler(Restorer):  # a stand-in diffusion model: T network passes per batch
        def __init__(self) -> None:
            super().__init__("_sampler", self._steps)
            self.sde, self.on_pass = SimpleNamespace(T=7), None
            self.weights_sha256 = "0" * 64

        def _steps(self, x):
            for _ in range(self.sde.T):
                if self.on_pass is not None:
                    self.on_pass()
            return x

    BUILDERS["_sampler"] = lambda weights=None, device="cpu", **_: _Sampler()
    try:
        run(root=root, model="_sampler", weights="w", out=tmp_path / "r", metrics="psnr",
            tasks="jpeg", batch_size=1, workers=0, progress=True)  # fmt: skip
    finally:
        del BUILDERS["_sampler"]
    err = capsys.readouterr().err
    assert "scoring images" in err and "2/2" in err  # the jpeg task's two images
    assert "network passes (7 steps x tiles)" in err and "7/?" in err  # the last batch's passes


class _KeyedNoise:
    """A stochastic 'model': LQ/2 plus noise drawn from (seed, key), as IR-SDE draws it. Counts
    the images it restores and can die (KeyboardInterrupt) after ``die_after`` of them."""

    def __init__(self, seed: int = 0, die_after: int | None = None) -> None:
        self.seed, self.die_after, self.keys = seed, die_after, []

    def __call__(self, weights=None, device="cpu", seed=0, **_):
        from uirbench.models.registry import Restorer

        def restore(lq, keys=None):
            from uirbench.models.irsde.sde import draw_noise, image_generators

            if self.die_after is not None and len(self.keys) + len(keys) > self.die_after:
                raise KeyboardInterrupt
            self.keys += list(keys)
            return (lq / 2 + 0.05 * draw_noise(lq, image_generators(seed, keys))).clamp(0, 1)

        r = Restorer("_keyed", lambda x: x)
        r.restore = restore
        return r


def _run_keyed(root, out, maker, **kw):
    from uirbench.models.registry import BUILDERS

    BUILDERS["_keyed"] = maker
    try:
        return run(root=root, model="_keyed", out=out, metrics="psnr,ssim", batch_size=1, **kw)
    finally:
        del BUILDERS["_keyed"]


def test_model_images_are_keyed_and_a_killed_run_resumes(root, tmp_path):
    """Each image reaches the model with its index key; after a kill, the rerun restores only
    the images the killed run had not scored, and the results equal an uninterrupted run's."""
    from uirbench.evaluate.journal import JOURNAL_NAME

    whole = _KeyedNoise()
    ref = _run_keyed(root, tmp_path / "ref", whole)
    idx = pd.read_parquet(root / "index.parquet")
    assert sorted(whole.keys) == sorted(idx["key"])
    assert not (tmp_path / "ref" / JOURNAL_NAME).exists()  # removed once results are written

    out = tmp_path / "r"
    with pytest.raises(KeyboardInterrupt):
        _run_keyed(root, out, _KeyedNoise(die_after=3))
    journal = (out / JOURNAL_NAME).read_text().splitlines()
    assert len(journal) == 3  # one line per scored image, written before the kill
    (out / JOURNAL_NAME).write_text("\n".join(journal) + '\n{"run": "cut sh')  # a torn line
    rerun = _KeyedNoise()
    logs: list[str] = []
    res = _run_keyed(root, out, rerun, log=logs.append)
    assert len(rerun.keys) == len(idx) - 3 and "resuming: 3 of 5" in logs[0]
    assert res["resumed_images"] == 3
    a = pd.read_csv(tmp_path / "ref" / "per_image.csv")
    b = pd.read_csv(out / "per_image.csv")
    pd.testing.assert_frame_equal(a, b)
    assert res["per_task"] == ref["per_task"]
    assert not (out / JOURNAL_NAME).exists()

    # another seed is another run: nothing reused; --no-resume writes no journal
    with pytest.raises(KeyboardInterrupt):
        _run_keyed(root, out, _KeyedNoise(die_after=2))
    other = _KeyedNoise()
    _run_keyed(root, out, other, seed=1)
    assert len(other.keys) == len(idx)
    fresh = _KeyedNoise(die_after=2)
    with pytest.raises(KeyboardInterrupt):
        _run_keyed(root, tmp_path / "n", fresh, resume=False)
    assert not (tmp_path / "n" / JOURNAL_NAME).exists()
