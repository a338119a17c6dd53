"""``sidecar`` backend: captions read from a CSV or JSON file instead of a model.

Used by the embedded demo (hand-written captions of its source photos, ``uirbench/manifests/
demo_captions.csv``) and by anyone who captioned elsewhere. A file maps a *name* to a caption:

- CSV (comma or tab separated, detected from the header): columns ``key`` and ``caption``;
- JSON: an object ``{"<key>": "<caption>", ...}`` or a list of ``{"key": ..., "caption": ...}``.

Each GT is looked up by its file name first (``astronaut-c0.png``), then by its stem
(``astronaut-c0``), then by the index's ``source_image`` (``skimage:astronaut``), so one line per
source photo covers every crop and task made from it, and a per-file line overrides it.
A GT found under none of them is an error naming the file and the keys tried.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from uirbench.caption.base import Item, register_backend
from uirbench.errors import UirbenchError
from uirbench.io import sha256_file
from uirbench.paths import manifests_dir

DEMO_CAPTIONS_NAME = "demo_captions.csv"


def demo_captions() -> Path:
    """The demo's hand-written captions, in the project's manifests folder (UIRBENCH_HOME aware)."""
    return manifests_dir() / DEMO_CAPTIONS_NAME


def load_sidecar(path: str | Path) -> dict[str, str]:
    """Read a sidecar file into ``{key: caption}``; clear errors naming the file."""
    path = Path(path)
    if not path.is_file():
        raise UirbenchError(f"--sidecar {path}: file not found")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UirbenchError(f"--sidecar {path}: invalid JSON ({exc})") from exc
        if isinstance(data, list):
            try:
                data = {str(r["key"]): str(r["caption"]) for r in data}
            except (KeyError, TypeError) as exc:
                raise UirbenchError(
                    f"--sidecar {path}: a JSON list must hold objects with 'key' and 'caption'"
                ) from exc
        if not isinstance(data, dict):
            raise UirbenchError(f"--sidecar {path}: expected an object or a list of objects")
        return {str(k): str(v) for k, v in data.items()}
    header = text.splitlines()[0] if text else ""
    delimiter = "\t" if "\t" in header else ","
    rows = list(csv.DictReader(text.splitlines(), delimiter=delimiter))
    if not rows or not {"key", "caption"} <= set(rows[0]):
        raise UirbenchError(
            f"--sidecar {path}: a CSV sidecar needs a header with 'key' and 'caption' columns"
        )
    out: dict[str, str] = {}
    for n, row in enumerate(rows, start=2):
        key, cap = (row["key"] or "").strip(), (row["caption"] or "").strip()
        if not key or not cap:
            raise UirbenchError(f"--sidecar {path}, line {n}: empty key or caption")
        if key in out and out[key] != cap:
            raise UirbenchError(f"--sidecar {path}, line {n}: key {key!r} given twice")
        out[key] = cap
    return out


@register_backend("sidecar")
class Sidecar:
    """Looks captions up by GT file name, then stem, then source image."""

    name = "sidecar"
    needs_pixels = False

    def __init__(self, sidecar: str | Path | None = None, batch_size: int = 256, **_: object):
        self.path = Path(sidecar) if sidecar is not None else demo_captions()
        self.table = load_sidecar(self.path)
        self.batch_size = batch_size
        # Keyed by the file's content: editing the sidecar invalidates its cached captions.
        self.fingerprint = f"sidecar:{sha256_file(self.path)}"

    def lookup(self, item: Item) -> str:
        stem = item.gt_name.rsplit(".", 1)[0]
        for key in (item.gt_name, stem, item.source_image):
            if key and key in self.table:
                return self.table[key]
        raise UirbenchError(
            f"--sidecar {self.path}: no caption for GT {item.gt_path} "
            f"(tried keys {item.gt_name!r}, {stem!r}, {item.source_image!r}); add a line for one"
        )

    def caption(self, items: Sequence[Item], images: Sequence[np.ndarray] | None) -> list[str]:
        return [self.lookup(it) for it in items]
