"""The model zoo: cards ``uirbench/zoo/<name>.yaml`` and their verified weight files."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import yaml

from uirbench import hub
from uirbench.errors import ChecksumError, UirbenchError
from uirbench.hub import Remote
from uirbench.io import sha256_file
from uirbench.paths import zoo_dir

log = logging.getLogger(__name__)


def zoo_card(name: str) -> dict[str, Any]:
    """The zoo card ``uirbench/zoo/<name>.yaml`` (architecture, recipe, weight files, numbers)."""
    path = zoo_dir() / f"{name}.yaml"
    if not path.exists():
        raise UirbenchError(f"no zoo card {path}; known cards: {card_names()}")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise UirbenchError(f"zoo card {path} is not valid (safe) YAML: {exc}") from None


def card_names() -> str:
    """The zoo's card names, comma-separated (for error messages)."""
    return ", ".join(sorted(p.stem for p in zoo_dir().glob("*.yaml"))) or "none"


def weights_cache_dir() -> Path | None:
    """``$UIRBENCH_WEIGHTS``: a folder holding zoo files by name (e.g. a shared mirror), or None
    to use the standard caches (Hugging Face's for hub-hosted files, torch.hub's otherwise)."""
    env = os.environ.get("UIRBENCH_WEIGHTS")
    return Path(env) if env else None


def zoo_remotes(name: str, cache_dir: str | Path | None = None) -> list[tuple[str, Remote]]:
    """(role, :class:`~uirbench.hub.Remote`) of each weight file of a zoo card, sha256 as pinned."""
    card = zoo_card(name)
    entries = card.get("weights") or []
    if not entries:
        raise UirbenchError(
            f"model {name!r} has no released weights (zoo card {name}.yaml); train it with "
            f"`uirbench train restore --recipe {Path(card.get('recipe', '<recipe>')).stem}` and "
            "pass --weights PATH"
        )
    folder = Path(cache_dir) if cache_dir else weights_cache_dir()
    out = []
    for entry in entries:
        pinned = entry.get("sha256")
        if pinned is not None and not (
            isinstance(pinned, str) and len(pinned) == 64 and set(pinned) <= set("0123456789abcdef")
        ):
            raise UirbenchError(
                f"zoo card {name}.yaml: sha256 of {entry['file']} must be a quoted 64-character "
                f"lowercase hex string or null, got {pinned!r}"
            )
        hf = entry.get("hf") if folder is None else None
        if hf:
            r = Remote(
                f"zoo {name} {entry.get('role', 'model')}",
                entry["url"],
                hf_repo=hf["repo"],
                hf_file=hf["file"],
                sha256=pinned,
            )
        else:
            dest = (folder or Path(hub.torch_hub_dir()) / "checkpoints") / entry["file"]
            r = Remote(
                f"zoo {name} {entry.get('role', 'model')}", entry["url"], path=dest, sha256=pinned
            )
        out.append((entry.get("role", "model"), r))
    return out


def fetch_zoo_weights(name: str, cache_dir: str | Path | None = None) -> dict[str, Path]:
    """The verified weight files of a zoo card (downloaded once through :mod:`uirbench.hub`);
    returns ``{role: path}``.

    A file whose card has no ``sha256`` yet is accepted and its sha256 logged (a warning), to be
    pinned in the card (the authors publish no checksums); a pinned one must match or it is
    refused.
    """
    out: dict[str, Path] = {}
    for role, r in zoo_remotes(name, cache_dir):
        try:
            path = hub.fetch(r)
        except ChecksumError as exc:
            raise ChecksumError(f"{exc} (pinned in zoo card {name}.yaml)") from None
        if not r.sha256:
            log.warning(
                "%s: sha256 %s (not pinned yet: add it to the zoo card %s.yaml)",
                path.name,
                sha256_file(path),
                name,
            )
        out[role] = path
    return out
