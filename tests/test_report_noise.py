"""The quarterly report counts the hits marked as noise as a triage state of their own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import write_config
from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Response
from watcher.cli import main


def run(args: list[str], *command: str) -> str:
    result = CliRunner().invoke(main, [*args, *command])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(("language", "label"), [("fr", "hors sujet"), ("en", "off-topic")])
def test_hits_marked_as_noise_are_counted_and_labelled_in_the_report(
    server: LoopbackServer, tmp_path: Path, language: str, label: str
) -> None:
    entries = [
        Entry("Un coworking ouvre à Sceaux pour les indépendants", "https://news.example/1", hours_ago=2),
        Entry("Des liens avec le narcotrafic établis par l'enquête", "https://news.example/2", hours_ago=3),
        Entry("Les liens du jour : politique, sport et météo", "https://news.example/3", hours_ago=4),
    ]
    server.route("/feed", Response(200, {"Content-Type": "application/rss+xml"}, rss(entries)))
    # French items either way: the labels follow settings.language, the items are read as French
    settings = f"settings:\n  language: {language}\n  languages: [fr]\n"
    feeds = f"{settings}feeds:\n  - name: j\n    kind: rss\n    url: {server.url('/feed')}\n"
    args = write_config(tmp_path, feeds, "coworking\nlien\n")
    run(args, "poll", "--all")
    ids = {h["url"]: h["id"] for h in json.loads(run(args, "hits", "--json"))}
    run(args, "relay", "skip", "--noise", str(ids["https://news.example/2"]), str(ids["https://news.example/3"]))
    out = run(args, "report", "--out", str(tmp_path / "r"), "--json")
    figures = json.loads(out[: out.rindex("}") + 1])
    assert figures["states"] == {"new": 1, "noise": 2}
    assert sum(figures["states"].values()) == figures["hits"] == 3
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert f'<div class="figure"><b>2</b>{label}</div>' in page
    markdown = next((tmp_path / "r").glob("*.md")).read_text(encoding="utf-8")
    assert f"2 {label}" in markdown
