"""aio3 adapters (AirNet / PromptIR three-task setting) on small fake trees in each upstream
layout: name-matched pairs out, every mismatch named in the error."""

from __future__ import annotations

from pathlib import Path

import pytest

from uirbench.data.layout import check_stem
from uirbench.data.sources import get_adapter
from uirbench.errors import UirbenchError


def _touch(root: Path, *rels: str) -> None:
    for r in rels:
        p = root / r
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"\x89PNG fake " + r.encode())


def _by_stem(pairs) -> dict[str, tuple[str | None, str]]:
    stems = [p.stem for p in pairs]
    assert stems == sorted(stems)
    for s in stems:
        check_stem(s)
    return {p.stem: (p.lq.name if p.lq else None, p.gt.name) for p in pairs}


def test_rain100l_airnet_layout_pairs_by_name(tmp_path: Path) -> None:
    _touch(tmp_path, *(f"Rain100L/{s}/{n}.png" for s in ("input", "target") for n in (1, 2, 10)))
    pairs = get_adapter("rain100l")(tmp_path, "val")
    assert _by_stem(pairs) == {n: (f"{n}.png", f"{n}.png") for n in ("1", "10", "2")}
    assert all(p.lq.parent.name == "input" and p.gt.parent.name == "target" for p in pairs)


def test_rain100l_mismatch_named(tmp_path: Path) -> None:
    _touch(tmp_path, "Rain100L/input/1.png", "Rain100L/input/2.png", "Rain100L/target/1.png")
    _touch(tmp_path, "Rain100L/target/3.png")
    with pytest.raises(UirbenchError) as exc:
        get_adapter("rain100l")(tmp_path, "val")
    msg = str(exc.value)
    assert "LQ without GT" in msg and "input/2.png" in msg
    assert "GT without LQ" in msg and "target/3.png" in msg


def test_rain100l_promptir_train_layout(tmp_path: Path) -> None:
    # PromptIR data/Train/Derain/{rainy/rain-N.png, gt/norain-N.png}
    _touch(tmp_path, "Derain/rainy/rain-1.png", "Derain/rainy/rain-12.png")
    _touch(tmp_path, "Derain/gt/norain-1.png", "Derain/gt/norain-12.png")
    pairs = get_adapter("rain100l")(tmp_path, "train")
    assert _by_stem(pairs) == {
        "rain-1": ("rain-1.png", "norain-1.png"),
        "rain-12": ("rain-12.png", "norain-12.png"),
    }
    (tmp_path / "Derain/gt/norain-12.png").unlink()
    with pytest.raises(UirbenchError, match=r"LQ without GT: .*rain-12\.png"):
        get_adapter("rain100l")(tmp_path, "train")


def test_rain100l_jorder_release_layout(tmp_path: Path) -> None:
    _touch(tmp_path, "rain_data_test_Light/Rain100L/rain-001.png", "x/Rain100L/norain-001.png")
    _touch(tmp_path, "RainTrainL/rain-1.png", "RainTrainL/norain-1.png")
    assert _by_stem(get_adapter("rain100l")(tmp_path, "val")) == {
        "rain-001": ("rain-001.png", "norain-001.png")
    }
    assert list(_by_stem(get_adapter("rain100l")(tmp_path, "train"))) == ["rain-1"]
    _touch(tmp_path, "RainTrainL/readme.png")
    with pytest.raises(UirbenchError, match=r"readme\.png"):
        get_adapter("rain100l")(tmp_path, "train")


def test_rain100l_missing_says_what_layout(tmp_path: Path) -> None:
    with pytest.raises(UirbenchError, match=r"Rain100L/\{input,target\}"):
        get_adapter("rain100l")(tmp_path, "val")


@pytest.mark.parametrize("lq,gt", [("hazy", "gt"), ("input", "target")])
def test_sots_outdoor_gt_named_by_hazy_prefix(tmp_path: Path, lq: str, gt: str) -> None:
    _touch(tmp_path, f"SOTS/outdoor/{lq}/0001_0.8_0.2.jpg", f"SOTS/outdoor/{lq}/0002_1_0.08.jpg")
    _touch(tmp_path, f"SOTS/outdoor/{gt}/0001.png", f"SOTS/outdoor/{gt}/0002.png")
    pairs = get_adapter("sots_outdoor")(tmp_path, "val")
    assert _by_stem(pairs) == {
        "0001": ("0001_0.8_0.2.jpg", "0001.png"),
        "0002": ("0002_1_0.08.jpg", "0002.png"),
    }


def test_sots_outdoor_mismatches_named(tmp_path: Path) -> None:
    _touch(tmp_path, "outdoor/hazy/0001_0.8_0.2.jpg", "outdoor/hazy/0003_0.8_0.2.jpg")
    _touch(tmp_path, "outdoor/gt/0001.png", "outdoor/gt/0002.png")
    with pytest.raises(UirbenchError) as exc:
        get_adapter("sots_outdoor")(tmp_path, "val")
    assert "0003_0.8_0.2.jpg" in str(exc.value) and "gt/0002.png" in str(exc.value)
    # SOTS indoor style (several hazy images per GT) is refused, not half-paired
    _touch(tmp_path, "outdoor/hazy/0001_0.9_0.1.jpg")
    with pytest.raises(UirbenchError, match="both map to the pair name '0001'"):
        get_adapter("sots_outdoor")(tmp_path, "val")


def test_ots_many_hazy_per_gt_and_orphans_named(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "Dehaze/synthetic/part1/0025_0.8_0.04.jpg",
        "Dehaze/synthetic/part1/0025_0.8_0.06.jpg",
        "Dehaze/synthetic/part4/8961_1_0.1.jpg",
        "Dehaze/original/0025.jpg",
        "Dehaze/original/8961.jpg",
        "Dehaze/original/9999.jpg",  # no hazy image uses it: not a pair, not an error
    )
    pairs = get_adapter("ots")(tmp_path, "train")
    assert _by_stem(pairs) == {
        "0025_0_8_0_04": ("0025_0.8_0.04.jpg", "0025.jpg"),
        "0025_0_8_0_06": ("0025_0.8_0.06.jpg", "0025.jpg"),
        "8961_1_0_1": ("8961_1_0.1.jpg", "8961.jpg"),
    }
    _touch(tmp_path, "Dehaze/synthetic/part2/0042_1_0.2.jpg")
    with pytest.raises(UirbenchError, match=r"(?s)1 OTS hazy image.*0042_1_0\.2\.jpg"):
        get_adapter("ots")(tmp_path, "train")


def test_bsd400_and_wed_gt_only_prefixed(tmp_path: Path) -> None:
    _touch(tmp_path, "BSD400/test_001.png", "BSD400/test_002.png")
    assert _by_stem(get_adapter("bsd400")(tmp_path / "BSD400", "train")) == {
        "bsd400-test_001": (None, "test_001.png"),
        "bsd400-test_002": (None, "test_002.png"),
    }
    _touch(tmp_path, "wed/exploration_database_and_code/pristine_images/00001.bmp")
    _touch(tmp_path, "wed/exploration_database_and_code/dmos/readme.png")
    assert list(_by_stem(get_adapter("wed")(tmp_path / "wed", "train"))) == ["wed-00001"]
    with pytest.raises(UirbenchError, match="train source"):
        get_adapter("wed")(tmp_path / "wed", "val")
    _touch(tmp_path, "BSD400/extra/x.png")  # two image folders: ambiguous, named
    with pytest.raises(UirbenchError, match="several folder of BSD400 images"):
        get_adapter("bsd400")(tmp_path / "BSD400", "train")


# ---------------------------------------------------------------- CDD-11 (OneRestore)


def test_cdd11_pairs_each_type_with_clear_by_name(tmp_path: Path) -> None:
    for split in ("train", "test"):
        for d in ("clear", "low", "low_haze_snow"):
            _touch(tmp_path, f"CDD-11/{split}/{d}/000001.png", f"CDD-11/{split}/{d}/000002.png")
    pairs = get_adapter("cdd11")(tmp_path, "val", degradation="low_haze_snow")
    assert _by_stem(pairs) == {n: (f"{n}.png", f"{n}.png") for n in ("000001", "000002")}
    assert all(p.lq.parent.name == "low_haze_snow" and p.gt.parent.name == "clear" for p in pairs)
    assert all(p.gt.parts[-3] == "test" for p in pairs)  # val is upstream test
    assert get_adapter("cdd11")(tmp_path, "train", degradation="low")[0].gt.parts[-3] == "train"
    _touch(tmp_path, "CDD-11/test/low/000003.png")
    with pytest.raises(UirbenchError, match=r"(?s)LQ without GT: .*low/000003\.png"):
        get_adapter("cdd11")(tmp_path, "val", degradation="low")
    with pytest.raises(UirbenchError, match="no degradation 'fog'"):
        get_adapter("cdd11")(tmp_path, "val", degradation="fog")
    with pytest.raises(UirbenchError, match="no CDD-11 'test' folder with clear/ and rain/"):
        get_adapter("cdd11")(tmp_path, "val", degradation="rain")
