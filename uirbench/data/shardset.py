"""Random access into a split's WebDataset shards (``<root>/shards/<split>-NNNNNN.tar``).

The tar headers are scanned once to find where each member's bytes lie; a sample is then read
with one seek per field. Random access (rather than a streaming pipeline) is what makes training
exactly reproducible: a seeded global permutation per epoch, every rank reading its slice of each
global batch, and a resumed run continuing from the same batch.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from uirbench.data.index import read_index
from uirbench.data.layout import SHARDS_DIR
from uirbench.data.trust import check_shards, tampered
from uirbench.errors import UirbenchError


@dataclass
class _Sample:
    key: str
    fields: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # ext -> (shard, off, n)


class ShardSet:
    """The samples of one split, sorted by key; ``read(i, ext)`` returns a field's bytes."""

    def __init__(self, root: str | Path, split: str, verify: str | None = None):
        """``verify``: ``fast`` or ``full`` (default ``$UIRBENCH_VERIFY`` or fast), see
        :func:`uirbench.data.trust.check_shards`: shards that differ from ``shards.json``, or
        whose sample counts differ from it or from the index, are refused before any is read."""
        self.root = Path(root)
        self.split = split
        self.paths = sorted((self.root / SHARDS_DIR).glob(f"{split}-*.tar"))
        if not self.paths:
            raise UirbenchError(
                f"no shards for split {split!r} in {self.root / SHARDS_DIR}; build them with "
                f"`uirbench build-data --root {self.root}` (the shards are written with the index)"
            )
        index = read_index(self.root)
        expected = check_shards(self.root, split, int((index["split"] == split).sum()), verify)
        samples: dict[str, _Sample] = {}
        for s, path in enumerate(self.paths):
            before = len(samples)
            with tarfile.open(path) as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    # WebDataset convention: the key ends at the first '.' of the base name
                    head, _, base = member.name.rpartition("/")
                    stem, _, ext = base.partition(".")
                    key = f"{head}/{stem}" if head else stem
                    sample = samples.setdefault(key, _Sample(key))
                    sample.fields[ext] = (s, member.offset_data, member.size)
            if len(samples) - before != expected[path.name]:
                raise tampered(
                    self.root,
                    f"{path} holds {len(samples) - before} samples, shards.json says "
                    f"{expected[path.name]}",
                )
        self.samples = [samples[k] for k in sorted(samples)]
        self._files: dict[int, object] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def keys(self) -> list[str]:
        return [s.key for s in self.samples]

    def has(self, i: int, ext: str) -> bool:
        return ext in self.samples[i].fields

    def read(self, i: int, ext: str) -> bytes:
        sample = self.samples[i]
        if ext not in sample.fields:
            raise UirbenchError(
                f"sample {sample.key} in {self.paths[0].parent} has no {ext!r} field"
            )
        shard, offset, size = sample.fields[ext]
        f = self._files.get(shard)
        if f is None:
            f = self._files[shard] = open(self.paths[shard], "rb")  # noqa: SIM115
        f.seek(offset)
        return f.read(size)

    def text(self, i: int, ext: str) -> str:
        return self.read(i, ext).decode("utf-8").strip()

    def __getstate__(self) -> dict:  # DataLoader workers reopen files lazily
        state = self.__dict__.copy()
        state["_files"] = {}
        return state

    def close(self) -> None:
        for f in self._files.values():
            f.close()  # type: ignore[attr-defined]
        self._files.clear()
