"""``--preset aio3``: the AirNet / PromptIR three-task setting builds like uir10.

The denoising test sets come from the same CBSD68 files as uir10's noisy task (one fetch into
``<raw root>/cbsd68``), with truncated noise as the official ``DenoiseTestDataset``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uirbench.data.build import build
from uirbench.data.index import read_index
from uirbench.data.manifest import load_benchmark
from uirbench.data.synth import apply
from uirbench.data.task_file import load_task_file, tasks_for_root
from uirbench.data.uir10 import preset_tasks_file
from uirbench.data.verify import verify
from uirbench.errors import UirbenchError
from uirbench.io import read_image
from uirbench.tasks import get_task, using

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_aio3_manifest_tasks_and_noise() -> None:
    b = load_benchmark("aio3")
    task_set = load_task_file(preset_tasks_file("aio3"))
    assert (
        [t.id for t in task_set]
        == list(b["tasks"])
        == [
            "noisy-15",
            "noisy-25",
            "noisy-50",
            "rainy-light",
            "hazy-outdoor",
        ]
    )
    assert preset_tasks_file("uir10") is None  # uir10 is the built-in ten
    for s in (15, 25, 50):
        val = b["tasks"][f"noisy-{s}"]["val"]
        assert val["sources"] == [{"source": "cbsd68"}]  # the uir10 noisy GT source, shared
        assert val["synth"] == {"op": "noise", "params": {"sigma": s, "quantize": "truncate"}}
    assert b["profile"] == "promptir"
    # the setting's own classes (0-4) and degradation texts (DA-CLIP shards)
    with using(task_set):
        assert [get_task(t).index for t in b["tasks"]] == [0, 1, 2, 3, 4]
        assert get_task("noisy-50").degradation == "noisy"
        assert get_task("rainy-light").degradation == "rainy"
        assert get_task("hazy-outdoor").folder == "hazy-outdoor"


def test_truncated_noise_is_the_official_formula() -> None:
    gt = np.random.default_rng(1).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    lq, used = apply("noise", gt, 7, sigma=25, quantize="truncate")
    assert used == {"sigma": 25.0, "quantize": "truncate"}
    # same draws, as AirNet/PromptIR write it: np.clip(clean + noise * sigma, 0, 255).astype(uint8)
    noise = np.random.Generator(np.random.PCG64(7)).standard_normal(gt.shape, dtype=np.float32)
    want = np.clip(gt + noise * np.float32(25), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(lq, want)
    rounded, used_r = apply("noise", gt, 7, sigma=25)
    assert used_r == {"sigma": 25.0}  # uir10's params (and index bytes) unchanged
    # truncation darkens: about -0.5 grey levels on average where nothing clips
    mid = (gt > 80) & (gt < 175)
    shift = lq[mid].astype(float).mean() - rounded[mid].astype(float).mean()
    assert -0.6 < shift < -0.4
    with pytest.raises(ValueError, match="quantize"):
        apply("noise", gt, 7, sigma=25, quantize="floor")


def test_aio3_unknown_task_names_the_setting_tasks(tmp_path: Path) -> None:
    with pytest.raises(
        UirbenchError, match="unknown task 'noisy'; known tasks: noisy-15, noisy-25"
    ):
        build(tmp_path / "r", preset="aio3", tasks="noisy", splits="val")


def test_aio3_denoising_from_mirror_is_deterministic_and_verifies(tmp_path: Path) -> None:
    if not (SHARED / "CBSD68").is_dir():
        pytest.skip("reference data (../shared/data) not on this machine")
    raw = tmp_path / "raw"  # one raw root for both builds: CBSD68 is fetched once
    kw = dict(preset="aio3", tasks="noisy-25", splits="val", mirror=SHARED, raw_root=raw)
    a = build(tmp_path / "a", workers=1, **kw)
    b = build(tmp_path / "b", workers=1, **kw)
    assert a.counts == b.counts == {("noisy-25", "val"): 68}
    assert verify(tmp_path / "a") == [] and verify(tmp_path / "b") == []

    def listing(root: Path) -> list[Path]:
        return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())

    files = listing(tmp_path / "a")
    assert files == listing(tmp_path / "b")
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    # the root keeps the setting's task set, so evaluate & co. see aio3's five tasks
    assert [t.id for t in tasks_for_root(tmp_path / "a")][:3] == [
        "noisy-15",
        "noisy-25",
        "noisy-50",
    ]
    df = read_index(tmp_path / "a")
    assert set(df["task"]) == {"noisy-25"} and set(df["source"]) == {"cbsd68"}
    row = df.iloc[0]
    assert row["lq_path"] == f"val/noisy-25/LQ/{row['stem']}.png"
    # the GT is the upstream file, unchanged; the LQ is its truncated sigma-25 noise
    assert (tmp_path / "a" / row["gt_path"]).read_bytes() == (
        SHARED / "CBSD68" / f"{row['stem']}.png"
    ).read_bytes()
    gt = read_image(tmp_path / "a" / row["gt_path"])
    lq, _ = apply("noise", gt, int(row["seed"]), sigma=25, quantize="truncate")
    np.testing.assert_array_equal(read_image(tmp_path / "a" / row["lq_path"]), lq)
    assert [p.name for p in raw.iterdir() if not p.name.startswith(".")] == ["cbsd68"]
    # a rerun into the same root resumes: every pair verified and reused, nothing rebuilt
    again = build(tmp_path / "a", workers=1, **kw)
    assert (again.built, again.reused) == (0, 68)


def test_aio3_refuses_a_root_of_the_ten(tmp_path: Path) -> None:
    from uirbench.io import write_png

    write_png(tmp_path / "photos" / "p.png", np.zeros((32, 32, 3), np.uint8))
    root = tmp_path / "root"
    build(root, from_dir=tmp_path / "photos", tasks="noisy", splits="val", workers=1)
    with pytest.raises(UirbenchError, match="build of the ten built-in tasks; build --preset aio3"):
        build(root, preset="aio3", tasks="noisy-15", splits="val")


def test_cdd11_builds_from_a_release_tree_and_scores_with_its_protocol(tmp_path: Path) -> None:
    from uirbench.data.sources.composite import CDD11_TYPES
    from uirbench.evaluate.runner import run, setting_profile
    from uirbench.io import write_png

    rng = np.random.default_rng(0)
    mirror = tmp_path / "mirror"
    for n in ("000001", "000002"):
        gt = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
        write_png(mirror / f"CDD-11/test/clear/{n}.png", gt)
        for d in CDD11_TYPES:
            write_png(mirror / f"CDD-11/test/{d}/{n}.png", gt // 2)
    root = tmp_path / "root"
    rep = build(root, preset="cdd11", splits="val", mirror=mirror, raw_root=tmp_path / "raw")
    assert len(rep.counts) == 11 and set(rep.counts.values()) == {2}
    assert verify(root) == []
    df = read_index(root)
    row = df[df["key"] == "val/cdd-low-haze-rain/000001"].iloc[0]
    assert row["synth"] == "paired" and row["source"] == "onerestore_cdd11"
    assert (root / row["lq_path"]).read_bytes() == (
        mirror / "CDD-11/test/low_haze_rain/000001.png"
    ).read_bytes()
    res = run(
        root=root,
        out=tmp_path / "eval",
        model="identity",
        profile=setting_profile("cdd11"),
        setting="cdd11",
        tasks="cdd-low,cdd-snow",
        workers=0,
    )
    assert res["profile"]["name"] == "onerestore" and list(res["per_task"])[:2] == [
        "cdd-low",
        "cdd-snow",
    ]


def test_aio5_shares_uir10_and_aio3_sources() -> None:
    aio5, uir10, aio3 = (load_benchmark(n) for n in ("aio5", "uir10", "aio3"))
    assert list(aio5["tasks"]) == [t.id for t in load_task_file(preset_tasks_file("aio5"))]
    # GoPro and LOL exactly as uir10 takes them, Rain100L/SOTS/OTS as aio3
    assert aio5["tasks"]["blurry"] == uir10["tasks"]["blurry"]
    assert aio5["tasks"]["low-light"] == uir10["tasks"]["low-light"]
    for t in ("rainy-light", "hazy-outdoor", "noisy-25"):
        assert aio5["tasks"][t]["val"] == aio3["tasks"][t]["val"]
