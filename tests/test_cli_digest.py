"""`watcher digest` and `watcher notify` as a user runs them, over a database filled by a real poll."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Response
from tests.test_cli import write_config
from tests.test_notify import Hook, json_url
from watcher.cli import main

SECRET = "s3cretpassw0rd"


def polled(server: LoopbackServer, folder: Path, settings: str = "") -> list[str]:
    """A configuration with one feed, polled once through the CLI: two hits stored."""
    server.route(
        "/feed",
        Response(
            200,
            {"Content-Type": "application/rss+xml"},
            rss(
                [
                    Entry("Un coworking ouvre à Sceaux", "https://news.example/a", body="Des bureaux partagés."),
                    Entry("<b>Tiers-lieux</b> & territoires", "https://news.example/b", body="Le tiers-lieu du coin."),
                    Entry("Météo", "https://news.example/c"),
                ]
            ),
        ),
    )
    args = write_config(folder, f"{settings}feeds:\n  - name: local\n    kind: rss\n    url: {server.url('/feed')}\n")
    result = CliRunner().invoke(main, [*args, "poll", "--all"])
    assert result.exit_code == 0, result.output
    return args


def test_preview_writes_an_html_page_and_records_nothing(server: LoopbackServer, tmp_path: Path) -> None:
    args = polled(server, tmp_path)
    out = tmp_path / "digest.html"
    result = CliRunner().invoke(main, [*args, "digest", "--preview", "--format", "html", "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Un coworking ouvre à Sceaux" in page
    assert "Tiers-lieux &amp; territoires" in page and "Météo" not in page
    text = CliRunner().invoke(main, [*args, "digest", "--preview"])
    assert "Veille du" in text.output and "https://news.example/a" in text.output
    history = CliRunner().invoke(main, [*args, "digest", "--history", "--json"])
    assert json.loads(history.output) == []


def test_send_delivers_once_then_says_there_is_nothing_new(server: LoopbackServer, tmp_path: Path) -> None:
    hook = Hook()
    server.route("/hook", hook)
    args = polled(server, tmp_path)
    env = {"WATCHER_NOTIFY": json_url(server, "/hook")}
    first = CliRunner().invoke(main, [*args, "digest", "--send"], env=env)
    assert first.exit_code == 0, first.output
    assert "-> JSON [" in first.output and ": sent (2 hits)" in first.output
    second = CliRunner().invoke(main, [*args, "digest", "--send"], env=env)
    assert second.exit_code == 0 and "Nothing new to send" in second.output
    assert len(hook.bodies) == 1 and "Un coworking ouvre à Sceaux" in hook.bodies[0]["message"]
    history = json.loads(CliRunner().invoke(main, [*args, "digest", "--history", "--json"]).output)
    assert [d["state"] for d in history[0]["deliveries"]] == ["sent"]
    assert "target" not in history[0]["deliveries"][0]


def test_send_to_a_refusing_target_exits_1_without_showing_its_url(server: LoopbackServer, tmp_path: Path) -> None:
    server.route("/refuse", Response(403, body=b"no"))
    args = polled(server, tmp_path)
    url = json_url(server, "/refuse").replace("json://", f"json://bot:{SECRET}@")
    result = CliRunner().invoke(main, ["-v", *args, "digest", "--send"], env={"WATCHER_NOTIFY": url})
    assert result.exit_code == 1
    assert ": failed (" in result.output
    assert SECRET not in result.output and "Traceback" not in result.output


def test_with_no_target_send_writes_the_digest_beside_the_database(server: LoopbackServer, tmp_path: Path) -> None:
    args = polled(server, tmp_path)
    result = CliRunner().invoke(main, [*args, "digest", "--send"], env={"WATCHER_NOTIFY": ""})
    assert result.exit_code == 0, result.output
    [written] = (tmp_path / "digests").glob("digest-1-*.html")
    assert f"written to {written}" in result.output


def test_notify_test_reports_each_target_and_fails_if_one_refused(server: LoopbackServer, tmp_path: Path) -> None:
    hook = Hook()
    server.route("/ok", hook)
    server.route("/refuse", Response(500, body=b"down"))
    args = write_config(tmp_path, "settings:\n  language: en\nfeeds: []\n")
    urls = f"{json_url(server, '/ok')} {json_url(server, '/refuse').replace('json://', f'json://u:{SECRET}@')}"
    result = CliRunner().invoke(main, [*args, "notify", "test"], env={"WATCHER_NOTIFY": urls})
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 2 and lines[0].endswith(": sent") and ": FAILED: " in lines[1]
    assert SECRET not in result.output
    assert hook.bodies[0]["title"] == "watcher: test message"
    listed = CliRunner().invoke(main, [*args, "notify", "list", "--json"], env={"WATCHER_NOTIFY": urls})
    assert [t["format"] for t in json.loads(listed.output)] == ["markdown", "markdown"]
    assert SECRET not in listed.output


def test_notify_test_without_target_or_with_a_bad_url_is_a_configuration_error(tmp_path: Path) -> None:
    args = write_config(tmp_path, "feeds: []\n")
    none = CliRunner().invoke(main, [*args, "notify", "test"], env={"WATCHER_NOTIFY": ""})
    assert none.exit_code == 2 and "no target configured" in none.output
    bad = CliRunner().invoke(main, [*args, "notify", "test"], env={"WATCHER_NOTIFY": f"bogus://{SECRET}@x"})
    assert bad.exit_code == 2 and "WATCHER_NOTIFY: URL 1 (bogus://…)" in bad.output and SECRET not in bad.output


def test_bad_digest_settings_exit_2_with_the_setting_named(tmp_path: Path) -> None:
    args = write_config(tmp_path, "settings:\n  digest:\n    day: someday\nfeeds: []\n")
    result = CliRunner().invoke(main, [*args, "digest", "--preview"])
    assert result.exit_code == 2 and "settings.digest.day" in result.output
    assert "feeds.yaml:3:" in result.output  # the line of `day: someday`


@pytest.mark.parametrize(
    ("settings", "line", "named"),
    [
        ("  timeout: 5\n  alerts:\n    min_score: 400\n", 4, "settings.alerts.min_score"),
        ("  digest: weekly\n", 2, "settings.digest must be a mapping"),
        ("  digest:\n    every: weekly\n    max_items: 0\n", 4, "settings.digest.max_items"),
    ],
    ids=["alert-score", "digest-not-a-mapping", "max-items"],
)
def test_digest_and_alert_settings_errors_name_their_line(
    tmp_path: Path, settings: str, line: int, named: str
) -> None:
    args = write_config(tmp_path, f"settings:\n{settings}feeds: []\n")
    result = CliRunner().invoke(main, [*args, "digest", "--preview"])
    assert result.exit_code == 2
    assert f"feeds.yaml:{line}: {named}" in result.output


@pytest.mark.parametrize("command", [["digest"], ["notify"], ["notify", "test"], ["notify", "list"]])
def test_digest_and_notify_commands_have_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


def test_digest_needs_exactly_one_action(tmp_path: Path) -> None:
    args = write_config(tmp_path, "feeds: []\n")
    assert CliRunner().invoke(main, [*args, "digest"]).exit_code == 2
    assert CliRunner().invoke(main, [*args, "digest", "--send", "--preview"]).exit_code == 2
