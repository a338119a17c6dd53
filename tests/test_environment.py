"""The environment scripts/venv.sh creates is consistent: pip check passes, one wheel owns cv2.

Why: pyiqa requires opencv-python-headless and facexlib requires opencv-python; installed side by
side they overwrite one cv2 package and removing either breaks the other (scripts/opencv-shim).
"""

from __future__ import annotations

import importlib.metadata as md
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def providers(top_level: str) -> list[str]:
    """Distributions that install files under ``<site-packages>/<top_level>/``."""
    out = []
    for dist in md.distributions():
        if any(Path(str(f)).parts[:1] == (top_level,) for f in dist.files or []):
            out.append(f"{dist.metadata['Name']} {dist.version}")
    return sorted(out)


def test_exactly_one_distribution_provides_cv2() -> None:
    found = providers("cv2")
    assert len(found) == 1, f"cv2 is written by {found}; see scripts/opencv-shim"


def test_pip_check_passes() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "check"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_lock_pins_what_venv_sh_installs_first() -> None:
    """constraints.txt (scripts/lock.sh) agrees with the torch pin in scripts/venv.sh."""
    lock = dict(
        line.split("==", 1)
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    venv_sh = (REPO / "scripts" / "venv.sh").read_text()
    for name in ("torch", "torchvision"):
        assert f"{name}=={lock[name]}" in venv_sh, name
    assert "opencv-python" not in lock  # the shim stands in for it, never the real wheel
    assert "opencv-python-headless" in lock
