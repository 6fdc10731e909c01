"""Every value read for a `${NAME}` (environment or credentials file) and every URL password is a
secret at each edge it could reach: `feeds list` (text and JSON), `poll` (text and JSON, -vv),
`status`, the database (last error, poll log, cursor), the digest sent to a target and the
digest files, the log with its tracebacks, and what systemd hands over in $CREDENTIALS_DIRECTORY.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests import conftest
from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Request, Response
from watcher import logs
from watcher.cli import main
from watcher.redact import SECRETS

FEED_PASS = "pw-Zk82mqx7"
FEED_TOKEN = "tok-Hq73nvb2"
FEED_SESAME = "ses-Pp90alw3"  # a query parameter no list of secret names knows
SECRETS_OF_THE_FEED = (FEED_PASS, FEED_TOKEN, FEED_SESAME)


def feed_config(server: LoopbackServer, folder: Path) -> list[str]:
    host = server.base.removeprefix("http://")
    feeds = (
        "settings:\n  timeout: 5\n  credentials_file: credentials.env\n"
        "feeds:\n  - name: private\n    kind: rss\n"
        f"    url: http://reader:${{FEED_PASS}}@{host}/feed?token=${{FEED_TOKEN}}&sesame=${{FEED_SESAME}}\n"
    )
    (folder / "credentials.env").write_text(f"FEED_SESAME={FEED_SESAME}\n")
    return conftest.write_config(folder, feeds, "coworking\n")


def environment(**more: str) -> dict[str, str]:
    return {"FEED_PASS": FEED_PASS, "FEED_TOKEN": FEED_TOKEN, **more}


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS_OF_THE_FEED if s in text]


def database_text(folder: Path) -> str:
    return "".join(p.read_bytes().decode("utf-8", "replace") for p in folder.glob("watch.db*"))


def test_feed_url_secrets_never_show_in_feeds_list_poll_status_database_or_digest(
    server: LoopbackServer, tmp_path: Path
) -> None:
    body = rss([Entry(title="Un coworking ouvre", link="https://example.org/a", guid="a")])
    answers = [Response(200, {"Content-Type": "application/rss+xml", "ETag": '"v1"'}, body)]

    def feed(req: Request) -> Response:
        return answers[-1]

    server.route("/feed", feed)
    server.route("/hook", Response(200, body=b"ok"))
    args = feed_config(server, tmp_path)
    runner = CliRunner()

    def run(*command: str, code: int = 0, **env: str) -> str:
        result = runner.invoke(main, ["-vv", *args, *command], env=environment(**env))
        assert result.exit_code == code, result.output
        assert not leaks(result.output), (command, result.output)
        return result.stdout

    run("poll", "--all")
    sent = server.hits("/feed")[-1]
    assert sent.query == {"token": [FEED_TOKEN], "sesame": [FEED_SESAME]}  # the secrets do reach the feed
    assert sent.headers["authorization"].startswith("Basic ")
    answers.append(Response(500, body=b"down"))
    polled = run("poll", "--all")
    assert "private" in polled and "500" in polled and "${FEED_SESAME}" in polled
    errors = json.loads(run("poll", "--all", "--json"))
    assert errors[0]["status"] == "error" and "${FEED_SESAME}" in errors[0]["error"]

    listed = run("feeds", "list")
    assert "${FEED_TOKEN}" in listed and "${FEED_PASS}" in listed
    as_json = json.loads(run("feeds", "list", "--json"))
    assert "${FEED_TOKEN}" in as_json[0]["url"] and "${FEED_SESAME}" in as_json[0]["last_error"]
    assert "${FEED_SESAME}" in run("status")
    run("status", "--json")

    run("digest", "--send", WATCHER_NOTIFY=f"json://{server.base.removeprefix('http://')}/hook")
    [delivered] = server.hits("/hook")
    message = delivered.body.decode()
    assert "private" in message and "500" in message  # the failing source is in it, with its error
    assert not leaks(message)
    for written in (tmp_path / "digests").glob("*") if (tmp_path / "digests").exists() else []:
        assert not leaks(written.read_text())

    stored = database_text(tmp_path)
    assert "private" in stored and not leaks(stored)
    with sqlite3.connect(tmp_path / "watch.db") as db:
        [(cursor, error)] = db.execute("SELECT cursor, last_error FROM sources").fetchall()
    [(address, validators)] = json.loads(cursor)["validators"].items()
    assert validators == {"etag": '"v1"'} and "token=${FEED_TOKEN}" in address  # kept, under the shown address
    assert "${FEED_SESAME}" in error


def test_conditional_get_still_works_for_a_feed_whose_url_holds_secrets(server: LoopbackServer, tmp_path: Path) -> None:
    body = rss([Entry(title="Un coworking ouvre", link="https://example.org/a", guid="a")])
    server.route("/feed", Response(200, {"Content-Type": "application/rss+xml", "ETag": '"v1"'}, body))
    args = feed_config(server, tmp_path)
    for _ in range(2):
        result = CliRunner().invoke(main, [*args, "poll", "--all"], env=environment())
        assert result.exit_code == 0, result.output
    assert server.hits("/feed")[-1].headers.get("if-none-match") == '"v1"'


def test_a_literal_url_password_is_hidden_in_every_output(server: LoopbackServer, tmp_path: Path) -> None:
    host = server.base.removeprefix("http://")
    server.route("/feed", Response(503, body=b"later"))
    args = conftest.write_config(
        tmp_path,
        f"settings:\n  timeout: 5\nfeeds:\n  - name: clear\n    kind: rss\n    url: http://me:Clear-pass-91@{host}/feed\n",
        "coworking\n",
    )
    for command in (["poll", "--all"], ["feeds", "list"], ["feeds", "list", "--json"], ["status", "--json"]):
        result = CliRunner().invoke(main, [*args, *command])
        assert "Clear-pass-91" not in result.output, (command, result.output)
    assert "me:***@" in CliRunner().invoke(main, [*args, "feeds", "list"]).output
    assert "Clear-pass-91" not in database_text(tmp_path)


def test_log_redaction_covers_tracebacks_and_their_chained_causes() -> None:
    secret = "chained-Secret-5521"
    SECRETS.remember(secret, "${CHAINED}")
    out = io.StringIO()
    logs.setup(stream=out)
    try:
        try:
            raise ValueError(f"inner failure with {secret}")
        except ValueError as inner:
            raise RuntimeError(f"outer failure for http://u:{secret}x@host/") from inner
    except RuntimeError:
        logging.getLogger("watcher.test").exception("it failed: %s", secret)
    text = out.getvalue()
    assert "inner failure with ${CHAINED}" in text and "The above exception" in text
    assert secret not in text and "u:***@host" in text


def test_log_redaction_covers_what_systemd_hands_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "credentials"
    folder.mkdir()
    (folder / "apprise.yml").write_text("urls:\n  - discord://hook-id-7781/HookToken-Zq0923:\n      tag: chat\n")
    (folder / "token").write_text("Sd-Given-Token-4410\n")
    out = io.StringIO()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(folder))
    logs.setup(stream=out)
    log = logging.getLogger("watcher.test")
    log.warning("token Sd-Given-Token-4410, hook discord://hook-id-7781/HookToken-Zq0923")
    text = out.getvalue()
    assert "Sd-Given-Token-4410" not in text and "HookToken-Zq0923" not in text
    assert "***" in text


def test_environment_values_named_in_the_config_are_hidden_even_by_commands_that_do_not_read_them(
    tmp_path: Path,
) -> None:
    args = conftest.write_config(
        tmp_path,
        "feeds:\n  - name: b\n    kind: bluesky\n    handle: me.example\n    app_password: ${BSKY}\n",
        "coworking\n",
    )
    result = CliRunner().invoke(main, [*args, "feeds", "list", "--json"], env={"BSKY": "Env-Only-Pass-2290"})
    assert result.exit_code == 0, result.output
    logging.getLogger("watcher.test").warning("oops Env-Only-Pass-2290")
    assert "Env-Only-Pass-2290" not in result.output
    assert SECRETS.redact("Env-Only-Pass-2290") == "${BSKY}"


def test_the_web_page_shows_no_secret_even_one_an_older_database_still_holds(
    tmp_path: Path, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.webfix import web_watch

    with web_watch(tmp_path, server) as w:
        monkeypatch.setenv("NEWS_KEY", "web-Key-88213")
        feeds = w.folder / "feeds.yaml"
        feeds.write_text(feeds.read_text().replace("/news\n", "/news?key=${NEWS_KEY}\n"))
        with sqlite3.connect(w.db) as db:  # as a database written before errors were redacted holds it
            db.execute("UPDATE sources SET last_status = 'error', last_error = 'HTTP 500 from /news?key=web-Key-88213'")
        page = w.client().get("/sources").text
    assert "HTTP 500 from /news?key=${NEWS_KEY}" in page
    assert "web-Key-88213" not in page


def test_the_status_line_given_to_systemd_holds_no_secret() -> None:
    import socket
    import uuid

    from watcher.systemd import Notifier

    SECRETS.remember("status-Secret-4471", "${STATUS_SECRET}")
    name = f"watcher-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind("\0" + name)
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.status("configuration not reloaded: bad url https://u:pw-Zz12@h/?k=status-Secret-4471")
        received = listener.recv(4096).decode()
        notifier.close()
    assert received == "STATUS=configuration not reloaded: bad url https://u:***@h/?k=${STATUS_SECRET}"


def test_a_token_a_private_feed_echoes_in_its_links_is_hidden_in_long_listings_too(
    server: LoopbackServer, tmp_path: Path
) -> None:
    entries = [
        Entry(title=f"Coworking numéro {i}", link=f"https://example.org/{i}?token={FEED_TOKEN}", guid=str(i))
        for i in range(300)
    ]
    server.route("/feed", Response(200, {"Content-Type": "application/rss+xml"}, rss(entries)))
    args = feed_config(server, tmp_path)
    assert CliRunner().invoke(main, [*args, "poll", "--all"], env=environment()).exit_code == 0
    # `hits` reads no configuration: a process of its own knows the secrets all the same
    listing = subprocess.run(
        [sys.executable, "-m", "watcher", *args, "hits", "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **environment()},
        timeout=120,
    )
    assert listing.returncode == 0, listing.stderr
    assert len(listing.stdout) > 100_000  # long enough for the long-text path of redact
    assert FEED_TOKEN not in listing.stdout and listing.stdout.count("token=${FEED_TOKEN}") == 600  # url, canonical


def test_a_pool_process_hides_secrets_in_whatever_it_writes_to_stderr() -> None:
    # a pool process set up as the poll sets it up, in a process of its own: a warning, a print
    # and a thread's traceback reach the same stderr (the journal) as its log lines
    code = (
        "import sys, threading, warnings\n"
        "from watcher.read import start_process\n"
        f"start_process((), 30, {{{FEED_TOKEN!r}: '${{FEED_TOKEN}}'}})\n"
        f"warnings.warn('a warning quoting {FEED_TOKEN}')\n"
        f"print('a line quoting {FEED_TOKEN}', file=sys.stderr)\n"
        "def fail():\n"
        f"    raise RuntimeError('a thread failing with {FEED_TOKEN}')\n"
        "thread = threading.Thread(target=fail)\n"
        "thread.start()\n"
        "thread.join()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent
    )
    assert done.returncode == 0, done.stderr
    assert "a warning quoting ${FEED_TOKEN}" in done.stderr and "RuntimeError: a thread failing" in done.stderr
    assert "a line quoting ${FEED_TOKEN}" in done.stderr
    assert FEED_TOKEN not in done.stderr
