"""The fast feed path (fastfeedparser) reads what feedparser reads, or hands the feed to feedparser.

The corpus is a sample of feedparser's own well-formed test documents (tests/wellformed of its
source distribution, BSD licence in tests/data/feedparser_corpus/LICENSE): every document on
which feedparser finds entries without complaint, but only one sanitize test in four.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from tests.conftest import DATA
from tests.feedgen import Entry, rss
from watcher.normalise import html_to_text
from watcher.sources.rss import parse_fast, parse_feed, parse_reference
from watcher.types import RawItem

CORPUS = DATA / "feedparser_corpus"
FEEDS = DATA / "feeds"
URL = "https://example.org/feed/"


def essentials(items: list[RawItem]) -> list[tuple[str, str, str, datetime | None]]:
    """What both paths must agree on: id, link, title as read, published time."""
    return [(i.key, i.link, html_to_text(i.title), i.published) for i in items]


def everything(items: list[RawItem]) -> list[tuple[object, ...]]:
    return [
        (i.key, i.link, html_to_text(i.title), html_to_text(i.content), i.author, i.published, i.language)
        for i in items
    ]


def test_the_corpus_sample_is_there_with_its_licence() -> None:
    assert "Kurt McKee" in (CORPUS / "LICENSE").read_text()
    assert len(list(CORPUS.rglob("*.xml"))) > 500


def test_on_feedparsers_corpus_the_fast_path_agrees_with_feedparser_or_declines() -> None:
    accepted = declined = 0
    disagreements = []
    for path in sorted(CORPUS.rglob("*.xml")):
        body = path.read_bytes()
        fast = parse_fast(body, {})
        if fast is None:
            declined += 1
            continue
        accepted += 1
        reference, _ = parse_reference(body, {}, URL)
        if essentials(fast[0]) != essentials(reference):
            disagreements.append((path.relative_to(CORPUS), essentials(fast[0]), essentials(reference)))
    assert disagreements == []
    # Both paths are exercised: the check above is not vacuous.
    assert accepted > 0 and declined > 0


def french_feed() -> bytes:
    entries = [
        Entry(
            f"Le tiers-lieu n°{n} ouvre « l'atelier » & son fablab",
            f"https://example.org/actu/{n}?utm_source=rss",
            f'<p>Au programme : <strong>réparation</strong> &amp; <a href="https://example.org/partage">partage</a>,'
            f' n°{n}.</p><p><img src="https://example.org/images/{n}.jpg" alt="atelier"></p>',
            guid=f"https://example.org/?p={n}" if n % 2 else None,
            hours_ago=n + 0.5,
        )
        for n in range(30)
    ]
    return rss(entries, title="Actualités des tiers-lieux")


def atom_feed() -> bytes:
    now = datetime(2025, 6, 2, 14, 45, tzinfo=UTC)
    entries = "".join(
        f"""<entry><title>Rencontre {n} : coworking &amp; télétravail</title>
        <link rel="enclosure" href="https://example.net/doc{n}.pdf"/>
        <link rel="alternate" type="text/html" href="https://example.net/actu/{n}"/>
        <id>tag:example.net,2025:{n}</id>
        <updated>{(now - timedelta(hours=n)).isoformat()}</updated>
        <author><name>Équipe</name></author>
        <content type="html">&lt;p&gt;Compte rendu n°{n} &amp;amp; photos.&lt;/p&gt;</content></entry>"""
        for n in range(10)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">'
        "<title>Réseau</title><id>urn:x</id><updated>2025-06-02T16:45:00+02:00</updated>" + entries + "</feed>"
    ).encode()


@pytest.mark.parametrize("body", [french_feed(), atom_feed()], ids=["rss", "atom"])
def test_ordinary_feeds_take_the_fast_path_and_read_as_with_feedparser(body: bytes) -> None:
    headers = {"Content-Type": "application/xml; charset=utf-8"}
    fast = parse_fast(body, headers)
    assert fast is not None
    reference = parse_reference(body, headers, URL)
    assert everything(fast[0]) == everything(reference[0])
    assert fast[1] == reference[1]
    assert parse_feed(body, headers, URL) == fast


def with_item(extra: str, date: str = "", declaration: bool = True) -> bytes:
    date = date or format_datetime(datetime(2025, 6, 1, 8, 0, tzinfo=UTC), usegmt=True)
    return (
        ('<?xml version="1.0" encoding="utf-8"?>' if declaration else "")
        + '<rss version="2.0"><channel><title>t</title>'
        f"<item><title>Un titre</title><link>https://example.org/a</link><pubDate>{date}</pubDate>{extra}</item>"
        "</channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ((FEEDS / "google_alerts.xml").read_bytes(), {}),
        ((FEEDS / "google_news_search.xml").read_bytes(), {}),
        ((FEEDS / "latin1.xml").read_bytes(), {}),
        ((FEEDS / "malformed.xml").read_bytes(), {}),
        ((FEEDS / "atom.xml").read_bytes(), {}),  # xml:base and relative links
        ((FEEDS / "rss10.rdf").read_bytes(), {}),
        (with_item('<description>&lt;a href="/relative"&gt;lien&lt;/a&gt;</description>'), {}),
        (with_item("", date="le premier juin"), {}),  # a date the fast parser cannot read
        (with_item("", declaration=False), {"Content-Type": "text/xml; charset=iso-8859-1"}),
    ],
    ids=["alerts", "news", "latin1", "malformed", "xml-base", "rss1.0", "relative-link", "odd-date", "charset"],
)
def test_unusual_feeds_are_handed_to_feedparser(body: bytes, headers: dict[str, str]) -> None:
    assert parse_fast(body, headers) is None


def test_a_declined_feed_still_parses_through_feedparser() -> None:
    body = (FEEDS / "latin1.xml").read_bytes()
    assert parse_feed(body, {}, URL) == parse_reference(body, {}, URL)
    assert parse_feed(body, {}, URL)[0]


def test_corpus_files_are_small(tmp_path: Path) -> None:
    total = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    assert total < 400_000
