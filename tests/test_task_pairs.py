"""Task files whose pairs come from an upstream paired layout (``pairs: {lq: DIR, gt: DIR}``):
copied into the root like the presets' upstream pairs, byte-identical twice, verified; every
mismatch found before any work, naming the task file's line."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from typer.testing import CliRunner

from uirbench.cli.app import app
from uirbench.data.build import build
from uirbench.data.index import read_index
from uirbench.data.task_file import load_task_file, tasks_for_root
from uirbench.data.verify import verify
from uirbench.errors import UirbenchError
from uirbench.io import read_image

PAIRED = """\
include_builtin: false
tasks:
  - id: real-noise
    text: noisy
    pairs: {lq: upstream/LQ, gt: upstream/GT}
"""


def _layout(base: Path, n: int = 6) -> Path:
    """An upstream layout: GT PNGs (RGB, one greyscale), LQ JPEGs of the same names, one pair in
    a sub-folder."""
    rng = np.random.default_rng(0)
    photos = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea()]
    for i in range(n):
        img = photos[i % 3][20 * i : 20 * i + 48, 30 * i : 30 * i + 56]
        sub = "set2/" if i == n - 1 else ""
        gt_path = base / "upstream" / "GT" / f"{sub}img{i}.png"
        lq_path = base / "upstream" / "LQ" / f"{sub}img{i}.jpg"
        gt_path.parent.mkdir(parents=True, exist_ok=True)
        lq_path.parent.mkdir(parents=True, exist_ok=True)
        gt = img if i != 1 else img.mean(axis=2).astype(np.uint8)  # a greyscale GT
        noisy = np.clip(img + rng.normal(0, 25, img.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(gt_path), gt[..., ::-1] if gt.ndim == 3 else gt)
        cv2.imwrite(str(lq_path), noisy[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 80])
    return base


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = _layout(tmp_path_factory.mktemp("pairs"))
    (base / "tasks.yaml").write_text(PAIRED)
    roots = []
    for name, workers in (("a", 2), ("b", 1)):
        build(root=base / name, tasks_file=base / "tasks.yaml", val_fraction=0.34, workers=workers)
        roots.append(base / name)
    return base, roots


def test_paired_task_builds_verifies_and_is_byte_identical(built, tree_hashes):
    base, (a, b) = built
    assert verify(a) == [] and verify(b) == []
    assert tree_hashes(a) == tree_hashes(b)
    index = read_index(a)
    assert set(index["task"]) == {"real-noise"}
    assert sorted(index["stem"]) == sorted([f"img{i}" for i in range(5)] + ["set2_img5"])
    assert index["split"].value_counts().to_dict() == {"train": 4, "val": 2}
    for r in index.itertuples():
        name = r.source_image  # the GT's path below the GT folder
        src_gt = base / "upstream" / "GT" / name
        src_lq = (base / "upstream" / "LQ" / name).with_suffix(".jpg")
        # pixels as decoded from the upstream files (JPEG LQ normalised to PNG, grey GT to RGB)
        assert np.array_equal(read_image(a / r.lq_path), read_image(src_lq))
        assert np.array_equal(read_image(a / r.gt_path), read_image(src_gt))
        if name != "img1.png":  # an 8-bit RGB PNG upstream is kept byte for byte
            assert (a / r.gt_path).read_bytes() == src_gt.read_bytes()
        assert r.synth == "paired" and r.source == "pairs"


def test_root_keeps_absolute_folders(built):
    base, (a, _) = built
    task = tasks_for_root(a)[0]
    assert task.pairs == (("", str(base / "upstream" / "LQ"), str(base / "upstream" / "GT")),)
    assert task.degradation == "noisy" and task.synth is None
    # a rerun with the user's file (relative folders) is the same task set: verified work reused
    again = build(root=a, tasks_file=base / "tasks.yaml", val_fraction=0.34, workers=1)
    assert (again.built, again.reused) == (0, 6)


def test_per_split_folders_and_the_cli(tmp_path):
    base = _layout(tmp_path)
    (base / "t.yaml").write_text(
        "include_builtin: false\ntasks:\n  - id: real-noise\n    pairs:\n"
        "      train: {lq: upstream/LQ, gt: upstream/GT}\n"
        "      val: {lq: upstream/LQ/set2, gt: upstream/GT/set2}\n"
    )
    out = CliRunner().invoke(
        app, ["build-data", "--tasks-file", str(base / "t.yaml"), "--root", str(base / "r")]
    )
    assert out.exit_code == 0, out.output
    index = read_index(base / "r")
    assert sorted(index[index["split"] == "val"]["stem"]) == ["img5"]
    assert len(index[index["split"] == "train"]) == 6
    assert CliRunner().invoke(app, ["verify", str(base / "r")]).exit_code == 0


def test_synthesised_tasks_still_need_a_source(tmp_path):
    base = _layout(tmp_path)
    (base / "t.yaml").write_text(PAIRED.replace("include_builtin: false", "include_builtin: true"))
    with pytest.raises(UirbenchError, match=r"tasks blurry, .* give --preset or --from DIR"):
        build(root=base / "r", tasks_file=base / "t.yaml")
    build(root=base / "r", tasks_file=base / "t.yaml", tasks="real-noise", val_fraction=0.34)
    assert set(read_index(base / "r")["task"]) == {"real-noise"}


def _break(base: Path, how: str) -> None:
    if how == "unmatched":
        (base / "upstream" / "LQ" / "img3.jpg").rename(base / "upstream" / "LQ" / "img3x.jpg")
    elif how == "missing":
        for p in sorted((base / "upstream" / "GT").rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        (base / "upstream" / "GT").rmdir()
    elif how == "size":
        img = read_image(base / "upstream" / "LQ" / "img2.jpg")
        cv2.imwrite(str(base / "upstream" / "LQ" / "img2.jpg"), img[:-1, :, ::-1])


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("unmatched", r"t\.yaml:3: task 'real-noise': 2 unmatched .*LQ without GT: .*img3x\.jpg"),
        ("missing", r"t\.yaml:3: task 'real-noise': the gt folder .*upstream/GT does not exist"),
        ("size", r"t\.yaml:3: task 'real-noise': size mismatch, LQ .*img2\.jpg is 56x47 but GT"),
    ],
)
def test_layout_errors_name_the_line_before_any_work(tmp_path, how, message):
    base = _layout(tmp_path)
    (base / "t.yaml").write_text(PAIRED)
    _break(base, how)
    with pytest.raises(UirbenchError, match=message):
        build(root=base / "r", tasks_file=base / "t.yaml")
    assert not list((base / "r").rglob("*.png"))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "    synth: [{op: noise}]\n    pairs: {lq: a, gt: b}\n",
            r"t\.yaml:2: task 'x': give 'synth' .* or 'pairs'",
        ),
        ("    pairs: {lq: a}\n", r"t\.yaml:3: task 'x': pairs is \{lq: DIR, gt: DIR\}"),
        ("    pairs: [a, b]\n", r"t\.yaml:2: task 'x': pairs is"),
        ("    pairs:\n      train: {lq: a, gt: b, mask: c}\n", r"t\.yaml:4: task 'x': pairs is"),
    ],
)
def test_pairs_spec_errors(tmp_path, row, message):
    path = tmp_path / "t.yaml"
    path.write_text("tasks:\n  - id: x\n" + row)
    with pytest.raises(UirbenchError, match=message):
        load_task_file(path)


def test_paired_and_synthesised_tasks_build_together_from_one_file(tmp_path):
    base = _layout(tmp_path)
    photos = base / "photos"
    photos.mkdir()
    for i, img in enumerate((skimage.data.coffee(), skimage.data.rocket())):
        cv2.imwrite(str(photos / f"p{i}.png"), np.ascontiguousarray(img[:48, :56, ::-1]))
    (base / "t.yaml").write_text(PAIRED + "  - id: my-blur\n    synth: [{op: gaussian_blur}]\n")
    build(root=base / "r", from_dir=photos, tasks_file=base / "t.yaml", val_fraction=0.5)
    index = read_index(base / "r")
    assert index.groupby("task").size().to_dict() == {"my-blur": 2, "real-noise": 6}
    assert set(index[index.task == "my-blur"].synth) == {"chain"}
    assert set(index[index.task == "real-noise"].source) == {"pairs"}
    assert verify(base / "r") == []
