"""The trainers' metrics log: append-only JSONL that a resumed run trims to its checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

from uirbench.io import append_text, atomic_write_text, read_jsonl


class JsonlLog:
    """Append-only JSONL (one record per line, ``step`` in each).

    ``resume_step``: None starts the log afresh (emptied); a step keeps the records up to it and
    drops the rest, rewritten atomically, so a line torn by a killed run never stops a resume.
    ``enabled`` is False on every process but the main one.
    """

    def __init__(self, path: Path, resume_step: int | None, enabled: bool) -> None:
        self.path, self.enabled = path, enabled
        if not enabled:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is None:
            atomic_write_text(path, "")
        elif path.exists():
            keep = [rec for rec in read_jsonl(path) if rec.get("step", 0) <= resume_step]
            atomic_write_text(path, "".join(json.dumps(rec) + "\n" for rec in keep))

    def write(self, record: dict) -> None:
        if self.enabled:
            append_text(self.path, json.dumps(record) + "\n")
