"""The ended quarter's report goes by itself, once, to the Apprise targets tagged settings.report.tag,
recorded in the delivery ledger: a refusal is tried again later, a sent report never twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.loopback import LoopbackServer
from tests.test_notify import Hook, json_url
from watcher.config import load_config
from watcher.notify import load_targets
from watcher.report_send import ended_quarter, report_folder, send_due_report
from watcher.store import Store

START_OF_Q4 = datetime(2026, 10, 1, 6, 0, tzinfo=UTC)


def test_the_ended_quarter_is_the_one_before_now() -> None:
    assert ended_quarter(START_OF_Q4) == "2026Q3"
    assert ended_quarter(datetime(2027, 2, 1, tzinfo=UTC)) == "2026Q4"


def test_the_quarterly_report_goes_once_to_the_tagged_targets_and_a_refusal_is_retried(tmp_path: Path) -> None:
    with LoopbackServer() as server:
        board, chat = Hook(fail_first=1), Hook()
        server.route("/board", board)
        server.route("/chat", chat)
        (tmp_path / "apprise.yml").write_text(
            f"urls:\n  - {json_url(server, '/board')}:\n      tag: rapport\n"
            f"  - {json_url(server, '/chat')}:\n      tag: chat\n",
            encoding="utf-8",
        )
        (tmp_path / "feeds.yaml").write_text(
            "settings:\n  language: en\n  report:\n    tag: rapport\n  notify:\n    config: apprise.yml\n"
            "feeds:\n  - name: a\n    kind: rss\n    url: https://example.org/feed\n",
            encoding="utf-8",
        )
        (tmp_path / "keywords.txt").write_text("coworking\n", encoding="utf-8")
        config = load_config(tmp_path / "feeds.yaml", tmp_path / "keywords.txt", env={})
        targets = load_targets(config, env={})
        with Store(tmp_path / "w.db") as store:
            first = send_due_report(store, config, START_OF_Q4, targets)
            assert [d.state for d in first] == ["failed"]  # the board answered 500
            assert send_due_report(store, config, START_OF_Q4 + timedelta(minutes=10), targets) == []  # not yet
            second = send_due_report(store, config, START_OF_Q4 + timedelta(hours=2), targets)
            assert [(d.quarter, d.state) for d in second] == [("2026Q3", "sent")]
            assert send_due_report(store, config, START_OF_Q4 + timedelta(days=3), targets) == []  # once
            rows = store.db.execute("SELECT quarter, state, attempts FROM report_deliveries").fetchall()
            assert [tuple(r) for r in rows] == [("2026Q3", "sent", 2)]
            assert (report_folder(store, "2026Q3") / "report.html").is_file()
    assert len(board.bodies) == 1 and not chat.bodies  # only the tagged target, once
    assert board.bodies[0]["title"] == "Watch report 2026Q3"
    assert "# Watch report 2026Q3" in board.bodies[0]["message"]


def test_check_refuses_a_report_tag_that_is_not_text(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tests import conftest
    from watcher.cli import main

    args = conftest.write_config(
        tmp_path,
        "settings:\n  report:\n    tag: [a, b]\nfeeds:\n  - name: a\n    kind: rss\n    url: https://example.org/f\n",
        "a\n",
    )
    result = CliRunner().invoke(main, [*args, "check"])
    assert result.exit_code == 2 and "settings.report.tag must be text" in result.output
