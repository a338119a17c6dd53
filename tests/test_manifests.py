"""Every shipped manifest validates; a malformed one is reported with the offending key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from uirbench.data import manifest as m
from uirbench.tasks import TASK_IDS

EXPECTED_SOURCES = {
    "gopro",
    "reside6k",
    "div2k",
    "flickr2k",
    "live1",
    "lol",
    "cbsd68",
    "raindrop",
    "rain100h",
    "srd",
    "snow100k",
    "celebahq256",
    "repaint_thin_masks",
    "daclip_val",
    # aio3 (AirNet / PromptIR three-task setting)
    "bsd400",
    "wed",
    "rain100l",
    "sots_outdoor",
    "ots",
    # cdd11 (OneRestore's CDD-11)
    "onerestore_cdd11",
    # wild (Wild-IR: LSDIR with the official random_degrade and its PSF banks)
    "lsdir",
    "lsdir_val",
    "daclip_psf",
}
# Sources with no URL uirbench can fetch (RESIDE hosts no stable file links; WED ships a .rar):
# their artifacts have only the manual instructions.
MANUAL_ONLY = {"wed", "sots_outdoor", "ots"}


def test_every_source_manifest_validates() -> None:
    assert set(m.list_sources()) == EXPECTED_SOURCES
    for name in m.list_sources():
        src = m.load_source(name)
        assert src.name == name
        assert src.licence["terms"]
        for a in src.artifacts:
            if name in MANUAL_ONLY:
                assert not a.locations and src.manual, name
            else:
                assert a.locations, f"{name}: {a.path} has no location"


def test_known_checksums_are_pinned() -> None:
    div2k = m.load_source("div2k").artifacts[0]
    assert div2k.sha256 == "9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335"
    assert div2k.size == 3530603713
    for name, n in (("cbsd68", 68), ("live1", 29), ("repaint_thin_masks", 100)):
        arts = m.load_source(name).artifacts
        assert len(arts) == n and all(a.sha256 and a.size for a in arts)
    psf = m.load_source("daclip_psf").artifacts[0]  # computed from the official commit c2cc141
    assert psf.sha256 == "b1b256bf26eaa0939da10b3e8a7f38685364f67d3eae11bff67ed5a0b59fac8a"
    live1 = m.load_source("live1").artifacts[0]
    assert live1.locations[0].url.endswith(f"/LIVE1_color/{Path(live1.path).name}")


def test_shared_sums_match_manifests() -> None:
    sums = Path(__file__).resolve().parents[2] / "shared" / "data/SHA256SUMS"
    if not sums.is_file():
        pytest.skip("reference data not on this machine")
    pinned = {
        a.path: a.sha256
        for n in ("cbsd68", "live1", "repaint_thin_masks")
        for a in m.load_source(n).artifacts
    }
    listed = dict(reversed(line.split()) for line in sums.read_text().splitlines())
    assert pinned == listed


def test_benchmark_covers_ten_tasks() -> None:
    b = m.load_benchmark("uir10")
    assert list(b["tasks"]) == list(TASK_IDS)
    assert b["tasks"]["noisy"]["val"]["synth"] == {"op": "noise", "params": {"sigma": 50}}
    assert b["tasks"]["jpeg"]["train"]["synth"]["params"]["quality"] == 10
    assert b["tasks"]["inpainting"]["val"]["synth"]["op"] == "inpaint_mask"


def _write(tmp: Path, name: str, data: dict) -> Path:
    p = tmp / f"{name}.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def _good() -> dict:
    return yaml.safe_load((m.manifests_dir() / "div2k.yaml").read_text())


def _artifact(**fields):
    return lambda d: d["artifacts"][0].update(**fields)


@pytest.mark.parametrize(
    ("mutate", "key", "needle"),
    [
        (lambda d: d.pop("licence"), "<top level>", "licence"),
        (lambda d: d.update(colour="red"), "<top level>", "colour"),
        (lambda d: d["artifacts"][0].update(sha256="abc"), "artifacts[0].sha256", "abc"),
        (_artifact(path="/etc/passwd"), "artifacts[0].path", "'/etc/passwd'"),
        (_artifact(path="a/../../x.zip"), "artifacts[0].path", "'a/../../x.zip'"),
        (_artifact(extract_to="..\\x"), "artifacts[0].extract_to", repr("..\\x")),
        (lambda d: d["artifacts"][0]["locations"].append({"ftp": "x"}), "locations[1]", "ftp"),
        (lambda d: d.update(tasks=["blury"]), "tasks[0]", "blury"),
    ],
)
def test_malformed_source_names_key(tmp_path: Path, mutate, key: str, needle: str) -> None:
    data = _good()
    mutate(data)
    _write(tmp_path, "div2k", data)
    with pytest.raises(m.ManifestError) as exc:
        m.load_source("div2k", tmp_path)
    msg = str(exc.value)
    assert needle  # the offending value (quoted as repr() for paths) must be named
    assert key in msg and needle in msg and "div2k.yaml" in msg


def test_name_must_match_file(tmp_path: Path) -> None:
    _write(tmp_path, "other", _good())
    with pytest.raises(m.ManifestError, match="'name'"):
        m.load_source("other", tmp_path)


def test_unknown_source_lists_known(tmp_path: Path) -> None:
    _write(tmp_path, "div2k", _good())
    with pytest.raises(m.ManifestError, match="known sources: div2k"):
        m.load_source("nope", tmp_path)


def test_bad_yaml_named(tmp_path: Path) -> None:
    (tmp_path / "div2k.yaml").write_text("name: [unclosed\n")
    with pytest.raises(m.ManifestError, match="not valid YAML"):
        m.load_source("div2k", tmp_path)


def test_malformed_benchmark_names_key(tmp_path: Path) -> None:
    data = yaml.safe_load((m.manifests_dir() / "uir10.yaml").read_text())
    for n in m.list_sources():
        (tmp_path / f"{n}.yaml").write_text((m.manifests_dir() / f"{n}.yaml").read_text())
    data["tasks"]["noisy"]["val"]["synth"]["op"] = "gaussian"
    _write(tmp_path, "uir10", data)
    with pytest.raises(m.ManifestError, match=r"tasks\.noisy\.val\.synth\.op"):
        m.load_benchmark("uir10", tmp_path)
    data["tasks"]["noisy"]["val"]["synth"]["op"] = "noise"
    data["tasks"]["noisy"]["val"]["sources"][0]["source"] = "bsd68"
    _write(tmp_path, "uir10", data)
    with pytest.raises(m.ManifestError, match=r"tasks\.noisy\.val\.sources\[0\]\.source"):
        m.load_benchmark("uir10", tmp_path)
