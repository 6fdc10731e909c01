"""One daemon per database: `watcher run` holds an exclusive lock on `<database>.lock`.

Two daemons on one database would poll every source twice and write over each other's
cursors. The lock is an flock on a file beside the database that holds the daemon's pid: the
kernel drops it with the process however it ends (kill -9 included), so a file left behind
never blocks the next start, and a second daemon is told which process holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from watcher.errors import StoreError


class DaemonRunning(StoreError):
    """Another `watcher run` holds this database."""


class RunLock:
    """The held lock; `release()` (or the end of the process) lets another daemon start."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def lock_path(db: Path) -> Path:
    real = Path(os.path.realpath(db))  # two names (links) for one database are one database
    return real.with_name(real.name + ".lock")


def hold(db: Path) -> RunLock:
    """Take the daemon's lock on `db`; DaemonRunning naming the running one's pid if it is taken."""
    path = lock_path(db)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _read_pid(fd)
        os.close(fd)
        who = f"pid {pid}" if pid else "another process"
        raise DaemonRunning(
            f"another watcher run ({who}) is already watching {db}; stop it first, or give this one another --db"
        ) from None
    except OSError as exc:
        os.close(fd)
        raise StoreError(f"cannot lock {path}: {exc.strerror or exc}") from None
    with contextlib.suppress(OSError):  # the pid is for the message above; the lock itself is what counts
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return RunLock(fd, path)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
