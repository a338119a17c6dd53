"""The model table: one declarative row per model, read by the registry, restore, evaluate and
the trainers (as pyiqa's ``default_model_configs.py``).

A row names what uirbench knows about a model and where the rest lives as data: the network
config (``uirbench/models/configs/<config>.json``), its CPU-sized twin for tests and tiny recipes,
whether it takes DA-CLIP embeddings, its zoo card (``uirbench/zoo/<card>.yaml``: weights,
licence, reported numbers) and its training recipes (``uirbench/recipes/<recipe>.yaml``).
Adding a model is one row here plus those files; ``tests/test_model_table.py`` checks that the
row, the config, the card and the recipes agree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelRow:
    """One model, by its registry name (``--model``, a recipe's ``model``, the zoo card)."""

    name: str
    config: str | None  # packaged network config (paper size); None: no network (identity)
    tiny_config: str | None  # CPU-sized config of the tiny recipe and the tests
    uses_daclip: bool  # the network takes DA-CLIP (content, degradation) embeddings
    card: str | None  # zoo card name
    recipe: str | None  # packaged paper recipe
    tiny_recipe: str | None  # packaged CPU recipe
    # (recipes None: released weights only, e.g. wild-ir, trained on data uirbench does not build)


# Restoration models: what `uirbench restore/evaluate --model` and `train restore` accept.
MODELS: dict[str, ModelRow] = {
    row.name: row
    for row in (
        ModelRow("identity", None, None, False, None, None, None),
        ModelRow(
            "ours", "irsde_daclip", "irsde_daclip_tiny", True, "ours", "irsde_daclip", "ours_tiny"
        ),
        ModelRow("irsde", "irsde", "irsde_tiny", False, "irsde", "irsde", "irsde_tiny"),
        ModelRow("nafnet", "nafnet", "nafnet_tiny", False, "nafnet", "nafnet", "nafnet_tiny"),
        ModelRow(
            "nafnet-daclip",
            "nafnet_daclip",
            "nafnet_daclip_tiny",
            True,
            "nafnet-daclip",
            "nafnet_daclip",
            "nafnet_daclip_tiny",
        ),
        # the official real-world model (config/wild-ir): restore/evaluate with its released
        # weights; no recipe (LSDIR + random_degrade at 500k iterations)
        ModelRow("wild-ir", "irsde_wild", "irsde_wild_tiny", True, "wild-ir", None, None),
    )
}

# DA-CLIP itself (`uirbench train daclip`, `classify`): its recipes name the config directly.
DACLIP = ModelRow(
    "daclip",
    "daclip_ViT-B-32",
    "daclip_tiny",
    False,
    "daclip_vitb32",
    "daclip_vitb32",
    "daclip_tiny",
)


def trainable() -> dict[str, ModelRow]:
    """Restoration models with a network (what ``train restore`` can train)."""
    return {name: row for name, row in MODELS.items() if row.config}
