"""DA-CLIP training: losses, recipe overrides, resume == uninterrupted, 2-process gloo DDP ==
1 process (same global batch), checkpoint contents, classification output."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("open_clip", reason="DA-CLIP needs the optional [train] extra")

from uirbench.errors import UirbenchError
from uirbench.train import daclip as td
from uirbench.train.checkpoint import load_checkpoint

MICRO = {
    "embed_dim": 32,
    "init_logit_scale": 4.6,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
DDP_TOL = 1e-5  # per-step loss: only the gradient summation order differs
FEATURE_TOL = 1e-4  # final embeddings (unnormalised, |x| ~ 1)


@pytest.fixture(scope="module")
def root(demo_subset):
    return demo_subset("noisy,hazy,low-light,inpainting")


@pytest.fixture(scope="module")
def micro_config(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "micro.json"
    path.write_text(json.dumps(MICRO))
    return path


def _recipe(root, config, out, *extra):
    recipe = Path(__file__).parents[1] / "uirbench" / "recipes" / "daclip_tiny.yaml"
    return td.load_daclip_recipe(
        recipe,
        [
            f"root={root}",
            f"model_config={config}",
            f"output={out}",
            "batch_size=16",
            "epochs=1",
            "warmup_steps=2",
            "val_split=null",
            "progress=false",
            "log.every=1",
            "threads=1",
            "content_weight=1.0",  # the paper's loss (the tiny recipe drops the content term)
            *extra,
        ],
    )


def _losses(out: Path) -> list[float]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [json.loads(x)["loss"] for x in lines if "loss" in json.loads(x)]


def test_official_loss_is_clip_loss_and_class_aware_differs():
    torch.manual_seed(0)
    img, txt = (torch.nn.functional.normalize(torch.randn(6, 8), dim=-1) for _ in range(2))
    scale = torch.tensor(10.0)
    logits = scale * img @ txt.t()
    labels = torch.arange(6)
    expected = (
        torch.nn.functional.cross_entropy(logits, labels)
        + torch.nn.functional.cross_entropy(logits.t(), labels)
    ) / 2
    torch.testing.assert_close(td.contrastive_loss(img, txt, scale, None), expected)
    classes = torch.tensor([0, 0, 1, 1, 2, 2])
    # all-distinct classes: class-aware equals official
    torch.testing.assert_close(
        td.contrastive_loss(img, txt, scale, torch.arange(6)), expected, atol=1e-6, rtol=0
    )
    # duplicate degradation texts: official's floor is log(2) per pair, class-aware reaches 0
    deg_txt = torch.nn.functional.normalize(torch.eye(3, 8)[classes], dim=-1)
    assert td.contrastive_loss(deg_txt, deg_txt, torch.tensor(100.0), None) > 0.69
    assert td.contrastive_loss(deg_txt, deg_txt, torch.tensor(100.0), classes) < 1e-3
    with pytest.raises(UirbenchError, match="class-aware"):
        td.daclip_loss(img, txt, img, txt, scale, classes, "nope")
    # content_weight scales the content (image-caption) term only
    full = td.daclip_loss(img, txt, txt, img, scale, classes)
    light = td.daclip_loss(img, txt, txt, img, scale, classes, content_weight=0.25)
    torch.testing.assert_close(light["contrastive"], full["contrastive"])
    torch.testing.assert_close(light["loss"], 0.25 * full["contrastive"] + full["degradation"])
    assert (
        td.daclip_loss(img, txt, txt, img, scale, classes, content_weight=0)["loss"]
        == (full["degradation"])
    )


def test_recipe_overrides_and_errors(tmp_path):
    recipe = Path(__file__).parents[1] / "uirbench" / "recipes" / "daclip_vitb32.yaml"
    cfg = td.load_daclip_recipe(recipe, ["lr=1e-4", "train.epochs=2", "betas=[0.9, 0.99]"])
    assert cfg["optim"]["lr"] == 1e-4 and cfg["train"]["epochs"] == 2
    assert cfg["optim"]["betas"] == [0.9, 0.99]
    assert cfg["train"]["batch_size"] == 3136 and cfg["clip_weights"] == "laion2b_s34b_b79k"
    with pytest.raises(UirbenchError, match="unknown recipe setting 'lrr'"):
        td.load_daclip_recipe(recipe, ["lrr=1"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim:\n  learning_rate: 1\n")
    with pytest.raises(UirbenchError, match=r"optim\.'learning_rate'"):
        td.load_daclip_recipe(bad)


@pytest.mark.slow
def test_resume_equals_uninterrupted(root, micro_config, tmp_path):
    full = td.train(_recipe(root, micro_config, tmp_path / "full"))
    assert full["step"] == 9  # 144 samples // 16
    td.train(_recipe(root, micro_config, tmp_path / "cut", "stop_at=4"))
    _, meta = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last")
    assert meta["step"] == 4
    resumed = td.train(_recipe(root, micro_config, tmp_path / "cut"))
    assert resumed["step"] == 9
    a, _ = load_checkpoint(tmp_path / "full" / "checkpoints" / "last")
    b, _ = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last")
    assert set(a) == set(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert _losses(tmp_path / "full") == _losses(tmp_path / "cut")
    # the checkpoint loads as a DA-CLIP model, and training moved the controller only
    from uirbench.models.daclip import build_daclip

    model = build_daclip(MICRO, weights=tmp_path / "full" / "checkpoints" / "last.safetensors")
    zero = model.state_dict()["visual_control.transformer.zero_modules.0.weight"]
    assert zero.abs().sum() > 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_process_gloo_equals_one_process(root, micro_config, tmp_path):
    one = tmp_path / "one"
    td.train(_recipe(root, micro_config, one, "stop_at=5"))
    script = tmp_path / "run.py"
    script.write_text(
        "import sys\nfrom uirbench.train import daclip as td\n"
        "td.train(td.load_daclip_recipe(sys.argv[1], sys.argv[2:]))\n"
    )
    recipe = Path(__file__).parents[1] / "uirbench" / "recipes" / "daclip_tiny.yaml"
    two = tmp_path / "two"
    args = [
        f"root={root}",
        f"model_config={micro_config}",
        f"output={two}",
        "batch_size=16",
        "epochs=1",
        "warmup_steps=2",
        "val_split=null",
        "progress=false",
        "log.every=1",
        "threads=1",
        "content_weight=1.0",
        "stop_at=5",
    ]
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        f"--master_port={_free_port()}",
        str(script),
        str(recipe),
        *args,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    l1, l2 = _losses(one), _losses(two)
    assert len(l1) == len(l2) == 5
    assert max(abs(a - b) for a, b in zip(l1, l2, strict=True)) < DDP_TOL
    # Compare what the models compute, not raw weights: the attention key bias has a zero true
    # gradient, so Adam turns float noise there into lr-sized steps that change no output.
    from uirbench.models.daclip import build_daclip

    image = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    feats = []
    for out in (one, two):
        model = build_daclip(MICRO, weights=out / "checkpoints" / "last.safetensors").eval()
        with torch.no_grad():
            feats.append(torch.cat(model.encode_image(image, control=True), dim=-1))
    torch.testing.assert_close(feats[0], feats[1], atol=FEATURE_TOL, rtol=0)


def test_native_crops_and_dihedral_keep_pixels_unresampled():
    img = torch.arange(3 * 40 * 48, dtype=torch.int32).view(3, 40, 48)
    g = torch.Generator().manual_seed(1)
    crop = td.random_native_crop(img, 32, g)
    assert crop.shape == (3, 32, 32)
    top, left = divmod(int(crop[0, 0, 0]), 48)
    assert torch.equal(crop, img[:, top : top + 32, left : left + 32])
    assert td.random_native_crop(img, 64, g) is img  # too small: whole image
    seen = set()
    for seed in range(40):
        out = td.random_dihedral(crop, torch.Generator().manual_seed(seed))
        assert torch.equal(out.flatten().sort().values, crop.flatten().sort().values)
        seen.add(tuple(out[0, 0, :2].tolist()) + tuple(out[0, 1, :1].tolist()))
    assert len(seen) == 8


def test_native_mode_val_accuracy_is_what_classify_reports(root, micro_config, tmp_path):
    from uirbench.evaluate.classify import classify_split, load_model, predict_split

    with pytest.raises(UirbenchError, match=r"data\.crop_mode must be one of"):
        td.train(_recipe(root, micro_config, tmp_path / "bad", "crop_mode=tiles"))
    with pytest.raises(UirbenchError, match=r"data\.phase must be in \[0, data\.align\)"):
        td.train(_recipe(root, micro_config, tmp_path / "bad", "align=8", "phase=8"))
    out = tmp_path / "native"
    summary = td.train(
        _recipe(
            root,
            micro_config,
            out,
            "crop_mode=native",
            "flips=true",
            "patches=2",
            "grid=3",
            "align=8",
            "phase=4",
            "val_split=val",
        )
    )
    model = load_model(summary["checkpoint"])
    # the view comes from the checkpoint's recipe: its grid, on its training offsets
    assert model.uirbench_eval_view == {"grid": 3, "align": 8, "phase": 4}
    # Oracle independent of classify/patch_grid/ShardSet: the val PNGs read from the index, the
    # 3x3 patch grid written out from the rule (offsets phase + multiples of align, spread evenly
    # from the first to the last allowed offset), the mean of the 9 patch embeddings per image.
    pred, truth = _predict_by_hand(model, root, grid=3, align=8, phase=4)
    table = classify_split(model, root, "val")
    predicted, _, _ = predict_split(model, root, "val", batch_size=5)
    assert predicted.tolist() == pred  # sample by sample, in index (= shard) order
    assert sum(p == t for p, t in zip(pred, truth, strict=True)) / len(pred) == pytest.approx(
        summary["val_accuracy"],
        abs=0,  # a ratio of two small integers: exact
    )
    assert int(table["correct"].sum()) == sum(p == t for p, t in zip(pred, truth, strict=True))


def _predict_by_hand(model, root, grid: int, align: int, phase: int):
    """Per val image, in index order: (argmax class of the mean patch embedding, true class)."""
    from uirbench.data.index import read_index
    from uirbench.io import read_image
    from uirbench.models.daclip import encode_texts, preprocess
    from uirbench.tasks import TASKS, get_task

    size = MICRO["vision_cfg"]["image_size"]
    texts = encode_texts(model, [t.degradation for t in TASKS])
    idx = read_index(root)
    idx = idx[idx.split == "val"].sort_values("key")
    pred, truth = [], []
    for row in idx.itertuples():
        img = torch.from_numpy(read_image(Path(root) / row.lq_path)).permute(2, 0, 1)
        h, w = img.shape[1:]
        assert min(h, w) > size  # the demo's val images: every patch is a real crop

        def starts(n: int) -> list[int]:
            first = phase if n - size >= phase else 0
            steps = (n - size - first) // align  # allowed offsets: first + align * 0..steps
            return [first + align * round(k * steps / (grid - 1)) for k in range(grid)]

        tops, lefts = starts(h), starts(w)
        patches = torch.stack([img[:, t : t + size, x : x + size] for t in tops for x in lefts])
        with torch.no_grad():
            feats = model.encode_image(preprocess(patches, size), control=True, normalize=True)[1]
        scores = feats.float().mean(0) @ texts.t()
        pred.append(int(scores.argmax()))
        truth.append(get_task(row.task).index)
    return pred, truth


def test_pool_patches_is_the_renormalised_mean_per_sample():
    f = torch.nn.functional.normalize(torch.randn(6, 5), dim=-1)
    pooled = td.pool_patches(f, 3)
    assert pooled.shape == (2, 5)
    torch.testing.assert_close(pooled[1], torch.nn.functional.normalize(f[3:].mean(0), dim=0))
    assert td.pool_patches(f, 1) is f


def test_aligned_native_crops_start_on_the_grid():
    img = torch.arange(3 * 100 * 90, dtype=torch.int32).view(3, 100, 90)
    for seed in range(30):
        crop = td.random_native_crop(img, 32, torch.Generator().manual_seed(seed), align=8)
        top, left = divmod(int(crop[0, 0, 0]), 90)
        assert top % 8 == 0 and left % 8 == 0 and top + 32 <= 100 and left + 32 <= 90
    offsets = set()
    for seed in range(30):  # phase 4: a JPEG block edge crosses every 8 px patch's middle
        g = torch.Generator().manual_seed(seed)
        crop = td.random_native_crop(img, 32, g, align=8, phase=4)
        top, left = divmod(int(crop[0, 0, 0]), 90)
        assert top % 8 == 4 and left % 8 == 4 and top + 32 <= 100 and left + 32 <= 90
        offsets.add((top, left))
    assert len(offsets) > 10  # still random
    # an image with no room for the phase: phase 0 (the only crop there is)
    assert td.native_offsets(img[:, :34, :34], 32, g, align=8, phase=4) == (0, 0)


def test_evidence_crops_show_the_degradation():
    gt = torch.zeros(3, 128, 128, dtype=torch.uint8)
    lq = gt.clone()
    lq[:, 64:, 64:] = 200  # the only degraded part: a quarter of the image

    def shows(crop):
        return float((crop > 0).any(0).float().mean()) >= 0.1

    picked = plain = 0
    for seed in range(20):
        crop = td.evidence_crop(lq, gt, 32, torch.Generator().manual_seed(seed), 1, 0.1)
        picked += shows(crop)
        plain += shows(td.random_native_crop(lq, 32, torch.Generator().manual_seed(seed)))
    assert picked >= 16 and plain <= 10  # one random crop shows it ~30% of the time
    # no draw qualifies: the draw with the most evidence, still a crop of the LQ
    crop = td.evidence_crop(lq, gt, 32, torch.Generator().manual_seed(0), 1, 1.1)
    assert crop.shape == (3, 32, 32) and shows(crop)


def test_channel_shuffle_permutes_the_channels_of_the_same_crop(root):
    """data.channel_shuffle: same crop as without it, its RGB channels in a seeded order."""
    import copy

    cfg = copy.deepcopy(td.DEFAULTS)
    cfg["data"].update(crop_mode="native")
    data = td.read_split(root, "train", {})
    source = td.ImageSource(data.shards, cache=True)
    plan = [(epoch, list(range(8))) for epoch in range(4)]
    plain = td.BatchMaker(source, plan, cfg, 32)
    cfg["data"]["channel_shuffle"] = True
    shuffled = td.BatchMaker(source, plan, cfg, 32)
    from uirbench.models.daclip import CLIP_MEAN, CLIP_STD

    mean, std = torch.tensor(CLIP_MEAN).view(3, 1, 1), torch.tensor(CLIP_STD).view(3, 1, 1)
    orders = set()
    for k in range(len(plan)):
        a, b = plain[k] * std + mean, shuffled[k] * std + mean  # back to [0, 1] pixels
        for x, y in zip(a, b, strict=True):
            order = [
                next(c for c in range(3) if torch.allclose(y[i], x[c], atol=1e-5)) for i in range(3)
            ]
            assert sorted(order) == [0, 1, 2]
            orders.add(tuple(order))
    assert len(orders) > 1


def _micro_step(model, with_content: bool) -> dict[str, torch.Tensor]:
    """One training loss backward on the micro model; the gradients by parameter name."""
    torch.manual_seed(1)
    images = torch.randn(4, 3, 32, 32)
    text = torch.nn.functional.normalize(torch.randn(4, 32), dim=-1)
    model.zero_grad(set_to_none=True)
    res = model(images, content=with_content)
    scale = res["logit_scale"]
    loss = td.daclip_loss(None, None, res["image_degra_features"], text.flip(0), scale,
                          torch.arange(4), content_weight=0.0)["loss"]  # fmt: skip
    if with_content:  # what training computed before: the content term with weight 0
        loss = 0.0 * td.contrastive_loss(res["image_features"], text, scale, None) + loss
    loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_without_content_loss_the_gradients_are_bit_identical_and_zero_layers_get_zero():
    """The trainer skips the content encoder when content_weight is 0 (twice as fast); this is
    only allowed because every gradient is then exactly what the full computation gives."""
    from uirbench.models.daclip import build_daclip

    torch.manual_seed(0)
    model = build_daclip(MICRO)
    model.lock_clip()
    with torch.no_grad():  # make the zero layers non-zero, so the content path is really used
        for p in model.visual_control.transformer.zero_modules.parameters():
            p.normal_(0, 0.1)
    full = _micro_step(model, with_content=True)
    skip = _micro_step(model, with_content=False)
    zero = {n for n in full if ".zero_modules." in n}
    assert zero and all(not full[n].any() for n in zero)
    assert set(skip) == set(full) - zero
    assert all(torch.equal(skip[n], full[n]) for n in skip)
    # the loss itself: no content features needed, none reported
    res = model(torch.randn(2, 3, 32, 32), content=False)
    assert res["image_features"] is None
    out = td.daclip_loss(None, None, res["image_degra_features"], res["image_degra_features"],
                         res["logit_scale"], torch.arange(2), content_weight=0.0)  # fmt: skip
    assert set(out) == {"degradation", "loss"}
    with pytest.raises(ValueError, match="content features"):
        td.daclip_loss(None, None, res["image_degra_features"], res["image_degra_features"],
                       res["logit_scale"], torch.arange(2), content_weight=0.5)  # fmt: skip


def test_optimizer_state_saved_with_trainable_zero_layers_resumes_without_them():
    """Runs saved before the zero layers were frozen (content_weight 0) still resume: their
    optimizer state is re-indexed by parameter name, every other moment kept exactly."""
    from uirbench.models.daclip import build_daclip

    torch.manual_seed(0)
    model = build_daclip(MICRO)
    model.lock_clip()
    cfg = {"optim": {"lr": 1e-3, "betas": [0.9, 0.98], "eps": 1e-6, "weight_decay": 0.05,
                     "fused": False}}  # fmt: skip
    old = td.make_optimizer(model, cfg, torch.device("cpu"))  # zero layers trainable
    _micro_step(model, with_content=True)
    old.step()
    names = [n for g in td._group_names(model) for n in g]
    old_state = old.state_dict()
    model.visual_control.transformer.zero_modules.requires_grad_(False)
    new = td.make_optimizer(model, cfg, torch.device("cpu"))
    new.load_state_dict(td._without_zero_modules(old_state, model))
    params = dict(model.named_parameters())
    new_names = [n for g in td._group_names(model) for n in g]
    assert len(new_names) < len(names) and not any(".zero_modules." in n for n in new_names)
    by_param = {p: s for p, s in old.state.items()}
    for n in new_names:
        for key, value in new.state[params[n]].items():
            assert torch.equal(value, by_param[params[n]][key]), (n, key)
