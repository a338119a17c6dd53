"""`uirbench classify`: per-task accuracy in the paper's Table 4 layout, CSV + Markdown."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("open_clip", reason="DA-CLIP needs the optional [train] extra")

from uirbench.evaluate import classify as cl
from uirbench.models.daclip import build_daclip, export_official
from uirbench.models.daclip_view import patch_grid

MICRO = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@pytest.fixture(scope="module")
def root(demo_subset):
    return demo_subset("noisy,hazy,jpeg", "val")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_daclip(MICRO, clip_weights="none").eval()


def test_per_task_accuracy_matches_predictions(root, model):
    pred, truth, keys = cl.predict_split(model, root, "val", batch_size=5)
    assert len(pred) == len(truth) == len(keys) == 24
    per_task = cl.classify_split(model, root, "val", batch_size=7)  # batching must not matter
    assert list(per_task["task"]) == ["hazy", "jpeg", "noisy"]  # paper order, present tasks only
    for row in per_task.itertuples():
        from uirbench.tasks import get_task

        mask = truth == get_task(row.task).index
        assert row.total == int(mask.sum()) == 8
        assert row.correct == int((pred[mask] == truth[mask]).sum())
        assert row.accuracy == pytest.approx(100 * row.correct / row.total)


@pytest.fixture(scope="module")
def controlled(model):
    """The micro model with its controller re-drawn at random (an untrained DA-CLIP's
    controller is a copy of CLIP plus zero layers, so its row would equal the zero-shot row by
    construction): now the zero-shot and DA-CLIP rows come from different features."""
    other = copy.deepcopy(model)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in other.visual_control.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return other.eval()


def _accuracy_by_hand(model, root, zero_shot: bool) -> dict[str, float]:
    """Per task accuracy (%) from the val PNGs of the index, each resized whole (the view of a
    model without a recipe): independent of ShardSet, predict_split and classify_split."""
    from uirbench.data.index import read_index
    from uirbench.io import read_image
    from uirbench.models.daclip import encode_texts, preprocess
    from uirbench.tasks import TASKS, get_task

    texts = encode_texts(model, [t.degradation for t in TASKS])
    idx = read_index(root)
    hits: dict[str, list[bool]] = {}
    for row in idx[idx.split == "val"].itertuples():
        img = torch.from_numpy(read_image(root / row.lq_path)).permute(2, 0, 1)[None]
        with torch.no_grad():
            x = preprocess(img, MICRO["vision_cfg"]["image_size"])
            if zero_shot:
                feats = model.encode_image(x, normalize=True)
            else:
                feats = model.encode_image(x, control=True, normalize=True)[1]
        task = get_task(row.task)
        hits.setdefault(task.id, []).append(int((feats @ texts.t()).argmax()) == task.index)
    return {t: 100 * sum(h) / len(h) for t, h in hits.items()}


def test_table_layout_and_files(root, controlled, tmp_path):
    table = cl.classification_table(controlled, root, "val", name="tiny")
    assert list(table["model"]) == ["CLIP (zero-shot)", "tiny"]
    assert list(table.columns) == cl.row_columns()
    assert table["blurry"].isna().all()  # absent task: no number
    row = table.iloc[1]
    assert row["average_macro"] == pytest.approx(row[["hazy", "jpeg", "noisy"]].mean())
    paths = cl.write_outputs(table, tmp_path, caption="demo")
    back = pd.read_csv(paths["csv"])
    assert list(back.columns) == cl.row_columns()
    md = paths["md"].read_text()
    assert "| Model | blurry | hazy |" in md and "| tiny |" in md
    assert "uncompleted" not in md and "| inpainting |" in md  # task ids, not folder names
    # each row against its own oracle (k/8 accuracies: exact), and the two rows tell apart
    zero_shot = _accuracy_by_hand(controlled, root, zero_shot=True)
    daclip = _accuracy_by_hand(controlled, root, zero_shot=False)
    assert zero_shot != daclip  # else this model could not catch the rows being swapped
    for task in ("hazy", "jpeg", "noisy"):
        assert table.iloc[0][task] == zero_shot[task]
        assert row[task] == daclip[task]


def test_cli_on_an_official_checkpoint(root, model, tmp_path):
    import json

    import typer
    from typer.testing import CliRunner

    from uirbench.cli import classify as cli

    app = typer.Typer()
    cli.register(app)
    app.command("noop")(lambda: None)  # keep `classify` a sub-command
    weights = export_official(model, tmp_path / "daclip.pt")
    config = tmp_path / "micro.json"
    config.write_text(json.dumps(MICRO))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "classify",
            "--root",
            str(root),
            "--weights",
            str(weights),
            "--config",
            str(config),
            "--out",
            str(out),
            "--device",
            "cpu",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "classify.csv").exists() and (out / "classify.md").exists()
    assert "CLIP (zero-shot)" in (out / "classify.md").read_text()


def test_patch_grid_takes_native_patches_at_even_positions():
    images = torch.arange(2 * 3 * 96 * 96, dtype=torch.float32).view(2, 3, 96, 96)
    centre = patch_grid(images, 32, 1)
    assert centre.shape == (2, 3, 32, 32)
    assert torch.equal(centre[1], images[1, :, 32:64, 32:64])
    grid = patch_grid(images, 32, 3)
    assert grid.shape == (18, 3, 32, 32)
    # image-major, then row-major positions 0, 32, 64: no resampling anywhere
    assert torch.equal(grid[9 + 0], images[1, :, :32, :32])
    assert torch.equal(grid[9 + 5], images[1, :, 32:64, 64:96])
    assert torch.equal(grid[9 + 8], images[1, :, 64:, 64:])
    small = torch.zeros(1, 3, 32, 32)
    assert patch_grid(small, 32, 2).shape == (4, 3, 32, 32)


def test_patch_grid_keeps_the_training_offsets():
    # a 100 px image, 32 px patches at 4 + multiples of 8 (as training's align 8, phase 4)
    images = torch.arange(3 * 100 * 100, dtype=torch.float32).view(1, 3, 100, 100)
    grid = patch_grid(images, 32, 3, align=8, phase=4)
    starts = [divmod(int(p[0, 0, 0]), 100) for p in grid]
    assert sorted({t for t, _ in starts}) == [4, 36, 68]  # last start 4 + 8 * 8: patch fits
    assert all(t % 8 == 4 and s % 8 == 4 for t, s in starts)
    assert patch_grid(images, 32, 1, align=8, phase=4)[0, 0, 0, 0] == 36 * 100 + 36


def test_grid_view_averages_patch_embeddings(root, model):
    from uirbench.data.shardset import ShardSet
    from uirbench.io import decode_image
    from uirbench.models.daclip import encode_texts, preprocess
    from uirbench.tasks import TASKS

    pred, _, _ = cl.predict_split(model, root, "val", grid=2, batch_size=5)
    shards = ShardSet(root, "val")
    img = torch.from_numpy(decode_image(shards.read(0, "lq.png"))).permute(2, 0, 1)[None]
    shards.close()
    h = img.shape[-1]
    corners = [img[..., t : t + 32, s : s + 32] for t in (0, h - 32) for s in (0, h - 32)]
    with torch.no_grad():
        feats = model.encode_image(preprocess(torch.cat(corners), 32), control=True)[1]
        feats = torch.nn.functional.normalize(feats, dim=-1).mean(0)
        texts = encode_texts(model, [t.degradation for t in TASKS])
    assert int((feats @ texts.t()).argmax()) == int(pred[0])
    # the view is the model's own unless given: a plain model resizes the whole image
    assert torch.equal(
        cl.predict_split(model, root, "val")[0], cl.predict_split(model, root, "val", grid=0)[0]
    )


@pytest.fixture(scope="module")
def mixed_root(tmp_path_factory):
    """A val split of portrait and landscape photos (sizes not multiples of 8)."""
    import cv2
    import skimage.data

    from uirbench.data.build import build

    base = tmp_path_factory.mktemp("mixed")
    photos = base / "photos"
    photos.mkdir()
    for i, name in enumerate(["astronaut", "coffee", "chelsea", "rocket"]):
        img = getattr(skimage.data, name)()
        img = img[:61, :45] if i % 2 else img[:45, :61]  # portrait, landscape
        cv2.imwrite(str(photos / f"{name}.png"), np.ascontiguousarray(img[:, :, ::-1]))
    build(root=base / "root", from_dir=photos, tasks="noisy,jpeg", workers=1, val_fraction=1.0)
    return base / "root"


@pytest.mark.parametrize("grid", [0, 2])
def test_mixed_sizes_at_any_batch_size_equal_batch_size_one(mixed_root, model, grid):
    from uirbench.data.shardset import ShardSet
    from uirbench.io import decode_image

    shards = ShardSet(mixed_root, "val")
    shapes = {decode_image(shards.read(i, "lq.png")).shape for i in range(len(shards))}
    shards.close()
    assert {(45, 61, 3), (61, 45, 3)} <= shapes
    one, truth1, keys1 = cl.predict_logits(model, mixed_root, "val", batch_size=1, grid=grid)
    many, truth, keys = cl.predict_logits(model, mixed_root, "val", batch_size=64, grid=grid)
    assert keys == keys1 and torch.equal(truth, truth1)
    torch.testing.assert_close(many, one, rtol=0, atol=1e-5)
    assert torch.equal(many.argmax(1), one.argmax(1))
    a = cl.classify_split(model, mixed_root, "val", batch_size=3, grid=grid)
    b = cl.classify_split(model, mixed_root, "val", batch_size=1, grid=grid)
    pd.testing.assert_frame_equal(a, b)


def test_no_weights_at_all_needs_random_init():
    from uirbench.errors import UirbenchError

    with pytest.raises(UirbenchError, match=r"--weights .* --random-init"):
        cl.load_model(None, MICRO, clip_weights="none")
    with pytest.raises(UirbenchError, match=r"--weights .* --random-init"):
        cl.load_model(None, "daclip_tiny")  # its config names no CLIP weights
    assert cl.load_model(None, MICRO, random_init=True).random_init


def _lq_folder(root, dest, by_task: bool):
    """The val LQ images of ``root`` copied out of the root: ``dest/<task folder>/<stem>.png``,
    or flat ``dest/<task>-<stem>.png``; returns {relative file name: index key}."""
    import shutil

    from uirbench.data.index import read_index
    from uirbench.tasks import get_task

    idx = read_index(root)
    names = {}
    for row in idx[idx.split == "val"].itertuples():
        name = (
            f"{get_task(row.task).folder}/{row.stem}.png"
            if by_task
            else f"{row.task}-{row.stem}.png"
        )
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / row.lq_path, dest / name)
        names[name] = row.key
    return names


def test_folder_by_task_gives_the_root_split_table(root, controlled, tmp_path):
    names = _lq_folder(root, tmp_path / "by_task", by_task=True)
    table, predictions = cl.folder_tables(controlled, tmp_path / "by_task", name="tiny")
    pd.testing.assert_frame_equal(
        table, cl.classification_table(controlled, root, "val", name="tiny")
    )
    pred, _, keys = cl.predict_split(controlled, root, "val")
    by_key = dict(zip(keys, pred.tolist(), strict=True))
    from uirbench.tasks import task_ids

    assert len(predictions) == 24
    for r in predictions.itertuples():  # per image: the same class as on the root
        assert r.predicted == task_ids()[by_key[names[r.file]]]
        assert r.task == names[r.file].split("/")[1]


def test_unlabelled_folder_and_a_task_file_of_two_classes(root, model, tmp_path):
    import json

    import typer
    from typer.testing import CliRunner

    from uirbench.cli import classify as cli

    _lq_folder(root, tmp_path / "flat", by_task=False)
    table, predictions = cl.folder_tables(model, tmp_path / "flat")
    assert table is None and len(predictions) == 24 and set(predictions.task) == {""}
    (tmp_path / "t.yaml").write_text(
        "include_builtin: false\ntasks:\n"
        "  - {id: foggy, text: hazy, synth: [{op: haze}]}\n"
        "  - {id: grainy, text: noisy, synth: [{op: noise}]}\n"
    )
    app = typer.Typer()
    cli.register(app)
    app.command("noop")(lambda: None)  # keep `classify` a sub-command
    weights = export_official(model, tmp_path / "daclip.pt")
    config = tmp_path / "micro.json"
    config.write_text(json.dumps(MICRO))
    common = ["--weights", str(weights), "--config", str(config), "--device", "cpu"]
    out = tmp_path / "out"
    args = ["classify", "--folder", str(tmp_path / "flat"), "--out", str(out), *common]
    result = CliRunner().invoke(app, [*args, "--tasks-file", str(tmp_path / "t.yaml")])
    assert result.exit_code == 0, result.output
    two = pd.read_csv(out / "predictions.csv")
    assert len(two) == 24 and set(two.predicted) <= {"foggy", "grainy"}
    assert not (out / "classify.csv").exists()  # no labels, no accuracy table
    both = CliRunner().invoke(app, [*args, "--root", str(root)])
    assert both.exit_code != 0 and "exactly one of --root" in str(both.exception or both.output)
