"""Helpers for the SIGKILL tests: run the CLI in a subprocess and kill it at a progress point.

Two kinds of kill point, both real SIGKILLs of the whole process group (DataLoader workers too):
``kill_when`` polls the command's own outputs (a JSONL log, a cache file) from outside and kills
once a condition holds; ``kill_inside`` makes the process SIGKILL itself on entering a named
function (e.g. the JSON rename of a checkpoint), for windows too short to hit by polling.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from uirbench.io import TMP_PREFIX

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "COLUMNS": "1000"}

# Runs the CLI after wrapping ``module.attr`` so that its ``nth`` call (1-based) whose first
# argument's text contains ``match`` SIGKILLs the process before doing anything.
_INSIDE = """
import importlib, os, signal, sys
mod = importlib.import_module({module!r})
real = getattr(mod, {attr!r})
seen = [0]
def wrapper(*args, **kwargs):
    if args and {match!r} in str(args[0]):
        seen[0] += 1
        if seen[0] == {nth}:
            os.killpg(os.getpgrp(), signal.SIGKILL)
    return real(*args, **kwargs)
setattr(mod, {attr!r}, wrapper)
sys.argv = ["uirbench", *{args!r}]
from uirbench.cli.app import main
main()
"""


def _popen(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        argv,
        cwd=REPO,
        env=ENV,
        start_new_session=True,  # its own process group: the kill takes the workers too
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_cli(args: list[str], timeout: float = 300) -> str:
    """Run ``uirbench ARGS`` to completion; returns its output (the test fails if it fails)."""
    proc = subprocess.run(
        [sys.executable, "-m", "uirbench", *args],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def kill_when(args: list[str], ready: Callable[[], bool], timeout: float = 300) -> str:
    """Run ``uirbench ARGS`` and SIGKILL it as soon as ``ready()`` holds (polled every 5 ms);
    returns its output. Fails if the command ends (finished or crashed) before its kill point."""
    proc = _popen([sys.executable, "-m", "uirbench", *args])
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if ready():
            break
        time.sleep(0.005)
    alive = proc.poll() is None
    if alive:
        os.killpg(proc.pid, signal.SIGKILL)
    out, _ = proc.communicate()
    assert alive, f"`uirbench {' '.join(args)}` ended before its kill point:\n{out[-3000:]}"
    assert proc.returncode == -signal.SIGKILL
    return out


def kill_inside(args: list[str], target: str, match: str, nth: int = 1, timeout=300) -> str:
    """Run ``uirbench ARGS``; it SIGKILLs itself on the ``nth`` call of ``target``
    ("package.module:function") whose first argument contains ``match``. Returns its output."""
    module, attr = target.split(":")
    code = _INSIDE.format(module=module, attr=attr, match=match, nth=nth, args=args)
    proc = _popen([sys.executable, "-c", code])
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL, (
        f"`uirbench {' '.join(args)}` was not killed in {target}:\n{out[-3000:]}"
    )
    return out


def jsonl_steps(path: Path) -> list[int]:
    """The ``step`` of every complete line of a JSONL log (a line being written is skipped)."""
    if not path.exists():
        return []
    steps = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(ValueError):  # a line being written
            steps.append(int(json.loads(line).get("step", 0)))
    return steps


def temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(TMP_PREFIX)]


@pytest.fixture
def cli():
    """The helpers above, as a fixture (tests here cannot import each other)."""

    class Cli:
        run = staticmethod(run_cli)
        kill_when = staticmethod(kill_when)
        kill_inside = staticmethod(kill_inside)
        jsonl_steps = staticmethod(jsonl_steps)
        temporaries = staticmethod(temporaries)

    return Cli


class _Metered:
    """A file opened for writing on the simulated disk: writes past the free space write what
    fits, then raise ENOSPC, as a real full disk does."""

    def __init__(self, f, disk: dict) -> None:
        self._f, self._disk = f, disk

    def write(self, data):
        size = len(data.encode()) if isinstance(data, str) else memoryview(data).nbytes
        if size > self._disk["free"]:
            fits = self._disk["free"]
            if fits:
                self._f.write(data[:fits] if isinstance(data, str) else bytes(data)[:fits])
            self._disk["free"] = 0
            self._disk["refused"] += 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._disk["free"] -= size
        return self._f.write(data)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)


@pytest.fixture
def full_disk():
    """``with full_disk(folder, free=0) as disk:`` files opened for writing under ``folder``
    share ``free`` bytes; a write past them raises ENOSPC (after writing what fits). Covers
    Python's ``open``/``io.open`` (pathlib, pandas, PIL, matplotlib) and tarfile. ``disk`` holds
    the ``free`` bytes left and the number of ``refused`` writes."""
    real_open = builtins.open

    @contextlib.contextmanager
    def arm(folder: Path, free: int = 0):
        disk = {"free": free, "refused": 0}
        folder = Path(folder).resolve()

        def metered_open(file, mode="r", *args, **kwargs):
            f = real_open(file, mode, *args, **kwargs)
            if isinstance(file, int) or not any(c in mode for c in "wax+"):
                return f
            if Path(os.fspath(file)).resolve().is_relative_to(folder):
                return _Metered(f, disk)
            return f

        with pytest.MonkeyPatch.context() as m:
            m.setattr(builtins, "open", metered_open)
            m.setattr(io, "open", metered_open)
            m.setattr(tarfile, "bltn_open", metered_open)
            yield disk

    return arm


@pytest.fixture
def cli_in_process(monkeypatch, capsys) -> Callable[..., tuple[int, str]]:
    """Run ``uirbench ARGS`` in this process: (exit status, stdout + stderr); a traceback in
    the output fails the test."""
    from uirbench.cli.app import main

    def run(*args: str) -> tuple[int, str]:
        monkeypatch.setattr(sys, "argv", ["uirbench", *args])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out = capsys.readouterr()
        text = out.out + out.err
        assert "Traceback" not in text, text[-3000:]
        return code, text

    return run
