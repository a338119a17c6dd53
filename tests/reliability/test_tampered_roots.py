"""A root changed after its build is refused by every consumer, naming the file and saying to run
``uirbench verify``: evaluate (GT and LQ), train restore, train daclip, classify, caption.

Before: evaluate scored an edited GT (25.67 -> 18.34 dB on one pair) while results.json recorded
the index hash; a shard cut at a member boundary trained DA-CLIP on a third of its samples;
caption packed a tampered LQ (or a symlink's outside target) into new shards and re-recorded them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from uirbench.data.index import read_index
from uirbench.data.trust import TamperedError
from uirbench.io import read_image, sha256_file, write_png

REPO = Path(__file__).resolve().parents[2]


def _edit(path: Path) -> None:
    """Change an image's pixels, keeping it a valid PNG of the same size (an edit, not damage)."""
    img = read_image(path)
    write_png(path, np.ascontiguousarray(img[:, ::-1]))


def _expect(exc: BaseException, path: Path | str, root: Path) -> None:
    assert isinstance(exc, TamperedError), f"{type(exc).__name__}: {exc}"
    msg = str(exc)
    assert str(path) in msg, msg
    assert f"uirbench verify {root}" in msg, msg


def _rows(root: Path, split: str, task: str):
    df = read_index(root)
    return df[(df["split"] == split) & (df["task"] == task)].sort_values("key")


def test_evaluate_refuses_an_edited_gt(demo_copy, tmp_path):
    from uirbench.evaluate.runner import run

    root = demo_copy
    rows = _rows(root, "val", "noisy")
    outs = tmp_path / "outs"
    for r in rows.itertuples():
        (outs / "noisy").mkdir(parents=True, exist_ok=True)
        shutil.copy(root / r.lq_path, outs / "noisy" / f"{r.stem}.png")
    run(root=root, out=tmp_path / "ok", outputs=outs, tasks="noisy", metrics="psnr", workers=0)
    gt = root / rows.iloc[1]["gt_path"]
    _edit(gt)
    for workers in (0, 1):  # inline and in a DataLoader worker
        with pytest.raises(TamperedError) as exc:
            run(
                root=root,
                out=tmp_path / "res",
                outputs=outs,
                tasks="noisy",
                metrics="psnr",
                workers=workers,
            )
        _expect(exc.value, gt, root)
    assert not (tmp_path / "res" / "results.json").exists()


def test_evaluate_model_refuses_an_edited_lq(demo_copy, tmp_path):
    from uirbench.evaluate.runner import run

    root = demo_copy
    lq = root / _rows(root, "val", "jpeg").iloc[0]["lq_path"]
    _edit(lq)
    with pytest.raises(TamperedError) as exc:
        run(
            root=root,
            out=tmp_path / "res",
            model="identity",
            tasks="jpeg",
            metrics="psnr",
            workers=0,
        )
    _expect(exc.value, lq, root)


def test_train_restore_refuses_an_edited_gt(demo_copy, tmp_path):
    train_mod = pytest.importorskip("uirbench.train.restore")
    root = demo_copy
    rows = _rows(root, "val", "noisy")
    for rel in rows["gt_path"]:  # every GT the run may sample first
        _edit(root / rel)
    overrides = [f"root={root}", "train_split=val", "tasks=noisy", "patch_size=32"]
    overrides += ["iterations=1", "workers=0", f"output={tmp_path / 'run'}", "progress=false"]
    overrides += ["cache_images=false", "val.every=1000", "checkpoint.every=1000", "batch_size=2"]
    overrides += ["val.per_task=0"]
    cfg = train_mod.load_restore_recipe("nafnet_tiny", overrides)
    with pytest.raises(TamperedError) as exc:
        train_mod.train(cfg, log=lambda m: None)
    assert any(str(root / rel) in str(exc.value) for rel in rows["gt_path"]), str(exc.value)
    assert f"uirbench verify {root}" in str(exc.value)


def _cut_shard(path: Path, keep_members: int) -> None:
    """Cut a shard at a member boundary: a valid tar holding fewer samples."""
    with tarfile.open(path) as tar:
        members = tar.getmembers()[:keep_members]
        data = [(m, tar.extractfile(m).read()) for m in members]
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as out:
        for m, d in data:
            import io

            out.addfile(m, io.BytesIO(d))


def _micro_daclip(root: Path, tmp_path: Path) -> dict:
    train_mod = pytest.importorskip("uirbench.train.daclip")
    micro = tmp_path / "micro.json"
    vision = {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8}
    text = {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}
    micro.write_text(json.dumps({"embed_dim": 32, "vision_cfg": vision, "text_cfg": text}))
    overrides = [
        f"root={root}",
        f"model_config={micro}",
        f"output={tmp_path / 'run'}",
        "batch_size=5",
    ]
    overrides += ["epochs=1", "warmup_steps=1", "train_split=train", "val_split=val"]
    overrides += ["progress=false", "threads=1", "workers=0", "cache_images=false"]
    return train_mod.load_daclip_recipe("daclip_tiny", overrides)


def test_train_daclip_refuses_a_shard_cut_at_a_member_boundary(demo_copy, tmp_path):
    from uirbench.train.daclip import train

    root = demo_copy
    shard = root / "shards" / "train-000000.tar"
    _cut_shard(shard, 5 * 40)  # 40 of its samples, as a valid tar
    cfg = _micro_daclip(root, tmp_path)
    with pytest.raises(TamperedError) as exc:
        train(cfg, log=lambda m: None)
    _expect(exc.value, shard, root)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_shard_manifest_and_index_must_agree_on_counts(demo_copy):
    """shards.json edited to match a cut shard still disagrees with the index's row count."""
    from uirbench.data.shardset import ShardSet

    root = demo_copy
    shard = root / "shards" / "val-000000.tar"
    _cut_shard(shard, 5 * 10)
    manifest_path = root / "shards" / "shards.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["shards"]["val-000000.tar"].update(samples=10, sha256=sha256_file(shard))
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(TamperedError, match=r"shards\.json lists 10 val samples but the index has"):
        ShardSet(root, "val")


def test_classify_refuses_an_edited_shard_even_with_size_and_mtime_kept(demo_copy, monkeypatch):
    """A byte flipped in place with the mtime put back passes the (size, mtime, inode) fast
    path; ``UIRBENCH_VERIFY=full`` hashes and refuses it. A changed size is refused either way."""
    from uirbench.data.shardset import ShardSet
    from uirbench.evaluate.classify import predict_split

    root = demo_copy
    shard = root / "shards" / "val-000000.tar"
    ShardSet(root, "val")  # hashed and recorded as good
    st = shard.stat()
    with open(shard, "r+b") as f:
        f.seek(2000)
        byte = f.read(1)
        f.seek(2000)
        f.write(bytes([byte[0] ^ 0xFF]))
    os.utime(shard, ns=(st.st_atime_ns, st.st_mtime_ns))
    monkeypatch.setenv("UIRBENCH_VERIFY", "full")
    with pytest.raises(TamperedError) as exc:
        predict_split(None, root, "val")
    _expect(exc.value, shard, root)
    monkeypatch.delenv("UIRBENCH_VERIFY")
    with open(shard, "ab") as f:
        f.write(b"\0" * 512)
    with pytest.raises(TamperedError) as exc:
        predict_split(None, root, "val")
    _expect(exc.value, shard, root)


class _Sidecar:
    fingerprint = "tamper-test"
    needs_pixels = False
    batch_size = 64

    def caption(self, items, images):
        return ["a photo"] * len(items)


def test_caption_refuses_an_edited_lq_instead_of_packing_it(demo_copy):
    from uirbench.caption.runner import caption_root

    root = demo_copy
    lq = root / _rows(root, "train", "noisy").iloc[0]["lq_path"]
    _edit(lq)
    before = {p.name: sha256_file(p) for p in (root / "shards").iterdir()}
    with pytest.raises(TamperedError) as exc:
        caption_root(root, _Sidecar(), progress=False)
    _expect(exc.value, lq, root)
    assert {p.name: sha256_file(p) for p in (root / "shards").iterdir()} == before


def test_caption_refuses_a_symlink_out_of_the_root(demo_copy, tmp_path):
    """An LQ replaced by a symlink to an identical file outside the root (so its hash matches):
    refused, the outside file is not pulled into a shard."""
    from uirbench.caption.runner import caption_root

    root = demo_copy
    rel = _rows(root, "val", "noisy").iloc[0]["lq_path"]
    outside = tmp_path / "outside.png"
    shutil.copy(root / rel, outside)
    (root / rel).unlink()
    (root / rel).symlink_to(outside)
    with pytest.raises(TamperedError, match="leads outside the root"):
        caption_root(root, _Sidecar(), progress=False)
    verify = subprocess.run(
        [sys.executable, "-m", "uirbench", "verify", str(root)],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert verify.returncode == 1 and f"outside: {rel}" in verify.stdout + verify.stderr
