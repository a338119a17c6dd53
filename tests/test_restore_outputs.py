"""uirbench restore: outputs cannot collide, and a bad input stops the run before any write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from uirbench.cli.app import app
from uirbench.errors import UirbenchError
from uirbench.io import read_image, write_png
from uirbench.models.registry import build_restorer
from uirbench.restore import network_passes, output_paths, restore_paths


def _img(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (16, 20, 3), dtype=np.uint8)


def test_same_name_in_two_folders_is_refused_before_writing(tmp_path: Path) -> None:
    write_png(tmp_path / "d1" / "pic.png", _img(1))
    write_png(tmp_path / "d2" / "pic.png", _img(2))
    out = tmp_path / "out"
    with pytest.raises(UirbenchError, match="would both be written to"):
        restore_paths(
            build_restorer("identity"), [tmp_path / "d1/pic.png", tmp_path / "d2/pic.png"], out
        )
    assert not out.exists()
    # the CLI says so in one line, exit 2, nothing written
    res = CliRunner().invoke(
        app, ["restore", str(tmp_path / "d1/pic.png"), str(tmp_path / "d2/pic.png"),
              "--model", "identity", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code != 0 and "would both be written" in str(res.output) + str(res.exception)
    assert not out.exists()


def test_jpg_and_png_of_one_stem_in_a_folder_collide(tmp_path: Path) -> None:
    write_png(tmp_path / "in" / "a.png", _img(1))
    (tmp_path / "in" / "a.jpg").write_bytes(b"not decoded: refused on its name first")
    with pytest.raises(UirbenchError, match="would both be written"):
        output_paths([tmp_path / "in"], tmp_path / "out")


def test_folders_keep_their_relative_structure(tmp_path: Path) -> None:
    write_png(tmp_path / "in" / "x" / "pic.png", _img(1))
    write_png(tmp_path / "in" / "y" / "pic.png", _img(2))
    outs = restore_paths(build_restorer("identity"), [tmp_path / "in"], tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in outs) == [
        "x/pic.png",
        "y/pic.png",
    ]
    assert np.array_equal(read_image(tmp_path / "out/y/pic.png"), _img(2))


def test_a_bad_fifth_file_stops_the_run_before_the_first_output(tmp_path: Path) -> None:
    for i in range(6):
        write_png(tmp_path / "in" / f"im{i}.png", _img(i))
    bad = tmp_path / "in" / "im4.png"
    bad.write_bytes(bad.read_bytes()[:60])  # truncated
    with pytest.raises(UirbenchError) as exc:
        restore_paths(build_restorer("identity"), [tmp_path / "in"], tmp_path / "out")
    assert "im4.png" in str(exc.value) and "nothing was written" in str(exc.value)
    assert not (tmp_path / "out").exists()


def test_progress_counts_every_network_pass() -> None:
    """The tile bar's total is what the restorer really runs (tiles x IR-SDE steps)."""
    import torch

    from uirbench.models.registry import build_restorer as build

    r = build("nafnet", random_init=True, config="nafnet_tiny", tile=32, overlap=8)
    calls = []
    r.on_pass = lambda: calls.append(1)
    r.restore(torch.rand(1, 3, 48, 80))
    assert len(calls) == network_passes(r, 48, 80) > 1
