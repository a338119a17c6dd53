"""The package carries its own data: manifests, recipes, zoo cards, leaderboard tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from uirbench import paths
from uirbench.errors import UirbenchError

PACKAGE = Path(__file__).resolve().parents[1] / "uirbench"


def test_package_data_lives_inside_the_package(monkeypatch) -> None:
    monkeypatch.delenv("UIRBENCH_HOME", raising=False)
    for folder, probe in (
        (paths.manifests_dir(), "demo.yaml"),
        (paths.recipes_dir(), "nafnet_tiny.yaml"),
        (paths.zoo_dir(), "ours.yaml"),
        (paths.manifests_dir() / "leaderboard", "daclip_iclr2024.csv"),
    ):
        assert folder.resolve().is_relative_to(PACKAGE), folder
        assert (folder / probe).is_file()


def test_recipe_by_name_or_path(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("UIRBENCH_HOME", raising=False)
    packaged = paths.recipes_dir() / "nafnet_tiny.yaml"
    assert paths.find_recipe("nafnet_tiny") == packaged
    assert paths.find_recipe("nafnet_tiny.yaml") == packaged
    own = tmp_path / "mine.yaml"
    own.write_text("model: nafnet\n")
    assert paths.find_recipe(own) == own
    # a file in the working directory with a packaged name wins over the packaged one
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nafnet_tiny.yaml").write_text("model: nafnet\n")
    assert paths.find_recipe("nafnet_tiny.yaml") == Path("nafnet_tiny.yaml")
    assert "nafnet_tiny" in paths.recipe_names()


def test_unknown_recipe_lists_the_packaged_ones() -> None:
    recipe = pytest.importorskip("uirbench.train.recipe")
    with pytest.raises(UirbenchError, match="nafnet_tiny"):
        recipe.load_recipe("no_such_recipe", {})


def test_uirbench_home_replaces_the_packaged_data(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("UIRBENCH_HOME", str(tmp_path))
    assert paths.manifests_dir() == tmp_path / "manifests"
    assert paths.recipes_dir() == tmp_path / "recipes"
    assert paths.zoo_dir() == tmp_path / "zoo"
