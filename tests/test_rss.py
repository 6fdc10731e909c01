"""The rss source: plan (conditional GET), parse of every feed flavour, and what is not a feed."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from bs4 import BeautifulSoup

from tests.conftest import DATA
from tests.loopback import LoopbackServer, Request, Response
from watcher.errors import NotAFeed, ParseError
from watcher.sources import adapter
from watcher.sources.rss import RssSource, parse_feed, remember_validators
from watcher.types import Fetched, FetchRequest, Settings, SourceSpec

FEEDS = DATA / "feeds"
ENTITY = re.compile(r"&(#\d+|#x[0-9a-f]+|[a-z]+);", re.IGNORECASE)


def feed(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def spec(url: str = "https://fabrique-communs.example.org/feed/") -> SourceSpec:
    return SourceSpec(name="fabrique", kind="rss", url=url)


def fetched(
    body: bytes,
    url: str = "https://fabrique-communs.example.org/feed/",
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Fetched:
    return Fetched(
        request=FetchRequest(url=url),
        url=url,
        status=status,
        headers=dict(headers or {"content-type": "application/rss+xml; charset=UTF-8"}),
        body=body,
    )


def as_text(fragment: str) -> str:
    """What the HTML-to-text stage does with a fragment: strip tags, then unescape entities."""
    return html.unescape(BeautifulSoup(fragment, "html.parser").get_text())


# --- plan -------------------------------------------------------------------------------


def test_plan_sends_the_stored_validators_of_this_url_verbatim() -> None:
    url = "https://fabrique-communs.example.org/feed/"
    cursor: dict[str, Any] = {
        "validators": {
            url: {"etag": 'W/"5f2c-18a9e7b3c40"', "last_modified": "Tue, 03 Jun 2025 08:12:44 GMT"},
            "https://other.example.org/rss": {"etag": '"other"'},
        }
    }
    [request] = RssSource().plan(spec(url), cursor, [], Settings())
    assert request.method == "GET"
    assert request.url == url
    assert request.headers["If-None-Match"] == 'W/"5f2c-18a9e7b3c40"'
    assert request.headers["If-Modified-Since"] == "Tue, 03 Jun 2025 08:12:44 GMT"


def test_plan_without_stored_validators_asks_unconditionally() -> None:
    [request] = RssSource().plan(spec(), {}, [], Settings())
    assert "If-None-Match" not in request.headers
    assert "If-Modified-Since" not in request.headers
    assert "application/rss+xml" in request.headers["Accept"]


# --- parse: cursor ----------------------------------------------------------------------


def test_parse_keeps_the_new_validators_verbatim_and_the_rest_of_the_cursor() -> None:
    old = {
        "validators": {
            "https://fabrique-communs.example.org/feed/": {"etag": '"old"'},
            "https://other.example.org/rss": {"etag": '"other"'},
        },
        "note": "kept",
    }
    answer = fetched(
        feed("rss20_content_encoded.xml"),
        headers={
            "content-type": "application/rss+xml; charset=UTF-8",
            "etag": 'W/"5f2c-18a9e7b3c40"',
            "last-modified": "Tue, 03 Jun 2025 08:12:44 GMT",
        },
    )
    parsed = RssSource().parse(spec(), answer, old)
    assert parsed.cursor == {
        "validators": {
            "https://fabrique-communs.example.org/feed/": {
                "etag": 'W/"5f2c-18a9e7b3c40"',
                "last_modified": "Tue, 03 Jun 2025 08:12:44 GMT",
            },
            "https://other.example.org/rss": {"etag": '"other"'},
        },
        "note": "kept",
    }
    assert old["validators"]["https://fabrique-communs.example.org/feed/"] == {"etag": '"old"'}
    assert parsed.title == "La Fabrique des Communs"
    assert len(parsed.items) == 2


def test_parse_drops_validators_the_server_no_longer_sends() -> None:
    old = {"validators": {"https://fabrique-communs.example.org/feed/": {"etag": '"old"'}}}
    parsed = RssSource().parse(spec(), fetched(feed("rss20_content_encoded.xml")), old)
    assert parsed.cursor == {"validators": {}}


def test_parse_of_304_gives_no_items_and_keeps_the_cursor() -> None:
    old = {"validators": {"https://fabrique-communs.example.org/feed/": {"etag": '"v1"'}}}
    parsed = RssSource().parse(spec(), fetched(b"", status=304, headers={"etag": '"v1"'}), old)
    assert parsed.items == ()
    assert parsed.cursor is None


def test_a_304_refreshes_only_the_validators_it_repeats() -> None:
    url = "https://news.google.com/rss/search?q=fablab&hl=fr&gl=FR&ceid=FR:fr"
    old = {"validators": {url: {"etag": '"v1"', "last_modified": "Mon, 02 Jun 2025 10:00:00 GMT"}}}
    silent = Fetched(request=FetchRequest(url=url), url=url, status=304, headers={}, body=b"")
    assert remember_validators(old, silent) == old
    repeated = Fetched(request=FetchRequest(url=url), url=url, status=304, headers={"etag": '"v2"'}, body=b"")
    assert remember_validators(old, repeated) == {
        "validators": {url: {"etag": '"v2"', "last_modified": "Mon, 02 Jun 2025 10:00:00 GMT"}}
    }


# --- parse: feed flavours ---------------------------------------------------------------


def test_rss20_takes_content_encoded_over_description_with_guid_author_date_language() -> None:
    items, title = parse_feed(
        feed("rss20_content_encoded.xml"),
        {"content-type": "application/rss+xml; charset=UTF-8"},
        "https://fabrique-communs.example.org/feed/",
    )
    assert title == "La Fabrique des Communs"
    first = items[0]
    assert first.key == "https://fabrique-communs.example.org/?p=1842"
    assert first.link == "https://fabrique-communs.example.org/2025/06/03/portes-ouvertes-atelier/"
    assert as_text(first.title) == "Portes ouvertes de l’atelier bois & du fablab"
    assert "<strong>atelier bois</strong>" in first.content
    assert "Lire la suite" not in first.content
    # a relative link in the content is resolved against the feed's URL
    assert 'href="https://fabrique-communs.example.org/fablab/"' in first.content
    assert first.author == "Camille Roux"
    assert first.published == datetime(2025, 6, 3, 8, 12, 44, tzinfo=UTC)
    assert first.language == "fr-FR"
    assert items[1].key == "https://fabrique-communs.example.org/?p=1831"


def test_atom_uses_id_alternate_link_html_content_and_published() -> None:
    items, title = parse_feed(
        feed("atom.xml"),
        {"content-type": "application/atom+xml"},
        "https://reseau-tiers-lieux.example.net/feed.atom",
    )
    assert title == "Réseau des tiers-lieux — actualités"
    first, second = items
    assert first.key == "tag:reseau-tiers-lieux.example.net,2025-06-02:/actualites/appel-a-projets-fabriques-2025"
    # relative href resolved against xml:base
    assert first.link == "https://reseau-tiers-lieux.example.net/actualites/appel-a-projets-fabriques-2025/"
    assert first.title == "Appel à projets <em>Fabriques de territoire</em> 2025"
    assert (
        as_text(first.content) == "Le nouvel appel à projets Fabriques de territoire est ouvert jusqu’au 30 septembre."
    )
    assert first.author == "Équipe du réseau"
    assert first.published == datetime(2025, 6, 2, 14, 45, tzinfo=UTC)  # published, not updated
    assert first.language == "fr"
    # no <published>: updated stands in; summary stands in for missing content
    assert second.published == datetime(2025, 5, 20, 9, 0, tzinfo=UTC)
    assert as_text(second.content) == "Cent vingt participants & douze ateliers."
    assert second.link == "https://reseau-tiers-lieux.example.net/actualites/rencontre-regionale/"


def test_rss10_rdf_reads_rdf_about_dc_date_and_dc_creator() -> None:
    items, title = parse_feed(feed("rss10.rdf"), {}, "https://mairie-exemple.example.fr/rss.rdf")
    assert title == "Ville d'Exemple - Actualités"
    assert [i.key for i in items] == [
        "https://mairie-exemple.example.fr/actualites/2025/06/tiers-lieu-gare",
        "https://mairie-exemple.example.fr/actualites/2025/05/conseil-municipal",
    ]
    assert items[0].author == "Service communication"
    assert items[0].published == datetime(2025, 6, 1, 7, 0, tzinfo=UTC)
    assert items[1].published == datetime(2025, 5, 23, 12, 30, tzinfo=UTC)
    assert items[0].language == "fr"
    assert as_text(items[0].title) == "Un tiers-lieu dans l'ancienne halle de la gare"


def test_item_without_guid_is_keyed_by_its_link() -> None:
    items, _ = parse_feed(feed("rss20_no_guid.xml"), {}, "https://makers.example.org/rss")
    assert items[0].key == "https://makers.example.org/liens/repair-cafe-ete"
    assert items[0].link == items[0].key


def test_item_without_guid_or_link_is_keyed_by_a_content_hash_stable_across_parses() -> None:
    body = feed("rss20_no_guid.xml")
    first, _ = parse_feed(body, {}, "https://makers.example.org/rss")
    again, _ = parse_feed(body, {}, "https://makers.example.org/rss")
    untitled = first[1]
    assert untitled.link == ""
    assert untitled.title == ""
    assert untitled.key.startswith("sha256:") and len(untitled.key) == len("sha256:") + 64
    assert again[1].key == untitled.key
    assert len({i.key for i in first}) == 3
    edited, _ = parse_feed(body.replace(b"pour samedi", b"pour dimanche"), {}, "https://makers.example.org/rss")
    assert edited[1].key != untitled.key


def test_item_without_date_has_no_published_time() -> None:
    items, _ = parse_feed(feed("rss20_no_guid.xml"), {}, "https://makers.example.org/rss")
    assert items[2].published is None
    assert items[2].key == "https://makers.example.org/liens/annuaire-ateliers"
    assert items[0].published == datetime(2025, 6, 2, 18, 20, tzinfo=UTC)


def test_latin1_feed_is_decoded_by_its_xml_prolog() -> None:
    for content_type in ("text/xml", "application/rss+xml", "application/rss+xml; charset=utf-8"):
        items, title = parse_feed(
            feed("latin1.xml"), {"content-type": content_type}, "http://ateliers-partages.example.fr/rss"
        )
        assert title == "Association Les Ateliers Partagés", content_type
        assert as_text(items[0].title) == "Fête d'été au café-atelier : réparer, échanger, déguster"
        assert as_text(items[0].content).startswith("Rendez-vous à l'espace «\xa0Les Ateliers\xa0»")
        assert items[0].author == "Hélène Marchand"
        assert items[0].published == datetime(2025, 5, 30, 10, 0, tzinfo=UTC)


def test_utf8_feed_mislabelled_by_the_server_is_decoded_by_its_prolog() -> None:
    items, title = parse_feed(
        feed("atom.xml"),
        {"content-type": "text/html; charset=windows-1252"},
        "https://reseau-tiers-lieux.example.net/feed.atom",
    )
    assert title == "Réseau des tiers-lieux — actualités"
    assert "Ã" not in items[0].title


def test_truncated_feed_that_still_yields_entries_is_accepted() -> None:
    body = feed("rss20_content_encoded.xml")
    cut = body[: body.index(b"<title>Coworking")]
    items, title = parse_feed(
        cut, {"content-type": "application/rss+xml"}, "https://fabrique-communs.example.org/feed/"
    )
    assert title == "La Fabrique des Communs"
    assert items[0].key == "https://fabrique-communs.example.org/?p=1842"


def test_well_formed_feed_with_no_items_is_an_empty_list() -> None:
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Vide</title><link>https://v.example/</link></channel></rss>'
    assert parse_feed(body, {}, "https://v.example/rss") == ([], "Vide")


# --- Google Alerts ----------------------------------------------------------------------


def alerts() -> list[Any]:
    items, title = parse_feed(
        feed("google_alerts.xml"),
        {"content-type": "application/atom+xml; charset=UTF-8"},
        "https://www.google.com/alerts/feeds/04817562930418275561/13598037276140935126",
    )
    assert title == "Google Alert - tiers-lieux"
    return items


def test_google_alerts_key_is_the_digits_after_the_id_prefix() -> None:
    assert [i.key for i in alerts()] == [
        "8473920018462553190",
        "11739905834217625102",
        "502638174650992817",
        "16084213377518926481",
    ]


def test_google_alerts_title_and_content_become_clean_text_after_tag_strip_and_unescape() -> None:
    items = alerts()
    titles = [as_text(i.title) for i in items]
    assert titles == [
        "L'essor des tiers-lieux en Île-de-France",
        'Sceaux : un tiers-lieu "nourricier" ouvrira en septembre',
        "Appel à manifestation d'intérêt « Manufactures de proximité » - Tiers-Lieux France",
        "Les tiers lieux ruraux face à la fin des contrats aidés",
    ]
    contents = [as_text(i.content) for i in items]
    assert "“C'est un lieu de vie”, résume la fondatrice\xa0..." in contents[0]
    assert "porté par l'association sera installé dans l'ancienne école" in contents[1]
    assert "jusqu'au 15 juillet & obtenir jusqu'à 150\xa0000 €" in contents[2]
    for text in titles + contents:
        assert not ENTITY.search(text), text
        assert "<" not in text
    # the highlights are still there for the text stage to strip
    assert "<b>tiers-lieux</b>" in items[0].title


def test_google_alerts_redirect_link_is_kept_as_given() -> None:
    first = alerts()[0]
    assert first.link.startswith("https://www.google.com/url?rct=j&sa=t&url=")
    real = parse_qs(urlsplit(first.link).query)["url"][0]
    assert real == "https://www.actu-territoires.example.fr/index.php?option=article&id=9174"


def test_google_alerts_entries_have_time_and_no_author() -> None:
    first = alerts()[0]
    assert first.published == datetime(2025, 6, 3, 7, 41, 12, tzinfo=UTC)
    assert first.author is None


# --- Google News ------------------------------------------------------------------------


def news() -> list[Any]:
    items, title = parse_feed(
        feed("google_news_search.xml"),
        {"content-type": "application/xml; charset=utf-8"},
        "https://news.google.com/rss/search?q=%22tiers-lieu%22&hl=fr&gl=FR&ceid=FR:fr",
    )
    assert title == '"tiers-lieu" - Google Actualités'
    return items


def test_google_news_drops_the_publisher_suffix_that_equals_the_source() -> None:
    first = news()[0]
    assert as_text(first.title) == "Un tiers-lieu culturel ouvre ses portes à Nantes"
    assert first.publisher == "Ouest-France"


def test_google_news_headline_containing_a_dash_survives() -> None:
    second = news()[1]
    assert as_text(second.title) == "Sceaux - Tiers-lieu : la mairie lance une concertation"
    assert second.publisher == "Le Parisien"


def test_google_news_suffix_that_differs_from_the_source_is_kept() -> None:
    third = news()[2]
    assert as_text(third.title) == "Friches, ateliers et coworking : le modèle des tiers-lieux - France 3 Régions"
    assert third.publisher == "franceinfo"


def test_google_news_items_keep_guid_link_date_and_feed_language() -> None:
    first = news()[0]
    assert first.key.startswith("CBMi")
    assert first.link == f"https://news.google.com/rss/articles/{first.key}?oc=5"
    assert first.published == datetime(2025, 6, 2, 14, 32, tzinfo=UTC)
    assert first.language == "fr"
    assert as_text(first.content) == "Un tiers-lieu culturel ouvre ses portes à Nantes\xa0\xa0Ouest-France"


# --- not a feed -------------------------------------------------------------------------


def test_html_page_is_not_a_feed_and_names_the_feeds_it_advertises() -> None:
    with pytest.raises(NotAFeed) as caught:
        parse_feed(
            feed("html_page.html"),
            {"content-type": "text/html; charset=UTF-8"},
            "https://fabrique-communs.example.org/",
        )
    assert caught.value.feed_links == (
        "https://fabrique-communs.example.org/feed/",
        "https://fabrique-communs.example.org/feed/atom/",
    )
    message = str(caught.value)
    assert message.startswith("not a feed: the server sent an HTML page")
    assert "https://fabrique-communs.example.org/feed/atom/" in message


def test_html_page_served_without_content_type_is_still_recognised() -> None:
    with pytest.raises(NotAFeed, match="HTML page") as caught:
        parse_feed(feed("html_page.html"), {}, "https://fabrique-communs.example.org/accueil/")
    assert caught.value.feed_links[0] == "https://fabrique-communs.example.org/feed/"


def test_json_answer_is_not_a_feed() -> None:
    with pytest.raises(NotAFeed, match="not a feed: the server sent JSON"):
        parse_feed(b'{"error": "rate limited"}', {"content-type": "application/json"}, "https://api.example.org/feed")


def test_plain_text_and_empty_bodies_are_not_feeds() -> None:
    with pytest.raises(NotAFeed, match="neither RSS, Atom nor HTML"):
        parse_feed(b"Service Unavailable\n", {"content-type": "text/plain"}, "https://x.example/feed")
    with pytest.raises(NotAFeed, match="empty body"):
        parse_feed(b"", {"content-type": "application/rss+xml"}, "https://x.example/feed")


def test_malformed_xml_without_entries_is_a_parse_error_naming_the_line() -> None:
    with pytest.raises(ParseError) as caught:
        parse_feed(feed("malformed.xml"), {"content-type": "application/rss+xml"}, "https://agenda.example.org/rss")
    assert not isinstance(caught.value, NotAFeed)
    assert str(caught.value).startswith("malformed XML at line 3: mismatched tag")


def test_malformed_xml_line_counts_from_the_body_when_it_has_no_declaration() -> None:
    body = b'<rss version="2.0"><channel><title>x</title>\n<link>https://x.example/</chanel></rss>'
    with pytest.raises(ParseError, match="malformed XML at line 2: mismatched tag"):
        parse_feed(body, {}, "https://x.example/rss")


# --- over HTTP --------------------------------------------------------------------------


def run(request: FetchRequest) -> Fetched:
    """A bare-bones stand-in for the fetch stage, enough to show plan and parse agree."""
    answer = httpx.get(request.url, headers=dict(request.headers), timeout=5)
    return Fetched(
        request=request,
        url=str(answer.url),
        status=answer.status_code,
        headers={k.lower(): v for k, v in answer.headers.items()},
        body=answer.content,
    )


def test_conditional_get_round_trip_over_loopback(server: LoopbackServer) -> None:
    body = feed("atom.xml")
    etag = 'W/"atom-v1"'

    def serve(req: Request) -> Response:
        if req.headers.get("if-none-match") == etag:
            return Response(304, headers={"ETag": etag})
        return Response(200, headers={"Content-Type": "application/atom+xml", "ETag": etag}, body=body)

    server.route("/feed.atom", serve)
    source = adapter("rss")
    feed_spec = spec(server.url("/feed.atom"))

    [first_request] = source.plan(feed_spec, {}, [], Settings())
    first = source.parse(feed_spec, run(first_request), {})
    assert len(first.items) == 2
    assert first.cursor is not None

    [second_request] = source.plan(feed_spec, first.cursor, [], Settings())
    second = source.parse(feed_spec, run(second_request), first.cursor)
    assert second.items == ()
    assert second.cursor is None
    assert [r.headers.get("if-none-match") for r in server.hits("/feed.atom")] == [None, etag]
