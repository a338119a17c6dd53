"""Where the packaged data live: ``uirbench/manifests``, ``uirbench/recipes``, ``uirbench/zoo``.

Why inside the package: a wheel install (``pip install uirbench``) has no checkout around it, so
manifests, recipes, zoo cards and the paper's leaderboard data ship as package data and are found
with :mod:`importlib.resources`. ``UIRBENCH_HOME`` points at another folder holding ``manifests/``,
``recipes/`` and ``zoo/`` (e.g. an edited copy) and then replaces the packaged ones.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from uirbench.errors import UirbenchError


def _packaged(name: str) -> Path:
    env = os.environ.get("UIRBENCH_HOME")
    if env:
        return Path(env) / name
    root = resources.files("uirbench").joinpath(name)
    # Installed as plain files (wheel or editable); a zipped install would need as_file().
    if not isinstance(root, Path):
        raise UirbenchError(
            f"uirbench's package data {name}/ is not on the file system ({root}); install uirbench "
            "from a wheel or a checkout, or set UIRBENCH_HOME to a folder holding manifests/, "
            "recipes/ and zoo/"
        )
    return root


def project_home() -> Path:
    """The folder holding manifests/, recipes/ and zoo/ ($UIRBENCH_HOME or the package)."""
    env = os.environ.get("UIRBENCH_HOME")
    return Path(env) if env else _packaged("manifests").parent


def manifests_dir() -> Path:
    return _packaged("manifests")


def recipes_dir() -> Path:
    return _packaged("recipes")


def zoo_dir() -> Path:
    return _packaged("zoo")


def find_recipe(recipe: str | os.PathLike) -> Path:
    """A recipe path as given, or a packaged recipe by name (``nafnet_tiny``, ``nafnet_tiny.yaml``).

    Why both: users write ``--recipe nafnet_tiny`` against an installed package, and
    ``--recipe my/recipe.yaml`` for their own; an existing file always wins.
    """
    path = Path(recipe)
    if path.is_file() or len(path.parts) != 1:
        return path
    name = path.name if path.suffix in (".yaml", ".yml") else f"{path.name}.yaml"
    packaged = recipes_dir() / name
    return packaged if packaged.is_file() else path


def recipe_names() -> list[str]:
    """Names of the packaged recipes, for error messages and --help."""
    return sorted(p.stem for p in recipes_dir().glob("*.yaml"))
