"""build-data: the demo preset, determinism, resume, sharded builds, verify, real data."""

import hashlib
import json
import subprocess
import sys
import tarfile
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from uirbench.data.build import build
from uirbench.data.index import read_index
from uirbench.data.plan import plan_folder
from uirbench.data.verify import verify
from uirbench.errors import UirbenchError
from uirbench.io import TMP_PREFIX, read_image
from uirbench.tasks import TASK_IDS, get_task


def test_demo_builds_all_ten_tasks_train_and_val_in_the_official_layout(demo_root):
    idx = read_index(demo_root)
    counts = idx.groupby(["task", "split"]).size()
    for task in TASK_IDS:
        assert counts[(task, "train")] > 0 and counts[(task, "val")] > 0
    # val photos are held out of train entirely
    train_src = set(idx[idx.split == "train"].source_image)
    val_src = set(idx[idx.split == "val"].source_image)
    assert train_src and val_src and not train_src & val_src
    for row in idx.itertuples():
        folder = get_task(row.task).folder
        assert row.lq_path == f"{row.split}/{folder}/LQ/{row.stem}.png"
        assert row.gt_path == f"{row.split}/{folder}/GT/{row.stem}.png"
    assert verify(demo_root) == []
    assert not list(demo_root.rglob(f"{TMP_PREFIX}*"))
    assert not (demo_root / ".uirbench").exists()


def test_shards_hold_every_pair_with_the_documented_fields(demo_root):
    idx = read_index(demo_root).set_index("key")
    seen = {}
    for shard in sorted((demo_root / "shards").glob("*.tar")):
        with tarfile.open(shard) as tar:
            for m in tar.getmembers():
                key, _, ext = m.name.partition(".")
                seen.setdefault(key, {})[ext] = tar.extractfile(m).read()
    assert set(seen) == set(idx.index)
    key = next(iter(seen))
    fields = seen[key]
    assert set(fields) == {"lq.png", "gt.png", "deg.txt", "cls", "json"}
    row = idx.loc[key]
    task = get_task(row.task)
    assert fields["deg.txt"].decode() == task.degradation
    assert int(fields["cls"]) == task.index
    assert fields["lq.png"] == (demo_root / row.lq_path).read_bytes()
    assert json.loads(fields["json"])["lq_sha256"] == row.lq_sha256


@pytest.mark.slow
def test_two_demo_builds_are_byte_identical(demo_root, tmp_path, tree_hashes):
    other = tmp_path / "again"
    build(root=other, preset="demo", workers=1)
    assert tree_hashes(other) == tree_hashes(demo_root)


def test_seed_changes_pixels_but_not_which_samples_exist(tmp_path):
    """The seed draws crops and degradation parameters; it never changes the sample list (keys,
    tasks, source photos), so two seeds' scores compare the same images."""
    a = build(root=tmp_path / "a", preset="demo", tasks="noisy,jpeg", splits="val", seed=0)
    b = build(root=tmp_path / "b", preset="demo", tasks="noisy,jpeg", splits="val", seed=1)
    assert a.built == b.built
    ia = read_index(tmp_path / "a").set_index("key")
    ib = read_index(tmp_path / "b").set_index("key")
    assert list(ia.index) == list(ib.index)
    for col in ("split", "task", "source_image"):
        assert ia[col].tolist() == ib[col].tolist(), col
    assert (ia["lq_sha256"] != ib["lq_sha256"]).all()  # every pair was redrawn


def test_interrupted_build_resumes_to_the_same_bytes(tmp_path, tree_hashes):
    full = tmp_path / "full"
    build(root=full, preset="demo", tasks="noisy,inpainting,hazy", workers=1)

    part = tmp_path / "part"

    class Stop(Exception):
        pass

    def stop_after_20(done, total):
        if done >= 20:
            raise Stop

    with pytest.raises(Stop):
        build(
            root=part,
            preset="demo",
            tasks="noisy,inpainting,hazy",
            workers=1,
            progress=stop_after_20,
        )
    assert not (part / "index.parquet").exists()
    report = build(root=part, preset="demo", tasks="noisy,inpainting,hazy", workers=2)
    assert report.reused >= 20
    assert tree_hashes(part) == tree_hashes(full)


def test_parent_and_children_together_build_the_same_bytes(tmp_path, tree_hashes):
    """workers=3: the parent makes pairs beside two spawned children; each pair once."""
    one = tmp_path / "one"
    build(root=one, preset="demo", tasks="noisy,jpeg,snowy", workers=1)
    three = tmp_path / "three"
    seen = []
    report = build(
        root=three,
        preset="demo",
        tasks="noisy,jpeg,snowy",
        workers=3,
        progress=lambda done, total: seen.append(done),
    )
    assert report.built == sum(report.counts.values()) == seen[-1] == len(set(seen)) - 1
    assert tree_hashes(three) == tree_hashes(one)


def test_sharded_parts_then_a_final_run_equal_one_build(tmp_path, tree_hashes):
    one = tmp_path / "one"
    build(root=one, preset="demo", tasks="snowy,jpeg", workers=1)
    many = tmp_path / "many"
    for i in range(3):
        r = build(root=many, preset="demo", tasks="snowy,jpeg", shard=f"{i}/3", workers=1)
        assert r.partial and not (many / "index.parquet").exists()
    final = build(root=many, preset="demo", tasks="snowy,jpeg", workers=1)
    assert final.built == 0 and final.reused == sum(final.counts.values())
    assert tree_hashes(many) == tree_hashes(one)


def test_verify_reports_changed_missing_and_extra_files(demo_copy):
    idx = read_index(demo_copy)
    changed, missing = idx.lq_path.iloc[0], idx.gt_path.iloc[1]
    (demo_copy / changed).write_bytes(b"not the same")
    (demo_copy / missing).unlink()
    (demo_copy / "val" / "noisy" / "GT" / "stray.png").write_bytes(b"x")
    shard = sorted((demo_copy / "shards").glob("*.tar"))[0]
    shard.write_bytes(shard.read_bytes()[:-512])
    problems = verify(demo_copy)
    assert f"changed: {changed} (sha256 differs from the index)" in problems
    assert f"missing: {missing}" in problems
    assert "extra: val/noisy/GT/stray.png (not in the index)" in problems
    assert any(p.startswith(f"changed: shards/{shard.name}") for p in problems)
    # a rebuild repairs it
    build(root=demo_copy, preset="demo", workers=1)
    assert verify(demo_copy) == []


def test_from_folder_synthesises_all_ten_tasks_with_val_held_out(tmp_path):
    import cv2
    import skimage.data

    photos = tmp_path / "photos"
    (photos / "sub dir").mkdir(parents=True)
    for i, name in enumerate(["astronaut", "coffee", "chelsea", "rocket", "camera"]):
        img = getattr(skimage.data, name)()
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        folder = photos / "sub dir" if i % 2 else photos
        cv2.imwrite(str(folder / f"{name}.{'jpg' if i == 1 else 'png'}"), img[:128, :160, ::-1])
    build(root=tmp_path / "root", from_dir=photos, workers=1, val_fraction=0.4)
    idx = read_index(tmp_path / "root")
    assert set(idx.task) == set(TASK_IDS)
    assert set(idx.split) == {"train", "val"}
    assert "sub-dir_coffee" in set(idx.stem)
    per_photo = idx.groupby("stem").split.nunique()
    assert (per_photo == 1).all()  # a photo never straddles splits


def _val_stems(folder, val_fraction: float, seed: int = 0) -> set[str]:
    plan = plan_folder(folder, [get_task("noisy")], ["train", "val"], seed, val_fraction)
    return {j.stem for j in plan.jobs if j.split == "val"}


def test_val_fraction_sends_that_share_of_photos_to_val(tmp_path):
    """Planning only (no pixels are read): 400 file names, split by --val-fraction."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(400):
        (photos / f"p{i:03d}.png").touch()
    n = 400
    for frac in (0.1, 0.25, 0.5, 0.001, 0.999):
        # the documented cut: round(frac * n) photos, at least 1 and at most n - 1
        assert len(_val_stems(photos, frac)) == min(max(round(frac * n), 1), n - 1), frac
    with pytest.raises(UirbenchError, match=r"--val-fraction 0\.0: must be above 0"):
        _val_stems(photos, 0.0)
    assert len(_val_stems(photos, 1.0)) == n
    assert _val_stems(photos, 0.1) <= _val_stems(photos, 0.25) <= _val_stems(photos, 0.5)
    assert _val_stems(photos, 0.25, seed=0) != _val_stems(photos, 0.25, seed=1)


def test_bad_inputs_fail_with_clear_errors(tmp_path):
    with pytest.raises(UirbenchError, match="unknown task 'nope'"):
        build(root=tmp_path / "r", preset="demo", tasks="nope")
    with pytest.raises(UirbenchError, match="unknown split"):
        build(root=tmp_path / "r", preset="demo", splits="test")
    with pytest.raises(UirbenchError, match="exactly one of --preset"):
        build(root=tmp_path / "r")
    with pytest.raises(UirbenchError, match="--shard '3/2'"):
        build(root=tmp_path / "r", preset="demo", shard="3/2")
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n trunc")
    with pytest.raises(UirbenchError, match=r"broken\.png"):
        build(root=tmp_path / "r2", from_dir=photos, workers=1, splits="val")


def test_real_cbsd68_and_live1_val_from_the_mirror(shared_data, tmp_path):
    report = build(
        root=tmp_path / "root",
        preset="uir10",
        tasks="noisy,jpeg",
        splits="val",
        mirror=shared_data,
        raw_root=tmp_path / "raw",
        workers=2,
    )
    assert report.counts == {("noisy", "val"): 68, ("jpeg", "val"): 29}
    idx = read_index(tmp_path / "root")
    noisy = idx[idx.task == "noisy"].iloc[0]
    # CBSD68 GT PNGs are kept byte for byte
    assert (tmp_path / "root" / noisy.gt_path).read_bytes() == (
        shared_data / "CBSD68" / f"{noisy.stem}.png"
    ).read_bytes()
    lq = read_image(tmp_path / "root" / noisy.lq_path).astype(float)
    gt = read_image(tmp_path / "root" / noisy.gt_path).astype(float)
    assert 40 < (lq - gt).std() < 52
    jpeg = idx[idx.task == "jpeg"]
    assert (jpeg.params.map(json.loads).map(lambda p: p["quality"]) == 10).all()


def test_uir10_inpainting_without_celeba_says_what_to_download(shared_data, tmp_path):
    with pytest.raises(UirbenchError, match=r"(?s)CelebA.*by hand"):
        build(
            root=tmp_path / "root",
            preset="uir10",
            tasks="inpainting",
            splits="val",
            mirror=shared_data,
            raw_root=tmp_path / "raw",
        )


def test_hf_dataset_view_has_image_columns_and_index_columns(demo_root):
    from uirbench.data import load

    ds = load(str(demo_root), "val")
    assert len(ds) == int((read_index(demo_root).split == "val").sum())
    item = ds[0]
    assert item["lq"].size == (item["width"], item["height"])
    assert {"task", "stem", "lq_sha256", "caption"} <= set(ds.column_names)


def test_cli_build_and_verify(tmp_path):
    cmd = [sys.executable, "-m", "uirbench"]
    root = tmp_path / "cli"
    out = subprocess.run(
        [
            *cmd,
            "build-data",
            "--preset",
            "demo",
            "--tasks",
            "jpeg",
            "--splits",
            "val",
            "--root",
            str(root),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "jpeg" in out.stderr and "8 pairs built" in out.stderr
    ok = subprocess.run([*cmd, "verify", str(root)], capture_output=True, text=True)
    assert ok.returncode == 0
    (root / pd.read_parquet(root / "index.parquet").lq_path.iloc[0]).write_bytes(b"x")
    bad = subprocess.run([*cmd, "verify", str(root)], capture_output=True, text=True)
    assert bad.returncode == 1 and "changed:" in bad.stderr
    err = subprocess.run(
        [*cmd, "build-data", "--preset", "demo", "--tasks", "nope", "--root", str(root)],
        capture_output=True,
        text=True,
    )
    assert err.returncode == 2 and "unknown task 'nope'" in err.stderr
    assert "Traceback" not in err.stderr


def test_daclip_val_preset_copies_the_official_pairs(tmp_path):
    import zipfile

    import cv2

    rng = np.random.default_rng(0)
    zpath = tmp_path / "raw" / "daclip_val" / "daclip_val.zip"
    zpath.parent.mkdir(parents=True)
    with zipfile.ZipFile(zpath, "w") as z:
        for task in ("noisy", "inpainting"):
            folder = get_task(task).folder
            for name in ("a1", "b2"):
                img = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
                for side in ("LQ", "GT"):
                    z.writestr(f"val/{folder}/{side}/{name}.png", cv2.imencode(".png", img)[1])
    with pytest.raises(UirbenchError, match="--splits val"):
        build(root=tmp_path / "root", preset="daclip-val", raw_root=tmp_path / "raw")
    build(
        root=tmp_path / "root",
        preset="daclip-val",
        tasks="noisy,inpainting",
        splits="val",
        raw_root=tmp_path / "raw",
    )
    idx = read_index(tmp_path / "root")
    assert len(idx) == 4 and set(idx.synth) == {"paired"}
    with zipfile.ZipFile(zpath) as z:
        original = z.read("val/uncompleted/LQ/b2.png")
    row = idx[(idx.task == "inpainting") & (idx.stem == "b2")].iloc[0]
    assert (tmp_path / "root" / row.lq_path).read_bytes() == original


def test_shard_bytes_equal_tarfile_addfile_long_names_included(tmp_path):
    """shards._write_one writes the tar stream itself; it must be what tarfile writes."""
    import io

    from uirbench.data import shards

    (tmp_path / "a.png").write_bytes(b"\x89PNG" + bytes(range(256)) * 3)  # 772 bytes: padded
    (tmp_path / "b.png").write_bytes(b"x" * 1024)  # a whole number of blocks: no padding
    rows = [
        {"key": f"val/noisy/{stem}", "task": "noisy", "lq_path": "a.png", "gt_path": "b.png"}
        for stem in ("short", "s" * 150)  # a GNU long-name member too
    ]
    ours = tmp_path / "ours.tar"
    digest = shards._write_one(tmp_path, ours, rows, check=False)  # rows without hashes

    ref = io.BytesIO()
    with tarfile.open(fileobj=ref, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for row in rows:
            for ext, data in shards.sample_fields(tmp_path, row, check=False).items():
                info = tarfile.TarInfo(f"{row['key']}.{ext}")
                info.size, info.mtime, info.mode = len(data), 0, 0o644
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                tar.addfile(info, io.BytesIO(data))
    assert ours.read_bytes() == ref.getvalue()
    assert digest == hashlib.sha256(ref.getvalue()).hexdigest()


def test_noisy_lq_is_stored_uncompressed_other_tasks_are_compressed(tmp_path):
    """Sigma-50 noise does not compress: its PNGs skip deflate (same pixels, 11x faster)."""
    from uirbench.io import decode_image, encode_png

    root = tmp_path / "r"
    build(root=root, preset="demo", tasks="noisy,jpeg", splits="val", workers=1)
    idx = read_index(root)
    for row in idx.itertuples():
        data = (root / row.lq_path).read_bytes()
        raw_size = row.height * (row.width * 3 + 1)  # filter byte + RGB per row
        if row.task == "noisy":
            assert len(data) > raw_size
            assert encode_png(decode_image(data, row.lq_path), stored=True) == data
        else:
            assert len(data) < raw_size


def test_png_stored_writes_the_same_pixels_uncompressed_and_resume_does_not_mix(tmp_path):
    """--png stored: every PNG the build encodes skips deflate; pixels equal the default's.
    The mode is part of each job's fingerprint: a rerun in the other mode rebuilds every pair."""
    from uirbench.data.jobs import PairJob
    from uirbench.io import decode_image

    small, big = tmp_path / "compressed", tmp_path / "stored"
    build(root=small, preset="demo", tasks="jpeg,hazy", splits="val", workers=1)
    build(root=big, preset="demo", tasks="jpeg,hazy", splits="val", workers=1, png="stored")
    a, b = read_index(small).set_index("key"), read_index(big).set_index("key")
    assert list(a.index) == list(b.index)
    for key, row in b.iterrows():
        for field in ("lq_path", "gt_path"):
            stored = (big / row[field]).read_bytes()
            compressed = (small / a.loc[key, field]).read_bytes()
            raw_size = row.height * (row.width * 3 + 1)  # filter byte + RGB per row
            assert len(stored) > raw_size > len(compressed)
            np.testing.assert_array_equal(decode_image(stored), decode_image(compressed))
    assert verify(big) == []
    # switching mode on an existing root rebuilds (nothing reused), and gives the other bytes
    report = build(root=big, preset="demo", tasks="jpeg,hazy", splits="val", workers=1)
    assert report.reused == 0 and report.built == len(a)
    assert read_index(big).set_index("key")["lq_sha256"].equals(a["lq_sha256"])
    # the default mode keeps the fingerprints of builds made before the option existed
    job = PairJob(split="val", task="jpeg", stem="x", source="demo", source_image="p", synth="jpeg")
    assert job.fingerprint() != replace(job, png="stored").fingerprint()
    with pytest.raises(UirbenchError, match="--png 'fast': choose one of compressed, stored"):
        build(root=tmp_path / "bad", preset="demo", tasks="jpeg", splits="val", png="fast")
