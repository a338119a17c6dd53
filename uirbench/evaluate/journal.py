"""Resumable model evaluation: per-image results appended to a journal in the --out folder.

Restoring with IR-SDE costs seconds to minutes per image; a killed ``evaluate --model`` run
keeps what it scored. Each line holds one image's scores (and its FID features, when FID is
scored) under the run's fingerprint: a digest of everything that decides the outputs and the
scores (model, weights sha256, config, sampler steps and seed, DA-CLIP, dataset index, metrics,
profile, device type). A rerun with the same fingerprint reuses those images; lines of another
fingerprint, and a line cut short by the kill, are ignored. The journal is deleted once the
results are written.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from uirbench.io import full_disk_is_an_error

JOURNAL_NAME = ".evaluate-journal.jsonl"


def fingerprint(parts: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``parts`` (non-JSON values by their ``str``)."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class Journal:
    """Append-only per-image results of one run (``fingerprint``) in ``path``."""

    def __init__(self, path: Path, run_id: str) -> None:
        self.path = Path(path)
        self.run_id = run_id
        self._file = None

    def load(self) -> dict[str, dict[str, Any]]:
        """Records of earlier, interrupted runs with this fingerprint: ``{key: entry}``, where
        entry has ``record`` and, with FID, ``fid_out`` / ``fid_gt`` feature arrays."""
        done: dict[str, dict[str, Any]] = {}
        if not self.path.is_file():
            return done
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:  # the line the kill cut short
                continue
            if not isinstance(entry, dict) or entry.get("run") != self.run_id:
                continue
            for k in ("fid_out", "fid_gt"):
                if entry.get(k) is not None:
                    entry[k] = np.asarray(entry[k], dtype=np.float64).reshape(1, -1)
            done[entry["record"]["key"]] = entry
        return done

    def append(
        self,
        record: dict[str, Any],
        fid_out: np.ndarray | None = None,
        fid_gt: np.ndarray | None = None,
    ) -> None:
        """One scored image, flushed and fsynced so a kill right after keeps it."""
        with full_disk_is_an_error(self.path):  # a full disk names the journal, one line
            self._append(record, fid_out, fid_gt)

    def _append(
        self, record: dict[str, Any], fid_out: np.ndarray | None, fid_gt: np.ndarray | None
    ) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open)
        entry = {
            "run": self.run_id,
            "record": {k: _plain(v) for k, v in record.items()},
            "fid_out": None if fid_out is None else np.asarray(fid_out).ravel().tolist(),
            "fid_gt": None if fid_gt is None else np.asarray(fid_gt).ravel().tolist(),
        }
        self._file.write(json.dumps(entry) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def remove(self) -> None:
        """The run finished and its results are written: the journal has served."""
        self.close()
        self.path.unlink(missing_ok=True)


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v
