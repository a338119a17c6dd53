"""Options that change a result, through the CLI end to end: each test compares the command's
output with a value computed another way (a formula here, the Python API with the option set),
so an option the CLI forgets to pass on fails."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from uirbench.cli.app import app
from uirbench.data.build import build
from uirbench.data.index import read_index
from uirbench.io import read_image, write_png
from uirbench.models.registry import build_restorer
from uirbench.restore import restore_paths

_here = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("_evalfix", _here / "test_evaluate_outputs.py")
_fix = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fix)
make_root, copy_lq_as_outputs = _fix.make_root, _fix.copy_lq_as_outputs


def _cli(*args: str) -> None:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output


def test_evaluate_limit_per_task_scores_the_first_n_pairs_per_task(tmp_path):
    root = make_root(tmp_path / "root")
    _cli("evaluate", "--root", root, "--model", "identity", "--out", tmp_path / "r",
         "--metrics", "psnr", "--limit-per-task", "2")  # fmt: skip
    idx = read_index(root).sort_values("key")
    want = sorted(k for _, g in idx.groupby("task") for k in g["key"].head(2))
    got = sorted(pd.read_csv(tmp_path / "r" / "per_image.csv")["key"])
    assert got == want and len(idx) == 5 and len(got) == 4  # noisy: 2 of 3, jpeg: 2 of 2
    assert "first 2" in json.loads((tmp_path / "r" / "results.json").read_text())["subset"]


def _y(rgb: np.ndarray) -> np.ndarray:
    """MATLAB rgb2ycbcr on uint8 (BT.601 limited range), rounded to uint8 as MATLAB returns."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    return np.floor(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255 + 0.5)


def test_evaluate_profile_y_is_psnr_on_the_rounded_y_channel(tmp_path):
    root = make_root(tmp_path / "root")
    outs = copy_lq_as_outputs(root, tmp_path / "outs")
    _cli("evaluate", "--root", root, "--outputs", outs, "--out", tmp_path / "r",
         "--profile", "y", "--metrics", "psnr")  # fmt: skip
    got = pd.read_csv(tmp_path / "r" / "per_image.csv").set_index("key")["psnr"]
    for row in read_index(root).itertuples():
        mse = np.mean(
            (_y(read_image(root / row.lq_path)) - _y(read_image(root / row.gt_path))) ** 2
        )
        want = 10 * np.log10(255**2 / mse)  # profile y: no border crop
        # float64 throughout; the only freedom is ties in the uint8 rounding (none here: the
        # coefficients make an exact .5 practically impossible), so 1e-9 dB
        assert got[row.key] == pytest.approx(want, abs=1e-9), row.key


def test_build_data_from_passes_val_fraction_and_seed(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        write_png(photos / f"ph{i}.png", rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))

    def val_stems(root: Path) -> set[str]:
        idx = read_index(root)
        return set(idx[idx.split == "val"].stem)

    for seed, frac in (("3", "0.5"), ("4", "0.5"), ("3", "0.34")):
        cli_root = tmp_path / f"cli-{seed}-{frac}"
        _cli("build-data", "--from", photos, "--root", cli_root, "--tasks", "noisy",
             "--workers", "1", "--seed", seed, "--val-fraction", frac)  # fmt: skip
        api_root = tmp_path / f"api-{seed}-{frac}"
        build(root=api_root, from_dir=photos, tasks="noisy", workers=1, seed=int(seed),
              val_fraction=float(frac))  # fmt: skip
        assert len(val_stems(cli_root)) == round(6 * float(frac))
        assert read_index(cli_root)[["key", "lq_sha256"]].equals(
            read_index(api_root)[["key", "lq_sha256"]]
        )
    assert val_stems(tmp_path / "cli-3-0.5") != val_stems(tmp_path / "cli-4-0.5")  # seed used


@pytest.fixture(scope="module")
def irsde_weights(tiny_irsde_checkpoint) -> str:
    """One torch thread: on a loaded 2-core machine two threads were 10x slower."""
    torch.set_num_threads(1)
    return tiny_irsde_checkpoint


def test_restore_passes_sampling_and_seed(tmp_path, irsde_weights):
    torch.set_num_threads(1)  # restored after the test by conftest
    src = tmp_path / "in" / "x.png"
    write_png(src, np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8))
    outs = {}
    for sampling, seed in (("posterior", "0"), ("posterior", "1"), ("sde", "1")):
        dest = tmp_path / f"{sampling}-{seed}"
        _cli("restore", src, "--model", "irsde", "--weights", irsde_weights, "--out", dest,
             "--sampling", sampling, "--seed", seed, "--device", "cpu")  # fmt: skip
        outs[sampling, seed] = read_image(dest / "x.png")
        restorer = build_restorer(
            "irsde", weights=irsde_weights, seed=int(seed), sampling_mode=sampling
        )
        (api,) = restore_paths(restorer, [src], tmp_path / f"api-{sampling}-{seed}")
        assert np.array_equal(outs[sampling, seed], read_image(api)), (sampling, seed)
    assert not np.array_equal(outs["posterior", "0"], outs["posterior", "1"])
    assert not np.array_equal(outs["posterior", "1"], outs["sde", "1"])
