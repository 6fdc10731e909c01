"""Hostile feed content through every output: nothing active survives, the text stays readable.

A feed served over loopback carries script tags, event handlers, `javascript:` links, CSS,
remote images and tracking pixels, and titles that a spreadsheet would run as formulas. It is
polled into a real database, then read back through every output a person opens: the digest
(HTML, Markdown, text), `watcher hits` (text, JSON, CSV), the report (HTML, Markdown), and the
exports (CSV, Hootsuite, JSON).
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer, Response

ROOT = Path(__file__).parent.parent

ITEMS = [
    (
        '<script>alert("t1")</script>Coworking à Sceaux <img src=x onerror="alert(2)">',
        "https://news.example/one",
        '<p style="background:url(https://tracker.example/bg.png)" onmouseover="alert(3)">Le coworking'
        ' <a href="javascript:alert(4)">ici</a> <img src="https://tracker.example/pixel.gif" width="1" height="1">'
        '<style>body{display:none}</style><iframe src="https://evil.example/"></iframe>'
        '<a href="https://ok.example/x" onclick="steal()">lien</a>'
        '<svg onload=alert(5)><circle/></svg><object data="https://evil.example/x.swf"></object>'
        '<form action="https://evil.example/"><input name=p></form> ouvre ses portes.</p>',
    ),
    ('=HYPERLINK("https://evil.example/","Coworking")', "https://news.example/two", "Un coworking."),
    ("+cmd|' /C calc'!A0 coworking", "https://news.example/three", "Un coworking."),
    ("-2+3 coworking en hausse", "https://news.example/four", "Un coworking."),
    ("@SUM(A1) coworking", "https://news.example/five", "Un coworking."),
    ("Coworking au lien piégé", "javascript:alert(document.cookie)//news", "Un coworking."),
    ("Nouveau coworking;=cmd|' /C calc'!A0", "https://news.example/six", "Un coworking."),
    ("Coworking, +1 poste;\t @SUM(A1) et\t-2", "data:text/html,<script>alert(1)</script>", "Un coworking."),
    ("Coworking \x1b[2J\x1b]8;;https://evil.example/\x07terminal\x1b]8;;\x07 effacé", "https://news.example/tty", "x"),
]
ACTIVE_TAGS = {"script", "style", "iframe", "object", "embed", "form", "input", "link", "base", "frame", "svg"}
READABLE = ["Coworking à Sceaux", "ouvre ses portes", "HYPERLINK", "calc", "en hausse", "SUM(A1)", "lien piégé"]
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # what a terminal or a spreadsheet would act on


def hostile_feed() -> bytes:
    items = "".join(
        f"<item><title><![CDATA[{title}]]></title><link>{link.replace('&', '&amp;')}</link>"
        f"<description><![CDATA[{body}]]></description>"
        "<author>veille@example.org (Ana\x1b[31m Lys)</author><pubDate>Mon, 06 Jan 2025 10:00:00 GMT</pubDate></item>"
        for title, link, body in ITEMS
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Hostile</title>'
        f"<link>https://hostile.example/</link>{items}</channel></rss>"
    ).encode()


class Page(HTMLParser):
    """Every tag and attribute of an HTML document, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_inert_html(html: str, where: str, readable: tuple[str, ...] = tuple(READABLE[:2])) -> None:
    page = Page()
    page.feed(html)
    tags = {t for t, _ in page.tags}
    # a document of its own may style itself with one <style> in its head (no url() in it), never from a feed
    own_styles = re.findall(r"<style[^>]*>(.*?)</style>", html, flags=re.S | re.I)
    assert len(own_styles) <= 1 and all("url(" not in s and "display:none" not in s for s in own_styles), where
    assert not (tags - {"style"}) & ACTIVE_TAGS, (where, tags & ACTIVE_TAGS)
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            assert not name.lower().startswith("on"), (where, tag, name)
            if name.lower() in ("href", "src", "action", "data", "xlink:href", "formaction"):
                assert re.match(r"^(https?:|#|[\w./-]+$)", value.strip()), (where, tag, name, value)
                assert "tracker.example" not in value and "evil.example" not in value, (where, tag, value)
            if name.lower() == "style":
                assert "url(" not in value, (where, tag, value)
            if tag == "meta":
                assert name.lower() != "http-equiv" or value.lower() != "refresh", (where, "refresh")
        if tag == "img":
            assert not attrs.get("src", "").startswith(("http:", "https:", "//")), (where, "remote image")
    text = " ".join(" ".join(page.text).split())
    for words in readable:
        assert words in text, (where, words)


def assert_inert_markdown(md: str, where: str) -> None:
    # a feed's "<script>" may be there as text, escaped (\<script\>), never as markup
    assert not re.search(r"(?<!\\)<\s*(script|iframe|img|style|object|svg)", md, re.I), where
    assert not re.search(r"\]\(\s*javascript:", md, re.I), where
    assert not re.search(r"!\[[^\]]*\]\(\s*(\w+:|//)", md), (where, "a remote image")
    assert "tracker.example" not in md and "evil.example/x" not in md, where


def assert_defused_csv(text: str, where: str) -> None:
    # Read as a spreadsheet of any locale would: split on a comma, a semicolon or a tab, with the
    # quotes honoured, and split on them blindly too (a cell that reaches a parser unquoted).
    for delimiter in (",", ";", "\t"):
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
        assert rows, where
        blind = [line.split(delimiter) for line in text.splitlines()]
        for row in rows + blind:
            for cell in row:
                cell = cell.strip(' "')
                assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), (where, delimiter, cell)
                assert not cell.lower().startswith(("javascript:", "data:")), (where, "a script link", cell)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database filled by a real poll of the hostile feed; the hits picked for export."""
    path = tmp_path_factory.mktemp("hostile")
    with LoopbackServer() as server:
        server.route("/feed", Response(200, {"Content-Type": "application/rss+xml"}, hostile_feed()))
        (path / "feeds.yaml").write_text(
            # the feed's posts are dated years ago: taken as news all the same (settings.digest.max_age)
            "settings:\n  digest:\n    max_age: 3650d\n"
            # code and formulas in the titles: no language to tell, and not what this file is about
            f"feeds:\n  - name: hostile\n    kind: rss\n    url: {server.url('/feed')}\n    tags: [competitor]\n"
            "    languages: any\n"
        )
        (path / "keywords.txt").write_text("coworking\n")
        done = watcher(path, "poll", "--all")
        assert f"{len(ITEMS)} new hits" in done.stdout, done.stdout + done.stderr
    ids = [str(h["id"]) for h in json.loads(watcher(path, "hits", "--json").stdout)]
    assert len(ids) == len(ITEMS), [h["title"] for h in json.loads(watcher(path, "hits", "--json").stdout)]
    watcher(path, "relay", "pick", *ids)
    return path


def watcher(folder: Path, *command: str) -> subprocess.CompletedProcess[str]:
    args = ["--feeds", str(folder / "feeds.yaml"), "--keywords", str(folder / "keywords.txt")]
    args += ["--db", str(folder / "watch.db")]
    done = subprocess.run(
        [sys.executable, "-m", "watcher", *args, *command], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, (command, done.stdout, done.stderr)
    return done


def test_stored_hits_hold_plain_readable_text(folder: Path) -> None:
    with sqlite3.connect(folder / "watch.db") as conn:
        conn.row_factory = sqlite3.Row
        hits = [dict(row) for row in conn.execute("SELECT * FROM items")]
    everything = " ".join(f"{h['title']} {h['text']} {h['author']} {h['publisher']}" for h in hits)
    for words in READABLE:
        assert words in everything, words
    # the HTML of a body is reduced to its text: no markup, no CSS, no script
    body = next(h["text"] for h in hits if h["url"] == "https://news.example/one")
    assert "<" not in body and "display:none" not in body and "alert(" not in body and "steal" not in body
    # a title that feedparser reads as plain text keeps its angle brackets as characters (shown escaped)
    assert not CONTROL.search(everything), "control characters stored"


def test_the_digest_in_html_markdown_and_text_carries_nothing_active(folder: Path) -> None:
    out = folder / "digest.html"
    watcher(folder, "digest", "--preview", "--format", "html", "--out", str(out))
    assert_inert_html(out.read_text(), "digest html")
    markdown = watcher(folder, "digest", "--preview", "--format", "markdown").stdout
    assert_inert_markdown(markdown, "digest markdown")
    text = watcher(folder, "digest", "--preview", "--format", "text").stdout
    assert not CONTROL.search(text)
    assert "Coworking à Sceaux" in text


def test_hits_as_text_json_and_csv_are_inert_and_csv_formulas_are_defused(folder: Path) -> None:
    text = watcher(folder, "hits").stdout
    assert "Coworking à Sceaux" in text
    assert not CONTROL.search(text), "a control character reached the terminal"
    assert not CONTROL.search(watcher(folder, "hits", "--explain").stdout)
    json.loads(watcher(folder, "hits", "--json").stdout)
    assert_defused_csv(watcher(folder, "hits", "--csv").stdout, "hits --csv")


def test_the_report_in_html_and_markdown_carries_nothing_active(folder: Path) -> None:
    out = folder / "report"
    watcher(folder, "report", "--since", "3650d", "--out", str(out))
    # the report names publishers and sources, not titles
    assert_inert_html((out / "report.html").read_text(), "report html", readable=("hostile",))
    assert_inert_markdown((out / "report.md").read_text(), "report markdown")
    svg = (out / "hits-per-week.svg").read_text()
    assert not re.search(r"<\s*script|\son\w+\s*=|javascript:|https?://(?!www\.w3\.org)", svg), "svg"


def test_every_export_format_is_inert_and_csv_cells_never_start_a_formula(folder: Path) -> None:
    for fmt in ("csv", "hootsuite"):
        out = folder / f"export.{fmt}.csv"
        watcher(folder, "export", "--format", fmt, "--again", "--out", str(out))
        text = out.read_text()
        assert_defused_csv(text, fmt)
        assert not CONTROL.search(text)
    for row in csv.reader(io.StringIO((folder / "export.hootsuite.csv").read_text())):
        assert not row[2].lower().startswith("javascript:"), "a javascript: link offered for posting"
    json.loads(watcher(folder, "export", "--format", "json", "--again", "--dry-run").stdout)
