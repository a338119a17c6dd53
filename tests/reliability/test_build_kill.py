"""build-data killed with SIGKILL at random points, five times, then rerun: the final tree and
index are byte-identical to an uninterrupted build and no temporary file remains."""

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from uirbench.data.build import build
from uirbench.io import TMP_PREFIX

TASKS = "noisy,jpeg,inpainting,rainy"
KILLS = 5


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_five_sigkills_then_rerun_equal_an_uninterrupted_build(tmp_path):
    reference = tmp_path / "reference"
    build(root=reference, preset="demo", tasks=TASKS, workers=1)

    root = tmp_path / "killed"
    code = (
        "from uirbench.data.build import build\n"
        f"build(root={str(root)!r}, preset='demo', tasks={TASKS!r}, workers=2)\n"
    )
    rng = random.Random(1234)
    kills = 0
    for _ in range(KILLS):
        proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
        time.sleep(rng.uniform(1.5, 6.0))  # interpreter start-up is ~1 s; a build is ~10 s
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the workers die with it
            kills += 1
        proc.wait()
    assert kills >= 3, "the build finished before most kills: raise the sleep range"
    build(root=root, preset="demo", tasks=TASKS, workers=2)
    assert _hashes(root) == _hashes(reference)
    assert not [p for p in root.rglob("*") if p.name.startswith(TMP_PREFIX)]
