"""Shared fixtures: a loopback HTTP server and a temporary data folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer

DATA = Path(__file__).parent / "data"


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
