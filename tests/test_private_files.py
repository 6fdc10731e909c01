"""Secrets at rest: the database (it holds session tokens) is readable by its owner only, whatever the
umask, and one daemon at a time runs on it.

Each test runs the real `watcher` processes with a given umask on feeds served on 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Response
from tests.test_daemon import Daemon, NotifySocket, feeds_yaml

RSS = {"Content-Type": "application/rss+xml"}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def watcher(folder: Path, db: Path, *command: str, umask: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watcher", "--feeds", str(folder / "feeds.yaml"), "--keywords",
         str(folder / "keywords.txt"), "--db", str(db), *command],
        capture_output=True, text=True, timeout=120, umask=umask, cwd=Path(__file__).parent.parent,
    )  # fmt: skip


@pytest.fixture
def notify() -> NotifySocket:
    return NotifySocket()


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_the_data_folder_is_0700_and_every_database_file_0600_whatever_the_umask(
    server: LoopbackServer, tmp_path: Path, umask: int
) -> None:
    server.route("/feed", Response(200, RSS, rss([Entry("Un coworking ouvre", "https://news.example/a")])))
    (tmp_path / "feeds.yaml").write_text(feeds_yaml(server, "/feed"))
    (tmp_path / "keywords.txt").write_text("coworking\n")
    db = tmp_path / "data" / "watcher.db"
    poll = watcher(tmp_path, db, "poll", "--all", umask=umask)
    assert poll.returncode == 0, poll.stderr
    assert mode(db.parent) == 0o700
    assert mode(db) == 0o600
    # the write-ahead log and its index exist while a process has the database open: a daemon
    old = os.umask(umask)
    try:
        (tmp_path / "watch.db").symlink_to(db)  # tests.test_daemon's Daemon names watch.db in its folder
        notify = NotifySocket()
        daemon = Daemon(tmp_path, notify)
    finally:
        os.umask(old)
    try:
        notify.wait_for(lambda f: f == "READY=1")
        daemon.signal(signal.SIGUSR1)  # a poll now: the source polled above is not due yet
        notify.wait_for(lambda f: f.startswith("STATUS=cycle 1:"))
        companions = [db.with_name(db.name + suffix) for suffix in ("-wal", "-shm")]
        assert all(c.exists() for c in companions)
        assert [mode(c) for c in companions] == [0o600, 0o600]
        assert mode(db.with_name(db.name + ".lock")) == 0o600
        assert daemon.stop()[0] == 0
    finally:
        daemon.close()
        notify.close()


def test_database_files_left_readable_by_an_earlier_version_are_narrowed(
    server: LoopbackServer, tmp_path: Path
) -> None:
    (tmp_path / "feeds.yaml").write_text(feeds_yaml(server, "/feed"))
    (tmp_path / "keywords.txt").write_text("coworking\n")
    db = tmp_path / "watcher.db"
    assert watcher(tmp_path, db, "poll", "--all", umask=0o022).returncode == 0
    os.chmod(db, 0o644)  # as an earlier version left it
    reader = sqlite3.connect(db)  # SQLite makes the log and its index with the database's mode: 0644
    try:
        reader.execute("SELECT count(*) FROM items").fetchone()
        files = [db.with_name(db.name + s) for s in ("", "-wal", "-shm")]
        assert [mode(f) for f in files] == [0o644, 0o644, 0o644]
        status = watcher(tmp_path, db, "status", umask=0o022)
        assert status.returncode == 0, status.stderr
        assert [mode(f) for f in files] == [0o600, 0o600, 0o600]
    finally:
        reader.close()


def test_a_second_daemon_on_the_same_database_exits_1_naming_the_running_one(
    server: LoopbackServer, tmp_path: Path
) -> None:
    server.route("/feed", Response(200, RSS, rss([Entry("Un coworking ouvre", "https://news.example/a")])))
    (tmp_path / "feeds.yaml").write_text(feeds_yaml(server, "/feed"))
    (tmp_path / "keywords.txt").write_text("coworking\n")
    notify = NotifySocket()
    first = Daemon(tmp_path, notify)
    try:
        notify.wait_for(lambda f: f == "READY=1")
        second = watcher(tmp_path, tmp_path / "watch.db", "run", umask=0o022)
        assert second.returncode == 1
        [line] = second.stderr.strip().splitlines()
        assert f"pid {first.proc.pid}" in line and "already watching" in line
        # a daemon killed outright leaves its lock file, which does not stop the next one
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(10)
        third = Daemon(tmp_path, notify)
        try:
            notify.wait_for(lambda f: f == "READY=1", count=2)
            assert third.stop()[0] == 0
        finally:
            third.close()
    finally:
        first.close()
        notify.close()
