"""On-disk cache of GT features (FID), so evaluating many models never featurises a GT twice.

Key: the GT file's sha256 (from the index) inside a folder named by a hash of everything that
changes the feature (metric options and the feature network's weight file), so a different
Inception or resize mode can never be served stale features. Files are written atomically.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from uirbench.io import atomic_write_bytes


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "uirbench" / "features"


class FeatureCache:
    """``get``/``put`` per-image feature vectors under ``<dir>/<namespace>/<sha256>.npy``."""

    def __init__(self, directory: str | Path, identity: dict[str, Any]):
        tag = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode())
        self.dir = Path(directory) / tag.hexdigest()[:16]
        self.identity = identity
        self.hits = 0
        self.misses = 0

    def get(self, sha256: str | None) -> np.ndarray | None:
        if not sha256:
            return None
        p = self.dir / f"{sha256}.npy"
        if p.is_file():
            try:
                feat = np.load(p, allow_pickle=False)
                self.hits += 1
                return feat
            except (OSError, ValueError):
                pass  # a damaged entry is recomputed and rewritten
        self.misses += 1
        return None

    def put(self, sha256: str | None, feat: np.ndarray) -> None:
        if not sha256:
            return
        if not self.dir.is_dir():
            self.dir.mkdir(parents=True, exist_ok=True)
            meta = json.dumps(self.identity, indent=2, sort_keys=True, default=str) + "\n"
            atomic_write_bytes(self.dir / "identity.json", meta.encode())
        buf = io.BytesIO()
        np.save(buf, np.asarray(feat), allow_pickle=False)
        atomic_write_bytes(self.dir / f"{sha256}.npy", buf.getvalue())
