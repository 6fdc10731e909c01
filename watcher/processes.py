"""A pool of processes for pure Python work, so that a large poll uses every core (the one multiprocessing user).

The interpreter lock holds all Python code of one process to one core; parsing, normalising
and matching are Python. The pool's processes are started at its first use, from a clean
server process (multiprocessing's "forkserver"), never forked from the caller: the caller
runs threads (fetching, the daemon's main loop), and a process forked from a threaded one may
inherit a lock that some other thread held at that moment, and hang on it.

The pool is an optimisation, never a requirement: when it cannot start (a sandbox without
the system calls it needs) or breaks (a process killed), `run` raises `PoolUnavailable` and
the caller does the work itself.

The pool's processes end with the process that owns the pool, however it ends (kill -9, the
OOM killer, a `timeout -s KILL`): left alone they would wait for work forever, each holding
the others alive (multiprocessing hands every one of them the pipes that would tell them).
Each watches the owner (`_die_with`): a pidfd that becomes readable when it ends (polling its
pid where there is none), and, on Linux, a parent-death signal for when the server process
that forked it dies. With its workers gone, the server process ends by itself.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

log = logging.getLogger("watcher.processes")

T = TypeVar("T")


class PoolUnavailable(Exception):
    """The pool cannot take work (not started, broken, or closed): do it in the calling process."""


def cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except OSError:  # refused by a system-call filter: the machine's count will do
        return os.cpu_count() or 1


class Pool:
    """`size` processes, each set up once by `initializer(*initargs)`, started at the first `run`.

    `preload` names modules the server process imports once, so that each process starts
    with them loaded. Thread-safe: any number of threads may call `run` at once.
    """

    def __init__(
        self,
        size: int,
        initializer: Callable[..., None],
        initargs: tuple[Any, ...] = (),
        preload: Sequence[str] = (),
    ) -> None:
        self.size = size
        self._initializer = initializer
        self._initargs = initargs
        self._preload = list(preload)
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False
        self._failure: str | None = None
        self._start_failed = False

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) in one of the pool's processes; the caller's thread waits for the answer.

        Exceptions raised by fn come back as they were raised. Raises PoolUnavailable when the
        pool cannot do the work.
        """
        executor = self._start()
        try:
            future = executor.submit(fn, *args)
        except RuntimeError as exc:  # closed meanwhile (a stopping poll), or broken (BrokenProcessPool)
            self._fail(exc)
            raise PoolUnavailable(str(exc) or type(exc).__name__) from None
        try:
            return future.result()
        except (BrokenProcessPool, CancelledError) as exc:  # a process died, or the pool was closed
            self._fail(exc)
            raise PoolUnavailable(str(exc) or type(exc).__name__) from None

    @property
    def broken(self) -> bool:
        """Started, then stopped working (a process died): a new pool may work again.

        A pool that could not start at all is not broken: another would fail the same way.
        """
        with self._lock:
            return self._failure is not None and not self._start_failed

    def close(self, wait: bool = True) -> None:
        """Stop the processes; work not started is dropped. Later `run` calls raise PoolUnavailable."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=True)

    def _start(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed or self._failure is not None:
                raise PoolUnavailable(self._failure or "closed")
            if self._executor is None:
                try:
                    context = multiprocessing.get_context("forkserver")
                    context.set_forkserver_preload(self._preload)
                    self._executor = ProcessPoolExecutor(
                        self.size,
                        mp_context=context,
                        initializer=_start_guarded,
                        initargs=(os.getpid(), self._initializer, self._initargs),
                    )
                except (OSError, ValueError) as exc:
                    self._failure = f"{type(exc).__name__}: {exc}"
                    self._start_failed = True
                    log.warning("no pool of processes (%s): the work is done in this process", self._failure)
                    raise PoolUnavailable(self._failure) from None
            return self._executor

    def _fail(self, exc: BaseException) -> None:
        with self._lock:
            if self._closed or self._failure is not None:
                return
            self._failure = f"{type(exc).__name__}: {exc}"
        log.warning("the pool of processes stopped working (%s): the work is done in this process", self._failure)


# --- ending with the owner -------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
OWNER_POLL = 1.0  # seconds between looks at the owner's pid, where there is no pidfd


def _start_guarded(owner: int, initializer: Callable[..., None], initargs: tuple[Any, ...]) -> None:
    """A pool process's first step: watch the owner, then the caller's own initializer."""
    _die_with(owner)
    initializer(*initargs)


def _die_with(owner: int) -> None:
    """End this process as soon as the process `owner` (or this one's parent) has ended."""
    _parent_death_signal()
    fd: int | None = None
    try:
        fd = os.pidfd_open(owner)
    except ProcessLookupError:  # gone already
        os._exit(0)
    except (AttributeError, OSError):  # not Linux 5.3+, or refused by a system-call filter
        fd = None
    threading.Thread(target=_watch_owner, args=(owner, fd), name="watcher-owner-watch", daemon=True).start()


def _parent_death_signal() -> None:
    # SIGKILL when the parent (the server process that forked us) dies; its forking thread
    # is its main thread, which lives as long as it does.
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _watch_owner(owner: int, fd: int | None) -> None:
    if fd is not None:
        select.select([fd], [], [])  # readable once the owner has ended
    else:
        while True:
            time.sleep(OWNER_POLL)
            try:
                os.kill(owner, 0)
            except ProcessLookupError:
                break
            except PermissionError:  # it exists, as another user
                continue
    os._exit(0)
