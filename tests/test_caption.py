"""uirbench caption: text rules, sidecar, the runner (cache, resume, outputs) and the BLIP paths."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from uirbench.caption import build_captioner, caption_root, clean_caption, make_title, split_title
from uirbench.caption.cache import cache_dir, read_cache
from uirbench.caption.runner import distinct_items, rank_share
from uirbench.data.build import build
from uirbench.data.captions_csv import read_caption_csv
from uirbench.data.index import read_index, to_table, write_index
from uirbench.data.layout import pair_relpaths, sample_key
from uirbench.errors import UirbenchError
from uirbench.io import sha256_file, write_png
from uirbench.tasks import get_task

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("skimage:astronaut", "skimage:coffee", "sklearn:china")


def make_root(root: Path, side: int = 40) -> Path:
    """A tiny built root: 3 source photos x {train, val} x tasks noisy, jpeg (shared GT), hazy."""
    rng = np.random.default_rng(0)
    rows = []
    for split in ("train", "val"):
        for n, source in enumerate(SOURCES):
            stem = f"{source.split(':')[1]}-c{0 if split == 'train' else 1}"
            yy, xx = np.mgrid[0:side, 0:side]
            gt = np.stack(
                [
                    (xx * (n + 1) * 5) % 256,
                    (yy * 7 + n * 80) % 256,
                    rng.integers(0, 256, (side, side)),
                ],
                -1,
            )
            gt = gt.astype(np.uint8)
            for task_id in ("noisy", "jpeg", "hazy"):
                task = get_task(task_id)
                lq_rel, gt_rel = pair_relpaths(split, task, stem)
                lq = np.clip(gt.astype(int) + rng.integers(-20, 20, gt.shape), 0, 255).astype(
                    np.uint8
                )
                write_png(root / gt_rel, gt)
                write_png(root / lq_rel, lq)
                rows.append(
                    dict(
                        key=sample_key(split, task, stem),
                        split=split,
                        task=task.id,
                        stem=stem,
                        lq_path=lq_rel,
                        gt_path=gt_rel,
                        source="demo",
                        source_image=source,
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


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_root(tmp_path / "root")


@pytest.fixture(scope="module")
def tiny_blip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers", reason="BLIP needs the optional [caption] extra")
    from uirbench.caption.random_blip import make_random_blip

    return make_random_blip(tmp_path_factory.mktemp("blip") / "tiny-blip", size="tiny")


def check_outputs(root: Path) -> pd.DataFrame:
    """Index, CSVs (read the official way) and shards (if the writer exists) must all agree."""
    index = read_index(root)
    assert index["caption"].notna().all() and (index["caption"].str.len() > 0).all()
    # Same GT bytes -> same caption, whatever the task.
    assert (index.groupby("gt_sha256")["caption"].nunique() == 1).all()
    for split in ("train", "val"):
        rows = index[index["split"] == split]
        csv = read_caption_csv(root / f"daclip_{split}.csv")
        assert list(csv.columns[:2]) == ["filepath", "title"]
        assert len(csv) == len(rows)
        by_lq = {
            str((root / p).resolve()): r
            for p, r in zip(rows["lq_path"], rows.itertuples(), strict=True)
        }
        for fp, cap, deg in zip(csv["filepath"], csv["caption"], csv["degradation"], strict=True):
            r = by_lq[fp]
            assert Path(fp).is_file()
            assert cap == r.caption
            assert deg == get_task(r.task).degradation
        # Official order: tasks in paper order.
        tasks = [get_task(Path(fp).parts[-3]).index for fp in csv["filepath"]]
        assert tasks == sorted(tasks)
    try:
        import webdataset as wds

        import uirbench.data.shards  # noqa: F401
    except ImportError:
        return index
    want = dict(zip(index["key"], index["caption"], strict=True))
    seen = {}
    for tar in sorted((root / "shards").glob("*.tar")):
        for sample in wds.WebDataset(str(tar), shardshuffle=False):
            seen[sample["__key__"]] = sample["txt"].decode()
    assert seen == want
    return index


# --- caption text -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, stored",
    [
        ("a cat sitting on a couch", "a cat sitting on a couch"),
        ("  a sign that says: stop \t here\n", "a sign that says - stop here"),
        ("warning:  keep out: now", "warning - keep out - now"),
        ("a clock showing 10:30", "a clock showing 10:30"),
        ("a list:", "a list"),
        ("a:\tb", "a - b"),
    ],
)
def test_clean_caption_keeps_the_official_split_unambiguous(raw: str, stored: str) -> None:
    assert clean_caption(raw) == stored
    title = make_title(raw, "jpeg-compressed")
    assert title.split(": ") == [stored, "jpeg-compressed"]  # what the official trainer does
    assert split_title(title) == (stored, "jpeg-compressed")


def test_empty_caption_is_refused() -> None:
    with pytest.raises(ValueError, match="empty caption"):
        make_title(" : ", "noisy")


# --- work split and dedup ---------------------------------------------------------------------


def test_distinct_items_dedup_shared_gt(root: Path) -> None:
    index = read_index(root)
    items = distinct_items(index)
    assert len(items) == index["gt_sha256"].nunique() == 6  # 3 sources x 2 splits
    assert len(index) == 18


@pytest.mark.parametrize("n, world", [(0, 3), (1, 2), (7, 3), (10, 4), (5, 8)])
def test_rank_share_no_overlap_no_gap(n: int, world: int) -> None:
    from uirbench.caption.base import Item

    items = [Item(gt_sha256=f"{i:064x}", gt_path=f"g/{i}.png") for i in range(n)]
    shares = [rank_share(items, r, world) for r in range(world)]
    flat = [it.gt_sha256 for s in shares for it in s]
    assert sorted(flat) == sorted(it.gt_sha256 for it in items)
    assert len(flat) == len(set(flat))


# --- sidecar ----------------------------------------------------------------------------------


def test_sidecar_fills_every_caption_and_outputs_agree(root: Path, tmp_path: Path) -> None:
    side = tmp_path / "captions.csv"
    side.write_text(
        "key,caption\n"
        "skimage:astronaut,a woman in a space suit\n"
        "skimage:coffee,a cup of coffee: on a saucer\n"  # ': ' must not break the parser
        "sklearn:china,a chinese temple\n"
        "china-c1.png,a temple behind trees\n"  # a per-file line beats its source line
    )
    result = caption_root(root, build_captioner("sidecar", sidecar=side), progress=False)
    assert (result.distinct, result.captioned, result.cache_hits) == (6, 6, 0)
    index = check_outputs(root)
    caps = dict(zip(index["gt_path"], index["caption"], strict=True))
    assert caps["val/hazy/GT/china-c1.png"] == "a temple behind trees"
    assert caps["train/noisy/GT/china-c0.png"] == "a chinese temple"
    assert caps["val/jpeg-compressed/GT/coffee-c1.png"] == "a cup of coffee - on a saucer"
    # A rerun does no repeated work.
    again = caption_root(root, build_captioner("sidecar", sidecar=side), progress=False)
    assert (again.captioned, again.cache_hits) == (0, 6)


def test_sidecar_json_forms_and_relative_csv_paths(root: Path, tmp_path: Path) -> None:
    side = tmp_path / "c.json"
    side.write_text(json.dumps({s: f"photo {n}" for n, s in enumerate(SOURCES)}))
    caption_root(
        root, build_captioner("sidecar", sidecar=side), csv_paths="relative", progress=False
    )
    csv = pd.read_csv(root / "daclip_val.csv", sep="\t")
    assert all((root / p).is_file() and not Path(p).is_absolute() for p in csv["filepath"])
    side2 = tmp_path / "c2.json"
    side2.write_text(json.dumps([{"key": s, "caption": "x"} for s in SOURCES]))
    assert build_captioner("sidecar", sidecar=side2).table == dict.fromkeys(SOURCES, "x")


def test_sidecar_missing_key_names_the_file(root: Path, tmp_path: Path) -> None:
    side = tmp_path / "partial.csv"
    side.write_text("key,caption\nskimage:astronaut,an astronaut\n")
    with pytest.raises(UirbenchError, match=r"no caption for GT .*(china|coffee)"):
        caption_root(root, build_captioner("sidecar", sidecar=side), progress=False)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,text\na,b\n")
    with pytest.raises(UirbenchError, match="'key' and 'caption'"):
        build_captioner("sidecar", sidecar=bad)


def test_demo_captions_cover_every_demo_source() -> None:
    from uirbench.caption.backends.sidecar import demo_captions, load_sidecar

    table = load_sidecar(demo_captions())
    want = {f"skimage:{n}" for n in ("astronaut", "coffee", "rocket", "hubble_deep_field")}
    want |= {"skimage:retina", "skimage:chelsea", "sklearn:china", "sklearn:flower"}
    assert want <= set(table)
    for key, cap in table.items():
        assert cap == clean_caption(cap) and 3 <= len(cap.split()) <= 20, key


def test_dry_run_writes_only_the_cache(root: Path, tmp_path: Path) -> None:
    side = tmp_path / "c.json"
    side.write_text(json.dumps(dict.fromkeys(SOURCES, "a photo")))
    result = caption_root(root, build_captioner("sidecar", sidecar=side), limit=2, progress=False)
    assert (result.distinct, result.captioned, result.written) == (2, 2, [])
    assert read_index(root)["caption"].isna().all()
    assert not (root / "daclip_train.csv").exists()


def test_changed_gt_is_an_error(root: Path, tmp_path: Path) -> None:
    side = tmp_path / "c.json"
    side.write_text(json.dumps(dict.fromkeys(SOURCES, "a photo")))
    index = read_index(root)
    write_png(root / index["gt_path"].iloc[0], np.zeros((8, 8, 3), np.uint8))
    # The sidecar reads no pixels, but a pixel backend must refuse stale bytes.
    from uirbench.caption.runner import _load

    item = distinct_items(index)[0]
    with pytest.raises(UirbenchError, match="changed since the index was built"):
        _load(root, item)


# --- transformers backend ---------------------------------------------------------------------


class Interrupt(Exception):
    pass


def test_transformers_tiny_blip_end_to_end_with_resume(root: Path, tiny_blip: Path) -> None:
    captioner = build_captioner("transformers", model=str(tiny_blip), device="cpu", batch_size=2)
    assert captioner.fingerprint.startswith("transformers:local:")

    def stop_after_first_batch(done: int) -> None:
        if done >= 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        caption_root(root, captioner, progress=False, on_batch=stop_after_first_batch)
    assert len(read_cache(root, captioner.fingerprint)) == 2
    assert read_index(root)["caption"].isna().all()

    result = caption_root(root, captioner, progress=False)
    assert (result.cache_hits, result.captioned) == (2, 4)
    index = check_outputs(root)
    # Captions land on the right images: each equals the model's caption of that GT alone.
    from uirbench.io import read_image

    for item in distinct_items(index):
        alone = captioner.caption([item], [read_image(root / item.gt_path)])[0]
        assert result.captions[item.gt_sha256] == clean_caption(alone)
    assert len(set(result.captions.values())) > 1  # the random model's text depends on pixels


def test_missing_local_model_folder_is_clear(tmp_path: Path) -> None:
    pytest.importorskip("transformers", reason="BLIP needs the optional [caption] extra")
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    with pytest.raises(UirbenchError, match="not a loadable BLIP folder"):
        build_captioner("transformers", model=str(empty), device="cpu")


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "uirbench", "caption", *args],
        env={**os.environ, "COLUMNS": "1000", **env},  # no wrapping inside paths
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_default_model_id_resolves_offline_from_hf_cache(
    root: Path, tiny_blip: Path, tmp_path: Path
) -> None:
    """Tiny weights placed under Salesforce/blip-image-captioning-large in a prepared cache."""
    model_id = "Salesforce/blip-image-captioning-large"
    hf_home = tmp_path / "hf"
    repo = hf_home / "hub" / ("models--" + model_id.replace("/", "--"))
    rev = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(tiny_blip, repo / "snapshots" / rev)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(rev)
    # No --model: the default id must resolve from this cache alone (HF_HUB_OFFLINE=1).
    env = {"HF_HOME": str(hf_home), "HF_HUB_CACHE": str(hf_home / "hub"), "HF_HUB_OFFLINE": "1"}
    proc = _cli(["--root", str(root), "--device", "cpu", "--quiet", "--batch-size", "3"], env)
    assert proc.returncode == 0, proc.stderr
    assert f"transformers:{model_id}@{rev}" in proc.stdout
    check_outputs(root)

    # Without the weights, the error names the model id and the cache path that would satisfy it.
    empty = tmp_path / "empty-hf"
    proc = _cli(
        ["--root", str(root), "--device", "cpu", "--quiet"],
        {"HF_HOME": str(empty), "HF_HUB_CACHE": str(empty / "hub"), "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 2, proc.stderr
    msg = proc.stderr
    assert (
        model_id in msg
        and str(empty / "hub" / "models--Salesforce--blip-image-captioning-large") in msg
    )
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_torchrun_two_ranks_caption_each_gt_exactly_once(root: Path, tiny_blip: Path) -> None:
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun not installed next to this python")
    proc = subprocess.run(
        [
            str(torchrun),
            "--standalone",  # a free port; --master_port 0 would hang the workers
            "--nproc_per_node",
            "2",
            "-m",
            "uirbench",
            "caption",
            "--root",
            str(root),
            "--model",
            str(tiny_blip),
            "--device",
            "cpu",
            "--batch-size",
            "2",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    parts = sorted(cache_dir(root).glob("*.jsonl"))
    assert [p.name for p in parts] == ["part-00000.jsonl", "part-00001.jsonl"]
    per_rank = [[json.loads(x)["gt_sha256"] for x in p.read_text().splitlines()] for p in parts]
    all_sha = [s for r in per_rank for s in r]
    index = read_index(root)
    assert sorted(all_sha) == sorted(index["gt_sha256"].unique())  # no gap, no overlap
    assert [len(r) for r in per_rank] == [3, 3]
    check_outputs(root)


@pytest.mark.slow
def test_demo_root_sidecar_fills_every_caption(tmp_path: Path) -> None:
    """The embedded demo's source photos all have hand-written captions; outputs agree."""
    root = tmp_path / "demo"
    build(root, preset="demo", tasks="noisy,jpeg", workers=1)
    result = caption_root(root, build_captioner("sidecar"), progress=False)
    index = check_outputs(root)
    assert result.captioned == index["gt_sha256"].nunique() < len(index)  # shared GTs: once each
    from uirbench.caption.backends.sidecar import demo_captions, load_sidecar

    table = load_sidecar(demo_captions())
    assert all(index["caption"] == [table[s] for s in index["source_image"]])


def test_cache_survives_a_torn_line(tmp_path: Path) -> None:
    from uirbench.caption.cache import CacheWriter

    with CacheWriter(tmp_path, "fp", rank=0) as w:
        w.add({"a" * 64: "first"})
    part = cache_dir(tmp_path) / "part-00000.jsonl"
    with open(part, "a") as f:
        f.write('{"fingerprint": "fp", "gt_sha')  # a crash mid-line
    with CacheWriter(tmp_path, "fp", rank=0) as w:
        w.add({"b" * 64: "second"})
    with CacheWriter(tmp_path, "other", rank=1) as w:
        w.add({"a" * 64: "other model"})
    assert read_cache(tmp_path, "fp") == {"a" * 64: "first", "b" * 64: "second"}
    assert read_cache(tmp_path, "other") == {"a" * 64: "other model"}


def test_device_resolution() -> None:
    from uirbench.caption.backends.transformers_blip import resolve_device

    assert resolve_device("cpu") == "cpu"
    if torch.cuda.is_available():
        assert resolve_device("auto").startswith("cuda:")
    else:
        assert resolve_device("auto") == "cpu"
        with pytest.raises(UirbenchError, match="no CUDA device"):
            resolve_device("cuda")
