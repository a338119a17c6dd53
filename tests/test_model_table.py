"""The model table agrees with the data it points to: configs, zoo cards, recipes, registry."""

from __future__ import annotations

import pytest
import yaml

from uirbench.models.daclip import load_config as load_daclip_config
from uirbench.models.networks import load_model_config, uses_daclip
from uirbench.models.registry import BUILDERS
from uirbench.models.table import DACLIP, MODELS, trainable
from uirbench.paths import recipes_dir, zoo_dir

NETWORKS = sorted(trainable())


@pytest.mark.parametrize("name", NETWORKS)
def test_row_matches_its_configs(name):
    row = MODELS[name]
    for config in (row.config, row.tiny_config):
        assert uses_daclip(load_model_config(config)) == row.uses_daclip, config


@pytest.mark.parametrize("name", NETWORKS)
def test_row_matches_its_zoo_card(name):
    row = MODELS[name]
    card = yaml.safe_load((zoo_dir() / f"{row.card}.yaml").read_text())
    assert card["name"] == row.name
    assert card["architecture"]["config"] == row.config
    assert card["recipe"] == (f"{row.recipe}.yaml" if row.recipe else None)


@pytest.mark.parametrize("name", NETWORKS)
def test_row_matches_its_recipes(name):
    row = MODELS[name]
    for recipe, config in ((row.recipe, row.config), (row.tiny_recipe, row.tiny_config)):
        if recipe is None:  # released weights only (wild-ir)
            continue
        data = yaml.safe_load((recipes_dir() / f"{recipe}.yaml").read_text())
        assert (data["model"], data["model_config"]) == (name, config), recipe


def test_daclip_row():
    card = yaml.safe_load((zoo_dir() / f"{DACLIP.card}.yaml").read_text())
    assert card["architecture"]["config"] == DACLIP.config
    assert card["recipe"] == f"{DACLIP.recipe}.yaml"
    for recipe, config in (
        (DACLIP.recipe, DACLIP.config),
        (DACLIP.tiny_recipe, DACLIP.tiny_config),
    ):
        data = yaml.safe_load((recipes_dir() / f"{recipe}.yaml").read_text())
        assert (data["model"], data["model_config"]) == (DACLIP.name, config), recipe
        assert load_daclip_config(config)


def test_every_card_and_recipe_names_a_row():
    cards = {row.card for row in [*MODELS.values(), DACLIP] if row.card}
    assert {p.stem for p in zoo_dir().glob("*.yaml")} == cards
    for path in recipes_dir().glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        if data["model"] in MODELS:
            assert MODELS[data["model"]].config, path  # a network to train
        else:  # DA-CLIP, its config in model_config as in the restoration recipes
            assert data["model"] == DACLIP.name and load_daclip_config(data["model_config"]), path


def test_registry_is_the_table():
    assert set(BUILDERS) == set(MODELS)
