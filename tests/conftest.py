"""Shared fixtures: a loopback HTTP server and a temporary data folder."""

from __future__ import annotations

import multiprocessing.process
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer

DATA = Path(__file__).parent / "data"
WAIT = 300  # seconds: the bound of a barrier or of racing processes; they take seconds, on a loaded machine more


def run_processes(workers: list[multiprocessing.process.BaseProcess]) -> list[int | None]:
    """Start racing processes, wait for them all within WAIT, kill any still running; their exit codes.

    Racers are made with the "spawn" context, as the poll's processes come from a server process:
    a fork of this threaded test process (earlier tests leave threads behind, the language model's
    loader among them) may inherit a lock held by a thread it does not have, and hang.
    """
    try:
        for w in workers:
            w.start()
        deadline = time.monotonic() + WAIT
        for w in workers:
            w.join(max(0.0, deadline - time.monotonic()))
        return [w.exitcode for w in workers]
    finally:
        for w in workers:
            if w.is_alive():
                w.kill()
                w.join()


def cli_args(folder: Path) -> list[str]:
    """The global options that point `watcher` at feeds.yaml, keywords.txt and watch.db in `folder`."""
    return [
        "--feeds",
        str(folder / "feeds.yaml"),
        "--keywords",
        str(folder / "keywords.txt"),
        "--db",
        str(folder / "watch.db"),
    ]


def write_config(folder: Path, feeds: str, keywords: str) -> list[str]:
    """Write feeds.yaml and keywords.txt into `folder`; the global options that name them."""
    (folder / "feeds.yaml").write_text(feeds, encoding="utf-8")
    (folder / "keywords.txt").write_text(keywords, encoding="utf-8")
    return cli_args(folder)


@pytest.fixture(autouse=True)
def fresh_secrets() -> Iterator[None]:
    """Each test starts knowing no secret, as a new process does (redact.py keeps them per process)."""
    from watcher.redact import SECRETS

    SECRETS.forget()
    yield
    SECRETS.forget()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv
