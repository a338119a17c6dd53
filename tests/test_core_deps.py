"""The core install (no extras) runs build-data, verify, evaluate (PSNR/SSIM) and leaderboard.

Why: torch, scikit-image, matplotlib and friends used to be core dependencies that build-data
never needed, while scipy, which build-data does import, was only there by accident (through
scikit-image). This runs the commands on sys.path = the checkout + exactly the distributions that
pyproject's core dependencies pull in (read from this venv's metadata), so an import outside the
core, or a core dependency missing from pyproject, fails here.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
OPTIONAL = ("torch", "torchvision", "skimage", "matplotlib", "sklearn", "transformers", "pyiqa")


def core_closure() -> dict[str, md.Distribution]:
    """Every installed distribution that pyproject's core dependencies need, recursively."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    todo = [(Requirement(r), "") for r in project["dependencies"]]
    found: dict[str, md.Distribution] = {}
    done: set[tuple[str, str]] = set()
    while todo:
        req, extra = todo.pop()
        if req.marker and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        for wanted in ("", *sorted(req.extras)):
            if (name, wanted) in done:
                continue
            done.add((name, wanted))
            dist = found.setdefault(name, md.distribution(req.name))
            todo += [(Requirement(r), wanted) for r in dist.requires or []]
    return found


def core_site(into: Path) -> Path:
    """A folder of links to the core distributions' files (packages, modules, .libs, metadata)."""
    into.mkdir()
    for dist in core_closure().values():
        tops = {Path(str(f)).parts[0] for f in dist.files or []}
        for top in tops - {"..", "__pycache__"}:
            src = Path(dist.locate_file(top))
            if src.exists() and not (into / top).exists():
                (into / top).symlink_to(src)
    return into


def test_core_closure_leaves_out_the_heavy_stacks() -> None:
    names = set(core_closure())
    for heavy in ("torch", "torchvision", "scikit-image", "matplotlib", "pyiqa", "webdataset"):
        assert heavy not in names, f"{heavy} is pulled into the core install"


@pytest.mark.slow
def test_core_commands_run_without_the_extras(tmp_path: Path) -> None:
    site = core_site(tmp_path / "site")
    for mod in OPTIONAL:
        assert not (site / mod).exists(), mod
    env = {k: v for k, v in os.environ.items() if k != "UIRBENCH_HOME"}
    env["PYTHONPATH"] = f"{REPO}{os.pathsep}{site}"

    def cli(*args: str) -> subprocess.CompletedProcess:
        # -S: no site-packages, so only the checkout and the core distributions are importable
        return subprocess.run(
            [sys.executable, "-S", "-m", "uirbench", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def ok(*args: str) -> str:
        proc = cli(*args)
        assert proc.returncode == 0, f"{args}: {proc.stdout}\n{proc.stderr}"
        return proc.stdout + proc.stderr

    probe = subprocess.run(
        [sys.executable, "-S", "-c", "import torch"], env=env, capture_output=True, check=False
    )
    assert probe.returncode != 0, "torch is importable: the test would prove nothing"

    ok("build-data", "--preset", "demo", "--root", "r", "--tasks", "noisy,jpeg", "--workers", "2")
    ok("verify", "r")
    gt, lq = tmp_path / "r/val/noisy/GT", tmp_path / "r/val/noisy/LQ"
    scores = ("--task", "noisy", "--metrics", "psnr,ssim", "--out", "ev")
    ok("evaluate", "--gt", str(gt), "--outputs", str(lq), *scores)
    ok("leaderboard", "export", "ev", "--out", "lb_ev")
    assert "LQ" in (tmp_path / "lb_ev" / "leaderboard_psnr.md").read_text()
    ok("leaderboard", "export", "--include-paper", "--out", "lb")
    assert "| 27.01 |" in (tmp_path / "lb" / "leaderboard_psnr.md").read_text()

    # commands that need an extra name it, in one line, instead of a traceback
    proc = cli("leaderboard", "plot", "ev", "--out", "plots")
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'uirbench[plot]'" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli("restore", str(lq), "--model", "nafnet", "--out", "restored")
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'uirbench[torch]'" in proc.stderr and "Traceback" not in proc.stderr
