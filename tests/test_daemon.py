"""`watcher run` as systemd runs it: a real process, a notify socket the test owns, real signals.

Each test starts the daemon as a subprocess on feeds served by the loopback server, listens on an
abstract datagram socket given in NOTIFY_SOCKET, and reads the database the daemon writes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import cli_args as args
from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Request, Response

RSS = {"Content-Type": "application/rss+xml"}


class NotifySocket:
    """A datagram socket in the abstract namespace that collects what the daemon sends."""

    def __init__(self) -> None:
        self.name = f"watcher-test-{uuid.uuid4().hex}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name)
        self.sock.settimeout(0.1)
        self.messages: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    @property
    def env_value(self) -> str:
        return "@" + self.name

    def _read(self) -> None:
        while not self._closed:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.messages.append((time.monotonic(), data.decode()))

    def fields(self) -> list[tuple[float, str]]:
        """Every KEY=value line received, with its arrival time."""
        with self._lock:
            return [(at, line) for at, message in self.messages for line in message.splitlines()]

    def wait_for(self, predicate: Callable[[str], bool], count: int = 1, timeout: float = 60) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for _, line in self.fields() if predicate(line)]
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"not received within {timeout}s; got {[m for _, m in self.fields()]}")

    def close(self) -> None:
        self._closed = True
        self.sock.close()


class Daemon:
    """`watcher run` in a subprocess, with its stderr in a file."""

    def __init__(self, folder: Path, notify: NotifySocket, extra_env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.log_path = folder / f"stderr-{uuid.uuid4().hex[:6]}.log"
        self.stderr = self.log_path.open("w")
        env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "WATCHDOG_USEC", "WATCHDOG_PID")}
        env.update({"NOTIFY_SOCKET": notify.env_value, **(extra_env or {})})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", *args(folder), "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
            cwd=Path(__file__).parent.parent,
        )

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_log(self, text: str, count: int = 1, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.log().count(text) < count:
            assert time.monotonic() < deadline, f"{text!r} not logged; log:\n{self.log()}"
            assert self.proc.poll() is None, f"the daemon exited; log:\n{self.log()}"
            time.sleep(0.05)

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self, timeout: float = 60) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds it took: a test that promises a prompt stop asserts it)."""
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        return code, time.monotonic() - start

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


def feeds_yaml(server: LoopbackServer, *paths: str) -> str:
    lines = ["settings:", "  timeout: 30", "feeds:"]
    for path in paths:
        lines += [f"  - name: {path.strip('/')}", "    kind: rss", f"    url: {server.url(path)}", "    interval: 60"]
    return "\n".join(lines) + "\n"


def cli(folder: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watcher", *args(folder), *command],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent.parent,
    )


def stored_hits(folder: Path) -> list[dict[str, object]]:
    result = cli(folder, "hits", "--json")
    assert result.returncode == 0, result.stderr
    hits: list[dict[str, object]] = json.loads(result.stdout)
    return hits


def integrity(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


@pytest.fixture
def notify() -> Iterator[NotifySocket]:
    listener = NotifySocket()
    yield listener
    listener.close()


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for d in started:
        d.close()


def test_run_says_ready_status_watchdog_then_stopping_and_exits_0_on_sigterm(
    server: LoopbackServer, tmp_path: Path, notify: NotifySocket, daemons: list[Daemon]
) -> None:
    server.route("/feed", Response(200, RSS, rss([Entry("Un coworking ouvre à Sceaux", "https://news.example/a")])))
    (tmp_path / "feeds.yaml").write_text(feeds_yaml(server, "/feed"))
    (tmp_path / "keywords.txt").write_text("coworking\n")
    daemon = Daemon(tmp_path, notify, {"WATCHDOG_USEC": "400000"})
    daemons.append(daemon)

    notify.wait_for(lambda f: f == "READY=1")
    status = notify.wait_for(lambda f: f.startswith("STATUS=cycle 1:"))[0]
    assert "1 polled, 0 failed, 1 new hit" in status
    # the watchdog is fed at half its period from the main loop: ~5 pings a second here
    first = len(notify.wait_for(lambda f: f == "WATCHDOG=1"))
    time.sleep(1.0)
    pings = len(notify.wait_for(lambda f: f == "WATCHDOG=1")) - first
    assert 3 <= pings <= 8

    code, took = daemon.stop()
    assert code == 0
    assert took < 5
    order = [line for _, line in notify.fields() if line in ("READY=1", "STOPPING=1")]
    assert order == ["READY=1", "STOPPING=1"]
    assert daemon.log().count("watcher.poll: feed: ok, 1 item, 1 new hit") == 1  # one line per source per poll
    assert integrity(tmp_path / "watch.db") == "ok"


def test_logs_carry_journald_priorities_when_stderr_is_the_journal_stream(
    server: LoopbackServer, tmp_path: Path, notify: NotifySocket
) -> None:
    server.route("/down", Response(500, body=b"down"))
    (tmp_path / "feeds.yaml").write_text(feeds_yaml(server, "/down"))
    (tmp_path / "keywords.txt").write_text("coworking\n")
    # systemd sets JOURNAL_STREAM to the device:inode of the stream it gives as stderr
    log_path = tmp_path / "journal.log"
    log_path.touch()
    info = log_path.stat()
    env = {**os.environ, "NOTIFY_SOCKET": notify.env_value, "JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}
    with log_path.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "watcher", *args(tmp_path), "run"], env=env, stderr=err)
        notify.wait_for(lambda f: f.startswith("STATUS=cycle 1:"))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0
    lines = log_path.read_text().splitlines()
    assert any(line.startswith("<6>watcher.daemon: watching 1 enabled source") for line in lines)
    assert any(line.startswith("<4>watcher.poll: down: error: server error: HTTP 500") for line in lines)
    assert all(line.startswith("<") for line in lines)


@pytest.mark.parametrize("processes", ["0", "2"], ids=["in-process", "pool"])
def test_sigterm_during_a_slow_fetch_exits_0_within_seconds_and_keeps_what_arrived(
    server: LoopbackServer, tmp_path: Path, notify: NotifySocket, daemons: list[Daemon], processes: str
) -> None:
    server.route("/fast", Response(200, RSS, rss([Entry("Coworking rapide", "https://news.example/fast")])))
    server.route("/slow", Response(200, RSS, rss([Entry("Coworking lent", "https://news.example/slow")]), delay=20))
    config = feeds_yaml(server, "/fast", "/slow").replace("settings:\n", f"settings:\n  processes: {processes}\n")
    (tmp_path / "feeds.yaml").write_text(config)
    (tmp_path / "keywords.txt").write_text("coworking\n")
    daemon = Daemon(tmp_path, notify)
    daemons.append(daemon)
    daemon.wait_log("fast: ok, 1 item, 1 new hit")
    assert server.hits("/slow")

    code, took = daemon.stop()
    assert code == 0
    assert took < 5
    notify.wait_for(lambda f: f == "STOPPING=1")
    assert [h["title"] for h in stored_hits(tmp_path)] == ["Coworking rapide"]
    assert integrity(tmp_path / "watch.db") == "ok"
    assert "pool of processes" not in daemon.log()  # the pool read the fast feed and was closed quietly


def test_a_keyword_added_while_running_matches_at_the_next_poll_and_a_broken_edit_keeps_the_old_ones(
    server: LoopbackServer, tmp_path: Path, notify: NotifySocket, daemons: list[Daemon]
) -> None:
    entries = [Entry("Un coworking ouvre", "https://news.example/1")]
    server.route("/feed", lambda _req: Response(200, RSS, rss(entries)))
    (tmp_path / "feeds.yaml").write_text(feeds_yaml(server, "/feed"))
    keywords = tmp_path / "keywords.txt"
    keywords.write_text("coworking\n")
    daemon = Daemon(tmp_path, notify)
    daemons.append(daemon)
    notify.wait_for(lambda f: f.startswith("STATUS=cycle 1:"))

    # a new keyword, and a story that only it matches
    keywords.write_text("coworking\nfablab\n")
    entries.append(Entry("Un fablab à Sceaux", "https://news.example/2"))
    daemon.wait_log("configuration reloaded: 1 enabled source, 2 queries")
    notify.wait_for(lambda f: f.startswith("RELOADING=1"))
    assert any(f.startswith("MONOTONIC_USEC=") for _, f in notify.fields())
    notify.wait_for(lambda f: f == "READY=1", count=2)
    daemon.signal(signal.SIGUSR1)  # poll now rather than in a minute
    notify.wait_for(lambda f: f.startswith("STATUS=cycle 2:"))
    by_title = {h["title"]: h for h in stored_hits(tmp_path)}
    assert by_title["Un fablab à Sceaux"]["keywords"] == ["fablab"]

    # a broken line: logged with file and line, and the two good keywords stay in force
    keywords.write_text('coworking\nfablab\n"tiers lieux\n')
    daemon.wait_log(f"{keywords}:3:")
    assert "configuration not reloaded" in daemon.log()
    entries.append(Entry("Fablab et coworking", "https://news.example/3"))
    daemon.signal(signal.SIGUSR1)
    notify.wait_for(lambda f: f.startswith("STATUS=cycle 3:"))
    by_title = {h["title"]: h for h in stored_hits(tmp_path)}
    assert sorted(by_title["Fablab et coworking"]["keywords"]) == ["coworking", "fablab"]  # type: ignore[type-var]

    # SIGHUP reloads on demand, once the file is fixed
    keywords.write_text("coworking\nfablab\n")
    daemon.signal(signal.SIGHUP)
    daemon.wait_log("configuration reloaded (SIGHUP): 1 enabled source, 2 queries")
    assert daemon.stop()[0] == 0


def test_cli_commands_work_while_the_daemon_polls(
    server: LoopbackServer, tmp_path: Path, notify: NotifySocket, daemons: list[Daemon]
) -> None:
    # a feed that takes its time, so the readers below run while the daemon is in a poll
    server.route("/fast", Response(200, RSS, rss([Entry("Coworking vite", "https://news.example/f")])))
    server.route("/slow", Response(200, RSS, rss([Entry("Coworking lent", "https://news.example/s")]), delay=4))
    (tmp_path / "feeds.yaml").write_text(feeds_yaml(server, "/fast", "/slow"))
    (tmp_path / "keywords.txt").write_text("coworking\n")
    daemon = Daemon(tmp_path, notify)
    daemons.append(daemon)
    daemon.wait_log("fast: ok")
    status = cli(tmp_path, "status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert {s["name"]: s["status"] for s in report["sources"]} == {"fast": "ok", "slow": None}
    assert report["hits"]["this_week"] == 1
    assert report["database"]["bytes"] > 0
    assert [h["title"] for h in stored_hits(tmp_path)] == ["Coworking vite"]
    poll = cli(tmp_path, "poll", "--source", "fast", "--json")  # a writer too, beside the daemon
    assert poll.returncode == 0, poll.stderr
    notify.wait_for(lambda f: f.startswith("STATUS=cycle 1:"))
    human = cli(tmp_path, "status")
    assert human.returncode == 0
    assert "Hits: 2 this week, 2 in all" in human.stdout
    assert daemon.stop()[0] == 0


def test_sigkill_in_the_middle_of_a_poll_then_restart_keeps_every_hit_once(
    server: LoopbackServer, tmp_path: Path, notify: NotifySocket, daemons: list[Daemon]
) -> None:
    slow_delay = [3.0]

    def slow(_req: Request) -> Response:
        body = rss([Entry("Coworking C", "https://news.example/c"), Entry("Coworking D", "https://news.example/d")])
        return Response(200, RSS, body, delay=slow_delay[0])

    server.route(
        "/fast",
        Response(
            200,
            RSS,
            rss([Entry("Coworking A", "https://news.example/a"), Entry("Coworking B", "https://news.example/b")]),
        ),
    )
    server.route("/slow", slow)
    (tmp_path / "feeds.yaml").write_text(feeds_yaml(server, "/fast", "/slow"))
    (tmp_path / "keywords.txt").write_text("coworking\n")
    first = Daemon(tmp_path, notify)
    daemons.append(first)
    first.wait_log("fast: ok, 2 items, 2 new hits")
    assert server.hits("/slow")  # the slow source is being fetched right now
    first.proc.kill()
    assert first.proc.wait(5) == -signal.SIGKILL
    assert integrity(tmp_path / "watch.db") == "ok"

    slow_delay[0] = 0.0
    readies = len([f for _, f in notify.fields() if f == "READY=1"])
    second = Daemon(tmp_path, notify)
    daemons.append(second)
    notify.wait_for(lambda f: f == "READY=1", count=readies + 1)
    second.wait_log("slow: ok, 2 items, 2 new hits")  # never stored, so due at once
    second.signal(signal.SIGUSR1)  # and everything again: nothing may come twice
    second.wait_log("fast: ok, 2 items, 0 new hits")
    second.wait_log("slow: ok, 2 items, 0 new hits")
    assert second.stop()[0] == 0

    hits = stored_hits(tmp_path)
    assert sorted(str(h["title"]) for h in hits) == ["Coworking A", "Coworking B", "Coworking C", "Coworking D"]
    assert len({h["canonical_url"] for h in hits}) == 4
    assert integrity(tmp_path / "watch.db") == "ok"


def test_run_with_a_broken_configuration_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_text("feeds:\n  - name: a\n    kind: rss\n    url: https://example.org/f\n")
    (tmp_path / "keywords.txt").write_text('coworking\n"tiers lieux\n')
    result = cli(tmp_path, "run")
    assert result.returncode == 2
    assert "keywords.txt:2:" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_sigkill_at_random_moments_never_duplicates_or_loses_a_hit(
    server: LoopbackServer, tmp_path: Path, notify: NotifySocket, daemons: list[Daemon]
) -> None:
    import random

    paths = ["/a", "/b", "/c"]
    for n, path in enumerate(paths):
        entries = [Entry(f"Coworking {n}-{i} nouvelles", f"https://news.example/{n}/{i}") for i in range(300)]
        server.route(path, Response(200, RSS, rss(entries), delay=0.2 * n))
    (tmp_path / "feeds.yaml").write_text(feeds_yaml(server, *paths))
    (tmp_path / "keywords.txt").write_text("coworking\nnouvelles\n")
    rng = random.Random(5)
    for _ in range(6):
        victim = Daemon(tmp_path, notify)
        daemons.append(victim)
        time.sleep(rng.uniform(0.3, 2.0))
        victim.proc.kill()
        victim.proc.wait(5)
        assert integrity(tmp_path / "watch.db") == "ok"
    readies = len([f for _, f in notify.fields() if f == "READY=1"])
    last = Daemon(tmp_path, notify)
    daemons.append(last)
    notify.wait_for(lambda f: f == "READY=1", count=readies + 1)  # its signal handlers are in place
    last.signal(signal.SIGUSR1)  # every source once more, whatever it had stored
    for path in paths:
        last.wait_log(f"{path.strip('/')}: ok, 300 items")
    assert last.stop()[0] == 0
    hits = stored_hits(tmp_path)
    assert len(hits) == 900
    assert len({h["canonical_url"] for h in hits}) == 900
    assert integrity(tmp_path / "watch.db") == "ok"


def test_a_broken_feeds_yaml_at_reload_is_named_by_line_and_the_last_good_sources_keep_running(
    server: LoopbackServer, tmp_path: Path, notify: NotifySocket, daemons: list[Daemon]
) -> None:
    entries = [Entry("Un coworking ouvre", "https://news.example/1")]
    server.route("/one", lambda _req: Response(200, RSS, rss(entries)))
    server.route("/two", Response(200, RSS, rss([Entry("Coworking deux", "https://news.example/two")])))
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text(feeds_yaml(server, "/one"))
    (tmp_path / "keywords.txt").write_text("coworking\n")
    daemon = Daemon(tmp_path, notify)
    daemons.append(daemon)
    notify.wait_for(lambda f: f.startswith("STATUS=cycle 1:"))

    # a mistake is refused with file and line (every kind is in test_config), the last good sources keep running
    mistakes = [
        (feeds_yaml(server, "/one") + "  - name: two\n    kind: rss\n    url: [unclosed\n", 11),  # at the end
        (feeds_yaml(server, "/one") + "  - name: two\n    kind: telegraph\n", 9),
        (feeds_yaml(server, "/one") + "    interval: 2h\n", 8),
        # numbers out of range and misspelt or unreadable section values: refused as well
        (feeds_yaml(server, "/one").replace("interval: 60", "interval: .inf"), 7),
        (feeds_yaml(server, "/one").replace("  timeout: 30\n", "  timeout: 30\n  cluster_days: 1000000000\n"), 3),
        (feeds_yaml(server, "/one").replace("  timeout: 30\n", "  timeout: 30\n  digest: {evry: daily}\n"), 3),
        (feeds_yaml(server, "/one").replace("  timeout: 30\n", "  timeout: 30\n  export:\n    hours: 9h-18h\n"), 4),
    ]
    for n, (text, line) in enumerate(mistakes, start=1):
        feeds.write_text(text)
        daemon.wait_log("configuration not reloaded", count=n)
        last = [entry for entry in daemon.log().splitlines() if "configuration not reloaded" in entry][-1]
        assert f"{feeds}:{line}: " in last, last
    entries.append(Entry("Coworking encore", "https://news.example/2"))
    daemon.signal(signal.SIGUSR1)
    notify.wait_for(lambda f: f.startswith("STATUS=cycle 2:"))
    assert sorted(str(h["title"]) for h in stored_hits(tmp_path)) == ["Coworking encore", "Un coworking ouvre"]
    assert not server.hits("/two")

    feeds.write_text(feeds_yaml(server, "/one", "/two"))  # fixed: the new source starts at once
    daemon.wait_log("configuration reloaded: 2 enabled sources, 1 query")
    daemon.wait_log("two: ok, 1 item, 1 new hit")
    assert daemon.stop()[0] == 0


def test_the_daemon_sends_the_due_digest_once_and_not_again_after_a_restart(
    server: LoopbackServer, tmp_path: Path, notify: NotifySocket, daemons: list[Daemon]
) -> None:
    from datetime import UTC, datetime, timedelta

    from watcher.config import load_config
    from watcher.fetch import fetcher_for
    from watcher.poll import run_poll
    from watcher.store import Store

    received: list[bytes] = []

    def endpoint(req: Request) -> Response:
        received.append(req.body)
        return Response(200, {"Content-Type": "application/json"}, b"{}")

    server.route("/feed", Response(200, RSS, rss([Entry("Un fablab ouvre à Bagneux", "https://news.example/fab")])))
    server.route("/notify", endpoint)
    # a daily digest whose slot was two hours ago, and a hit found three hours ago: it is due
    from zoneinfo import ZoneInfo

    now = datetime.now(UTC)
    slot = (now - timedelta(hours=2)).astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M")
    settings = f'settings:\n  timezone: Europe/Paris\n  digest:\n    every: daily\n    time: "{slot}"\n'
    (tmp_path / "feeds.yaml").write_text(feeds_yaml(server, "/feed").replace("settings:\n", settings, 1))
    (tmp_path / "keywords.txt").write_text("fablab\n")
    config = load_config(tmp_path / "feeds.yaml", tmp_path / "keywords.txt")
    past = now - timedelta(hours=3)
    with Store(tmp_path / "watch.db") as store, fetcher_for(config.settings) as fetcher:
        assert run_poll(config, store, fetcher, everything=True, clock=lambda: past)[0].new_hits == 1

    target = {"WATCHER_NOTIFY": f"json://127.0.0.1:{server.server.server_address[1]}/notify"}
    daemon = Daemon(tmp_path, notify, target)
    daemons.append(daemon)
    daemon.wait_log("digest 1 recorded for")
    assert daemon.stop()[0] == 0
    [body] = received
    assert "Un fablab ouvre à Bagneux" in json.loads(body)["message"]

    again = Daemon(tmp_path, notify, target)
    daemons.append(again)
    notify.wait_for(lambda f: f == "READY=1", count=2)
    again.signal(signal.SIGUSR1)  # poll now: the cycle ends with its digest step, then STATUS=
    notify.wait_for(lambda f: f.startswith("STATUS=cycle 1:"), count=2)
    assert again.stop()[0] == 0
    assert len(received) == 1, "the digest of that window went out once"
