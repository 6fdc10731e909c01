"""The `watcher` command as a user runs it: exit codes, messages and the JSON contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests import conftest
from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Response
from watcher.cli import main

KEYWORDS = "coworking\ntiers-lieux\n"


def write_config(folder: Path, feeds: str, keywords: str = KEYWORDS) -> list[str]:
    return conftest.write_config(folder, feeds, keywords)


def test_check_accepts_a_good_configuration(tmp_path: Path) -> None:
    args = write_config(tmp_path, "feeds:\n  - name: a\n    kind: rss\n    url: https://example.org/feed\n")
    result = CliRunner().invoke(main, [*args, "check"])
    assert result.exit_code == 0, result.output
    assert "1 source (1 enabled): OK" in result.output and "2 queries" in result.output


def test_check_on_a_bad_line_exits_2_names_file_and_line_and_writes_nothing(tmp_path: Path) -> None:
    args = write_config(
        tmp_path,
        "feeds:\n  - name: a\n    kind: rss\n    url: https://example.org/feed\n",
        keywords='coworking\n"tiers lieux\n',
    )
    for command in (["check"], ["poll", "--all"]):
        result = CliRunner().invoke(main, [*args, *command])
        assert result.exit_code == 2
        assert "keywords.txt:2:" in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "watch.db").exists()


def test_check_on_a_missing_file_says_which(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--feeds", str(tmp_path / "nope.yaml"), "check"])
    assert result.exit_code == 2
    assert "nope.yaml: file not found" in result.output


def test_poll_json_then_hits_json_follow_the_contract(server: LoopbackServer, tmp_path: Path) -> None:
    server.route(
        "/feed",
        Response(
            200,
            {"Content-Type": "application/rss+xml"},
            rss(
                [
                    Entry(
                        "Un coworking ouvre à Sceaux",
                        "https://news.example/a?utm_medium=rss",
                        body="Le coworking <b>ouvre</b>.",
                    ),
                    Entry("Sans rapport", "https://news.example/b"),
                ]
            ),
        ),
    )
    server.route("/down", Response(500, body=b"down"))
    args = write_config(
        tmp_path,
        (
            f"feeds:\n  - name: local\n    kind: rss\n    url: {server.url('/feed')}\n"
            f"  - name: down\n    kind: rss\n    url: {server.url('/down')}\n"
        ),
    )
    result = CliRunner().invoke(main, [*args, "poll", "--all", "--json"])
    assert result.exit_code == 0, result.output
    reports = {r["name"]: r for r in json.loads(result.stdout)}
    assert reports["local"] == {"name": "local", "status": "ok", "new_hits": 1, "items": 2, "error": None}
    assert reports["down"]["status"] == "error" and "500" in reports["down"]["error"]

    result = CliRunner().invoke(main, [*args, "hits", "--since", "7d", "--json"])
    assert result.exit_code == 0, result.output
    [hit] = json.loads(result.stdout)
    for field in [
        "id",
        "url",
        "canonical_url",
        "title",
        "published",
        "sources",
        "keywords",
        "score",
        "score_breakdown",
        "cluster",
    ]:
        assert field in hit
    assert hit["url"] == "https://news.example/a?utm_medium=rss"
    assert hit["canonical_url"] == "https://news.example/a"
    assert hit["sources"] == ["local"] and hit["keywords"] == ["coworking"]
    assert 0 < hit["score"] <= 100 and hit["score_breakdown"]
    assert hit["published"].endswith("Z")

    result = CliRunner().invoke(main, [*args, "hits", "--explain"])
    # in the digest's language (settings.language, French by default)
    assert "pourquoi : " in result.output and "titre" in result.output

    result = CliRunner().invoke(main, [*args, "hits", "--csv"])
    assert result.output.splitlines()[0].startswith("id,score,published,title")


def test_hits_on_an_empty_database_says_what_to_do(tmp_path: Path) -> None:
    args = write_config(tmp_path, "feeds: []\n")
    result = CliRunner().invoke(main, [*args, "hits"])
    assert result.exit_code == 0
    assert "watcher poll" in result.output


def test_bad_since_is_a_usage_error(tmp_path: Path) -> None:
    args = write_config(tmp_path, "feeds: []\n")
    result = CliRunner().invoke(main, [*args, "hits", "--since", "soon"])
    assert result.exit_code == 2
    assert "not a duration" in result.output


@pytest.mark.parametrize("command", [[], ["check"], ["poll"], ["hits"], ["run"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; from watcher.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('httpx', 'feedparser', 'sqlite_utils', 'apprise', 'bs4') if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY:"


def test_check_refuses_a_word_too_long_to_compile_with_its_line(tmp_path: Path) -> None:
    args = write_config(
        tmp_path,
        "feeds:\n  - name: a\n    kind: rss\n    url: https://example.org/feed\n",
        keywords="coworking\n" + "anti" * 100 + "\n",
    )
    result = CliRunner().invoke(main, [*args, "check"])
    assert result.exit_code == 2
    assert "keywords.txt:2:" in result.output and "a word of 400 characters" in result.output
    assert "Traceback" not in result.output


def test_no_control_character_of_an_item_url_reaches_the_terminal(tmp_path: Path) -> None:
    # A hidden terminal link (OSC 8) and a C1 escape in <link>: ESC]8;;…BEL wraps the text in a
    # link to somewhere else, CSI (U+009B) starts a command in some terminals.
    link = "https://news.example/a\x1b]8;;https://evil.example/\x07clic\x1b]8;;\x07\u009b2J"
    with LoopbackServer() as server:
        server.route("/feed", Response(200, {"Content-Type": "application/rss+xml"}, rss([Entry(
            "Un coworking ouvre", link, body="Le coworking ouvre.")])))  # fmt: skip
        args = write_config(tmp_path, f"feeds:\n  - name: local\n    kind: rss\n    url: {server.url('/feed')}\n")
        outputs = [CliRunner().invoke(main, [*args, "feeds", "check", "local"]).output]
        assert CliRunner().invoke(main, [*args, "poll", "--all"]).exit_code == 0
    for command in (["hits", "--since", "7d"], ["search", "coworking"], ["keywords", "test", "coworking"]):
        result = CliRunner().invoke(main, [*args, *command])
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    for output in outputs:
        assert "news.example/a" in output  # the item is shown...
        assert not any((0 <= ord(c) < 32 and c != "\n") or 0x7F <= ord(c) <= 0x9F for c in output), output  # ...inert
    hits = json.loads(CliRunner().invoke(main, [*args, "hits", "--since", "7d", "--json"]).stdout)
    url = hits[0]["url"]  # cleaned when read (a C1 character may be read as its Windows-1252 letter)
    assert url.startswith("https://news.example/a]8;;https://evil.example/clic]8;;") and url.isprintable()


def test_a_control_character_stored_by_an_older_version_never_reaches_the_terminal() -> None:
    from watcher.terminal import line

    shown = line("https://a.example/\x1b]8;;https://b.example/\x07x\u009b2J\u202e")
    assert shown == "https://a.example/]8;;https://b.example/x2J"
    assert line("two\nlines\r\n") == "two lines "
    assert line(None) == "" and line("plain") == "plain"
