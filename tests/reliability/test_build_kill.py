"""build-data killed with SIGKILL at random points, five times, then rerun: the final tree and
index are byte-identical to an uninterrupted build and no temporary file remains."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from uirbench.data.build import build
from uirbench.io import TMP_PREFIX

TASKS = "noisy,jpeg,inpainting,rainy"
KILLS = 5


@pytest.mark.slow
def test_five_sigkills_then_rerun_equal_an_uninterrupted_build(tmp_path, tree_hashes):
    reference = tmp_path / "reference"
    build(root=reference, preset="demo", tasks=TASKS, workers=1)

    root = tmp_path / "killed"
    code = (
        "from uirbench.data.build import build\n"
        f"build(root={str(root)!r}, preset='demo', tasks={TASKS!r}, workers=2)\n"
    )
    # Kill points are chosen by progress (lines in the build's journal), not by wall-clock time,
    # so they land mid-build on a fast machine and a slow one alike; the first kill comes during
    # start-up, before any pair is finished.
    rng = random.Random(1234)
    journal = root / ".uirbench" / "journal.jsonl"
    kills = 0
    for i in range(KILLS):
        done = len(journal.read_text().splitlines()) if journal.exists() else 0
        target = done + (0 if i == 0 else rng.randint(1, 25))
        proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline:
            lines = len(journal.read_text().splitlines()) if journal.exists() else 0
            if (i == 0 and time.monotonic() > deadline - 299.5) or (i > 0 and lines >= target):
                break
            time.sleep(0.005)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the workers die with it
            kills += 1
        proc.wait()
    assert kills == KILLS, "a build finished before its kill point"
    assert journal.exists() and not (root / "index.parquet").exists()
    build(root=root, preset="demo", tasks=TASKS, workers=2)
    assert tree_hashes(root) == tree_hashes(reference)
    assert not [p for p in root.rglob("*") if p.name.startswith(TMP_PREFIX)]
