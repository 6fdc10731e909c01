"""Hostile and broken servers, all in one poll beside a good feed: each ends as that source's error.

Every hostile case has its own loopback server (its own host, as on the web), so the per-host
politeness limit does not queue one behind another. The good feed must be stored, and not
later than its own deadline; every case must be recorded with a message that says what went
wrong; memory stays bounded (peak RSS of this process, read with getrusage); the daemon stays
up through all of it.
"""

from __future__ import annotations

import email.utils
import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Request, Response
from watcher.config import parse_feeds, parse_keywords
from watcher.errors import ParseError
from watcher.fetch import Fetcher
from watcher.poll import PollReport, run_poll
from watcher.sources.rss import parse_feed
from watcher.store import Store
from watcher.types import Config

TIMEOUT = 2.0
CAP = 4_000_000  # max_body_bytes: above the bomb on the wire, far below it unpacked
RSS = {"Content-Type": "application/rss+xml"}
SECRET = "TOP-SECRET-LOCAL-FILE-CONTENT-7f3a"


def huge_body(total: int) -> Iterator[bytes]:
    """`total` bytes of a feed that never ends, made as it is sent (never held in memory here)."""
    head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>big</title><description>'
    yield head
    chunk = b"x" * 65536
    sent = len(head)
    while sent < total:
        yield chunk
        sent += len(chunk)


def gzip_bomb(unpacked: int) -> bytes:
    """A gzip body of `unpacked` zero bytes, about a thousandth of that on the wire (many members)."""
    member = gzip.compress(b"\0" * (16 << 20), compresslevel=9)
    return member * (unpacked // (16 << 20))


def drip(data: bytes, pause: float) -> Iterator[bytes]:
    for i in range(len(data)):
        time.sleep(pause)
        yield data[i : i + 1]


def billion_laughs() -> bytes:
    levels = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10))
    return (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "lol">{levels}]>'
        '<rss version="2.0"><channel><title>laughs</title>'
        "<item><title>Coworking &l9;</title><link>https://news.example/laughs</link></item>"
        "</channel></rss>"
    ).encode()


def external_entity(path: Path) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "file://{path}">\n]>\n'
        '<rss version="2.0"><channel><title>xxe</title>'
        "<item><title>Coworking &xxe;</title><link>https://news.example/xxe</link>"
        "<description>Le texte &xxe; du coworking</description></item>"
        "</channel></rss>"
    ).encode()


HTML_PAGE = (
    b"<!doctype html><html><head><title>Blog</title>"
    b'<link rel="alternate" type="application/rss+xml" href="/blog/feed.xml">'
    b'<link rel="alternate" type="application/atom+xml" href="https://other.example/atom">'
    b"</head><body><p>Coworking news</p></body></html>"
)
INVALID_UTF8 = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    b"<item><title>Coworking caf\xe9 \xff\xfe ouvert</title><link>https://news.example/utf8</link>"
    b"<description>Un coworking \xc3\x28 en ville</description></item></channel></rss>"
)


def cases(secret_file: Path) -> dict[str, Response | object]:
    later = email.utils.format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)

    def loop(req: Request) -> Response:
        return Response(302, {"Location": req.path})

    return {
        "huge": Response(200, RSS, huge_body(100 << 20)),
        "huge-declared": Response(200, {**RSS, "Content-Length": str(100 << 20)}, huge_body(100 << 20)),
        "bomb": Response(200, {**RSS, "Content-Encoding": "gzip"}, gzip_bomb(2 << 30)),
        "drip": Response(200, RSS, drip(rss([Entry("Coworking lent", "https://news.example/drip")]), 1.0)),
        "loop": loop,
        "rate-seconds": Response(429, {"Retry-After": "7200"}, b"slow down"),
        "rate-date": Response(429, {"Retry-After": later}, b"slow down"),
        "error-500": Response(500, body=b"oops"),
        "unavailable": Response(503, {"Retry-After": "600"}, b"maintenance"),
        "missing": Response(404, body=b"no such feed"),
        "gone": Response(410, body=b"removed"),
        "html": Response(200, {"Content-Type": "text/html; charset=utf-8"}, HTML_PAGE),
        "laughs": Response(200, RSS, billion_laughs()),
        "xxe": Response(200, RSS, external_entity(secret_file)),
        "bad-utf8": Response(200, RSS, INVALID_UTF8),
    }


def make_config(urls: dict[str, str]) -> Config:
    lines = ["settings:", f"  timeout: {TIMEOUT}", f"  max_body_bytes: {CAP}", "feeds:"]
    for name, url in urls.items():
        lines += [f"  - name: {name}", "    kind: rss", f"    url: {url}", "    interval: 1h"]
    specs, settings = parse_feeds("\n".join(lines) + "\n", "feeds.yaml", env={})
    return Config(specs, parse_keywords("coworking\n"), settings)


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    """The peak of memory allocated from Python while the block runs (tracemalloc), in bytes.

    getrusage's peak RSS would say nothing here once an earlier test had raised it.
    """
    out: list[int] = []
    tracemalloc.start()
    try:
        yield out
    finally:
        out.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


@pytest.fixture
def hostile(secret_file: Path) -> Iterator[dict[str, LoopbackServer]]:
    """One server per case, plus `good`, serving at /feed."""
    with ExitStack() as stack:
        servers = {}
        for name, response in {**cases(secret_file), "good": None}.items():
            srv = stack.enter_context(LoopbackServer())
            if response is None:
                body = rss([Entry("Un coworking ouvre à Sceaux", "https://news.example/good")])
                response = Response(200, RSS, body)
            srv.route("/feed", response)  # type: ignore[arg-type]
            servers[name] = srv
        yield servers


def test_each_hostile_server_is_its_own_error_while_the_good_feed_is_stored_on_time_in_bounded_memory(
    hostile: dict[str, LoopbackServer], tmp_path: Path
) -> None:
    config = make_config({name: srv.url("/feed") for name, srv in hostile.items()})
    arrived: dict[str, float] = {}
    started = time.monotonic()
    with (
        peak_memory() as peak,
        Store(tmp_path / "w.db") as store,
        Fetcher(user_agent="t", timeout=TIMEOUT, max_body_bytes=CAP) as f,
    ):

        def on_result(report: PollReport) -> None:
            arrived[report.name] = time.monotonic() - started

        reports = {r.name: r for r in run_poll(config, store, f, everything=True, on_result=on_result)}
        took = time.monotonic() - started
        states = store.states()
        hits = store.hits()
        texts = [json.dumps(h) for h in store.items_since(None)]

    # the good feed: stored, and not held back by the others beyond its own deadline
    assert reports["good"].status == "ok" and reports["good"].new_hits == 1
    assert arrived["good"] < TIMEOUT
    assert took < TIMEOUT + 2, "a hostile source held the poll past its deadline"
    # memory: 100 MB bodies and a 2 GB bomb cost at most the cap, not their size
    assert peak[0] < 64 << 20, f"{peak[0] >> 20} MB allocated at the peak"

    errors = {name: r.error or "" for name, r in reports.items() if r.status == "error"}
    expected = {
        "huge": "passed the cap",
        "huge-declared": "above the cap",
        "bomb": "passed the cap",
        "drip": f"within {TIMEOUT:g} s",
        "loop": "more than 5 redirects",
        "rate-seconds": "rate limited",
        "rate-date": "rate limited",
        "error-500": "server error: HTTP 500",
        "unavailable": "server unavailable: HTTP 503",
        "missing": "HTTP 404 Not Found",
        "gone": "gone: the server says this feed was removed",
        "html": "not a feed: the server sent an HTML page",
    }
    for name, fragment in expected.items():
        assert fragment in errors.get(name, "(stored)"), (name, errors.get(name))
        assert hostile[name].base in errors[name], "the message names the URL"
        assert states[name].last_error == errors[name]
        assert states[name].failures == 1
    # the page's advertised feeds are named, made absolute
    assert f"{hostile['html'].base}/blog/feed.xml, https://other.example/atom" in errors["html"]

    # Retry-After is honoured, in seconds and as a date
    now = datetime.now(UTC)
    for name, wait in [("rate-seconds", 7200), ("rate-date", 7200 - 60), ("unavailable", 600)]:
        next_poll = states[name].next_poll
        assert next_poll is not None and next_poll >= now + timedelta(seconds=wait - 30), name
    # 410 Gone: the source is stopped with the server's word for it
    assert "gone" in (states["gone"].disabled_reason or "")

    # the billion laughs never expand, the external entity is never read
    assert "laughs" in errors or all("lol" * 100 not in t for t in texts)
    assert reports["xxe"].status == "ok" or "xxe" in errors
    assert all(SECRET not in t for t in texts)
    with sqlite3.connect(tmp_path / "w.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert SECRET.encode() not in (tmp_path / "w.db").read_bytes()
    wal = tmp_path / "w.db-wal"
    assert not wal.exists() or SECRET.encode() not in wal.read_bytes()

    # invalid UTF-8: read leniently, the readable words kept
    titles = {h["url"]: h["title"] for h in hits}
    assert "Coworking" in titles.get("https://news.example/utf8", ""), errors.get("bad-utf8")


def test_a_gone_feed_is_not_polled_again_until_every_source_is_asked_for(
    server: LoopbackServer, tmp_path: Path
) -> None:
    gone = [True]

    def feed(_req: Request) -> Response:
        if gone[0]:
            return Response(410, body=b"removed")
        return Response(200, RSS, rss([Entry("Coworking de retour", "https://news.example/back")]))

    server.route("/feed", feed)
    config = make_config({"old": server.url("/feed")})
    start = datetime.now(UTC)
    with Store(tmp_path / "w.db") as store, Fetcher(user_agent="t", timeout=TIMEOUT, max_body_bytes=CAP) as f:
        [first] = run_poll(config, store, f, clock=lambda: start)
        assert first.status == "error" and "gone" in (first.error or "")
        # days later, however often the schedule looks, it is not asked again
        for days in (1, 2, 30):
            assert run_poll(config, store, f, clock=lambda d=days: start + timedelta(days=d)) == []  # type: ignore[misc]
        assert len(server.hits("/feed")) == 1
        # `poll --all` (or a re-enabled source) asks again, and a good answer clears the stop
        gone[0] = False
        [again] = run_poll(config, store, f, everything=True, clock=lambda: start + timedelta(days=31))
        assert again.status == "ok" and again.new_hits == 1
        assert store.states()["old"].disabled_reason is None


def test_the_daemon_stays_up_through_hostile_servers_and_its_peak_memory_stays_small(
    hostile: dict[str, LoopbackServer], tmp_path: Path
) -> None:
    urls = {name: hostile[name].url("/feed") for name in ("good", "huge", "bomb", "laughs", "drip", "html", "loop")}
    lines = ["settings:", f"  timeout: {TIMEOUT}", f"  max_body_bytes: {CAP}", "feeds:"]
    for name, url in urls.items():
        lines += [f"  - name: {name}", "    kind: rss", f"    url: {url}", "    interval: 60"]
    (tmp_path / "feeds.yaml").write_text("\n".join(lines) + "\n")
    (tmp_path / "keywords.txt").write_text("coworking\n")
    paths = ["--feeds", str(tmp_path / "feeds.yaml"), "--keywords", str(tmp_path / "keywords.txt")]
    paths += ["--db", str(tmp_path / "w.db")]
    log = tmp_path / "daemon.log"
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM", "WATCHDOG_USEC")}
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "watcher", *paths, "run"], stderr=err, env=env)
        try:
            deadline = time.monotonic() + 20
            while log.read_text().count(": error: ") + log.read_text().count(": ok, ") < len(urls):
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            assert proc.poll() is None, "the daemon is still running"
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log.read_text()
    assert "good: ok, 1 item, 1 new hit" in text
    assert "Traceback" not in text
    assert "alerts:" not in text, "no line about alerts when none was due"
    assert peak_kb < 100 * 1024, f"the daemon's peak RSS was {peak_kb >> 10} MB"


def test_a_deflate_bomb_is_also_stopped_at_the_cap(server: LoopbackServer, tmp_path: Path) -> None:
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(b"\0" * (1 << 20)) for _ in range(64)) + packer.flush()
    server.route("/feed", Response(200, {**RSS, "Content-Encoding": "deflate"}, body))
    config = make_config({"deflate": server.url("/feed")})
    with (
        peak_memory() as peak,
        Store(tmp_path / "w.db") as store,
        Fetcher(user_agent="t", timeout=TIMEOUT, max_body_bytes=CAP) as f,
    ):
        [report] = run_poll(config, store, f, everything=True)
    assert report.status == "error" and "passed the cap" in (report.error or "")
    assert peak[0] < 32 << 20


@pytest.mark.parametrize("codec", ["utf-8", "utf-16", "utf-16-le", "utf-32"])
def test_nested_entity_declarations_are_refused_before_parsing_in_any_encoding(codec: str) -> None:
    body = billion_laughs().decode().replace("<rss", "\n<rss").encode(codec)
    with pytest.raises(ParseError, match="entity expansion attack"):
        parse_feed(body, RSS, "http://feeds.example/laughs")


def test_a_plain_entity_declaration_is_still_read() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY id "tag:example.com,"><!ENTITY e "&#233;t&#233;">]>'
        b'<rss version="2.0"><channel><item><title>Coworking &e;</title><guid>&id;2006:/a</guid>'
        b"<link>https://news.example/a</link></item></channel></rss>"
    )
    [item], _ = parse_feed(body, RSS, "http://feeds.example/ok")
    assert item.key == "tag:example.com,2006:/a"
    assert "été" in item.title


def test_a_plain_entity_referenced_too_often_is_refused_before_parsing() -> None:
    # 100,000 characters referenced 300 times: 196 KB that would expand to 30 M characters.
    references = "&big;" * 300
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY big "{"x" * 100_000}">]>'
        f'<rss version="2.0"><channel><item><title>Coworking</title><description>{references}</description>'
        "<link>https://news.example/a</link></item></channel></rss>"
    ).encode()
    with pytest.raises(ParseError, match="entity expansion attack"):
        parse_feed(body, RSS, "http://feeds.example/blowup")
