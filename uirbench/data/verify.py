"""``uirbench verify ROOT``: re-hash a built root against its index and shard manifest."""

from __future__ import annotations

import json
from pathlib import Path

from uirbench.data.index import read_index
from uirbench.data.layout import SHARDS_DIR, SPLITS, resolve_inside
from uirbench.data.shards import SHARDS_MANIFEST
from uirbench.data.task_file import with_root_tasks
from uirbench.data.trust import remember_hash
from uirbench.io import sha256_file


def _leaves_root(root: Path, rel: str) -> bool:
    try:
        resolve_inside(root, rel)
    except ValueError:
        return True
    return False


@with_root_tasks
def verify(root: str | Path) -> list[str]:
    """Every difference between the files and what the index and shards.json record.

    Returns human-readable problems (empty list = the root is intact): missing or changed pair
    files, files in the layout that no row names, missing, changed or extra shards.
    """
    root = Path(root)
    index = read_index(root)
    problems: list[str] = []
    named: set[str] = set()
    for row in index.itertuples(index=False):
        for rel, want in ((row.lq_path, row.lq_sha256), (row.gt_path, row.gt_sha256)):
            named.add(rel)
            path = root / rel
            if _leaves_root(root, rel):
                problems.append(f"outside: {rel} (leads outside the root, e.g. a symlink)")
            elif not path.is_file():
                problems.append(f"missing: {rel}")
            elif sha256_file(path) != want:
                problems.append(f"changed: {rel} (sha256 differs from the index)")
    for split in SPLITS:
        if (root / split).is_dir():
            for path in sorted((root / split).rglob("*")):
                rel = path.relative_to(root).as_posix()
                if path.is_file() and rel not in named:
                    problems.append(f"extra: {rel} (not in the index)")
    manifest_path = root / SHARDS_DIR / SHARDS_MANIFEST
    if not manifest_path.is_file():
        problems.append(f"missing: {SHARDS_DIR}/{SHARDS_MANIFEST}")
        return problems
    shards = json.loads(manifest_path.read_text())["shards"]
    for name, info in sorted(shards.items()):
        path = root / SHARDS_DIR / name
        if not path.is_file():
            problems.append(f"missing: {SHARDS_DIR}/{name}")
        elif _leaves_root(root, f"{SHARDS_DIR}/{name}"):
            problems.append(f"outside: {SHARDS_DIR}/{name} (leads outside the root)")
        elif sha256_file(path) != info["sha256"]:
            problems.append(f"changed: {SHARDS_DIR}/{name} (sha256 differs from shards.json)")
        else:
            remember_hash(path, info["sha256"])  # consumers may skip re-hashing it until it changes
    for path in sorted((root / SHARDS_DIR).glob("*.tar")):
        if path.name not in shards:
            problems.append(f"extra: {SHARDS_DIR}/{path.name} (not in shards.json)")
    return problems
