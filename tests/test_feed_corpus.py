"""feedparser's own test corpus, every file served over loopback HTTP and polled like a feed.

The corpus (well-formed and ill-formed feeds, encodings, entities, compression, HTTP statuses:
over 2,000 files) comes from feedparser's source distribution, fetched once with pip into
tests/.cache. Each file is one rss source; its `Header:` lines (Content-Type, Content-Location,
Status, Location) are sent as HTTP headers, and the compressed files go with the
Content-Encoding they were made for. The property: no crash, and every source ends either
stored (its items linked to it in the database) or recorded as failing with a message that
says what went wrong, never an internal error.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer, Response
from watcher.config import parse_feeds, parse_keywords
from watcher.fetch import Fetcher
from watcher.poll import run_poll
from watcher.store import Store
from watcher.types import Config

CACHE = Path(__file__).parent / ".cache"
SPEC = "feedparser==6.0.*"
SAMPLE = 150
HEADER = re.compile(rb"^Header:\s+([^:]+):(.+)$", re.MULTILINE)
# What feedparser's own test server pointed these at; rewritten to the loopback server.
OLD_BASE = b"http://localhost:8097/"
# Words common in the corpus, so that matching runs over its odd texts too.
KEYWORDS = "example\nentry\ntitle OR description\n"


def corpus() -> Path:
    """The tests/ folder of feedparser's sdist, downloaded and unpacked once; skip if out of reach."""
    folder = CACHE / "feedparser-corpus"
    if (folder / "done").exists():
        return folder / "tests"
    CACHE.mkdir(parents=True, exist_ok=True)
    download = CACHE / "sdist"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", SPEC, "-d", download],
        capture_output=True,
        text=True,
        timeout=300,
    )
    archives = sorted(download.glob("feedparser-*.tar.gz"))
    if result.returncode != 0 or not archives:
        pytest.skip(f"feedparser's sdist ({SPEC}) could not be fetched with pip: {result.stderr.strip()[-300:]}")
    with tarfile.open(archives[-1]) as tar:
        members = [m for m in tar.getmembers() if "/tests/" in m.name and m.isfile()]
        for m in members:
            m.name = "tests/" + m.name.split("/tests/", 1)[1]
        tar.extractall(folder, members=members, filter="data")
    (folder / "done").touch()
    return folder / "tests"


def clear(error: str | None, server: LoopbackServer) -> bool:
    """A message a person can act on: one line, naming the URL that failed, not a bug report."""
    if not error:
        return False
    return "\n" not in error and server.base + "/" in error and not error.startswith("internal error")


def feed_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in (".xml", ".gz", ".z", ".rdf"))


def sample(files: list[Path], root: Path, count: int) -> list[Path]:
    """`count` files chosen by a hash of their path: the same ones on every machine, every folder represented."""
    ranked = sorted(files, key=lambda p: hashlib.sha256(str(p.relative_to(root)).encode()).hexdigest())
    return sorted(ranked[:count])


def serve(server: LoopbackServer, root: Path, files: list[Path]) -> dict[str, str]:
    """A route per file; returns source name -> path relative to the corpus."""
    names: dict[str, str] = {}
    base = server.url("/").encode()
    for n, path in enumerate(files):
        body = path.read_bytes()
        headers: dict[str, str] = {}
        status = 200
        for key, value in HEADER.findall(body if path.suffix not in (".gz", ".z") else b""):
            name, text = key.decode().strip(), value.replace(OLD_BASE, base).decode("latin-1").strip()
            if name.lower() == "status":
                status = int(text)
            else:
                headers[name] = text
        if path.suffix == ".gz":
            headers["Content-Encoding"] = "gzip"
        elif path.suffix == ".z":
            headers["Content-Encoding"] = "deflate"
        relative = str(path.relative_to(root))
        server.route(f"/{relative}", Response(status, headers, body))
        # the corpus' redirects lead to paths of feedparser's own server: serve those as well
        server.route(f"/tests/{relative}", Response(status, headers, body))
        names[f"f{n:04d}"] = relative
    server.route("/-/return-304.xml", lambda _req: Response(304))
    return names


def config_for(server: LoopbackServer, names: dict[str, str]) -> Config:
    lines = ["settings:", "  timeout: 20", "  per_host: 16", "feeds:"]
    for name, relative in names.items():
        lines += [f"  - name: {name}", "    kind: rss", f"    url: {server.url('/' + relative)}"]
    specs, settings = parse_feeds("\n".join(lines) + "\n", "feeds.yaml", env={})
    return Config(specs, parse_keywords(KEYWORDS), settings)


def poll_corpus(server: LoopbackServer, root: Path, files: list[Path], db: Path) -> None:
    names = serve(server, root, files)
    config = config_for(server, names)
    with Store(db) as store, Fetcher(user_agent="watcher-test", timeout=20, max_body_bytes=2_000_000, per_host=16) as f:
        reports = {r.name: r for r in run_poll(config, store, f, everything=True)}
    assert set(reports) == set(names), "every source polled once"

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = {r[0]: r[1:] for r in conn.execute("SELECT name, last_status, last_error FROM sources")}
        linked = dict(conn.execute("SELECT source, count(*) FROM item_sources GROUP BY source").fetchall())
    problems = []
    for name, relative in names.items():
        report = reports[name]
        status, error = rows[name]
        assert status == report.status, relative
        if report.status in ("ok", "not_modified"):
            if linked.get(name, 0) != report.items:
                problems.append(f"{relative}: {report.items} items read, {linked.get(name, 0)} stored")
        elif not clear(error, server):
            problems.append(f"{relative}: unclear error {error!r}")
    assert not problems, "\n".join(problems)
    stored = sum(r.status != "error" for r in reports.values())
    print(f"{stored} of {len(names)} files stored, {sum(r.items for r in reports.values())} items")
    assert stored > len(names) * 0.7, f"only {stored} of {len(names)} stored"


@pytest.fixture(scope="module")
def root() -> Path:
    return corpus()


@pytest.fixture
def corpus_server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv


def test_a_sample_of_feedparsers_corpus_is_each_stored_or_a_clear_per_source_error(
    root: Path, corpus_server: LoopbackServer, tmp_path: Path
) -> None:
    files = feed_files(root)
    assert len(files) > 2000
    poll_corpus(corpus_server, root, sample(files, root, SAMPLE), tmp_path / "corpus.db")


@pytest.mark.slow
def test_every_file_of_feedparsers_corpus_is_stored_or_a_clear_per_source_error(
    root: Path, corpus_server: LoopbackServer, tmp_path: Path
) -> None:
    poll_corpus(corpus_server, root, feed_files(root), tmp_path / "corpus.db")
