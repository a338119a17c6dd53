"""The one reader of model configs: the packaged JSON files in ``uirbench/models/configs/``
(restoration networks and DA-CLIP alike), a JSON path, or a dict.

DA-CLIP's names carry a ``daclip_`` prefix (``daclip_tiny``; ``tiny`` is read as it); the
restoration networks' names have none (``irsde_daclip_tiny``).
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

from uirbench.errors import UirbenchError

PACKAGE = "uirbench.models.configs"
DACLIP_PREFIX = "daclip_"


def config_names(daclip: bool) -> list[str]:
    """Packaged config names: DA-CLIP's (``daclip_*``) or the restoration networks'."""
    names = (f.name[:-5] for f in resources.files(PACKAGE).iterdir() if f.name.endswith(".json"))
    return sorted(n for n in names if n.startswith(DACLIP_PREFIX) == daclip)


def read_config(config: str | Path | dict, daclip: bool = False) -> dict[str, Any]:
    """A config (always a fresh copy) from a dict, a JSON path or a packaged name; ``daclip``
    picks the packaged family (and adds the ``daclip_`` prefix a name may leave out)."""
    kind = "DA-CLIP" if daclip else "model"
    if isinstance(config, dict):
        return copy.deepcopy(config)
    text = str(config)
    path = Path(text)
    if text.endswith(".json") or path.is_file():
        if not path.is_file():
            raise UirbenchError(f"{kind} config {path} not found; give a JSON file or a name")
        return json.loads(path.read_text())
    name = DACLIP_PREFIX + text if daclip and not text.startswith(DACLIP_PREFIX) else text
    res = resources.files(PACKAGE).joinpath(f"{name}.json")
    if not res.is_file() or name.startswith(DACLIP_PREFIX) != daclip:
        raise UirbenchError(
            f"unknown {kind} config {config!r}: give a name from uirbench/models/configs/ "
            f"({', '.join(config_names(daclip))}) or a path to a JSON file"
        )
    return json.loads(res.read_text())
