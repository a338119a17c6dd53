"""Many processes on one root or one output folder: a second writer is refused by name, shard
parts run together without touching each other's files, a dead holder's lock is no obstacle.

The builds run in subprocesses with a write delay injected into uirbench's atomic writer (each
temporary lives ``DELAY`` seconds before it is filled and renamed), as on a slow shared
filesystem: the window in which one build's start used to delete another's temporaries.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from uirbench.io import TMP_PREFIX
from uirbench.lock import LOCK_NAME, LockedError, folder_lock

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "1000", "PYTHONPATH": str(REPO)}
DELAY = 0.05

_SLOW = """
import os, sys, time
import uirbench.io as io
real = io._temp_beside
def slow(dest):
    tmp = real(dest)
    time.sleep({delay})
    while {gate!r} and os.path.exists({gate!r}):  # held here while the test's gate file exists
        time.sleep(0.01)
    return tmp
io._temp_beside = slow
sys.argv = ["uirbench", *{args!r}]
from uirbench.cli.app import main
main()
"""


def _start(args: list[str], delay: float = DELAY, gate: Path | None = None) -> subprocess.Popen:
    """Run ``uirbench ARGS`` with each temporary held ``delay`` s, and while ``gate`` exists."""
    code = _SLOW.format(delay=delay, args=args, gate=str(gate) if gate else "")
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _uirbench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "uirbench", *args],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _wait_for(cond, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert proc.poll() is None, f"ended before the point waited for:\n{proc.stdout.read()}"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _journal_lines(root: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in (root / ".uirbench").glob("journal*.jsonl"))


def _finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out[-3000:]
    return out


def _refused(proc: subprocess.CompletedProcess, holder_pid: int, folder: Path) -> None:
    err = proc.stderr
    assert proc.returncode == 2, proc.stdout[-2000:] + err[-2000:]
    assert "Traceback" not in err
    assert f"{folder} is locked by pid {holder_pid} on " in " ".join(err.split()), err


BUILD = ["build-data", "--preset", "demo", "--tasks", "noisy", "--workers", "1"]


def test_second_build_and_caption_are_refused_while_a_build_runs(demo_copy):
    """A rebuild with another seed runs; a second build, a shard part and caption on the same
    root are each refused naming the running build; the rebuild then finishes and verifies."""
    root = demo_copy
    index_before = (root / "index.parquet").read_bytes()
    gate = root.parent / "gate"
    gate.touch()
    first = _start([*BUILD, "--seed", "1", "--root", str(root)], gate=gate)
    _wait_for(lambda: any(_temporaries(root)), first)  # held mid-write until the gate goes

    second = _uirbench(*BUILD, "--seed", "2", "--root", str(root))
    _refused(second, first.pid, root)
    assert "(uirbench build-data --preset demo --tasks noisy" in " ".join(second.stderr.split())
    part = _uirbench(*BUILD, "--seed", "1", "--shard", "0/2", "--root", str(root))
    _refused(part, first.pid, root)
    caption = _uirbench("caption", "--root", str(root), "--backend", "sidecar", "--quiet")
    _refused(caption, first.pid, root)
    assert (root / "index.parquet").read_bytes() == index_before  # nothing written by them
    assert first.poll() is None  # the refusals all happened while it ran

    gate.unlink()
    _finish(first)
    assert (root / LOCK_NAME).read_text() == ""  # released: no owner record left
    verify = _uirbench("verify", str(root))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_shard_parts_run_together_and_keep_each_others_temporaries(tmp_path):
    """Two ``--shard`` parts on one root at once, on a slowed filesystem: both finish, a part's
    start removes only temporaries of dead processes of this host (never a live one's), and the
    final run writes a root that verifies. Before the lock, a part's start deleted every
    temporary under the root and the other part crashed on its rename."""
    root = tmp_path / "root"
    (root / "shards").mkdir(parents=True)
    live = root / "shards" / f"{TMP_PREFIX}{os.getpid()}@{_host()}.live.tar"
    live.write_bytes(b"a live process's temporary")
    dead_pid = _dead_pid()
    dead = root / f"{TMP_PREFIX}{dead_pid}@{_host()}.dead.png"
    dead.write_bytes(b"a dead process's temporary")

    part0 = _start([*BUILD, "--shard", "0/2", "--root", str(root)])
    _wait_for(lambda: _journal_lines(root) >= 1, part0)
    part1 = _start([*BUILD, "--shard", "1/2", "--root", str(root)])
    out0, out1 = _finish(part0), _finish(part1)
    assert "partial build" in out0 and "partial build" in out1
    assert live.exists()  # neither part removed a temporary it did not create
    assert not dead.exists()  # a dead process's was cleaned up
    assert sorted(p.name for p in (root / ".uirbench").glob("journal*")) == [
        "journal-0of2.jsonl",
        "journal-1of2.jsonl",
    ]

    # The same part twice at once is refused by the part's own lock.
    gate = tmp_path / "gate"
    gate.touch()
    again = _start([*BUILD, "--shard", "0/2", "--seed", "5", "--root", str(root)], gate=gate)
    _wait_for(lambda: any(_temporaries(root)), again)
    dup = _uirbench(*BUILD, "--shard", "0/2", "--seed", "5", "--root", str(root))
    message = " ".join(dup.stderr.split())
    assert dup.returncode == 2 and f"part 0/2 of {root} is already being built by pid" in message
    assert again.poll() is None
    gate.unlink()
    _finish(again)

    final = _uirbench(*BUILD, "--root", str(root))
    assert final.returncode == 0, final.stderr[-2000:]
    # part 0's pairs were rebuilt with --seed 5 meanwhile: those are redone, part 1's reused
    assert "22 pairs built, 22 reused" in final.stderr
    assert not live.exists()  # the exclusive final run removes every leftover
    assert not (root / ".uirbench").exists()
    assert _uirbench("verify", str(root)).returncode == 0


def test_a_lock_held_by_a_killed_process_is_no_obstacle(tmp_path):
    """SIGKILL a holder: its owner record stays in the file, but the kernel released the lock,
    so the next writer takes it and overwrites the record."""
    code = (
        "import sys, time; from uirbench.lock import folder_lock\n"
        f"with folder_lock({str(tmp_path)!r}, 'x', command='holder'):\n"
        "    print('held', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, env=ENV, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    held = f"locked by pid {proc.pid} on .*\\(holder\\)"
    with pytest.raises(LockedError, match=held), folder_lock(tmp_path, "testing"):
        pass
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert '"command": "holder"' in (tmp_path / LOCK_NAME).read_text()  # a stale record
    with folder_lock(tmp_path, "testing", command="next"):
        assert '"command": "next"' in (tmp_path / LOCK_NAME).read_text()


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "--root", "{root}", "--model", "identity", "--metrics", "psnr"],
        ["classify", "--root", "{root}", "--device", "cpu"],
        ["leaderboard", "export", "{out}/x"],
    ],
    ids=["evaluate", "classify", "leaderboard-export"],
)
def test_two_runs_on_one_out_folder_never_interleave(demo_root, tmp_path, argv):
    """While one run holds ``--out``, a second one is refused by name before writing anything
    there (the first run is stood in for by this test process holding the folder's lock)."""
    out = tmp_path / "out"
    args = [a.format(root=demo_root, out=out) for a in argv] + ["--out", str(out)]
    with folder_lock(out, "evaluating into it", command="uirbench evaluate (first run)"):
        before = sorted(p.name for p in out.iterdir())
        proc = _uirbench(*args)
        _refused(proc, os.getpid(), out)
        assert "(uirbench evaluate (first run))" in proc.stderr
        assert sorted(p.name for p in out.iterdir()) == before


def _temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob(TMP_PREFIX + "*") if ".live." not in p.name]


def _host() -> str:
    from uirbench.io import _host_token

    return _host_token()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_ctrl_c_says_what_was_kept_and_the_rerun_resumes(tmp_path):
    """SIGINT mid-build: exit 130 with one line saying what was kept and how to resume (not
    click's bare "Aborted!"), the lock released; the rerun reuses the journal's pairs."""
    root = tmp_path / "root"
    proc = _start([*BUILD, "--root", str(root)], delay=0.02)
    _wait_for(lambda: _journal_lines(root) >= 5, proc)
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    seconds = time.monotonic() - start
    print(f"\nCtrl-C to exit: {seconds:.2f} s")
    assert proc.returncode == 130, out[-2000:]
    assert "Traceback" not in out and "Aborted" not in out
    assert "interrupted: verified pairs are kept" in out and "rerun the same command" in out
    assert seconds < 10
    assert (root / LOCK_NAME).read_text() == ""
    done = _journal_lines(root)
    rerun = _uirbench(*BUILD, "--root", str(root))
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"{44 - done} pairs built, {done} reused" in " ".join(rerun.stderr.split())
    assert not _temporaries(root)


_SLOW_EVALUATE = """
import sys, time
import uirbench.evaluate.runner as runner
real = runner.score_pair
def slow(*a, **kw):
    time.sleep(0.3)
    return real(*a, **kw)
runner.score_pair = slow
sys.argv = ["uirbench", *{args!r}]
from uirbench.cli.app import main
main()
"""


def test_ctrl_c_in_evaluate_says_what_was_kept(demo_root, tmp_path):
    """evaluate mid-run (each score held 0.3 s): SIGINT gives exit 130 and the line saying no
    result file changed (it was click's "Aborted!", status 1); the time to exit is printed."""
    out = tmp_path / "res"
    args = ["evaluate", "--root", str(demo_root), "--model", "identity", "--metrics", "psnr"]
    args += ["--workers", "0", "--out", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_EVALUATE.format(args=args)],
        cwd=REPO,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    journal = out / ".evaluate-journal.jsonl"
    _wait_for(lambda: journal.is_file() and journal.read_text().count("\n") >= 1, proc)
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out_text, _ = proc.communicate(timeout=60)
    seconds = time.monotonic() - start
    print(f"\nevaluate: Ctrl-C to exit {seconds:.2f} s")
    assert proc.returncode == 130, out_text[-2000:]
    assert "Traceback" not in out_text and "interrupted: no result file was changed" in out_text
    assert not (out / "results.json").exists()
    assert seconds < 10
