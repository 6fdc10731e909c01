"""A poll end to end: real HTTP on loopback, real SQLite in a temporary folder."""

from __future__ import annotations

import gzip
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DATA
from tests.feedgen import Entry, etag_feed, rss
from tests.loopback import LoopbackServer, Request, Response
from watcher.config import parse_feeds, parse_keywords
from watcher.fetch import Fetcher
from watcher.poll import PollReport, run_poll
from watcher.store import Store
from watcher.types import Config

KEYWORDS = 'coworking\ntiers-lieux\n"équilibre de vie"\nfablab\n'


def make_config(feeds: str, keywords: str = KEYWORDS, timeout: float = 2.0) -> Config:
    specs, settings = parse_feeds(f"settings:\n  timeout: {timeout}\nfeeds:\n{feeds}", "feeds.yaml", env={})
    return Config(specs, parse_keywords(keywords), settings)


def rss_feed(name: str, url: str) -> str:
    return f"  - name: {name}\n    kind: rss\n    url: {url}\n"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "watch.db") as s:
        yield s


def poll(config: Config, store: Store, everything: bool = True) -> dict[str, PollReport]:
    with Fetcher(user_agent="watcher-test", timeout=config.settings.timeout, max_body_bytes=1_000_000) as f:
        return {r.name: r for r in run_poll(config, store, f, everything=everything)}


def test_second_poll_answered_304_adds_nothing(server: LoopbackServer, store: Store) -> None:
    body = rss(
        [
            Entry("Un coworking ouvre à Sceaux", "https://news.example/a"),
            Entry("Météo", "https://news.example/b"),
        ]
    )
    server.route("/feed", etag_feed(body))
    config = make_config(rss_feed("local", server.url("/feed")))
    first = poll(config, store)["local"]
    assert (first.status, first.new_hits, first.items) == ("ok", 1, 2)
    second = poll(config, store)["local"]
    assert (second.status, second.new_hits, second.items) == ("not_modified", 0, 0)
    assert server.hits("/feed")[1].headers["if-none-match"] == '"v1"'
    assert len(store.hits()) == 1


def drip(data: bytes, pause: float) -> Iterator[bytes]:
    for i in range(len(data)):
        time.sleep(pause)
        yield data[i : i + 1]


def test_failing_sources_are_recorded_while_the_others_are_stored(server: LoopbackServer, store: Store) -> None:
    server.route(
        "/good",
        Response(
            200,
            {"Content-Type": "application/rss+xml"},
            rss([Entry("Le fablab de Bagneux", "https://news.example/fab")]),
        ),
    )
    server.route("/error", Response(500, body=b"oops"))
    server.route("/slow", Response(200, body=rss([]), delay=5))
    server.route("/drip", Response(200, body=drip(b"<rss><channel>" + b" " * 40, pause=0.2)))
    server.route("/broken", Response(200, {"Content-Type": "application/rss+xml"}, b"<rss><channel><title>x</chan"))
    feeds = "".join(rss_feed(n, server.url(f"/{n}")) for n in ["good", "error", "slow", "drip", "broken"])
    config = make_config(feeds, timeout=1.0)
    started = time.monotonic()
    reports = poll(config, store)
    assert time.monotonic() - started < 4.5, "a slow source held the poll past its deadline"
    assert reports["good"].status == "ok" and reports["good"].new_hits == 1
    for name in ["error", "slow", "drip", "broken"]:
        assert reports[name].status == "error", name
        assert reports[name].error
    assert "500" in (reports["error"].error or "")
    states = store.states()
    assert states["error"].failures == 1 and states["error"].last_error
    assert states["good"].failures == 0 and states["good"].last_success is not None
    assert [h["title"] for h in store.hits()] == ["Le fablab de Bagneux"]


def test_a_failing_source_backs_off_and_is_not_due_again_at_once(server: LoopbackServer, store: Store) -> None:
    server.route("/error", Response(503, {"Retry-After": "3600"}, b"busy"))
    config = make_config(rss_feed("busy", server.url("/error")))
    poll(config, store)
    state = store.states()["busy"]
    assert state.next_poll is not None and state.last_poll is not None
    assert (state.next_poll - state.last_poll).total_seconds() >= 3600
    assert poll(config, store, everything=False) == {}


def test_same_story_from_two_feeds_is_one_hit_listing_both_sources(server: LoopbackServer, store: Store) -> None:
    server.route(
        "/a",
        Response(200, body=rss([Entry("Les tiers-lieux en fête", "https://news.example/story?utm_source=a")])),
    )
    server.route("/b", Response(200, body=rss([Entry("Les tiers-lieux en fête !", "https://NEWS.example/story#top")])))
    config = make_config(rss_feed("a", server.url("/a")) + rss_feed("b", server.url("/b")))
    reports = poll(config, store)
    assert reports["a"].new_hits + reports["b"].new_hits == 1
    [hit] = store.hits()
    assert sorted(hit["sources"]) == ["a", "b"]
    assert hit["canonical_url"] == "https://news.example/story"


def test_entry_seen_again_with_an_edited_title_is_not_a_new_hit(server: LoopbackServer, store: Store) -> None:
    titles = iter(["Un coworking ouvre", "Un coworking ouvre ses portes à Sceaux (mis à jour)"])

    def handler(req: Request) -> Response:
        return Response(200, body=rss([Entry(next(titles), "https://news.example/x", guid="entry-1")]))

    server.route("/feed", handler)
    config = make_config(rss_feed("f", server.url("/feed")))
    assert poll(config, store)["f"].new_hits == 1
    assert poll(config, store)["f"].new_hits == 0
    assert len(store.hits()) == 1


def test_near_identical_headlines_from_two_outlets_share_a_cluster(server: LoopbackServer, store: Store) -> None:
    server.route(
        "/a",
        Response(
            200,
            body=rss(
                [
                    Entry(
                        "Bagneux inaugure son nouveau tiers-lieu culturel en centre-ville",
                        "https://a.example/1",
                    ),
                    Entry("Le télétravail et les fablabs ruraux en débat", "https://a.example/2"),
                ]
            ),
        ),
    )
    server.route(
        "/b",
        Response(
            200,
            body=rss(
                [
                    Entry(
                        "Bagneux inaugure un nouveau tiers-lieu culturel au centre-ville",
                        "https://b.example/9",
                    ),
                ]
            ),
        ),
    )
    config = make_config(rss_feed("a", server.url("/a")) + rss_feed("b", server.url("/b")))
    poll(config, store)
    by_url = {h["url"]: h for h in store.hits()}
    assert len(by_url) == 3, "clustered stories are still listed one by one"
    assert by_url["https://a.example/1"]["cluster"] is not None
    assert by_url["https://a.example/1"]["cluster"] == by_url["https://b.example/9"]["cluster"]
    assert by_url["https://a.example/2"]["cluster"] is None


def test_gzip_encoded_feed_is_read(server: LoopbackServer, store: Store) -> None:
    body = gzip.compress(rss([Entry("Fablab : portes ouvertes", "https://news.example/g")]))
    server.route("/gz", Response(200, {"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"}, body))
    config = make_config(rss_feed("gz", server.url("/gz")))
    assert poll(config, store)["gz"].new_hits == 1


def test_database_after_a_poll_passes_integrity_check_from_another_connection(
    server: LoopbackServer, tmp_path: Path
) -> None:
    server.route("/a", Response(200, body=rss([Entry("Coworking à Lyon", "https://news.example/lyon")])))
    config = make_config(rss_feed("a", server.url("/a")))
    with Store(tmp_path / "w.db") as s:
        poll(config, s)
    conn = sqlite3.connect(tmp_path / "w.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM items WHERE score > 0").fetchone()[0] == 1


def test_google_alerts_feed_is_stored_with_real_links_and_clean_titles(server: LoopbackServer, store: Store) -> None:
    body = (DATA / "feeds" / "google_alerts.xml").read_bytes()
    server.route("/alerts", Response(200, {"Content-Type": "application/atom+xml"}, body))
    config = make_config(rss_feed("alerte", server.url("/alerts")), keywords="tiers-lieux\n")
    assert poll(config, store)["alerte"].new_hits >= 2
    hits = store.hits()
    by_url = {h["url"]: h for h in hits}
    assert "https://www.actu-territoires.example.fr/index.php?option=article&id=9174" in by_url
    for hit in hits:
        assert "google.com/url" not in hit["url"]
        assert "<b>" not in hit["title"] and "&" not in hit["title"].replace("& ", "")
    assert by_url["https://www.actu-territoires.example.fr/index.php?option=article&id=9174"]["title"] == (
        "L'essor des tiers-lieux en Île-de-France"
    )


def test_google_news_kind_searches_each_query_and_keeps_the_publisher(server: LoopbackServer, store: Store) -> None:
    body = (DATA / "feeds" / "google_news_search.xml").read_bytes()
    server.route("/rss/search", Response(200, {"Content-Type": "application/rss+xml"}, body))
    feeds = f"  - name: gnews\n    kind: google_news\n    base_url: {server.base}\n"
    config = make_config(feeds, keywords='tiers-lieux\n"équilibre de vie"\ntélétravail*\n')
    report = poll(config, store)["gnews"]
    assert report.status == "ok"
    sent = [r.query for r in server.hits("/rss/search")]
    assert [q["q"][0] for q in sent] == ["tiers-lieux", '"équilibre de vie"', "télétravail"]
    assert all((q["hl"], q["gl"], q["ceid"]) == (["fr"], ["FR"], ["FR:fr"]) for q in sent)
    hits = store.hits()
    assert hits, "the search results matched no query"
    for hit in hits:
        assert hit["publisher"], hit
        assert not hit["title"].endswith(" - " + hit["publisher"])
