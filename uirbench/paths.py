"""Where the project's data folders live (manifests/, recipes/, models/).

They sit at the repository root next to the package (installed editable, as the README says);
``UIRBENCH_HOME`` points elsewhere, e.g. at a copy of those folders.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_home() -> Path:
    env = os.environ.get("UIRBENCH_HOME")
    return Path(env) if env else Path(__file__).resolve().parents[1]


def manifests_dir() -> Path:
    return project_home() / "manifests"


def recipes_dir() -> Path:
    return project_home() / "recipes"


def zoo_dir() -> Path:
    return project_home() / "models"
