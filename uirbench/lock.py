"""Advisory locks on a data root and on an output folder, so two writers never interleave.

Why: two ``build-data`` runs on one root used to report success with the other's data in it, a
build's start deleted the other's temporaries, and ``caption`` during a build left an index and
shards that disagree. Every command that writes a root holds its lock for the whole run:

- exclusive (``build-data``, ``caption``): nothing else that writes the root may run;
- shared, plus an exclusive lock on the part (``build-data --shard i/n``): parts run together,
  each part at most once, and no exclusive writer runs beside them.

The lock is ``fcntl.flock`` on ``<folder>/.uirbench.lock``. The kernel drops it when its holder
exits, however it exits (SIGKILL included), so a lock left by a dead process is never in the way:
the file stays, and the next command takes the lock and overwrites the stale owner record. The
owner record (pid, host, command, start time) is only for the message naming who holds it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from uirbench.errors import UirbenchError
from uirbench.io import is_user_os_error, os_error_message

LOCK_NAME = ".uirbench.lock"
PART_LOCK_GLOB = "part-*.lock"


class LockedError(UirbenchError):
    """A folder is locked by another uirbench process; the message names it."""


def _owner(command: str) -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def command_line() -> str:
    """This process's command line, as shown in a lock's owner record."""
    name = Path(sys.argv[0]).name if sys.argv else "python"
    if name == "__main__.py":
        name = "uirbench"
    return " ".join([name, *sys.argv[1:]])


def _read_owner(path: Path) -> dict | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
        owner = json.loads(text) if text else None
    except (OSError, json.JSONDecodeError):
        return None
    return owner if isinstance(owner, dict) else None


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe_owner(owner: dict | None) -> str:
    """``pid N on HOST (command), started T`` from an owner record, or a placeholder."""
    if not owner:
        return "another uirbench process (its owner record is not written yet)"
    text = (
        f"pid {owner.get('pid')} on {owner.get('host')} ({owner.get('command')}), "
        f"started {owner.get('started')}"
    )
    pid = owner.get("pid")
    if owner.get("host") == socket.gethostname() and isinstance(pid, int) and not pid_alive(pid):
        text += (
            "; that pid no longer runs, so a child process it started still holds the lock: stop it"
        )
    return text


def _try_flock(fd: int, mode: int, path: Path) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            raise UirbenchError(
                f"{path}: this filesystem does not support file locks ({os.strerror(exc.errno)}), "
                "so uirbench cannot keep two commands from writing the same folder; put the "
                "folder on a local disk"
            ) from None
        raise
    return True


def _open_lock(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise UirbenchError(os_error_message(exc, path, "create its lock file")) from None


def _write_owner(fd: int, owner: dict) -> None:
    data = (json.dumps(owner) + "\n").encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _holders(folder: Path) -> list[str]:
    """Owner descriptions of the part locks under ``folder/.uirbench`` that are held now."""
    found = []
    for part in sorted((folder / ".uirbench").glob(PART_LOCK_GLOB)):
        try:
            fd = os.open(part, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            if _try_flock(fd, fcntl.LOCK_SH, part):
                fcntl.flock(fd, fcntl.LOCK_UN)
            else:
                found.append(describe_owner(_read_owner(part)))
        finally:
            os.close(fd)
    return found


def _locked_message(folder: Path, what: str, holders: list[str]) -> str:
    who = "; ".join(holders) if holders else describe_owner(None)
    return (
        f"{folder} is locked by {who}; wait for it to finish, or stop it, before {what} "
        f"(a lock of a process that died is released by itself; lock file {folder / LOCK_NAME})"
    )


@contextlib.contextmanager
def folder_lock(
    folder: str | os.PathLike,
    what: str,
    *,
    command: str | None = None,
    part: str | None = None,
) -> Iterator[None]:
    """Hold ``folder``'s lock for the block, or raise :class:`LockedError` naming its holder.

    ``what`` completes the message ("writing it", "building part 0/4"). ``part``: take the
    folder lock shared and ``.uirbench/part-<part>.lock`` exclusively, so several parts of one
    build may run at once but each part once, and no exclusive writer beside them.
    """
    folder = Path(folder)
    try:
        created = not folder.exists()
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if is_user_os_error(exc) or isinstance(exc, FileExistsError):
            raise UirbenchError(os_error_message(exc, folder, "create the folder")) from None
        raise
    owner = _owner(command or command_line())
    path = folder / LOCK_NAME
    fd = _open_lock(path)
    part_fd = None
    owns_record = False  # only the holder of a lock may clear its owner record
    try:
        mode = fcntl.LOCK_SH if part else fcntl.LOCK_EX
        if not _try_flock(fd, mode, path):
            recorded = _read_owner(path)
            holders = [describe_owner(recorded)] if recorded else _holders(folder)
            raise LockedError(_locked_message(folder, what, holders))
        if part is None:
            _write_owner(fd, owner)
            owns_record = True
        else:
            with contextlib.suppress(OSError):  # no exclusive holder now: any record is stale
                os.ftruncate(fd, 0)
            part_path = folder / ".uirbench" / f"part-{part.replace('/', 'of')}.lock"
            part_path.parent.mkdir(exist_ok=True)
            part_fd = _open_lock(part_path)
            if not _try_flock(part_fd, fcntl.LOCK_EX, part_path):
                raise LockedError(
                    f"part {part} of {folder} is already being built by "
                    f"{describe_owner(_read_owner(part_path))}; wait for it or stop it"
                )
            _write_owner(part_fd, owner)
            owns_record = True
        try:
            yield
        except BaseException:
            # a command that failed before writing anything leaves no folder it created
            if created and part is None and [p.name for p in folder.iterdir()] == [LOCK_NAME]:
                with contextlib.suppress(OSError):
                    path.unlink()
                    folder.rmdir()
            raise
    finally:
        if owns_record:
            with contextlib.suppress(OSError):  # no stale owner record once released
                os.ftruncate(fd if part_fd is None else part_fd, 0)
        if part_fd is not None:
            os.close(part_fd)
        os.close(fd)


def remove_part_locks(folder: str | os.PathLike) -> None:
    """Delete part lock files; call only while holding ``folder``'s exclusive lock (then no part
    holds one)."""
    for p in Path(folder, ".uirbench").glob(PART_LOCK_GLOB):
        p.unlink(missing_ok=True)
