"""A wheel install works away from the checkout: the packaged data, recipes and console script.

Why: an editable install hides every file that is read from the checkout instead of the package
(manifests/, recipes/, zoo cards). This builds the wheel, installs it into a fresh venv that reuses
this venv's installed packages (a folder of links to them, without the editable uirbench, so no
download and no torch reinstall) and runs the commands a new user would, from an empty folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import uirbench

REPO = Path(__file__).resolve().parents[1]
# Entries of this venv's site-packages that are the editable checkout install, or pth hooks.
_SKIP = ("uirbench", "__editable__", "_uirbench", "__pycache__")


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 300) -> str:
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    )
    return proc.stdout + proc.stderr


def _reused_packages(into: Path) -> Path:
    """A folder of links to this venv's packages, minus uirbench itself."""
    into.mkdir()
    dirs = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    for d in dirs:
        for entry in Path(d).iterdir():
            if entry.name.startswith(_SKIP) or entry.suffix == ".pth":
                continue
            if not (into / entry.name).exists():
                (into / entry.name).symlink_to(entry)
    return into


@pytest.mark.slow
def test_wheel_install_runs_outside_the_checkout(tmp_path: Path) -> None:
    # Build from a clean copy: setuptools' build/ folder in the checkout may hold stale files.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(
        REPO / "uirbench", src / "uirbench", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "UIRBENCH_HOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    wheels = tmp_path / "wheels"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(src),
        ],
        cwd=tmp_path,
        env=env,
    )
    (wheel,) = wheels.glob("uirbench-*.whl")

    venv = tmp_path / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    _run([base, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path, env=env)
    py = venv / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    (site / "reuse.pth").write_text(f"{_reused_packages(tmp_path / 'reused')}\n")
    # No index: every core dependency must already be satisfied by the reused packages.
    _run([py, "-m", "pip", "install", "-q", "--no-index", str(wheel)], cwd=tmp_path, env=env)

    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run([py, "-c", "import uirbench; print(uirbench.__file__)"], cwd=work, env=env)
    assert Path(where.strip()).is_relative_to(site), where
    cli = str(venv / "bin" / "uirbench")
    assert _run([cli, "--version"], cwd=work, env=env).strip() == f"uirbench {uirbench.__version__}"

    out = _run(
        [cli, "build-data", "--preset", "demo", "--root", "demo", "--tasks", "noisy,jpeg"],
        cwd=work,
        env=env,
    )
    assert "pairs built" in out
    assert (work / "demo" / "index.parquet").is_file()

    _run([cli, "leaderboard", "export", "--include-paper", "--out", "lb"], cwd=work, env=env)
    table = (work / "lb" / "leaderboard_psnr.md").read_text()
    assert "| 27.01 |" in table, table[:500]  # the paper's Ours average PSNR (Table 6)

    out = _run(
        [
            cli,
            "train",
            "restore",
            "--recipe",
            "nafnet_tiny",
            "root=demo",
            "output=run",
            "data.tasks=noisy,jpeg",
            "train.iterations=2",
            "val.every=2",
            "val.per_task=1",
            "checkpoint.every=2",
            "log.every=1",
        ],
        cwd=work,
        env=env,
    )
    assert (work / "run" / "checkpoints" / "last.safetensors").is_file(), out
    assert '"step": 2' in (work / "run" / "checkpoints" / "last.json").read_text()
