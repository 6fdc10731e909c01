"""Only the commands that use a secret need it: under the system service only systemd can read
the credentials, and `status`, `report`, `export`, `keywords add`, `digest --preview` and the
other commands that use none work all the same; `poll` and `check` still name what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests import conftest
from watcher.cli import main

FEEDS = (
    "settings:\n  credentials_file: {creds}\n"
    "feeds:\n"
    "  - name: bsky\n    kind: bluesky\n    handle: veille.example\n    app_password: ${{BLUESKY_APP_PASSWORD}}\n"
    "  - name: blog\n    kind: rss\n    url: https://example.org/feed?key=${{FEED_KEY}}\n"
)


def setup(folder: Path, creds: str = "credentials.env") -> list[str]:
    args = conftest.write_config(folder, FEEDS.format(creds=creds), "coworking\n")
    result = CliRunner().invoke(main, [*args, "relay", "list"])  # creates the database
    assert result.exit_code == 0, result.output
    return args


def test_commands_that_use_no_secret_work_without_the_credentials(tmp_path: Path) -> None:
    args = setup(tmp_path)  # credentials.env does not exist, nothing in the environment
    commands = [
        ["status"],
        ["status", "--json"],
        ["report", "--out", str(tmp_path / "report")],
        ["export", "--dry-run"],
        ["keywords", "add", "fablab"],
        ["keywords", "test", "tiers-lieux"],
        ["digest", "--preview"],
        ["digest", "--history"],
        ["feeds", "list"],
        ["feeds", "add", "other", "--url", "https://example.net/feed"],
        ["hits"],
    ]
    for command in commands:
        result = CliRunner().invoke(main, [*args, *command], env={"BLUESKY_APP_PASSWORD": None})
        assert result.exit_code == 0, (command, result.output)
        assert "BLUESKY_APP_PASSWORD" not in result.output or command[:2] == ["feeds", "list"], command


def test_commands_that_use_no_secret_work_when_the_credentials_file_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "creds").mkdir()  # a folder where a file should be: unreadable as a file
    args = setup(tmp_path, creds="creds")
    for command in (["status"], ["feeds", "list"], ["digest", "--preview"]):
        result = CliRunner().invoke(main, [*args, *command], env={"BLUESKY_APP_PASSWORD": None})
        assert result.exit_code == 0, (command, result.output)


def test_poll_and_check_name_the_missing_secret_with_its_line(tmp_path: Path) -> None:
    args = setup(tmp_path)
    for command in (["check"], ["poll", "--all"], ["feeds", "check", "bsky"]):
        result = CliRunner().invoke(main, [*args, *command], env={"BLUESKY_APP_PASSWORD": None, "FEED_KEY": "k-1234"})
        assert result.exit_code == 2, (command, result.output)
        assert "feeds.yaml:7: ${BLUESKY_APP_PASSWORD} is not set" in result.output
        assert "Traceback" not in result.output


def test_the_web_page_works_without_the_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from watcher.web.app import Site

    setup(tmp_path)
    monkeypatch.delenv("BLUESKY_APP_PASSWORD", raising=False)
    config, error = Site(tmp_path / "feeds.yaml", tmp_path / "keywords.txt", tmp_path / "watch.db").config()
    assert error is None and config is not None
    assert [f.name for f in config.feeds] == ["bsky", "blog"]
