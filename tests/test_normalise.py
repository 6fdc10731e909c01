"""normalise: HTML to text, Google redirects, canonical URLs, dates, RawItem -> Item."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import feedparser
import pytest

from watcher.normalise import canonical_url, html_to_text, normalise, unwrap_redirect
from watcher.types import RawItem

# ---------------------------------------------------------------- html_to_text

HTML_CASES = [
    pytest.param(
        "<b>Coworking</b> &amp;nbsp;...",
        "Coworking…",
        id="google-alerts-title-escaped-twice",
    ),
    pytest.param(
        "L'espace de <b>coworking</b> &quot;La Ruche&quot; ouvre ses portes&nbsp;...",
        'L\'espace de coworking "La Ruche" ouvre ses portes…',
        id="google-alerts-snippet-trailing-nbsp-ellipsis",
    ),
    pytest.param(
        "Les <b>tiers-lieux</b> et le &amp;#8220;travail hybride&amp;#8221;",
        "Les tiers-lieux et le “travail hybride”",
        id="numeric-entities-escaped-twice",
    ),
    pytest.param(
        "<p>Avant</p><script>alert('x')</script><style>p{color:red}</style>"
        "<noscript>Activez JavaScript</noscript><!-- pub --><p>Après</p>",
        "Avant Après",
        id="script-style-noscript-comment-removed",
    ),
    pytest.param(
        "<p>un</p><p>deux<br>trois</p><ul><li>quatre</li><li>cinq</li></ul><div>six</div>",
        "un deux trois quatre cinq six",
        id="block-elements-separate-words",
    ),
    pytest.param("co<b>work</b><i>ing</i>", "coworking", id="inline-elements-do-not-split-words"),
    pytest.param(
        'Lire <a href="https://exemple.fr/article">l’article complet</a> ici',
        "Lire l’article complet ici",
        id="link-text-kept",
    ),
    pytest.param(
        '<p>Nouveau lieu : <a href="https://exemple.org/tiers-lieux/sceaux" rel="nofollow noopener"'
        ' target="_blank"><span class="invisible">https://</span><span class="ellipsis">exemple.org/tiers'
        '-lieux/sc</span><span class="invisible">eaux</span></a></p>',
        "Nouveau lieu : https://exemple.org/tiers-lieux/sceaux",
        id="mastodon-invisible-spans-read-whole",
    ),
    pytest.param(
        '<p>Retour en images <a href="https://m.example/tags/tierslieux" class="mention hashtag" rel="tag">'
        "#<span>TiersLieux</span></a></p>",
        "Retour en images #TiersLieux",
        id="mastodon-hashtag",
    ),
    pytest.param("Un tiers-lieu ouvre à Sceaux", "Un tiers-lieu ouvre à Sceaux", id="plain-text-unchanged"),
    pytest.param("Fish & Chips", "Fish & Chips", id="bare-ampersand-kept"),
    pytest.param("  un \n\t deux\u00a0 trois  ", "un deux trois", id="whitespace-collapsed"),
    pytest.param("", "", id="empty"),
]


@pytest.mark.parametrize(("fragment", "expected"), HTML_CASES)
def test_html_to_text(fragment: str, expected: str) -> None:
    assert html_to_text(fragment) == expected


# An entry as Google Alerts serves it: HTML inside XML, with entities escaped once more.
GOOGLE_ALERTS_ENTRY = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<feed xmlns="http://www.w3.org/2005/Atom"><title>Google Alert - coworking</title>'
    b"<entry><id>tag:google.com,2013:googlealerts/feed:1234</id>"
    b'<title type="html">Un nouvel espace de &lt;b&gt;coworking&lt;/b&gt; &amp;amp; de '
    b"&lt;b&gt;t\xc3\xa9l\xc3\xa9travail&lt;/b&gt;</title>"
    b'<link href="https://www.google.com/url?rct=j&amp;sa=t&amp;url=https://www.exemple.fr/'
    b'article%3Fid%3D42%26utm_source%3Dga&amp;ct=ga&amp;cd=CAIyGg&amp;usg=AOvVaw1" />'
    b"<published>2024-05-02T09:00:00Z</published><updated>2024-05-02T09:00:00Z</updated>"
    b'<content type="html">L&amp;#39;espace de &lt;b&gt;coworking&lt;/b&gt; '
    b"&amp;quot;La Ruche&amp;quot; ouvre&amp;nbsp;...</content>"
    b"<author><name></name></author></entry></feed>"
)


def test_google_alerts_entry_through_feedparser_reads_clean() -> None:
    entry = feedparser.parse(GOOGLE_ALERTS_ENTRY).entries[0]
    assert html_to_text(entry.title) == "Un nouvel espace de coworking & de télétravail"
    assert html_to_text(entry.content[0].value) == 'L\'espace de coworking "La Ruche" ouvre…'
    assert canonical_url(entry.link) == "https://www.exemple.fr/article?id=42"


# ------------------------------------------------------------- unwrap_redirect

REDIRECT_CASES = [
    pytest.param(
        "https://www.google.com/url?rct=j&sa=t&url=https://www.exemple.fr/a&ct=ga&cd=CAI&usg=AOvVaw",
        "https://www.exemple.fr/a",
        id="google-alerts-url-param",
    ),
    pytest.param(
        "https://www.google.com/url?rct=j&sa=t&url=https://www.exemple.fr/article%3Fid%3D42%26p%3D2&ct=ga",
        "https://www.exemple.fr/article?id=42&p=2",
        id="percent-escapes-decoded",
    ),
    pytest.param(
        "https://www.google.fr/url?q=https://exemple.org/page&sa=U&ved=2ahUKE",
        "https://exemple.org/page",
        id="q-form-regional-host",
    ),
    pytest.param(
        "https://google.co.uk/url?sa=t&url=http://exemple.co.uk/x",
        "http://exemple.co.uk/x",
        id="bare-google-co-uk",
    ),
    pytest.param(
        "https://www.google.com/search?q=https://exemple.org/",
        "https://www.google.com/search?q=https://exemple.org/",
        id="google-search-is-not-a-redirect",
    ),
    pytest.param(
        "https://exemple.org/url?url=https://ailleurs.org/",
        "https://exemple.org/url?url=https://ailleurs.org/",
        id="other-host-unchanged",
    ),
    pytest.param(
        "https://www.notgoogle.com/url?url=https://ailleurs.org/",
        "https://www.notgoogle.com/url?url=https://ailleurs.org/",
        id="lookalike-host-unchanged",
    ),
    pytest.param(
        "https://www.google.com/url?url=javascript:alert(1)",
        "https://www.google.com/url?url=javascript:alert(1)",
        id="non-http-target-unchanged",
    ),
    pytest.param("https://exemple.org/a?b=1", "https://exemple.org/a?b=1", id="plain-url-unchanged"),
]


@pytest.mark.parametrize(("url", "expected"), REDIRECT_CASES)
def test_unwrap_redirect(url: str, expected: str) -> None:
    assert unwrap_redirect(url) == expected


# --------------------------------------------------------------- canonical_url

CANONICAL_CASES = [
    pytest.param(
        "https://exemple.fr/a?utm_source=rss&utm_medium=feed&utm_campaign=x",
        "https://exemple.fr/a",
        id="utm-removed",
    ),
    pytest.param("https://exemple.fr/a#commentaires", "https://exemple.fr/a", id="fragment-removed"),
    pytest.param("https://exemple.fr:443/a", "https://exemple.fr/a", id="default-https-port-removed"),
    pytest.param("http://exemple.fr:80/a", "http://exemple.fr/a", id="default-http-port-removed"),
    pytest.param("https://exemple.fr:8443/a", "https://exemple.fr:8443/a", id="other-port-kept"),
    pytest.param("http://exemple.fr:443/a", "http://exemple.fr:443/a", id="https-port-on-http-kept"),
    pytest.param("HTTPS://WWW.Exemple.FR/Article", "https://www.exemple.fr/Article", id="scheme-host-lowered"),
    pytest.param("https://exemple.fr", "https://exemple.fr/", id="empty-path-is-slash"),
    pytest.param("http://exemple.fr/a", "http://exemple.fr/a", id="http-not-upgraded"),
    pytest.param(
        "https://www.google.com/url?rct=j&sa=t&url=https://Exemple.fr/a%3Fid%3D1%26utm_source%3Dga&ct=ga",
        "https://exemple.fr/a?id=1",
        id="google-redirect-unwrapped-then-cleaned",
    ),
    pytest.param(
        "https://exemple.fr/s?z=1&utm_source=x&a=2&fbclid=abc&m=3",
        "https://exemple.fr/s?z=1&a=2&m=3",
        id="other-params-kept-in-order",
    ),
    pytest.param(
        "https://exemple.fr/a?gclid=1&dclid=2&msclkid=3&mc_cid=4&mc_eid=5&igshid=6&yclid=7&_hsenc=8&_hsmi=9"
        "&ref_src=twsrc&xtor=RSS-3208",
        "https://exemple.fr/a",
        id="click-and-campaign-ids-removed",
    ),
    pytest.param("https://github.com/a/b?ref=main", "https://github.com/a/b?ref=main", id="plain-ref-kept"),
    pytest.param(
        "https://exemple.fr/q?text=a%20b&flag&UTM_Source=x",
        "https://exemple.fr/q?text=a%20b&flag",
        id="kept-params-byte-for-byte-tracking-case-insensitive",
    ),
    pytest.param("https://exemple.fr/a/?", "https://exemple.fr/a/", id="empty-query-dropped"),
    pytest.param("  https://exemple.fr/a \n", "https://exemple.fr/a", id="surrounding-space-trimmed"),
]


@pytest.mark.parametrize(("url", "expected"), CANONICAL_CASES)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(("url", "expected"), CANONICAL_CASES)
def test_canonical_url_is_idempotent(url: str, expected: str) -> None:
    assert canonical_url(canonical_url(url)) == canonical_url(url)


# ------------------------------------------------------------------- normalise

SEEN = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)
PARIS_SUMMER = timezone(timedelta(hours=2))


BASE_RAW = RawItem(key="k1", link="https://exemple.fr/a", title="Titre", content="Texte")


DATE_CASES = [
    pytest.param(None, SEEN, id="missing-date-is-seen-at"),
    pytest.param(datetime(2024, 5, 2, 11, 0, tzinfo=PARIS_SUMMER), datetime(2024, 5, 2, 9, 0, tzinfo=UTC), id="to-utc"),
    pytest.param(datetime(2024, 5, 1, 8, 30), datetime(2024, 5, 1, 8, 30, tzinfo=UTC), id="naive-taken-as-utc"),
    pytest.param(SEEN + timedelta(days=3), SEEN, id="future-beyond-a-day-clamped"),
    pytest.param(SEEN + timedelta(hours=20), SEEN + timedelta(hours=20), id="future-within-a-day-kept"),
    pytest.param(datetime(2019, 1, 1, tzinfo=UTC), datetime(2019, 1, 1, tzinfo=UTC), id="old-date-kept"),
]


@pytest.mark.parametrize(("published", "expected"), DATE_CASES)
def test_normalise_published(published: datetime | None, expected: datetime) -> None:
    item = normalise(replace(BASE_RAW, published=published), source="feed", seen_at=SEEN)
    assert item.published == expected
    assert item.published.utcoffset() == timedelta(0)


def test_normalise_builds_text_urls_and_copies_fields() -> None:
    raw = RawItem(
        key="tag:google.com,2013:googlealerts/feed:1",
        link="https://www.google.com/url?rct=j&sa=t&url=https://Exemple.fr/a%3Futm_source%3Dga&ct=ga",
        title="<b>Coworking</b> &amp;nbsp;...",
        content="<p>Un espace de <b>coworking</b></p><p>ouvre</p>",
        author="@alice@exemple.social",
        publisher="Le Parisien",
        published=datetime(2024, 5, 2, 11, 0, tzinfo=PARIS_SUMMER),
        language="fr",
        engagement={"likes": 3, "reposts": 1},
        no_reuse=True,
        global_id="https://exemple.social/users/alice/statuses/1",
    )
    item = normalise(raw, source="alertes", seen_at=SEEN)
    assert (item.source, item.key) == ("alertes", raw.key)
    assert item.url == "https://Exemple.fr/a?utm_source=ga"
    assert item.canonical_url == "https://exemple.fr/a"
    assert (item.title, item.text) == ("Coworking…", "Un espace de coworking ouvre")
    assert item.published == datetime(2024, 5, 2, 9, 0, tzinfo=UTC)
    assert (item.author, item.publisher, item.language) == (raw.author, raw.publisher, raw.language)
    assert item.engagement == {"likes": 3, "reposts": 1}
    assert item.no_reuse is True
    assert item.global_id == raw.global_id


TITLE_FROM_URL_CASES = [
    pytest.param(
        "https://www.exemple.fr/2024/05/un-tiers-lieu-ouvre-a-sceaux.html",
        "exemple.fr: un tiers lieu ouvre a sceaux",
        id="slug-words-and-host",
    ),
    pytest.param("https://exemple.org/", "exemple.org", id="host-only"),
]


@pytest.mark.parametrize(("link", "expected"), TITLE_FROM_URL_CASES)
def test_normalise_item_without_title_or_text_gets_title_from_url(link: str, expected: str) -> None:
    item = normalise(replace(BASE_RAW, link=link, title="  ", content="<p></p>"), source="feed", seen_at=SEEN)
    assert item.title == expected


def test_normalise_keeps_empty_title_when_text_exists() -> None:
    item = normalise(replace(BASE_RAW, title="", content="<p>Un pouet</p>"), source="masto", seen_at=SEEN)
    assert (item.title, item.text) == ("", "Un pouet")
