"""One config reader (uirbench/models/config.py) for the restoration networks and DA-CLIP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from uirbench.errors import UirbenchError
from uirbench.models.config import config_names, read_config
from uirbench.models.daclip import list_configs, load_config
from uirbench.models.networks import load_model_config

PACKAGE = Path(__file__).parents[1] / "uirbench"


def test_each_family_reads_its_own_packaged_configs() -> None:
    files = sorted(p.stem for p in (PACKAGE / "models" / "configs").glob("*.json"))
    daclip, nets = config_names(daclip=True), config_names(daclip=False)
    assert sorted(daclip + nets) == files and list_configs() == daclip
    assert {"daclip_tiny", "daclip_ViT-B-32"} <= set(daclip) and "irsde_tiny" in nets
    for name in nets:
        assert load_model_config(name)["arch"] in ("irsde", "nafnet"), name
        with pytest.raises(UirbenchError, match="unknown DA-CLIP config"):
            load_config(name)
    for name in daclip:
        assert "vision_cfg" in load_config(name), name
        with pytest.raises(UirbenchError, match=r"unknown model config .*irsde_tiny"):
            load_model_config(name)
    assert load_config("tiny") == load_config("daclip_tiny")  # the prefix may be left out


def test_paths_dicts_and_errors(tmp_path: Path) -> None:
    cfg = load_model_config("nafnet_tiny")
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(cfg))
    assert load_model_config(path) == load_model_config(str(path)) == cfg
    copy = read_config(cfg)
    copy["net"]["width"] = -1  # a fresh copy: the caller's dict is never changed through it
    assert cfg["net"]["width"] != -1
    with pytest.raises(UirbenchError, match=r"model config .*missing.json not found"):
        load_model_config(tmp_path / "missing.json")
    with pytest.raises(UirbenchError, match="daclip_ViT-B-32"):
        load_config("ViT-Q-99")


def test_only_models_config_reads_the_packaged_configs() -> None:
    readers = [
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if "uirbench.models.configs" in p.read_text() or '"configs"' in p.read_text()
    ]
    assert readers == ["models/config.py"]
