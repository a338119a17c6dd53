"""Each adapter on a small fake tree in its upstream layout, plus mismatches reported by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from uirbench.data.layout import check_stem
from uirbench.data.sources import ADAPTERS, get_adapter, list_masks
from uirbench.errors import UirbenchError


def _touch(root: Path, *rels: str) -> None:
    for r in rels:
        p = root / r
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\x89PNG fake " + r.encode())


def _stems(pairs) -> list[str]:
    for p in pairs:
        check_stem(p.stem)
    return [p.stem for p in pairs]


def _check_pairs(pairs, root: Path) -> None:
    assert _stems(pairs) == sorted(_stems(pairs))
    for p in pairs:
        assert p.gt.is_file() and p.gt.is_relative_to(root)
        assert p.source_image == p.gt.relative_to(root).as_posix()


# ---------------------------------------------------------------- paired sources


def test_gopro_blur_not_blur_gamma_and_sequence_in_stem(tmp_path: Path) -> None:
    base = "GOPRO_Large/train"
    for seq in ("GOPR0372_07_00", "GOPR0384_11_00"):
        for n in ("000001", "000002"):
            _touch(
                tmp_path,
                f"{base}/{seq}/blur/{n}.png",
                f"{base}/{seq}/blur_gamma/{n}.png",
                f"{base}/{seq}/sharp/{n}.png",
            )
    _touch(tmp_path, "GOPRO_Large/test/GOPR0384_11_00/blur/000001.png")
    _touch(tmp_path, "GOPRO_Large/test/GOPR0384_11_00/sharp/000001.png")
    pairs = get_adapter("gopro")(tmp_path, "train")
    assert _stems(pairs) == [
        "GOPR0372_07_00-000001",
        "GOPR0372_07_00-000002",
        "GOPR0384_11_00-000001",
        "GOPR0384_11_00-000002",
    ]
    assert all(p.lq.parent.name == "blur" and p.gt.parent.name == "sharp" for p in pairs)
    _check_pairs(pairs, tmp_path)
    assert len(get_adapter("gopro")(tmp_path, "val")) == 1


def test_gopro_mismatch_named(tmp_path: Path) -> None:
    _touch(tmp_path, "GOPRO_Large/test/S1/blur/000001.png", "GOPRO_Large/test/S1/sharp/000001.png")
    _touch(tmp_path, "GOPRO_Large/test/S1/sharp/000002.png")
    with pytest.raises(UirbenchError, match=r"GT without LQ: .*S1/sharp/000002\.png"):
        get_adapter("gopro")(tmp_path, "val")


def test_reside6k(tmp_path: Path) -> None:
    _touch(tmp_path, *(f"RESIDE-6K/train/{s}/{n}.jpg" for s in ("GT", "hazy") for n in ("1", "2")))
    _touch(tmp_path, "RESIDE-6K/test/GT/0001.png", "RESIDE-6K/test/hazy/0001.png")
    pairs = get_adapter("reside6k")(tmp_path, "train")
    assert _stems(pairs) == ["1", "2"] and pairs[0].lq.parent.name == "hazy"
    _check_pairs(pairs, tmp_path)
    assert _stems(get_adapter("reside6k")(tmp_path, "val")) == ["0001"]
    _touch(tmp_path, "RESIDE-6K/test/hazy/0002.png")
    with pytest.raises(UirbenchError, match=r"LQ without GT: .*hazy/0002\.png"):
        get_adapter("reside6k")(tmp_path, "val")


def test_lol(tmp_path: Path) -> None:
    _touch(tmp_path, "LOLdataset/our485/low/2.png", "LOLdataset/our485/high/2.png")
    _touch(tmp_path, "LOLdataset/eval15/low/1.png", "LOLdataset/eval15/high/1.png")
    tr = get_adapter("lol")(tmp_path, "train")
    assert _stems(tr) == ["2"] and tr[0].lq.parent.name == "low" and tr[0].gt.parent.name == "high"
    assert _stems(get_adapter("lol")(tmp_path, "val")) == ["1"]
    _touch(tmp_path, "LOLdataset/eval15/high/9.png")
    with pytest.raises(UirbenchError, match=r"eval15/high/9\.png"):
        get_adapter("lol")(tmp_path, "val")


def test_raindrop_test_a(tmp_path: Path) -> None:
    for split in ("train", "test_a", "test_b"):
        _touch(tmp_path, f"RainDrop/{split}/data/0_rain.png", f"RainDrop/{split}/gt/0_clean.png")
    _touch(tmp_path, "RainDrop/test_a/data/12_rain.jpg", "RainDrop/test_a/gt/12_clean.jpg")
    val = get_adapter("raindrop")(tmp_path, "val")
    assert _stems(val) == ["0", "12"] and all("test_a" in p.source_image for p in val)
    assert val[1].lq.name == "12_rain.jpg"
    assert _stems(get_adapter("raindrop")(tmp_path, "val", test_set="test_b")) == ["0"]
    _touch(tmp_path, "RainDrop/train/gt/5_clean.png")
    with pytest.raises(UirbenchError, match=r"train/gt/5_clean\.png"):
        get_adapter("raindrop")(tmp_path, "train")


def test_rain100h(tmp_path: Path) -> None:
    _touch(tmp_path, "RainTrainH/RainTrainH/rain-1.png", "RainTrainH/RainTrainH/norain-1.png")
    _touch(tmp_path, "RainTrainH/RainTrainH/rain-2.png", "RainTrainH/RainTrainH/norain-2.png")
    _touch(tmp_path, "Rain100H/rainy/rain-001.png", "Rain100H/rainy/norain-001.png")
    tr = get_adapter("rain100h")(tmp_path, "train")
    assert _stems(tr) == ["rain-1", "rain-2"]
    assert tr[0].lq.name == "rain-1.png" and tr[0].gt.name == "norain-1.png"
    val = get_adapter("rain100h")(tmp_path, "val")
    assert _stems(val) == ["rain-001"] and val[0].gt.name == "norain-001.png"
    _touch(tmp_path, "Rain100H/rainy/rain-002.png")
    with pytest.raises(UirbenchError, match=r"LQ without GT: .*rain-002\.png"):
        get_adapter("rain100h")(tmp_path, "val")


def test_srd_suffixes(tmp_path: Path) -> None:
    _touch(tmp_path, "SRD/train/shadow/IMG_1.jpg", "SRD/train/shadow_free/IMG_1_no_shadow.jpg")
    _touch(tmp_path, "SRD/test/shadow/_MG_2.jpg", "SRD/test/shadow_free/_MG_2_free.jpg")
    tr = get_adapter("srd")(tmp_path, "train")
    assert _stems(tr) == ["IMG_1"] and tr[0].gt.name == "IMG_1_no_shadow.jpg"
    val = get_adapter("srd")(tmp_path, "val")
    assert _stems(val) == ["MG_2"] and val[0].lq.name == "_MG_2.jpg"
    _touch(tmp_path, "SRD/test/shadow_free/_MG_3_free.jpg")
    with pytest.raises(UirbenchError, match=r"GT without LQ: .*_MG_3_free\.jpg"):
        get_adapter("srd")(tmp_path, "val")


def test_snow100k_subset_and_level(tmp_path: Path) -> None:
    names = ("beautiful_smile_00001", "beautiful_smile_00002", "city_read_00003")
    for n in names:
        _touch(tmp_path, f"snow/all/synthetic/{n}.jpg", f"snow/all/gt/{n}.jpg")
    _touch(tmp_path, "snow/all/mask/beautiful_smile_00001.jpg")
    for lv in ("L", "M"):
        _touch(
            tmp_path,
            f"Snow100K-testset/media/jdway/Snow100K-{lv}/synthetic/beautiful_smile_01.jpg",
            f"Snow100K-testset/media/jdway/Snow100K-{lv}/gt/beautiful_smile_01.jpg",
        )
    # the training folder is recognised by 'train' in its path
    (tmp_path / "snow").rename(tmp_path / "Snow100K-training")
    ad = get_adapter("snow100k")
    tr = ad(tmp_path, "train", subset="beautiful_smile")
    assert _stems(tr) == ["beautiful_smile_00001", "beautiful_smile_00002"]
    assert tr[0].lq.parent.name == "synthetic"
    assert len(ad(tmp_path, "train")) == 3
    with pytest.raises(UirbenchError, match="several"):
        ad(tmp_path, "val", subset="beautiful_smile")
    val = ad(tmp_path, "val", subset="beautiful_smile", level="L")
    assert len(val) == 1 and "Snow100K-L" in val[0].source_image
    _touch(tmp_path, "Snow100K-training/all/gt/beautiful_smile_00009.jpg")
    with pytest.raises(UirbenchError, match=r"beautiful_smile_00009\.jpg"):
        ad(tmp_path, "train", subset="beautiful_smile")


def test_snow100k_repacked_lq_gt(tmp_path: Path) -> None:
    _touch(tmp_path, "snow/test/LQ/beautiful_smile_1.png", "snow/test/GT/beautiful_smile_1.png")
    _touch(tmp_path, "snow/test/LQ/city_2.png", "snow/test/GT/city_2.png")
    val = get_adapter("snow100k")(tmp_path, "val", subset="beautiful_smile", level="L")
    assert _stems(val) == ["beautiful_smile_1"] and val[0].lq.parent.name == "LQ"


def test_daclip_val_official_layout(tmp_path: Path) -> None:
    _touch(tmp_path, "universal/val/noisy/LQ/a.png", "universal/val/noisy/GT/a.png")
    _touch(tmp_path, "universal/val/uncompleted/LQ/b.png", "universal/val/uncompleted/GT/b.png")
    ad = get_adapter("daclip_val")
    assert _stems(ad(tmp_path, "val", task="noisy")) == ["a"]
    assert _stems(ad(tmp_path, "val", task="inpainting")) == ["b"]
    with pytest.raises(UirbenchError, match="validation sets only"):
        ad(tmp_path, "train", task="noisy")
    _touch(tmp_path, "universal/val/noisy/GT/c.png")
    with pytest.raises(UirbenchError, match=r"noisy/GT/c\.png"):
        ad(tmp_path, "val", task="noisy")


# ---------------------------------------------------------------- GT-only sources


def test_div2k_flickr2k(tmp_path: Path) -> None:
    _touch(
        tmp_path, "DIV2K_train_HR/DIV2K_train_HR/0002.png", "DIV2K_train_HR/DIV2K_train_HR/0001.png"
    )
    _touch(tmp_path, "Flickr2K/Flickr2K/Flickr2K_HR/000001.png")
    _touch(tmp_path, "Flickr2K/Flickr2K/Flickr2K_LR_bicubic/X2/000001x2.png")
    d = get_adapter("div2k")(tmp_path, "train")
    assert _stems(d) == ["div2k-0001", "div2k-0002"] and all(p.lq is None for p in d)
    f = get_adapter("flickr2k")(tmp_path, "train")
    assert _stems(f) == ["flickr2k-000001"]
    with pytest.raises(UirbenchError, match="no val split"):
        get_adapter("div2k")(tmp_path, "val")


def test_live1_bmp_and_cbsd68(tmp_path: Path) -> None:
    _touch(tmp_path, "LIVE1/bikes.bmp", "LIVE1/caps.bmp", "LIVE1/readme.txt")
    _touch(tmp_path, "CBSD68/101085.png", "CBSD68/12084.png")
    live = get_adapter("live1")(tmp_path, "val")
    assert _stems(live) == ["bikes", "caps"] and live[0].gt.suffix == ".bmp"
    assert _stems(get_adapter("cbsd68")(tmp_path, "val")) == ["101085", "12084"]


def test_celebahq_first_100_sorted_is_val(tmp_path: Path) -> None:
    _touch(tmp_path, *(f"celeba_hq_256/{i:05d}.jpg" for i in range(130)))
    ad = get_adapter("celebahq256")
    val, tr = ad(tmp_path, "val"), ad(tmp_path, "train")
    assert _stems(val) == [f"{i:05d}" for i in range(100)]
    assert _stems(tr) == [f"{i:05d}" for i in range(100, 130)]
    assert len(ad(tmp_path, "val", val_count=10)) == 10


def test_celebahq_from_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    png = b"\x89PNG\r\n\x1a\n" + b"x" * 10
    jpg = b"\xff\xd8\xff" + b"y" * 10
    rows = [{"bytes": png if i % 2 else jpg, "path": None} for i in range(5)]
    (tmp_path / "hub-parquet" / "data").mkdir(parents=True)
    pq.write_table(
        pa.table({"image": rows[:3]}), tmp_path / "hub-parquet/data/train-00000-of-00002.parquet"
    )
    pq.write_table(
        pa.table({"image": rows[3:]}), tmp_path / "hub-parquet/data/train-00001-of-00002.parquet"
    )
    val = get_adapter("celebahq256")(tmp_path, "val", val_count=2)
    assert _stems(val) == ["000000", "000001"]
    assert val[0].gt.read_bytes() == jpg and val[1].gt.read_bytes() == png
    tr = get_adapter("celebahq256")(tmp_path, "train", val_count=2)
    assert _stems(tr) == ["000002", "000003", "000004"]


def test_folder_adapter_stems_from_relative_paths(tmp_path: Path) -> None:
    _touch(tmp_path, "trip/IMG 001.jpg", "trip/sub/x.png", "a.png", "a.jpg", ".hidden/z.png")
    (tmp_path / "notes.txt").write_text("not an image")
    pairs = get_adapter("folder")(tmp_path, "train")
    stems = _stems(pairs)
    assert "trip_IMG_001" in stems and "trip_sub_x" in stems
    a = [s for s in stems if s.startswith("a-")]
    assert len(a) == 2 and len(set(a)) == 2  # a.png and a.jpg disambiguated
    assert len(pairs) == 4 and all(p.lq is None for p in pairs)


def test_masks(tmp_path: Path) -> None:
    _touch(tmp_path, *(f"inpainting_masks/{i:06d}.png" for i in range(100)))
    masks = list_masks(tmp_path)
    assert len(masks) == 100 and masks[0].name == "000000.png"
    assert len(get_adapter("masks")(tmp_path, "val")) == 100
    (tmp_path / "inpainting_masks/000042.png").unlink()
    with pytest.raises(UirbenchError, match=r"missing: 000042\.png"):
        list_masks(tmp_path)


def test_shared_reference_data_if_present() -> None:
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (shared / "CBSD68").is_dir():
        pytest.skip("reference data not on this machine")
    assert len(get_adapter("cbsd68")(shared, "val")) == 68
    assert len(get_adapter("live1")(shared, "val")) == 29
    assert len(list_masks(shared)) == 100


# ---------------------------------------------------------------- registry


def test_every_manifest_adapter_is_registered() -> None:
    from uirbench.data.manifest import list_sources, load_source

    for name in list_sources():  # full at import: no get_adapter call fills it first
        assert load_source(name).adapter in ADAPTERS


def test_unknown_adapter_and_option(tmp_path: Path) -> None:
    with pytest.raises(UirbenchError, match="known adapters"):
        get_adapter("nope")
    with pytest.raises(UirbenchError, match="no option 'subsett'"):
        get_adapter("snow100k")(tmp_path, "train", subsett="x")
    with pytest.raises(UirbenchError, match="does not exist"):
        get_adapter("lol")(tmp_path / "missing", "train")


# ---------------------------------------------------------------- benchmark -> pairs


def test_benchmark_pairs_fetches_verifies_and_pairs(tmp_path: Path) -> None:
    import hashlib

    import yaml

    from uirbench.data.sources.resolve import benchmark_pairs

    mirror = tmp_path / "mirror"
    _touch(mirror, "CBSD68/2.png", "CBSD68/1.png", *(f"masks/{i:06d}.png" for i in range(100)))

    def arts(folder: str) -> list[dict]:
        return [
            {
                "path": p.relative_to(mirror).as_posix(),
                "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
            }
            for p in sorted((mirror / folder).iterdir())
        ]

    man = tmp_path / "manifests"
    man.mkdir()
    common = {
        "licence": {"name": "t", "terms": "t"},
        "file_locations": [{"url": "http://127.0.0.1:9/{path}"}],
    }
    (man / "cbsd68.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "cbsd68",
                "title": "t",
                "tasks": ["noisy"],
                "adapter": "cbsd68",
                "artifacts": arts("CBSD68"),
                **common,
            }
        )
    )
    (man / "repaint_thin_masks.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "repaint_thin_masks",
                "title": "t",
                "tasks": ["inpainting"],
                "adapter": "masks",
                "artifacts": arts("masks"),
                **common,
            }
        )
    )
    split = {"count": 2, "sources": [{"source": "cbsd68"}]}
    bench = {
        "name": "uir10",
        "title": "toy",
        "tasks": {
            "noisy": {
                "train": split,
                "val": {**split, "synth": {"op": "noise", "params": {"sigma": 50}}},
            },
            "inpainting": {
                "train": split,
                "val": {
                    **split,
                    "synth": {"op": "inpaint_mask", "params": {"mask_bank": "repaint_thin_masks"}},
                },
            },
        },
    }
    (man / "uir10.yaml").write_text(yaml.safe_dump(bench))
    raw = tmp_path / "raw"
    r = benchmark_pairs("noisy", "val", raw, mirror, manifests=man, allow_download=False)
    assert [(s, p.stem) for s, p in r.pairs] == [("cbsd68", "1"), ("cbsd68", "2")]
    assert (r.synth, r.params, r.masks, r.expected_count) == ("noise", {"sigma": 50}, [], 2)
    r = benchmark_pairs("inpainting", "val", raw, mirror, manifests=man, allow_download=False)
    assert r.params == {} and len(r.masks) == 100
    (mirror / "CBSD68" / "1.png").write_bytes(b"tampered")
    (raw / "cbsd68" / "CBSD68" / "1.png").unlink()
    with pytest.raises(UirbenchError, match=r"CBSD68/1\.png"):
        benchmark_pairs("noisy", "val", raw, mirror, manifests=man, allow_download=False)


def test_benchmark_pairs_real_reference_data(tmp_path: Path) -> None:
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not (shared / "CBSD68").is_dir():
        pytest.skip("reference data not on this machine")
    from uirbench.data.sources.resolve import benchmark_pairs

    noisy = benchmark_pairs("noisy", "val", tmp_path, shared, allow_download=False)
    jpeg = benchmark_pairs("jpeg", "val", tmp_path, shared, allow_download=False)
    assert len(noisy.pairs) == noisy.expected_count == 68
    assert len(jpeg.pairs) == jpeg.expected_count == 29
    with pytest.raises(UirbenchError, match="CelebA-HQ"):
        benchmark_pairs("inpainting", "val", tmp_path, shared, allow_download=False)
