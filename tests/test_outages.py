"""Outages: the mail server down for three digest slots, the disk full, the database read-only.

The mail server is aiosmtpd on loopback, absent for three daily slots and then back, with the
clock in the test's hands (notify.send_due_digest takes `now`). The disk is a small tmpfs that
the test fills up under a running daemon (this needs root, as on the project's machines; the
test is skipped where mounting is not allowed). A read-only database is one the process may
not write: the test runs the command as an unprivileged user when it is root.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Response
from tests.test_notify import Mailbox, make_hit, store_hits
from watcher import notify
from watcher.config import load_config
from watcher.store import Store

ROOT = Path(__file__).parent.parent
RSS = {"Content-Type": "application/rss+xml"}
MON = datetime(2025, 1, 13, 7, tzinfo=UTC)  # Monday 08:00 in Paris: a daily slot
DAY = timedelta(days=1)
LINK = re.compile(r"https://news\.example/article-\d+")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def received_links(box: Mailbox) -> Counter[str]:
    counts: Counter[str] = Counter()
    for message in box.messages:
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                counts.update(set(LINK.findall(part.get_payload(decode=True).decode())))
    return counts


def test_mail_server_down_for_three_slots_then_back_delivers_every_pending_hit_exactly_once(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_text(
        "settings:\n  timezone: Europe/Paris\n  digest:\n    every: daily\n    time: '08:00'\n    max_items: 200\n"
        "feeds:\n  - name: presse\n    kind: rss\n    url: http://127.0.0.1/feed\n"
    )
    (tmp_path / "keywords.txt").write_text("coworking\n")
    config = load_config(tmp_path / "feeds.yaml", tmp_path / "keywords.txt", env={})
    port = free_port()
    url = f"mailto://127.0.0.1:{port}?from=veille@example.org&to=cm@example.org&mode=insecure"
    box = Mailbox()
    controller: Controller | None = None
    stored: list[str] = []
    failures = 0
    with Store(tmp_path / "watch.db") as store:
        n = 0
        for day in range(6):  # the server is down on days 0, 1 and 2 (three slots), back from day 3
            if day == 3:
                controller = Controller(box, hostname="127.0.0.1", port=port)
                controller.start()
            slot = MON + day * DAY
            # hits found through the day before the slot
            for hour in (-20, -12, -3):
                n += 1
                found = slot + timedelta(hours=hour)
                store_hits(store, [make_hit(config, n, 60, published=found)], found)
                stored.append(f"https://news.example/article-{n}")
            # the daemon calls at every turn of its loop: here every 5 minutes for two hours after the slot
            for minutes in range(0, 120, 5):
                # targets made anew at each call, as the daemon does (a reused one waits out Apprise's throttle)
                targets = notify.load_targets(config, env={"WATCHER_NOTIFY": url})
                report = notify.send_due_digest(store, config, slot + timedelta(minutes=minutes), targets)
                failures += sum(d.state == "failed" for d in report.deliveries)
        history = store.digest_history(limit=50)
    if controller is not None:
        controller.stop()

    assert failures >= 3, "the outage was noticed at each slot"
    counts = received_links(box)
    assert set(counts) == set(stored), f"missing: {sorted(set(stored) - set(counts))}"
    assert all(v == 1 for v in counts.values()), [k for k, v in counts.items() if v > 1]
    # one catch-up message for the three days down, then one a day
    assert len(box.messages) == 1 + 2
    windows = sorted((d["window_start"], d["window_end"]) for d in history)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows)), "no window skipped"
    states = Counter(x["state"] for d in history for x in d["deliveries"])
    assert states["sent"] == 3 and states["superseded"] >= 2


# --- the disk full under a running daemon ----------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    """Take every free block of the file system `folder` is on."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def wait_for(log: Path, text: str, proc: subprocess.Popen[bytes], count: int = 1, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while log.read_text().count(text) < count:
        assert proc.poll() is None, f"the daemon exited:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"{text!r} not logged:\n{log.read_text()}"
        time.sleep(0.05)


def test_a_full_disk_is_a_clear_error_and_the_daemon_stores_again_once_there_is_room(
    small_disk: Path, tmp_path: Path, server: LoopbackServer
) -> None:
    entries = [Entry(f"Coworking {i}", f"https://news.example/{i}", body="texte " * 50) for i in range(20)]
    server.route("/feed", lambda _req: Response(200, RSS, rss(entries)))
    (tmp_path / "feeds.yaml").write_text(
        "settings:\n  timeout: 5\n  languages: any\n"
        f"feeds:\n  - name: feed\n    kind: rss\n    url: {server.url('/feed')}\n"
    )
    (tmp_path / "keywords.txt").write_text("coworking\n")
    db = small_disk / "watch.db"
    args = ["--feeds", str(tmp_path / "feeds.yaml"), "--keywords", str(tmp_path / "keywords.txt"), "--db", str(db)]
    log = tmp_path / "daemon.log"
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM", "WATCHDOG_USEC")}
    env.pop("WATCHER_NOTIFY", None)
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "watcher", *args, "run"], stderr=err, env=env, cwd=ROOT)
    try:
        wait_for(log, "feed: ok, 20 items, 20 new hits", proc)
        filler = fill(small_disk)
        entries.extend(
            Entry(f"Coworking plein {i}", f"https://news.example/full/{i}", body="mot " * 2000) for i in range(200)
        )
        proc.send_signal(signal.SIGUSR1)
        wait_for(log, "database or disk is full", proc)
        time.sleep(1)
        assert proc.poll() is None, "the daemon stays up"
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("SELECT count(*) FROM items WHERE score > 0").fetchone()[0] == 20

        filler.unlink()  # room again: the next poll stores, with no restart
        proc.send_signal(signal.SIGUSR1)
        wait_for(log, "feed: ok, 220 items, 200 new hits", proc)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "Traceback" not in text
    error_lines = [line for line in text.splitlines() if " ERROR " in line or " WARNING " in line]
    assert any("database or disk is full" in line and str(db) in line for line in error_lines), text
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM items WHERE score > 0").fetchone()[0] == 220


# --- a database the process may not write -----------------------------------------------------------


def test_a_read_only_database_is_one_clear_error_and_works_again_when_writable(
    small_disk: Path, tmp_path: Path, server: LoopbackServer
) -> None:
    server.route("/feed", Response(200, RSS, rss([Entry("Coworking ici", "https://news.example/ro")])))
    (tmp_path / "feeds.yaml").write_text(f"feeds:\n  - name: feed\n    kind: rss\n    url: {server.url('/feed')}\n")
    (tmp_path / "keywords.txt").write_text("coworking\n")
    db = small_disk / "watch.db"
    with Store(db):
        pass  # a database in WAL mode, closed
    args = ["--feeds", str(tmp_path / "feeds.yaml"), "--keywords", str(tmp_path / "keywords.txt"), "--db", str(db)]

    def watcher(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "watcher", *args, *command], capture_output=True, text=True, cwd=ROOT, timeout=120
        )

    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        for command in (("poll", "--all"), ("hits",), ("run",)):
            refused = watcher(*command)
            assert refused.returncode == 1, (command, refused.stdout, refused.stderr)
            lines = refused.stderr.strip().splitlines()
            assert len(lines) == 1, (command, lines)
            assert str(db) in lines[0] and "read-only file system" in lines[0], lines
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    done = watcher("poll", "--all")
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM items WHERE score > 0").fetchone()[0] == 1


def test_writes_refused_under_the_running_daemon_are_logged_and_the_next_cycle_stores_them(
    tmp_path: Path, server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    from watcher.daemon import Daemon
    from watcher.fetch import Fetcher

    server.route("/feed", Response(200, RSS, rss([Entry("Coworking ici", "https://news.example/q")])))
    (tmp_path / "feeds.yaml").write_text(f"feeds:\n  - name: feed\n    kind: rss\n    url: {server.url('/feed')}\n")
    (tmp_path / "keywords.txt").write_text("coworking\n")
    daemon = Daemon(tmp_path / "feeds.yaml", tmp_path / "keywords.txt", tmp_path / "watch.db")
    config = load_config(tmp_path / "feeds.yaml", tmp_path / "keywords.txt", env={})
    with Store(tmp_path / "watch.db") as store, Fetcher(user_agent="t", timeout=5, max_body_bytes=100_000) as f:
        # SQLite refuses every write on this connection, as on a file system gone read-only under it
        store.db.execute("PRAGMA query_only = ON")
        assert daemon.cycle(store, f, config) == []
        assert "cannot write to" in caplog.text and "readonly" in caplog.text
        assert store.states() == {}  # nothing half-written; the source is still due
        store.db.execute("PRAGMA query_only = OFF")
        [report] = daemon.cycle(store, f, config)
        assert report.status == "ok" and report.new_hits == 1
    with sqlite3.connect(tmp_path / "watch.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
