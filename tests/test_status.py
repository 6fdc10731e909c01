"""`watcher status`: what it reads from a real database after a real poll, and how it says it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Response
from tests.test_cli import write_config
from watcher.cli import main
from watcher.status import human_bytes, relative

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (None, "never"),
        ("2025-03-10T12:00:30Z", "now"),
        ("2025-03-10T11:48:00Z", "12 min ago"),
        ("2025-03-10T14:00:00Z", "in 2 h"),
        ("2025-03-07T12:00:00Z", "3 d ago"),
    ],
)
def test_relative_times_read_at_a_glance(when: str | None, text: str) -> None:
    assert relative(when, NOW) == text


@pytest.mark.parametrize(("count", "text"), [(512, "512 B"), (118_888, "118.9 kB"), (5_300_000, "5.3 MB")])
def test_database_sizes_in_human_units(count: int, text: str) -> None:
    assert human_bytes(count) == text


def test_status_shows_each_source_hits_of_the_week_and_database_size(server: LoopbackServer, tmp_path: Path) -> None:
    server.route(
        "/feed",
        Response(200, {"Content-Type": "application/rss+xml"}, rss([Entry("Un coworking", "https://n.example/a")])),
    )
    server.route("/down", Response(503, body=b"busy"))
    args = write_config(
        tmp_path,
        f"feeds:\n  - name: good\n    kind: rss\n    url: {server.url('/feed')}\n"
        f"  - name: broken\n    kind: rss\n    url: {server.url('/down')}\n"
        "  - name: later\n    kind: rss\n    url: https://example.org/f\n    enabled: false\n",
    )
    assert CliRunner().invoke(main, [*args, "poll", "--all"]).exit_code == 0

    result = CliRunner().invoke(main, [*args, "status", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    by_name = {s["name"]: s for s in report["sources"]}
    assert by_name["good"]["status"] == "ok" and by_name["good"]["last_success"] is not None
    assert by_name["broken"]["status"] == "error" and "503" in by_name["broken"]["last_error"]
    assert by_name["broken"]["last_success"] is None and by_name["broken"]["failures"] == 1
    assert by_name["later"]["enabled"] is False and by_name["later"]["next_poll"] is None
    assert report["hits"] == {"this_week": 1, "total": 1}
    # measured while the database was open, so its write-ahead log counts too
    assert report["database"]["bytes"] >= (tmp_path / "watch.db").stat().st_size > 0

    human = CliRunner().invoke(main, [*args, "status"])
    assert human.exit_code == 0
    lines = human.output.splitlines()
    assert lines[0] == "Sources: 2 enabled of 3"
    assert any(line.split()[:3] == ["good", "now", "in"] for line in lines)
    assert any("broken" in line and "error (1 in a row)" in line and "503" in line for line in lines)
    assert any("later" in line and "disabled in feeds.yaml" in line for line in lines)
    assert "Hits: 1 this week, 1 in all" in lines


def test_status_with_a_broken_configuration_still_shows_the_database_and_exits_2(
    server: LoopbackServer, tmp_path: Path
) -> None:
    server.route(
        "/feed",
        Response(200, {"Content-Type": "application/rss+xml"}, rss([Entry("Un coworking", "https://n.example/a")])),
    )
    args = write_config(tmp_path, f"feeds:\n  - name: good\n    kind: rss\n    url: {server.url('/feed')}\n")
    assert CliRunner().invoke(main, [*args, "poll", "--all"]).exit_code == 0
    (tmp_path / "keywords.txt").write_text('"coworking\n')
    result = CliRunner().invoke(main, [*args, "status"])
    assert result.exit_code == 2
    assert "keywords.txt:1:" in result.output
    assert any(line.split()[:2] == ["good", "now"] for line in result.output.splitlines())


def test_status_without_a_database_says_how_to_make_one(tmp_path: Path) -> None:
    args = write_config(tmp_path, "feeds:\n  - name: a\n    kind: rss\n    url: https://example.org/f\n")
    result = CliRunner().invoke(main, [*args, "status"])
    assert result.exit_code == 1
    assert "no database" in result.output and "Traceback" not in result.output
