"""Writing the user's configuration files safely: a whole new version or nothing, one editor at a time.

A temporary file is written in the same folder (so the final rename never crosses file
systems), flushed to disk, given the old file's permissions and owner, then renamed over the
old one: a crash or a full disk leaves the old file as it was, never half a file. A path that
is a symbolic link is written through: its target is replaced and the link stays. `editing`
holds a lock for a whole read-modify-write, so two commands editing the same file at once
both get their change in. Every failure to write is a FileWriteError naming the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from watcher.errors import FileWriteError


def atomic_write_text(path: Path, text: str) -> None:
    """Replace the contents of `path` (or of the file it links to) with `text` (UTF-8), atomically."""
    target = Path(os.path.realpath(path))
    try:
        old: os.stat_result | None = target.stat()
    except FileNotFoundError:
        old = None
    except OSError as exc:
        raise FileWriteError(path, exc) from None
    try:
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise FileWriteError(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if old is not None:
            os.chmod(temp, stat.S_IMODE(old.st_mode))
            if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                # root editing another user's file: it stays theirs (otherwise the service may no longer read it)
                with contextlib.suppress(PermissionError):
                    os.chown(temp, old.st_uid, old.st_gid)
        os.replace(temp, target)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise FileWriteError(path, exc) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


@contextlib.contextmanager
def editing(path: Path) -> Iterator[None]:
    """Hold the edit lock of `path` (of the file it links to) for one read-modify-write.

    The lock is an exclusive flock on the file itself, so no lock file is left behind. Each
    edit replaces the file (a new inode), so a command that waited for the lock checks that
    it holds the file the path names now, and takes the new one's lock otherwise. A file that
    cannot be opened is not locked: reading it then says what is wrong.
    """
    fd = _lock(Path(os.path.realpath(path)))
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)


def _lock(target: Path) -> int | None:
    while True:
        try:
            fd = os.open(target, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # a file system without locks: edit unlocked, as before
            os.close(fd)
            return None
        try:
            if os.fstat(fd).st_ino == os.stat(target).st_ino:
                return fd
        except OSError:
            pass
        os.close(fd)  # replaced while we waited: lock the new file
