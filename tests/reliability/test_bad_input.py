"""Bad input everywhere an image or a name comes in: a clear error naming the file (or the name
and the valid ones), or the documented conversion -- never a library traceback, never a silently
wrong score.

Documented conversions (``uirbench.io.decode_image``): greyscale is replicated to RGB, an alpha
channel is dropped. Refused with an :class:`ImageReadError` naming the file: 16-bit, zero-byte,
truncated (PNG and JPEG) and non-image files. Entry points covered: ``build-data --from``, a paired
source in ``build-data --preset uir10`` (also LQ/GT size mismatch and LQ without GT),
``evaluate --outputs`` (inline and in DataLoader workers; missing outputs and wrong sizes),
``restore INPUT``, and the caption runner for pixel backends. Unknown task names in
``build-data --tasks`` and ``evaluate --tasks``; three CLI runs check exit status 2 and no
traceback. A static check lists every image decoder call in the package.
"""

from __future__ import annotations

import ast
import importlib.util
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from uirbench.errors import InvalidNameError, UirbenchError
from uirbench.io import read_image
from uirbench.train import daclip as train_daclip
from uirbench.train import restore as train_restore

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("_evalfix", REPO / "tests/test_evaluate_outputs.py")
_fix = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fix)
make_root, copy_lq_as_outputs = _fix.make_root, _fix.copy_lq_as_outputs


# --------------------------------------------------------------------------- bad image kinds
def _rgb(h: int = 40, w: int = 48, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _png(arr: np.ndarray) -> bytes:
    if arr.ndim == 3 and arr.shape[2] >= 3:  # RGB(A) -> OpenCV's BGR(A)
        arr = arr[:, :, [2, 1, 0, *range(3, arr.shape[2])]]
    return cv2.imencode(".png", arr)[1].tobytes()


def _jpg(arr: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", arr[:, :, ::-1])[1].tobytes()


def _pixel_bomb(w: int, h: int) -> bytes:
    """A valid PNG header declaring w x h RGB pixels, with almost no data (a few hundred bytes)."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(bytes(3 * w + 1)))
        + chunk(b"IEND", b"")
    )


# kind -> (file suffix, bytes from a reference RGB image, expected RGB or None for "refused")
Kind = tuple[str, Callable[[np.ndarray], bytes], Callable[[np.ndarray], np.ndarray] | None]
KINDS: dict[str, Kind] = {
    "grey": (
        ".png",
        lambda a: _png(a[:, :, 1]),
        lambda a: np.repeat(a[:, :, 1:2], 3, axis=2),
    ),
    "rgba": (
        ".png",
        lambda a: _png(np.dstack([a, np.full(a.shape[:2], 7, np.uint8)])),
        lambda a: a,
    ),
    "16-bit": (".png", lambda a: _png(a.astype(np.uint16) * 257), None),
    "zero-byte": (".png", lambda a: b"", None),
    "truncated-png": (".png", lambda a: _png(a)[: len(_png(a)) // 2], None),
    "truncated-jpeg": (".jpg", lambda a: _jpg(a)[: len(_jpg(a)) // 2], None),
    "not-an-image": (".png", lambda a: b"name,caption\nthis is a CSV file\n", None),
    "pixel-bomb": (".png", lambda a: _pixel_bomb(40_000, 40_000), None),
}
REFUSED = [k for k, v in KINDS.items() if v[2] is None]
CONVERTED = [k for k, v in KINDS.items() if v[2] is not None]


def _write_kind(path_stem: Path, kind: str, ref: np.ndarray) -> Path:
    suffix, make, _ = KINDS[kind]
    path = path_stem.with_suffix(suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(make(ref))
    return path


def _expect_refused(exc: BaseException, path: Path) -> None:
    assert isinstance(exc, UirbenchError), f"{type(exc).__name__}: {exc}"
    msg = str(exc)
    assert str(path) in msg or path.name in msg, msg
    assert "Traceback" not in msg, msg


# --------------------------------------------------------------------------- static check
def test_every_image_decoder_call_is_listed() -> None:
    """Images are decoded only by uirbench.io; each other decoder call is reviewed and listed."""
    reviewed = {
        # header-only read of an output's size, to list every size mismatch at once; the pixels
        # are then read through uirbench.io (and an unreadable header is a clear error)
        ("uirbench/evaluate/pairing.py", "Image.open"),
        # decodes the JPEG bytes the synthesis itself just encoded (quality-10 JPEG degradation)
        ("uirbench/data/synth/exact.py", "cv2.imdecode"),
        # the Wild-IR degradation's JPEG step, likewise on bytes it just encoded
        ("uirbench/data/synth/wild.py", "cv2.imdecode"),
        # header-only read of a --gt file's size (pixels go through uirbench.io when scored)
        ("uirbench/evaluate/folders.py", "Image.open"),
    }
    decoders = {"imread", "imdecode", "open", "imread_collection", "load"}
    modules = {"cv2", "Image", "imageio", "iio", "skimage", "io"}
    found = set()
    for py in sorted((REPO / "uirbench").rglob("*.py")):
        rel = py.relative_to(REPO).as_posix()
        if rel == "uirbench/io.py":
            continue
        for node in ast.walk(ast.parse(py.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in decoders
                and isinstance(node.value, ast.Name)
                and node.value.id in modules
            ):
                found.add((rel, f"{node.value.id}.{node.attr}"))
    assert found <= reviewed, f"new image decoder calls outside uirbench.io: {found - reviewed}"


# --------------------------------------------------------------------------- build-data --from
@pytest.mark.parametrize("kind", list(KINDS))
def test_build_from_folder_with_bad_image(tmp_path: Path, kind: str) -> None:
    from uirbench.data.build import build
    from uirbench.data.index import read_index

    photos = tmp_path / "photos"
    ref = _rgb(64, 80, seed=3)
    (photos / "good.png").parent.mkdir(parents=True)
    (photos / "good.png").write_bytes(_png(_rgb(64, 80, seed=4)))
    bad = _write_kind(photos / "odd", kind, ref)
    root = tmp_path / "root"
    expected = KINDS[kind][2]
    if expected is None:
        with pytest.raises(Exception) as exc:
            build(root=root, from_dir=photos, tasks="noisy", splits="val", workers=1)
        _expect_refused(exc.value, bad)
        return
    build(root=root, from_dir=photos, tasks="noisy", splits="val", workers=1)
    row = read_index(root).set_index("stem").loc["odd"]
    assert np.array_equal(read_image(root / row["gt_path"]), expected(ref))


# --------------------------------------------------------------------------- paired source
def _lol_raw(tmp_path: Path, monkeypatch) -> Path:
    """A project home whose manifests are the packaged ones, and a hand-extracted LOL eval15."""
    from uirbench.data import fetch

    home = tmp_path / "home"
    shutil.copytree(REPO / "uirbench" / "manifests", home / "manifests")
    monkeypatch.setenv("UIRBENCH_HOME", str(home))

    def offline(*args, **kwargs):
        raise fetch.DownloadError("offline test: no downloads")

    # the other (optional) LOL copy would otherwise be tried on the network and time out
    for name in ("http_download", "_hf_download", "_gdrive_download"):
        monkeypatch.setattr(fetch, name, offline)
    base = tmp_path / "raw" / "lol" / "LOLdataset" / "eval15"
    for i in (1, 2):
        gt = _rgb(32, 40, seed=10 + i)
        (base / "high").mkdir(parents=True, exist_ok=True)
        (base / "low").mkdir(parents=True, exist_ok=True)
        (base / "high" / f"{i}.png").write_bytes(_png(gt))
        (base / "low" / f"{i}.png").write_bytes(_png(gt // 4))
    return base


def _build_lol(tmp_path: Path) -> None:
    from uirbench.data.build import build

    build(
        root=tmp_path / "root",
        preset="uir10",
        tasks="low-light",
        splits="val",
        raw_root=tmp_path / "raw",
        workers=1,
    )


def test_paired_source_control_builds(tmp_path: Path, monkeypatch) -> None:
    from uirbench.data.index import read_index

    _lol_raw(tmp_path, monkeypatch)
    _build_lol(tmp_path)
    assert len(read_index(tmp_path / "root")) == 2


def test_paired_source_size_mismatch_names_both_files(tmp_path: Path, monkeypatch) -> None:
    base = _lol_raw(tmp_path, monkeypatch)
    (base / "low" / "2.png").write_bytes(_png(_rgb(32, 41)))
    with pytest.raises(UirbenchError) as exc:
        _build_lol(tmp_path)
    msg = str(exc.value)
    assert str(base / "low" / "2.png") in msg and str(base / "high" / "2.png") in msg, msg
    assert "41x32" in msg and "40x32" in msg


def test_paired_source_lq_without_gt_names_the_file(tmp_path: Path, monkeypatch) -> None:
    base = _lol_raw(tmp_path, monkeypatch)
    (base / "low" / "3.png").write_bytes(_png(_rgb(32, 40)))
    with pytest.raises(UirbenchError) as exc:
        _build_lol(tmp_path)
    assert "LQ without GT" in str(exc.value) and str(base / "low" / "3.png") in str(exc.value)


@pytest.mark.parametrize("kind", ["grey", "16-bit", "truncated-png"])
@pytest.mark.parametrize("side", ["low", "high"])
def test_paired_source_with_bad_image(tmp_path: Path, monkeypatch, kind: str, side: str) -> None:
    from uirbench.data.index import read_index

    base = _lol_raw(tmp_path, monkeypatch)
    ref = read_image(base / side / "1.png")
    bad = _write_kind(base / side / "1", kind, ref)
    expected = KINDS[kind][2]
    if expected is None:
        with pytest.raises(Exception) as exc:
            _build_lol(tmp_path)
        _expect_refused(exc.value, bad)
        return
    _build_lol(tmp_path)
    row = read_index(tmp_path / "root").set_index("stem").loc["1"]
    got = read_image(tmp_path / "root" / row["lq_path" if side == "low" else "gt_path"])
    assert np.array_equal(got, expected(ref))


def test_source_adapter_pairs_by_name_and_never_skips(tmp_path: Path) -> None:
    from uirbench.data.sources import get_adapter

    src = tmp_path / "lol"
    for side, names in (("low", ["1", "2", "9"]), ("high", ["1", "2", "8"])):
        (src / "eval15" / side).mkdir(parents=True)
        for n in names:
            (src / "eval15" / side / f"{n}.png").write_bytes(_png(_rgb(8, 8)))
    with pytest.raises(UirbenchError) as exc:
        get_adapter("lol")(src, "val")
    msg = str(exc.value)
    assert "LQ without GT" in msg and str(src / "eval15/low/9.png") in msg
    assert "GT without LQ" in msg and str(src / "eval15/high/8.png") in msg


# --------------------------------------------------------------------------- evaluate --outputs
@pytest.fixture(scope="module")
def eval_root(tmp_path_factory) -> Path:
    return make_root(tmp_path_factory.mktemp("eval") / "root")


def _score(root: Path, outs: Path, out: Path, workers: int = 0) -> pd.DataFrame:
    from uirbench.evaluate import run

    run(root=root, outputs=outs, out=out, metrics="psnr", workers=workers)
    return pd.read_csv(out / "per_image.csv")


# every refused kind inline; in DataLoader workers (the CLI default) one kind refused after
# decoding and one that cannot be decoded
EVAL_CASES = [(k, 0) for k in REFUSED] + [("16-bit", 2), ("truncated-png", 2)]


@pytest.mark.parametrize(("kind", "workers"), EVAL_CASES)
def test_evaluate_bad_output_image_is_refused(
    eval_root: Path, tmp_path: Path, kind: str, workers: int
) -> None:
    outs = copy_lq_as_outputs(eval_root, tmp_path / "outs")
    target = outs / "noisy" / "no01.png"
    ref = read_image(target)
    target.unlink()
    bad = _write_kind(target.with_suffix(""), kind, ref)
    with pytest.raises(Exception) as exc:
        _score(eval_root, outs, tmp_path / "res", workers)
    _expect_refused(exc.value, bad)
    assert not (tmp_path / "res" / "results.json").exists()


@pytest.mark.parametrize("kind", CONVERTED)
def test_evaluate_converted_output_scores_as_its_conversion(
    eval_root: Path, tmp_path: Path, kind: str
) -> None:
    """A grey or RGBA output is scored exactly as the documented RGB conversion of it."""
    from uirbench.io import write_png

    outs = copy_lq_as_outputs(eval_root, tmp_path / "outs")
    target = outs / "noisy" / "no01.png"
    ref = read_image(target)
    target.write_bytes(KINDS[kind][1](ref))
    got = _score(eval_root, outs, tmp_path / "a")
    write_png(target, KINDS[kind][2](ref))
    want = _score(eval_root, outs, tmp_path / "b")
    assert got["psnr"].tolist() == want["psnr"].tolist()


def test_evaluate_output_of_the_wrong_size(eval_root: Path, tmp_path: Path) -> None:
    outs = copy_lq_as_outputs(eval_root, tmp_path / "outs")
    target = outs / "jpeg" / "jp00.png"
    img = read_image(target)
    target.write_bytes(_png(img[:-2, :-1]))
    with pytest.raises(UirbenchError) as exc:
        _score(eval_root, outs, tmp_path / "res")
    assert "jpeg/jp00.png" in str(exc.value) and "size differs" in str(exc.value)


def test_evaluate_missing_output_is_not_skipped(eval_root: Path, tmp_path: Path) -> None:
    outs = copy_lq_as_outputs(eval_root, tmp_path / "outs")
    (outs / "jpeg" / "jp01.png").unlink()
    with pytest.raises(UirbenchError, match=r"missing.*\n.*jpeg/jp01\.png"):
        _score(eval_root, outs, tmp_path / "res")


# --------------------------------------------------------------------------- unknown task names
@pytest.mark.parametrize("tasks", ["sharpened", "noisy,blury"])
def test_unknown_task_names_are_refused(eval_root: Path, tmp_path: Path, tasks: str) -> None:
    from uirbench.data.build import build
    from uirbench.evaluate import run

    bad = next(t for t in tasks.split(",") if t not in ("noisy", "jpeg"))
    with pytest.raises(InvalidNameError) as exc:
        build(root=tmp_path / "root", preset="demo", tasks=tasks)
    assert repr(bad) in str(exc.value), str(exc.value)
    assert "noisy" in str(exc.value)  # the valid names are listed
    assert not (tmp_path / "root").exists() or not any((tmp_path / "root").iterdir())
    with pytest.raises(InvalidNameError) as exc:
        run(root=eval_root, model="identity", out=tmp_path / "res", tasks=tasks)
    assert repr(bad) in str(exc.value) and "noisy" in str(exc.value), str(exc.value)
    assert not (tmp_path / "res").exists()


# --------------------------------------------------------------------------- restore INPUT
@pytest.mark.parametrize("kind", list(KINDS))
def test_restore_input_with_bad_image(tmp_path: Path, kind: str) -> None:
    from uirbench.models.registry import build_restorer
    from uirbench.restore import restore_paths

    ref = _rgb(24, 32, seed=5)
    bad = _write_kind(tmp_path / "in" / "photo", kind, ref)
    restorer = build_restorer("identity")
    expected = KINDS[kind][2]
    if expected is None:
        with pytest.raises(Exception) as exc:
            restore_paths(restorer, [tmp_path / "in"], tmp_path / "out")
        _expect_refused(exc.value, bad)
        return
    (out,) = restore_paths(restorer, [tmp_path / "in"], tmp_path / "out")
    assert np.array_equal(read_image(out), expected(ref))


# --------------------------------------------------------------------------- training data
def test_restoration_training_names_an_unreadable_image(tmp_path: Path) -> None:
    """A built root whose LQ file broke after the build: training stops naming it (DataLoader
    workers on, as in the paper recipes), never a worker traceback."""
    train_mod = train_restore
    from uirbench.data.index import read_index

    root = make_root(tmp_path / "root")
    bad = root / read_index(root).iloc[1]["lq_path"]
    bad.write_bytes(b"")
    overrides = [f"root={root}", "train_split=val", "tasks=noisy,jpeg", "patch_size=32"]
    overrides += ["iterations=2", "workers=2", f"output={tmp_path / 'run'}", "progress=false"]
    overrides += ["cache_images=false", "val.every=1000", "checkpoint.every=1000"]
    overrides += ["val.per_task=0"]  # no validation images: the bad file is read in a worker
    cfg = train_mod.load_restore_recipe("nafnet_tiny", overrides)
    with pytest.raises(Exception) as exc:
        train_mod.train(cfg, log=lambda m: None)
    _expect_refused(exc.value, bad)


def test_daclip_training_names_an_unreadable_image(tmp_path: Path) -> None:
    """The same for DA-CLIP training, which reads LQ images from the shards."""
    import json

    pytest.importorskip("open_clip", reason="DA-CLIP needs the optional [train] extra")
    train_mod = train_daclip
    from uirbench.data.index import read_index
    from uirbench.data.shards import write_shards

    root = make_root(tmp_path / "root")
    idx = read_index(root)
    (root / idx.iloc[1]["lq_path"]).write_bytes(b"")  # the shard gets the broken file
    write_shards(root, idx, check=False)  # pack the broken file as a build would have
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
    overrides += ["epochs=1", "warmup_steps=1", "train_split=val", "val_split=null"]
    overrides += ["progress=false", "threads=1", "workers=2", "cache_images=false"]
    cfg = train_mod.load_daclip_recipe("daclip_tiny", overrides)
    with pytest.raises(Exception) as exc:
        train_mod.train(cfg, log=lambda m: None)
    _expect_refused(exc.value, Path(idx.iloc[1]["key"]))


# --------------------------------------------------------------------------- caption (pixels)
class _PixelCaptioner:
    """Stands in for BLIP: needs pixels, records what it was given."""

    fingerprint = "reliability-test-pixels"
    needs_pixels = True
    batch_size = 2

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def caption(self, items, images):
        self.seen.extend(images)
        return ["a photo"] * len(items)


@pytest.mark.parametrize("kind", ["grey", "16-bit", "zero-byte"])
def test_caption_reads_gt_images_safely(tmp_path: Path, kind: str) -> None:
    """The runner refuses a GT that changed since the index (sha256), and a GT that is in the
    index but unreadable; a grey GT is captioned from its RGB conversion."""
    from uirbench.caption.runner import caption_root
    from uirbench.data.index import read_index, write_index
    from uirbench.io import sha256_file

    root = make_root(tmp_path / "root")
    idx = read_index(root)
    rel = idx.iloc[0]["gt_path"]
    ref = read_image(root / rel)
    bad = _write_kind((root / rel).with_suffix(""), kind, ref)
    cap = _PixelCaptioner()
    with pytest.raises(UirbenchError) as exc:  # changed since the index was built
        caption_root(root, cap, progress=False)
    _expect_refused(exc.value, bad)
    assert "changed since the index" in str(exc.value)
    idx.loc[idx["gt_path"] == rel, "gt_sha256"] = sha256_file(bad)  # as if built from it
    write_index(root, idx)
    expected = KINDS[kind][2]
    if expected is None:
        with pytest.raises(Exception) as exc:
            caption_root(root, _PixelCaptioner(), progress=False)
        _expect_refused(exc.value, bad)
        return
    cap = _PixelCaptioner()
    caption_root(root, cap, progress=False)
    assert any(np.array_equal(img, expected(ref)) for img in cap.seen)


# --------------------------------------------------------------------------- the CLI surface
def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "uirbench", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.parametrize("case", ["build-data-tasks", "evaluate-tasks", "restore-zero-byte"])
def test_cli_reports_bad_input_without_a_traceback(
    eval_root: Path, tmp_path: Path, case: str
) -> None:
    if case == "build-data-tasks":
        args = ["build-data", "--preset", "demo", "--root", str(tmp_path / "r"), "--tasks", "fog"]
        needle = "'fog'"
    elif case == "evaluate-tasks":
        outs = copy_lq_as_outputs(eval_root, tmp_path / "outs")
        args = ["evaluate", "--root", str(eval_root), "--outputs", str(outs)]
        args += ["--out", str(tmp_path / "res"), "--tasks", "noisy,fog"]
        needle = "'fog'"
    else:
        (tmp_path / "empty.png").write_bytes(b"")
        args = ["restore", str(tmp_path / "empty.png"), "--model", "identity"]
        args += ["--out", str(tmp_path / "o")]
        needle = "empty.png"
    res = _cli(*args, cwd=tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr
    assert needle in res.stderr and "Traceback" not in res.stderr, res.stderr
