"""Every configuration mistake and absurd number is one line naming file and line (or the option),
exit code 2, never a traceback, and nothing written: numbers out of range (`.inf`, `99999999999d`,
`1000000000` days), a feed name YAML reads as a number, an unreadable credentials file, section keys
misspelt, section values that would fail later (a network, posting hours, a day), command-line
numbers too large for the database, a group name that would break keywords.txt, a search naming a
field that is not there."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests import conftest
from watcher.cli import main

GOOD = "settings:\n  timeout: 5\nfeeds:\n  - name: blog\n    kind: rss\n    url: https://example.org/feed\n"


def one_clear_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in output, output
    return lines[0]


@pytest.mark.parametrize(
    ("feeds", "line", "says"),
    [
        (GOOD + "    interval: .inf\n", 7, "interval"),
        (GOOD + "    interval: 99999999999d\n", 7, "maximum of 30d"),
        (GOOD + "    interval: 90d\n", 7, "maximum of 30d"),
        (GOOD + "    weight: .inf\n", 7, "weight must be a number from 0 to 100"),
        (GOOD + "    weight: .nan\n", 7, "weight must be a number from 0 to 100"),
        (GOOD.replace("blog", "429"), 4, "write it in quotes"),
        (GOOD.replace("  timeout: 5\n", "  timeout: .inf\n"), 2, "settings.timeout"),
        (GOOD.replace("  timeout: 5\n", "  default_interval: .inf\n"), 2, "settings.default_interval"),
        (GOOD.replace("  timeout: 5\n", "  cluster_days: 1000000000\n"), 2, "from 1 to 365"),
        (GOOD.replace("  timeout: 5\n", "  max_workers: 100000\n"), 2, "from 1 to 512"),
        (GOOD.replace("  timeout: 5\n", "  max_body_bytes: 99999999999999\n"), 2, "settings.max_body_bytes"),
        (GOOD.replace("  timeout: 5\n", "  per_host: 0\n"), 2, "settings.per_host"),
        (GOOD.replace("  timeout: 5\n", "  digest:\n    max_items: 99999999999\n"), 3, "max_items"),
        (GOOD.replace("  timeout: 5\n", "  alerts:\n    max_per_hour: .inf\n"), 3, "max_per_hour"),
        (GOOD.replace("  timeout: 5\n", "  export:\n    gap: 99999999999d\n"), 3, "settings.export.gap: "),
    ],
)
def test_a_number_out_of_range_is_one_line_with_file_and_line_and_exit_2(
    tmp_path: Path, feeds: str, line: int, says: str
) -> None:
    args = conftest.write_config(tmp_path, feeds, "coworking\n")
    for command in (["check"], ["poll", "--all"]):
        result = CliRunner().invoke(main, [*args, *command])
        assert result.exit_code == 2, result.output
        message = one_clear_line(result.output)
        assert f"feeds.yaml:{line}: " in message and says in message, message
    assert not (tmp_path / "watch.db").exists()


def test_a_query_weight_too_large_to_count_is_refused_with_its_line(tmp_path: Path) -> None:
    args = conftest.write_config(tmp_path, GOOD, "coworking\nfablab ^" + "9" * 400 + "\n")
    result = CliRunner().invoke(main, [*args, "check"])
    assert result.exit_code == 2
    assert "keywords.txt:2: weight" in one_clear_line(result.output)


@pytest.mark.parametrize(
    ("settings", "line", "says"),
    [
        ("  digest: {evry: daily}\n", 2, "unknown key 'evry' (did you mean 'every'?)"),
        ("  digest:\n    every: dayly\n", 3, "settings.digest.every"),
        ("  digest:\n    every: weekly\n    day: lundy\n", 4, "settings.digest.day"),
        ("  digest:\n    time: '25:00'\n", 3, "settings.digest.time"),
        ("  alerts:\n    min_scor: 90\n", 3, "did you mean 'min_score'?"),
        ("  alerts:\n    min_score: 400\n", 3, "settings.alerts.min_score"),
        ("  alerts:\n    enabled: maybe\n", 3, "settings.alerts.enabled"),
        ("  export: {netwrok: linkedin}\n", 2, "unknown key 'netwrok' (did you mean 'network'?)"),
        ("  export: {network: linkdin}\n", 2, "'linkdin' is not one of x, twitter, linkedin, facebook"),
        ("  export:\n    network: linkedin\n    hours: 9h-18h\n", 4, "'9h-18h' is not like 09:00-18:00"),
        ("  export:\n    hours: '09:01-09:04'\n", 3, "holds no time on a 5-minute mark"),
        ("  export:\n    max_length: 99999999999\n", 3, "settings.export.max_length"),
        ("  notify: {confg: apprise.yml}\n", 2, "did you mean 'config'?"),
        ("  web:\n    listn: 127.0.0.1:8321\n", 3, "did you mean 'listen'?"),
        ("  web:\n    link_days: 99999999999\n", 3, "settings.web.link_days"),
    ],
)
def test_check_refuses_what_a_section_would_refuse_later_with_file_line_and_a_suggestion(
    tmp_path: Path, settings: str, line: int, says: str
) -> None:
    args = conftest.write_config(tmp_path, "settings:\n" + settings + GOOD.split("\n", 2)[2], "coworking\n")
    result = CliRunner().invoke(main, [*args, "check"])
    assert result.exit_code == 2, result.output
    message = one_clear_line(result.output)
    assert f"feeds.yaml:{line}: " in message and says in message, message


def test_a_misspelt_key_of_a_social_source_is_named_with_a_suggestion(tmp_path: Path) -> None:
    feeds = "feeds:\n  - name: b\n    kind: bluesky\n    handle: me.example\n    app_pasword: x\n"
    args = conftest.write_config(tmp_path, feeds, "coworking\n")
    result = CliRunner().invoke(main, [*args, "check"])
    assert result.exit_code == 2
    assert "feeds.yaml:5: feed 'b': unknown key 'app_pasword' (did you mean 'app_password'?)" in result.output


@pytest.mark.parametrize("kind", ["folder", "not UTF-8"])
def test_a_credentials_file_that_cannot_be_read_is_one_line_naming_it_and_the_setting(
    tmp_path: Path, kind: str
) -> None:
    creds = tmp_path / "credentials.env"
    if kind == "folder":
        creds.mkdir()
    else:
        creds.write_bytes(b"TOKEN=caf\xe9\n")
    feeds = GOOD.replace("  timeout: 5\n", "  credentials_file: credentials.env\n")
    args = conftest.write_config(tmp_path, feeds, "coworking\n")
    result = CliRunner().invoke(main, [*args, "check"])
    assert result.exit_code == 2
    message = one_clear_line(result.output)
    assert "feeds.yaml:2: settings.credentials_file" in message and "credentials.env" in message


def test_absurd_numbers_on_the_command_line_are_one_line_and_exit_2(tmp_path: Path) -> None:
    args = conftest.write_config(tmp_path, GOOD, "coworking\n")
    assert CliRunner().invoke(main, [*args, "relay", "list"]).exit_code == 0  # a database
    commands = [
        ["hits", "--since", "1000000d"],
        ["export", "--since", "1000000d"],
        ["report", "--since", "1000000d", "--out", str(tmp_path / "r")],
        ["keywords", "test", "fablab", "--since", "1000000d"],
        ["keywords", "add", "fablab", "--since", "1000000d"],
        ["hits", "--limit", "99999999999999999999"],
        ["search", "coworking", "--limit", "99999999999999999999"],
        ["relay", "pick", "99999999999999999999"],
        ["relay", "skip", "#99999999999999999999"],
    ]
    for command in commands:
        result = CliRunner().invoke(main, [*args, *command])
        assert result.exit_code == 2, (command, result.output)
        assert isinstance(result.exception, SystemExit), (command, result.output)  # not an uncaught error
        assert "Traceback" not in result.output and "Error:" in result.output, (command, result.output)
    assert (tmp_path / "keywords.txt").read_text() == "coworking\n"  # nothing written
    assert not (tmp_path / "r").exists()


def test_a_group_name_that_would_break_keywords_txt_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    args = conftest.write_config(tmp_path, GOOD, "coworking\n")
    for group in ("a]b", "[x", "   "):
        result = CliRunner().invoke(main, [*args, "keywords", "add", "fablab", "--group", group])
        assert result.exit_code == 2, result.output
        assert "cannot be a group name" in one_clear_line(result.output)
    assert (tmp_path / "keywords.txt").read_text() == "coworking\n"


def test_a_search_naming_a_field_that_is_not_there_is_a_usage_error_not_a_database_error(tmp_path: Path) -> None:
    args = conftest.write_config(tmp_path, GOOD, "coworking\n")
    assert CliRunner().invoke(main, [*args, "relay", "list"]).exit_code == 0
    result = CliRunner().invoke(main, [*args, "search", "locked: x"])
    assert result.exit_code == 2
    message = one_clear_line(result.output)
    assert "'locked'" in message and "field" in message and not re.search(r"cannot search .*watch\.db", message)


def test_an_export_window_without_a_five_minute_mark_is_refused_at_once(tmp_path: Path) -> None:
    feeds = GOOD.replace("  timeout: 5\n", "  export:\n    hours: '09:01-09:04'\n")
    args = conftest.write_config(tmp_path, feeds, "coworking\n")
    result = CliRunner().invoke(main, [*args, "export", "--dry-run"])
    assert result.exit_code == 2
    assert "feeds.yaml:3: settings.export.hours" in one_clear_line(result.output)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file: an unreadable one cannot be made")
def test_a_credentials_file_this_user_cannot_read_is_one_line_saying_so(tmp_path: Path) -> None:
    creds = tmp_path / "credentials.env"
    creds.write_text("TOKEN=abcdefgh\n")
    creds.chmod(0)
    feeds = GOOD.replace("  timeout: 5\n", "  credentials_file: credentials.env\n")
    args = conftest.write_config(tmp_path, feeds, "coworking\n")
    result = CliRunner().invoke(main, [*args, "check"])
    assert result.exit_code == 2
    assert "cannot read the credentials file" in one_clear_line(result.output)
    assert CliRunner().invoke(main, [*args, "feeds", "list"]).exit_code == 0  # a command that needs no secret


@pytest.mark.parametrize("when", ["99999999999d", "7 days", "0d", "[7d]"])
def test_a_google_news_period_it_cannot_read_is_refused_with_its_line(tmp_path: Path, when: str) -> None:
    feeds = f"feeds:\n  - name: gn\n    kind: google_news\n    when: {when}\n"
    args = conftest.write_config(tmp_path, feeds, "coworking\n")
    result = CliRunner().invoke(main, [*args, "check"])
    assert result.exit_code == 2
    assert "feeds.yaml:2: feed 'gn': `when` must be hours or days" in one_clear_line(result.output)
