"""build-data --from: a deterministic split with a val photo for every task; evaluate pairs
outputs named after the original photo names."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from uirbench.data.build import build
from uirbench.data.plan import _split_photos
from uirbench.errors import UirbenchError
from uirbench.evaluate import run
from uirbench.io import write_png


@pytest.mark.parametrize("n", [2, 3, 7, 40])
def test_split_has_val_and_train_for_any_count_and_ignores_order(n):
    stems = [f"p{i}" for i in range(n)]
    split = _split_photos(Path("x"), stems, ["train", "val"], seed=0, val_fraction=0.2)
    n_val = sum(v == "val" for v in split.values())
    assert n_val == min(max(round(0.2 * n), 1), n - 1)  # 7 photos: 1 val (a coin flip gave 0)
    assert "train" in split.values()
    assert _split_photos(Path("x"), stems[::-1], ["train", "val"], 0, 0.2) == split
    other_seeds = [_split_photos(Path("x"), stems, ["train", "val"], s, 0.2) for s in range(1, 6)]
    assert n < 3 or any(o != split for o in other_seeds)  # the seed chooses which photos


def test_too_few_photos_fail_before_anything_is_built(tmp_path):
    photos = tmp_path / "photos"
    write_png(photos / "only.png", np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(UirbenchError, match=r"1 photo; a train and a val split need at least 2"):
        build(root=tmp_path / "root", from_dir=photos, tasks="noisy", workers=1)
    assert not (tmp_path / "root").exists() or not any((tmp_path / "root").iterdir())
    with pytest.raises(UirbenchError, match="must be above 0"):
        _split_photos(photos, ["a", "b"], ["train", "val"], 0, 0.0)


def test_outputs_named_like_the_original_photos_pair(tmp_path):
    rng = np.random.default_rng(0)
    photos = tmp_path / "photos"
    names = ["my photo.v2", "b", "c"]
    for name in names:
        write_png(photos / f"{name}.png", rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
    root = tmp_path / "root"
    build(root=root, from_dir=photos, tasks="noisy,jpeg", workers=1, val_fraction=0.99)
    idx = pd.read_parquet(root / "index.parquet")
    val = idx[idx["split"] == "val"]
    assert set(val["stem"]) == {"my-photo-v2", "b"}  # 0.99 of 3, clamped to 2: train keeps one
    outs = tmp_path / "outs"
    for r in val.itertuples():
        original = Path(r.source_image).stem  # "my photo.v2", as the method saw the file
        (outs / r.task).mkdir(parents=True, exist_ok=True)
        shutil.copy(root / r.lq_path, outs / r.task / f"{original}.png")
    res = run(root=root, outputs=outs, out=tmp_path / "r", metrics="psnr", workers=0)
    assert res["per_task"]["noisy"]["n"] == 2 and res["per_task"]["jpeg"]["n"] == 2
    # Both names for one photo is a duplicate, not a silent pick.
    shutil.copy(outs / "noisy" / "my photo.v2.png", outs / "noisy" / "my-photo-v2.png")
    with pytest.raises(UirbenchError, match="duplicates"):
        run(root=root, outputs=outs, out=tmp_path / "r2", metrics="psnr", workers=0)
    (outs / "noisy" / "my photo.v2.png").unlink()
    (outs / "noisy" / "my-photo-v2.png").unlink()
    with pytest.raises(UirbenchError, match=r"noisy/my-photo-v2\.png \(or my photo\.v2\.png\)"):
        run(root=root, outputs=outs, out=tmp_path / "r3", metrics="psnr", workers=0)
