"""The pool of processes: work done in other processes, errors brought back whole, a broken pool
handed back to the caller; and a poll read by a pool storing exactly what one process stores."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import cli_args
from tests.feedgen import Entry, etag_feed, rss
from tests.loopback import LoopbackServer, Response
from watcher.config import parse_feeds, parse_keywords
from watcher.daemon import Daemon
from watcher.errors import ConfigError, HTTPStatusError, NotAFeed
from watcher.fetch import Fetcher
from watcher.match import compilations as compiled_here
from watcher.poll import AUTO_POOL_SOURCES, Readers, pool_size, run_poll
from watcher.processes import Pool, PoolUnavailable
from watcher.read import PROCESS_PRELOAD, compilations, start_process
from watcher.store import Store
from watcher.types import Config

KEYWORDS = 'coworking\ntiers-lieux\n"équilibre de vie"\nfablab\n'

# Set in each pool process by its initializer: proves the initializer ran there.
_started_with: str | None = None


def _remember(value: str) -> None:
    global _started_with
    _started_with = value


def _where_and_what() -> tuple[int, str | None]:
    return os.getpid(), _started_with


def _refuse(status: int) -> None:
    raise HTTPStatusError(status, f"HTTP {status} from the test", retry_after=12.5)


def _not_a_feed() -> None:
    raise NotAFeed("an HTML page, not a feed", ("https://example.org/feed.xml",))


def test_work_runs_in_another_process_set_up_by_the_initializer() -> None:
    pool = Pool(2, _remember, ("ready",), preload=["tests.test_processes"])
    try:
        pid, started = pool.run(_where_and_what)
    finally:
        pool.close()
    assert pid != os.getpid()
    assert started == "ready"
    assert _started_with is None  # this process was never set up


def test_errors_raised_in_a_pool_process_come_back_with_their_fields() -> None:
    pool = Pool(1, _remember, ("ready",))
    try:
        with pytest.raises(HTTPStatusError) as refused:
            pool.run(_refuse, 429)
        with pytest.raises(NotAFeed) as page:
            pool.run(_not_a_feed)
        # the pool still works after its work raised
        assert pool.run(_where_and_what)[1] == "ready"
    finally:
        pool.close()
    assert (refused.value.status, refused.value.retry_after, str(refused.value)) == (
        429,
        12.5,
        "HTTP 429 from the test",
    )
    assert page.value.feed_links == ("https://example.org/feed.xml",)
    assert "advertises: https://example.org/feed.xml" in str(page.value)


def test_a_pool_whose_process_dies_hands_the_work_back_for_good() -> None:
    pool = Pool(1, _remember, ("ready",))
    try:
        with pytest.raises(PoolUnavailable):
            pool.run(os._exit, 3)  # the process dies in the middle of its work
        with pytest.raises(PoolUnavailable):  # and the pool is not tried again
            pool.run(_where_and_what)
    finally:
        pool.close()


def test_a_closed_pool_takes_no_more_work() -> None:
    pool = Pool(1, _remember, ("ready",))
    pool.close()
    with pytest.raises(PoolUnavailable):
        pool.run(_where_and_what)


def test_auto_uses_one_process_per_core_for_large_polls_only() -> None:
    assert pool_size(None, AUTO_POOL_SOURCES, cpus=4) == 4
    assert pool_size(None, AUTO_POOL_SOURCES - 1, cpus=4) == 0  # starting the pool costs more
    assert pool_size(None, 500, cpus=1) == 0  # one core: nothing to gain
    assert pool_size(0, 500, cpus=4) == 0  # the setting wins
    assert pool_size(3, 1, cpus=1) == 3


@pytest.mark.parametrize(("value", "expected"), [("auto", None), ("0", 0), ("2", 2)], ids=["auto", "none", "two"])
def test_processes_setting_reads_auto_and_whole_numbers(value: str, expected: int | None) -> None:
    _, settings = parse_feeds(f"settings:\n  processes: {value}\nfeeds: []\n", "feeds.yaml", env={})
    assert settings.processes == expected


@pytest.mark.parametrize("value", ["-1", "two", "1.5", "true", "1000"])
def test_processes_setting_refuses_other_values_naming_the_line(value: str) -> None:
    with pytest.raises(ConfigError) as bad:
        parse_feeds(f"settings:\n  timeout: 5\n  processes: {value}\nfeeds: []\n", "feeds.yaml", env={})
    assert bad.value.line == 3
    assert "processes" in bad.value.problem


def _config(server: LoopbackServer, processes: int) -> Config:
    feeds = "".join(
        f"  - name: {name}\n    kind: rss\n    url: {server.url('/' + name)}\n"
        for name in ("alpha", "beta", "gamma", "broken", "page")
    )
    specs, settings = parse_feeds(
        f"settings:\n  timeout: 5\n  processes: {processes}\nfeeds:\n{feeds}", "feeds.yaml", env={}
    )
    return Config(specs, parse_keywords(KEYWORDS), settings)


def _stored(path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with sqlite3.connect(path) as conn:
        items = conn.execute(
            """SELECT canonical_url, title, text, published, score, keywords,
                      (SELECT group_concat(source, ',') FROM
                        (SELECT source FROM item_sources WHERE item_id = items.id ORDER BY source))
               FROM items ORDER BY canonical_url"""
        ).fetchall()
        sources = conn.execute("SELECT name, last_status, last_error, cursor FROM sources ORDER BY name").fetchall()
    return items, sources


def test_a_poll_read_by_a_pool_stores_what_a_single_process_stores(
    server: LoopbackServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = Entry("Le fablab et le coworking partagent un lieu", "https://news.example/shared")
    server.route(
        "/alpha",
        etag_feed(
            rss(
                [
                    Entry(
                        "Un coworking ouvre à Sceaux", "https://news.example/a", body="<p>Des <b>tiers-lieux</b></p>"
                    ),
                    Entry("Météo du jour", "https://news.example/b"),
                    shared,
                ]
            )
        ),
    )
    server.route("/beta", etag_feed(rss([Entry("L'équilibre de vie au travail", "https://news.example/c"), shared])))
    server.route(
        "/gamma", etag_feed(rss([Entry(f"Fablab numéro {n}", f"https://news.example/g{n}") for n in range(30)]))
    )
    server.route("/broken", Response(500, {}, b"down"))
    server.route("/page", Response(200, {"Content-Type": "text/html"}, b"<html><body>Hello</body></html>"))

    reports = {}
    new_hits = {}
    for processes in (0, 2):
        path = tmp_path / f"watch-{processes}.db"
        with Store(path) as store, Fetcher(user_agent="watcher-test", timeout=5, max_body_bytes=1_000_000) as f:
            done = run_poll(_config(server, processes), store, f, everything=True)
        reports[processes] = sorted((r.name, r.status, r.items, r.error) for r in done)
        # which of alpha and beta brings the shared story first depends on arrival: count the whole
        new_hits[processes] = sum(r.new_hits for r in done)
    assert not [r for r in caplog.records if r.name == "watcher.processes"]  # the pool did the reading
    assert reports[2] == reports[0]
    assert new_hits[2] == new_hits[0] == 33
    assert _stored(tmp_path / "watch-2.db") == _stored(tmp_path / "watch-0.db")
    items, sources = _stored(tmp_path / "watch-2.db")
    assert len(items) == 34  # the shared story stored once
    assert {name: status for name, status, _, _ in sources} == {
        "alpha": "ok",
        "beta": "ok",
        "gamma": "ok",
        "broken": "error",
        "page": "error",
    }


def test_the_reading_processes_compile_the_queries_once_per_configuration_not_per_poll(
    server: LoopbackServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Feeds without validators: every poll reads every answer again, in the pool's one process.
    for name in ("alpha", "beta", "gamma", "broken", "page"):
        entries = [Entry(f"Un coworking numéro {n} ({name})", f"https://news.example/{name}/{n}") for n in range(5)]
        server.route("/" + name, Response(200, {"Content-Type": "application/rss+xml"}, rss(entries)))
    config = _config(server, 1)
    readers = Readers()  # what the daemon keeps from one poll to the next
    seen = []  # (process, compilations so far) of the reading process after each poll
    try:
        with Store(tmp_path / "watch.db") as store, Fetcher(user_agent="t", timeout=5, max_body_bytes=10**6) as f:
            before = compiled_here()
            for _ in range(2):
                reports = run_poll(config, store, f, everything=True, readers=readers)
                assert {r.items for r in reports} == {5}
                pool = readers.pool(config, 1)
                assert pool is not None
                seen.append(pool.run(compilations))
            in_this_process = compiled_here() - before
            # the same configuration read again (a reload of unchanged files): the same process
            run_poll(_config(server, 1), store, f, everything=True, readers=readers)
            again = readers.pool(config, 1)
            assert again is not None
            seen.append(again.run(compilations))
            # a reload with another query: new processes, each compiling the new set once
            changed = Config(config.feeds, parse_keywords(KEYWORDS + "atelier\n"), config.settings)
            run_poll(changed, store, f, everything=True, readers=readers)
            fresh = readers.pool(changed, 1)
            assert fresh is not None
            seen.append(fresh.run(compilations))
    finally:
        readers.close()
    assert not [r for r in caplog.records if r.name == "watcher.processes"]  # the pool did the reading
    first_pid = seen[0][0]
    assert first_pid != os.getpid()
    assert seen[:3] == [(first_pid, 1)] * 3  # one process, one compilation, three polls
    assert seen[3][0] != first_pid and seen[3][1] == 1
    assert in_this_process <= 1  # and the driver itself compiled at most once for two polls


def test_the_daemon_s_cycles_read_with_processes_that_compiled_once(server: LoopbackServer, tmp_path: Path) -> None:
    for name in ("alpha", "beta", "gamma", "broken", "page"):
        entries = [Entry(f"Un fablab numéro {n} ({name})", f"https://news.example/{name}/{n}") for n in range(3)]
        server.route("/" + name, Response(200, {"Content-Type": "application/rss+xml"}, rss(entries)))
    config = _config(server, 1)
    daemon = Daemon(tmp_path / "feeds.yaml", tmp_path / "keywords.txt", tmp_path / "watch.db")
    seen = []
    try:
        with Store(tmp_path / "watch.db") as store, Fetcher(user_agent="t", timeout=5, max_body_bytes=10**6) as f:
            for _ in range(2):
                assert len(daemon.cycle(store, f, config, everything=True)) == 5
                pool = daemon.readers.pool(config, 1)
                assert pool is not None
                seen.append(pool.run(compilations))
    finally:
        daemon.readers.close()
    assert seen[0] == seen[1] and seen[0][1] == 1 and seen[0][0] != os.getpid()


def test_kept_reading_processes_that_broke_are_replaced_at_the_next_poll(server: LoopbackServer) -> None:
    config = _config(server, 1)
    readers = Readers()
    try:
        broken = readers.pool(config, 1)
        assert broken is not None
        with pytest.raises(PoolUnavailable):
            broken.run(os._exit, 3)  # killed in the middle of a poll: that poll reads alone
        assert readers.pool(config, 0) is None  # a small poll needs none
        renewed = readers.pool(config, 1)
        assert renewed is not None and renewed is not broken
        pid, compiled = renewed.run(compilations)
    finally:
        readers.close()
    assert pid != os.getpid() and compiled == 1


def test_a_reading_process_outlives_the_signals_meant_for_the_daemon() -> None:
    pool = Pool(1, start_process, (parse_keywords(KEYWORDS), logging.WARNING), preload=PROCESS_PRELOAD)
    try:
        pid = pool.run(os.getpid)
        for meant_for_the_daemon in (signal.SIGHUP, signal.SIGUSR1, signal.SIGINT):
            os.kill(pid, meant_for_the_daemon)  # as `systemctl kill` or Ctrl-C sends to every process
        time.sleep(0.2)
        assert pool.run(os.getpid) == pid
    finally:
        pool.close()


def _pool_processes() -> list[int]:
    """The processes the forkserver started (the pool's), found by their parent in /proc."""
    from multiprocessing import forkserver

    server = forkserver._forkserver._forkserver_pid  # the running server, if any
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == server:
                found.append(int(name))
    return found


def test_a_poll_whose_pool_dies_midway_reads_the_rest_itself_and_stores_everything(
    server: LoopbackServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    names = [f"feed{n}" for n in range(12)]
    for n, name in enumerate(names):
        body = rss([Entry(f"Coworking numéro {n}", f"https://news.example/{n}")])
        # the later half answers a second after the first results are stored and the pool is killed
        server.route(
            f"/{name}", Response(200, {"Content-Type": "application/rss+xml"}, body, delay=1.0 if n >= 6 else 0)
        )
    feeds = "".join(f"  - name: {name}\n    kind: rss\n    url: {server.url('/' + name)}\n" for name in names)
    specs, settings = parse_feeds(f"settings:\n  timeout: 10\n  processes: 2\nfeeds:\n{feeds}", "feeds.yaml", env={})
    killed: list[int] = []

    def kill_the_pool(report: object) -> None:
        if not killed:
            killed.extend(_pool_processes())
            for pid in killed:
                os.kill(pid, signal.SIGKILL)

    with (
        Store(tmp_path / "watch.db") as store,
        Fetcher(user_agent="watcher-test", timeout=10, max_body_bytes=10**6) as f,
    ):
        reports = run_poll(
            Config(specs, parse_keywords(KEYWORDS), settings), store, f, everything=True, on_result=kill_the_pool
        )
        titles = sorted(h["title"] for h in store.hits())
    assert killed  # the pool was running, and was killed after the first results
    assert sorted((r.name, r.status, r.new_hits) for r in reports) == sorted((name, "ok", 1) for name in names)
    assert titles == sorted(f"Coworking numéro {n}" for n in range(12))
    assert any("pool of processes stopped working" in r.getMessage() for r in caplog.records)


# --- the pool ends with its owner ------------------------------------------------------------------


def _parents() -> dict[int, int]:
    """Every live (not zombie) process and its parent, from /proc."""
    found = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                fields = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                found[int(name)] = int(fields[1])
    return found


def _descendants(pid: int) -> set[int]:
    parents = _parents()
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        children = [child for child, p in parents.items() if p == parent]
        found.update(children)
        todo.extend(children)
    return found


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _large_slow_poll(server: LoopbackServer, tmp_path: Path, delay: float) -> subprocess.Popen[bytes]:
    """`watcher poll --all` on 24 sources (the pool starts), half of which answer after `delay` s."""
    feeds = []
    for n in range(24):
        body = rss([Entry(f"Coworking numéro {n}", f"https://news.example/{n}")])
        server.route(
            f"/f{n}", Response(200, {"Content-Type": "application/rss+xml"}, body, delay=delay if n % 2 else 0)
        )
        feeds.append(f"  - name: f{n}\n    kind: rss\n    url: {server.url(f'/f{n}')}\n")
    # every source on one host: without a higher per_host (2 by default), the slow half would be
    # fetched two at a time, 6 x `delay` seconds, longer than the tests wait for the poll's end
    settings = "settings:\n  timeout: 60\n  processes: 2\n  per_host: 24\n"
    (tmp_path / "feeds.yaml").write_text(settings + "feeds:\n" + "".join(feeds))
    (tmp_path / "keywords.txt").write_text(KEYWORDS)
    return subprocess.Popen(
        [sys.executable, "-m", "watcher", *cli_args(tmp_path), "poll", "--all"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).parent.parent,
    )


def _pool_started(main: int) -> set[int]:
    """Every process under `main` once the pool's server process has started a worker."""
    helpers: set[int] = set()

    def ready() -> bool:
        helpers.clear()
        helpers.update(_descendants(main))
        parents = _parents()
        return any(parents.get(h) in helpers for h in helpers)  # a grandchild: a worker of the server

    assert _wait(ready, 60), "the pool never started"
    return helpers


def test_a_poll_killed_outright_leaves_no_reading_process_behind(server: LoopbackServer, tmp_path: Path) -> None:
    main = _large_slow_poll(server, tmp_path, delay=30)
    try:
        helpers = _pool_started(main.pid)
        main.send_signal(signal.SIGKILL)
        main.wait(10)
        alive = lambda: helpers & set(_parents())  # noqa: E731
        assert _wait(lambda: not alive(), 30), f"still running after the poll was killed: {sorted(alive())}"
    finally:
        if main.poll() is None:
            main.kill()
            main.wait()


def test_a_killed_server_process_takes_its_workers_along_and_the_poll_reads_alone(
    server: LoopbackServer, tmp_path: Path
) -> None:
    # the slow half keeps the poll going while its workers are looked for, however slowly they start
    main = _large_slow_poll(server, tmp_path, delay=15)
    try:
        helpers = _pool_started(main.pid)
        parents = _parents()
        workers = {h for h in helpers if parents.get(h) in helpers}
        [forkserver] = {parents[w] for w in workers}
        os.kill(forkserver, signal.SIGKILL)
        assert _wait(lambda: not workers & set(_parents()), 30), "workers outlived their server process"
        _, err = main.communicate(timeout=90)
        assert main.returncode == 0, err.decode()
    finally:
        if main.poll() is None:
            main.kill()
            main.wait()
