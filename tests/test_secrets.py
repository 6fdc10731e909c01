"""Secrets never show: a whole working session run with known secret values, every output searched.

The session: `check`; a poll of RSS and social sources whose credentials come from the
credentials file and the environment, one of them with a login that Bluesky refuses; a digest
sent to two targets that refuse it (an HTTP endpoint answering 500, a mail server that is not
there), whose Apprise URLs hold a password and a token; `digest --history --json`,
`status`, `hits` (text, JSON, CSV), `notify list --json` and `notify test`; then the daemon for one cycle. Every
stdout and stderr (with -vv), the daemon's log, the database with its write-ahead log and the
digest files are searched for each secret, whole and in part.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.loopback import LoopbackServer, Response
from tests.social_fakes import FakeAlgolia, FakeBluesky, FakeMastodon, FakeReddit
from tests.test_sources_cli import CLIENT_ID, HANDLE, PASSWORD, mixed_feeds

ROOT = Path(__file__).parent.parent
WRONG_PASSWORD = "wrong-bsky-app-pass-4kq9"
CLIENT_SECRET = "gko-very-secret-client"  # the one FakeReddit expects (tests.test_sources_cli)
HOOK_PASSWORD = "hookpass-Zt8wq2"
HOOK_TOKEN = "tok-8f2e77c1d9"
MAIL_PASSWORD = "mailpass-Qv7r3x"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_secret_appears_in_any_output_log_or_file_of_a_whole_session(server: LoopbackServer, tmp_path: Path) -> None:
    empty_feed = b"<rss version='2.0'><channel/></rss>"
    server.route("/feed", Response(200, {"Content-Type": "application/rss+xml"}, empty_feed))
    FakeMastodon(server).add(2)
    FakeBluesky(server, HANDLE, PASSWORD).add(2)
    FakeReddit(server, CLIENT_ID, CLIENT_SECRET).add(2)
    FakeAlgolia(server).add(2)
    server.route("/hook", Response(500, body=b"refused"))
    hook = f"json://veille:{HOOK_PASSWORD}@127.0.0.1:{server.server.server_address[1]}/hook?token={HOOK_TOKEN}"
    mail = f"mailtos://veille:{MAIL_PASSWORD}@127.0.0.1:{free_port()}?from=veille@example.org&to=cm@example.org"
    notify_env = f"{hook} {mail}"

    settings = "settings:\n  credentials_file: credentials.env\n  digest: {max_age: 3650d}\n"
    feeds = mixed_feeds(server).replace("settings:\n", settings)
    (tmp_path / "feeds.yaml").write_text(feeds)
    (tmp_path / "keywords.txt").write_text("coworking\ntiers-lieux\n")
    # the Bluesky password (a wrong one) and the Reddit secret in the credentials file, as in production
    (tmp_path / "credentials.env").write_text(
        f"BLUESKY_APP_PASSWORD={WRONG_PASSWORD}\nREDDIT_CLIENT_SECRET='{CLIENT_SECRET}'\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM", "WATCHDOG_USEC")}
    env.update(REDDIT_CLIENT_ID=CLIENT_ID, WATCHER_NOTIFY=notify_env)
    base = ["--feeds", str(tmp_path / "feeds.yaml"), "--keywords", str(tmp_path / "keywords.txt")]
    base += ["--db", str(tmp_path / "data" / "watch.db")]

    outputs: dict[str, str] = {}

    def watcher(*command: str, code: int = 0) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "watcher", "-vv", *base, *command],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=120,
        )
        outputs[" ".join(command)] = done.stdout + done.stderr
        assert done.returncode == code, (command, done.stdout, done.stderr)
        return done.stdout + done.stderr

    watcher("check")
    polled = watcher("poll", "--all")
    assert "Bluesky refused the login" in polled  # the failing login is there, without its password
    watcher("poll", "--all", "--json")
    sent = watcher("digest", "--send", code=1)
    assert "failed" in sent
    watcher("digest", "--send", "--json", code=1)
    watcher("digest", "--history", "--json")
    watcher("status")
    watcher("status", "--json")
    watcher("hits")
    watcher("hits", "--json")
    watcher("hits", "--csv")
    watcher("notify", "list", "--json")
    watcher("notify", "test", code=1)

    # the daemon for one cycle, its log as systemd's journal would keep it
    log = tmp_path / "daemon.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "-vv", *base, "run"], stderr=err, stdout=err, env=env, cwd=ROOT
        )
        try:
            deadline = time.monotonic() + 30
            while "watching 5 enabled sources" not in log.read_text():
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
            proc.send_signal(signal.SIGUSR1)
            while "bsky: error" not in log.read_text():
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    outputs["run"] = log.read_text()

    files = {p.name: p.read_bytes().decode("utf-8", "replace") for p in (tmp_path / "data").rglob("*") if p.is_file()}
    assert "watch.db" in files
    secrets = {
        "bluesky password": WRONG_PASSWORD,
        "reddit client secret": CLIENT_SECRET,
        "hook password": HOOK_PASSWORD,
        "hook token": HOOK_TOKEN,
        "mail password": MAIL_PASSWORD,
        "hook URL": hook,
        "mail URL": mail,
    }
    leaks = [
        f"{what} in {where}"
        for where, text in {**outputs, **files}.items()
        for what, secret in secrets.items()
        if secret in text or secret[: len(secret) * 2 // 3] in text
    ]
    assert not leaks, leaks
    assert "INFO watcher.poll" in outputs["poll --all"] and "DEBUG" in outputs["run"], "the log was on"
