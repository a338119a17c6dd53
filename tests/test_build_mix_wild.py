"""``--preset daclip-mix`` and ``--preset wild`` build from their real manifests like uir10: sources
found in a ``--mirror`` of files made here (or served from 127.0.0.1), pairs made by the official
operators with per-pair seeds, byte-identical twice, verified.
"""

from __future__ import annotations

import io
import json
import pickle
import shutil
import tarfile
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
import yaml

from uirbench.data.build import build
from uirbench.data.captions_csv import caption_table
from uirbench.data.index import read_index
from uirbench.data.manifest import load_benchmark
from uirbench.data.shardset import ShardSet
from uirbench.data.synth import apply, wild
from uirbench.data.synth.masks import load_mask_files
from uirbench.data.task_file import tasks_for_root
from uirbench.data.verify import verify
from uirbench.io import read_image, sha256_file
from uirbench.paths import manifests_dir
from uirbench.tasks import get_task, using

FIXTURES = Path(__file__).parent / "fixtures"


def _crops(n: int, size: tuple[int, int], seed: int) -> list[np.ndarray]:
    """``n`` RGB crops (h, w) of scikit-image photos at seeded places."""
    rng = np.random.default_rng(seed)
    photos = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea()]
    out = []
    for i in range(n):
        img = photos[i % 3]
        y = int(rng.integers(0, img.shape[0] - size[0]))
        x = int(rng.integers(0, img.shape[1] - size[1]))
        out.append(np.ascontiguousarray(img[y : y + size[0], x : x + size[1]]))
    return out


def _png(rgb: np.ndarray) -> bytes:
    return cv2.imencode(".png", rgb[:, :, ::-1])[1].tobytes()


def test_daclip_mix_manifest_is_the_ten_plus_two_composites():
    b = load_benchmark("daclip-mix")
    uir10 = load_benchmark("uir10")
    assert list(b["tasks"]) == [*uir10["tasks"], "blur-inpainting", "blur-rainy"]
    assert all(b["tasks"][t] == uir10["tasks"][t] for t in uir10["tasks"])  # same sources
    rainy = b["tasks"]["blur-rainy"]["val"]
    assert rainy["sources"] == uir10["tasks"]["rainy"]["val"]["sources"]
    assert rainy["synth"]["input"] == "lq"
    faces = b["tasks"]["blur-inpainting"]["val"]
    assert faces["sources"] == uir10["tasks"]["inpainting"]["val"]["sources"]


@pytest.fixture(scope="module")
def mix_mirror(tmp_path_factory) -> Path:
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (shared / "inpainting_masks").is_dir():
        pytest.skip(f"the RePaint masks are not at {shared} (sha256-pinned in the manifest)")
    mirror = tmp_path_factory.mktemp("mix") / "mirror"
    mirror.mkdir()
    shutil.copytree(shared / "inpainting_masks", mirror / "inpainting_masks")
    with zipfile.ZipFile(mirror / "celeba_hq_256.zip", "w") as z:
        for i, face in enumerate(_crops(101, (32, 32), 1)):
            z.writestr(f"celeba_hq_256/{i:05d}.jpg", cv2.imencode(".jpg", face[:, :, ::-1])[1])
    for folder, n in (("Rain100H", 3), ("RainTrainH", 2)):
        with zipfile.ZipFile(mirror / f"{folder}.zip", "w") as z:
            for i, clean in enumerate(_crops(n, (40, 48), 2 + n), start=1):
                rainy = clean.copy()
                rainy[:, ::7] = 230  # streaks
                z.writestr(f"{folder}/norain-{i}.png", _png(clean))
                z.writestr(f"{folder}/rain-{i}.png", _png(rainy))
    return mirror


def test_daclip_mix_composites_build_deterministically(mix_mirror, tmp_path, tree_hashes):
    roots = [tmp_path / "a", tmp_path / "b"]
    for root, workers in zip(roots, (2, 1), strict=True):
        build(
            root=root,
            preset="daclip-mix",
            tasks="rainy,blur-inpainting,blur-rainy",  # rainy and blur-rainy share their GTs
            splits="val",
            mirror=mix_mirror,
            raw_root=tmp_path / "raw",
            workers=workers,
        )
    a = roots[0]
    assert verify(a) == [] and tree_hashes(a) == tree_hashes(roots[1])
    index = read_index(a)
    sizes = index.groupby("task").size().to_dict()
    assert sizes == {"rainy": 3, "blur-inpainting": 100, "blur-rainy": 3}
    with using(tasks_for_root(a)):
        assert get_task("blur-rainy").index == 11
        assert get_task("blur-inpainting").degradation == "blurry, uncompleted"
        assert (a / "val" / "blurry-rainy" / "LQ").is_dir()
    raw = tmp_path / "raw"
    # blur-rainy: the upstream rainy image, Gaussian-blurred with the pair's seed; GT untouched
    for r in index[index.task == "blur-rainy"].itertuples():
        test_set = raw / "rain100h" / "Rain100H" / "Rain100H"  # not RainTrainH's same names
        upstream = test_set / f"{r.stem}.png"
        want, _ = apply("gaussian_blur", read_image(upstream), r.seed, kernel_size=21)
        assert np.array_equal(read_image(a / r.lq_path), want)
        clean = test_set / f"no{r.stem}.png"
        assert (a / r.gt_path).read_bytes() == clean.read_bytes()
        assert json.loads(r.params)["kernel_size"] == 21
        plain = index[(index.task == "rainy") & (index.stem == r.stem)].iloc[0]
        assert (a / plain.lq_path).read_bytes() == upstream.read_bytes()  # uir10's pair as is
        assert plain.gt_sha256 == r.gt_sha256
    # blur-inpainting: the face blurred, then a RePaint mask (white holes)
    masks = load_mask_files(sorted((raw / "repaint_thin_masks").rglob("*.png")))
    steps = [["gaussian_blur", {"kernel_size": 21}], ["inpaint_mask", {}]]
    for r in index[index.task == "blur-inpainting"].head(3).itertuples():
        gt = read_image(a / r.gt_path)
        want, _ = apply("chain", gt, r.seed, steps=steps, masks=masks[0], mask_ids=masks[1])
        lq = read_image(a / r.lq_path)
        assert np.array_equal(lq, want)
        assert [s["op"] for s in json.loads(r.params)["steps"]] == ["gaussian_blur", "inpaint_mask"]
        assert (lq == 255).all(axis=2).any() and not np.array_equal(lq, gt)


def _toy_psf_pickles(folder: Path) -> None:
    """Pickles shaped as the official psf.pkl (dict of 2-D kernels) and ucdpsf.pkl (list of
    HxWx3 PSFs), from the wild fixture's synthetic banks."""
    z = np.load(FIXTURES / "wild_degrade" / "psf_banks.npz")
    motion = {i: z[f"motion_{i}"] for i in range(3)}
    udc = [z["udc_0"], z["udc_1"]]
    (folder / "psf.pkl").write_bytes(pickle.dumps(motion, protocol=2))
    (folder / "ucdpsf.pkl").write_bytes(pickle.dumps(udc, protocol=2))


def _tar_gz(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))


@pytest.fixture
def wild_home(tmp_path, monkeypatch):
    """LSDIR in a mirror, and the PSF banks served from 127.0.0.1: the packaged manifests, with
    daclip_psf pointed at the local server and pinned to the toy pickles' sha256."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    served = tmp_path / "served"
    served.mkdir()
    _toy_psf_pickles(served)
    for n in range(17):  # LSDIR's 17 training shards: one photo each
        folder = f"shard-{n:02d}/{(n + 1) * 1000:07d}"
        photo = _crops(1, (40, 48), 100 + n)[0]
        _tar_gz(mirror / f"shard-{n:02d}.tar.gz", {f"{folder}/{n * 1000 + 1:07d}.png": _png(photo)})
    val = {f"val1/HR/val/{i:07d}.png": _png(c) for i, c in enumerate(_crops(4, (40, 48), 7), 1)}
    val["val1/X2/val/0000001x2.png"] = _png(_crops(1, (20, 24), 8)[0])  # LR copies: not read
    _tar_gz(mirror / "val1.tar.gz", val)

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    home = tmp_path / "home"
    shutil.copytree(manifests_dir(), home / "manifests")
    psf = yaml.safe_load((home / "manifests" / "daclip_psf.yaml").read_text())
    psf["file_locations"] = [{"url": f"http://127.0.0.1:{server.server_address[1]}/{{path}}"}]
    psf["artifacts"] = [
        {"path": name, "sha256": sha256_file(served / name)} for name in ("psf.pkl", "ucdpsf.pkl")
    ]
    (home / "manifests" / "daclip_psf.yaml").write_text(yaml.safe_dump(psf))
    monkeypatch.setenv("UIRBENCH_HOME", str(home))
    yield mirror
    server.shutdown()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_wild_preset_builds_lsdir_with_seeded_random_degrade(wild_home, tmp_path, tree_hashes):
    roots = [tmp_path / "a", tmp_path / "b"]
    for root, workers in zip(roots, (2, 1), strict=True):
        build(
            root=root, preset="wild", mirror=wild_home, raw_root=tmp_path / "raw", workers=workers
        )
    a = roots[0]
    assert verify(a) == [] and tree_hashes(a) == tree_hashes(roots[1])
    index = read_index(a)
    assert index.groupby("split").size().to_dict() == {"train": 17, "val": 4}
    assert set(index.task) == {"wild"} and (a / "val" / "wild" / "LQ").is_dir()
    assert sorted(index[index.split == "val"].stem) == [f"lsdir-val-{i:07d}" for i in range(1, 5)]
    assert [t.id for t in tasks_for_root(a)] == ["wild"]
    banks = wild.PsfBanks(
        motion=wild.load_psf_pickle(tmp_path / "raw" / "daclip_psf" / "psf.pkl"),
        udc=wild.load_psf_pickle(tmp_path / "raw" / "daclip_psf" / "ucdpsf.pkl"),
    )
    texts = set()
    for r in index.itertuples():
        want, used = apply("wild", read_image(a / r.gt_path), r.seed, banks=banks)
        assert np.array_equal(read_image(a / r.lq_path), want)
        params = json.loads(r.params)
        assert params == json.loads(json.dumps(used))
        assert params["text"] == wild.wild_text(params["degradations"])
        assert set(params["degradations"]) <= set(wild.DEGRADATION_NAMES)
        texts.add(params["text"])
    assert len(texts) > 1  # the draws differ per pair, and so do the texts
    # the DA-CLIP text of each pair (shards' deg.txt, which train daclip reads, and the official
    # caption CSV) is its own multi-label text; the class is the one task's
    for split in ("train", "val"):
        shards = ShardSet(a, split)
        for i, key in enumerate(shards.keys()):
            row = index[index.key == key].iloc[0]
            assert shards.text(i, "deg.txt") == json.loads(row.params)["text"]
            assert shards.text(i, "cls") == "0"
    with using(tasks_for_root(a)):
        table = caption_table(a, index.assign(caption="a cat"), "val")
    val = index[index.split == "val"].sort_values("stem")
    assert list(table.title) == [f"a cat: {json.loads(p)['text']}" for p in val.params]
