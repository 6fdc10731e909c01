"""Social sources as a user meets them: `watcher check`, `watcher poll`, `watcher hits --json`, and no secret shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import write_config
from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Response
from tests.social_fakes import FakeAlgolia, FakeBluesky, FakeMastodon, FakeReddit
from watcher.cli import main

HANDLE = "veille-tierslieu.bsky.social"
PASSWORD = "zq3v-secret-app-pass"
CLIENT_ID = "p-jcoLKBynTLew"
CLIENT_SECRET = "gko-very-secret-client"
SECRETS = {"BLUESKY_APP_PASSWORD": PASSWORD, "REDDIT_CLIENT_ID": CLIENT_ID, "REDDIT_CLIENT_SECRET": CLIENT_SECRET}


def write(folder: Path, feeds: str, keywords: str = "coworking\ntiers-lieux\n") -> list[str]:
    return write_config(folder, feeds, keywords)


BLUESKY_ENTRY = (
    "feeds:\n"
    "  - name: news\n    kind: rss\n    url: https://example.org/feed\n"
    "  - name: bsky\n    kind: bluesky\n    handle: veille.bsky.social\n{password}"
)


@pytest.mark.parametrize(
    ("password_line", "env", "line", "fragment"),
    [
        ("", {}, 5, "`app_password` is missing"),
        ("    app_password: ${BLUESKY_APP_PASSWORD}\n", {"BLUESKY_APP_PASSWORD": ""}, 5, "`app_password` is empty"),
        ("    app_password: ${BLUESKY_APP_PASSWORD}\n", {}, 8, "${BLUESKY_APP_PASSWORD} is not set"),
    ],
    ids=["key missing", "variable empty", "variable unset"],
)
def test_check_reports_a_missing_credential_with_file_and_line_before_any_poll(
    tmp_path: Path, password_line: str, env: dict[str, str], line: int, fragment: str
) -> None:
    args = write(tmp_path, BLUESKY_ENTRY.format(password=password_line))
    for command in (["check"], ["poll", "--all"]):
        result = CliRunner().invoke(main, [*args, *command], env={"BLUESKY_APP_PASSWORD": None, **env})
        assert result.exit_code == 2, result.output
        # the bluesky entry's line, or the line of the variable that is not set
        assert f"{tmp_path / 'feeds.yaml'}:{line}: " in result.output and fragment in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "watch.db").exists()


def test_check_ignores_credentials_of_a_disabled_source(tmp_path: Path) -> None:
    args = write(tmp_path, BLUESKY_ENTRY.format(password="    enabled: false\n"))
    result = CliRunner().invoke(main, [*args, "check"])
    assert result.exit_code == 0, result.output


def test_check_asks_reddit_for_the_user_name_of_its_user_agent(tmp_path: Path) -> None:
    args = write(tmp_path, "feeds:\n  - name: r\n    kind: reddit\n    subreddits: [france]\n")
    result = CliRunner().invoke(main, [*args, "check"])
    assert result.exit_code == 2 and "feeds.yaml:2:" in result.output and "username" in result.output


def mixed_feeds(server: LoopbackServer, password: str = "${BLUESKY_APP_PASSWORD}") -> str:
    base = server.base
    return (
        "settings:\n  timeout: 5\n"
        "feeds:\n"
        f"  - name: news\n    kind: rss\n    url: {server.url('/feed')}\n"
        f"  - name: masto\n    kind: mastodon\n    base_url: {base}\n    hashtags: [tierslieux]\n"
        f"  - name: bsky\n    kind: bluesky\n    base_url: {base}\n    handle: {HANDLE}\n"
        f"    app_password: {password}\n"
        f"  - name: reddit\n    kind: reddit\n    base_url: {base}\n    oauth_url: {base}\n    username: veille_tl\n"
        "    client_id: ${REDDIT_CLIENT_ID}\n    client_secret: ${REDDIT_CLIENT_SECRET}\n    queries: [coworking]\n"
        f"  - name: hn\n    kind: hackernews\n    base_url: {base}\n    queries: [coworking]\n"
        "    languages: [fr, en]\n"
    )


def serve_everything(server: LoopbackServer) -> None:
    server.route(
        "/feed",
        Response(
            200, {"Content-Type": "application/rss+xml"}, rss([Entry("Un coworking ouvre", "https://n.example/a")])
        ),
    )
    FakeMastodon(server).add(2)
    FakeBluesky(server, HANDLE, PASSWORD).add(2)
    FakeReddit(server, CLIENT_ID, CLIENT_SECRET).add(2)
    FakeAlgolia(server).add(2)


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed command in its own process: real stderr logging, real environment."""
    return subprocess.run(
        [sys.executable, "-m", "watcher", "-vv", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def test_poll_over_rss_and_social_sources_then_hits_json_shows_sources_authors_engagement(
    server: LoopbackServer, tmp_path: Path
) -> None:
    serve_everything(server)
    args = write(tmp_path, mixed_feeds(server))
    polled = run([*args, "poll", "--all", "--json"], SECRETS)
    assert polled.returncode == 0, polled.stderr
    reports = {r["name"]: r for r in json.loads(polled.stdout)}
    assert {n: (r["status"], r["new_hits"]) for n, r in reports.items()} == {
        "news": ("ok", 1),
        "masto": ("ok", 2),
        "bsky": ("ok", 2),
        "reddit": ("ok", 2),
        "hn": ("ok", 2),
    }
    listed = run([*args, "hits", "--json"], SECRETS)
    assert listed.returncode == 0, listed.stderr
    hits = json.loads(listed.stdout)
    by_source: dict[str, list[dict[str, object]]] = {}
    for hit in hits:
        for source in hit["sources"]:
            by_source.setdefault(source, []).append(hit)
    assert {s: len(h) for s, h in by_source.items()} == {"news": 1, "masto": 2, "bsky": 2, "reddit": 2, "hn": 2}
    social = [h for s in ("masto", "bsky", "reddit", "hn") for h in by_source[s]]
    assert all(h["author"] and h["engagement"] and h["keywords"] for h in social)
    authors = {h["author"] for h in social}
    assert {"@camille_tl@mastodon.social", "lafabrique.bsky.social", "u/freelance_92", "jdoe"} <= authors
    bsky = next(h for h in by_source["bsky"] if h["author"] == "lafabrique.bsky.social")
    assert bsky["engagement"] == {"likes": 41, "reposts": 7, "replies": 3, "quotes": 1}
    assert bsky["score_breakdown"]["engagement"] > 0  # counts feed the score

    everything = polled.stdout + polled.stderr + listed.stdout + listed.stderr
    assert "DEBUG" in polled.stderr or "INFO" in polled.stderr  # the log was on
    for secret in (PASSWORD, CLIENT_SECRET):
        assert secret not in everything
        assert secret not in (tmp_path / "watch.db").read_bytes().decode("utf-8", "replace")


def test_a_refused_login_is_told_per_source_the_others_are_stored_and_no_secret_is_shown(
    server: LoopbackServer, tmp_path: Path
) -> None:
    serve_everything(server)
    args = write(tmp_path, mixed_feeds(server))
    wrong = "wrong-pass-1234"
    polled = run([*args, "poll", "--all"], {**SECRETS, "BLUESKY_APP_PASSWORD": wrong})
    assert polled.returncode == 0, polled.stderr  # a poll with failed sources is done
    line = next(x for x in polled.stdout.splitlines() if x.startswith("bsky"))
    assert "error" in line and "Bluesky refused the login" in line and "BLUESKY_APP_PASSWORD" in line
    assert "5 sources polled, 1 failed" in polled.stdout
    assert wrong not in polled.stdout + polled.stderr and CLIENT_SECRET not in polled.stdout + polled.stderr
