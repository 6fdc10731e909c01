"""The digest's pure parts: slots in local time, choosing and grouping hits, trends, and rendering
that keeps hostile feed text inert in HTML, Markdown and plain text."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from watcher import digest as dg
from watcher.schedule import DigestSlot, Window, due_digest, last_slot, next_slot, parse_slot

PARIS = ZoneInfo("Europe/Paris")
MONDAY_8 = DigestSlot("weekly", 0, 8, 0, PARIS)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- slots --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "last", "following"),
    [
        # winter, UTC+1: Monday 08:00 Paris is 07:00 UTC
        (utc(2025, 1, 15, 12), utc(2025, 1, 13, 7), utc(2025, 1, 20, 7)),
        (utc(2025, 1, 13, 7), utc(2025, 1, 13, 7), utc(2025, 1, 20, 7)),
        (utc(2025, 1, 13, 6, 59), utc(2025, 1, 6, 7), utc(2025, 1, 13, 7)),
        # summer, UTC+2: 06:00 UTC; the week of the change keeps 08:00 local
        (utc(2025, 4, 2, 0), utc(2025, 3, 31, 6), utc(2025, 4, 7, 6)),
        (utc(2025, 3, 27, 0), utc(2025, 3, 24, 7), utc(2025, 3, 31, 6)),
    ],
)
def test_weekly_slot_is_monday_eight_local_time_across_dst(now: datetime, last: datetime, following: datetime) -> None:
    assert last_slot(MONDAY_8, now) == last
    assert next_slot(MONDAY_8, now) == following


def test_daily_and_monthly_slots() -> None:
    daily = DigestSlot("daily", 0, 18, 30, PARIS)
    assert last_slot(daily, utc(2025, 1, 15, 12)) == utc(2025, 1, 14, 17, 30)
    monthly = DigestSlot("monthly", 1, 8, 0, PARIS)
    assert last_slot(monthly, utc(2025, 1, 15)) == utc(2025, 1, 1, 7)
    assert next_slot(monthly, utc(2025, 12, 15)) == utc(2026, 1, 1, 7)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({}, DigestSlot("weekly", 0, 8, 0, PARIS)),
        ({"every": "weekly", "day": "Friday", "time": "17:45"}, DigestSlot("weekly", 4, 17, 45, PARIS)),
        ({"day": "lundi", "time": 480}, DigestSlot("weekly", 0, 8, 0, PARIS)),  # YAML 1.1 reads 08:00 as 480
        ({"every": "monthly", "day": 3}, DigestSlot("monthly", 3, 8, 0, PARIS)),
    ],
)
def test_digest_settings_are_read(value: dict[str, object], expected: DigestSlot) -> None:
    assert parse_slot(value, PARIS) == expected


@pytest.mark.parametrize(
    "value", [{"every": "hourly"}, {"day": "someday"}, {"time": "25:00"}, {"every": "monthly", "day": 31}, "weekly"]
)
def test_bad_digest_settings_are_refused_in_words(value: object) -> None:
    with pytest.raises(ValueError, match=r"settings\.digest"):
        parse_slot(value, PARIS)


def test_no_digest_before_the_first_slot_after_the_first_data() -> None:
    first = utc(2025, 1, 15, 10)  # a Wednesday
    assert due_digest(None, first, utc(2025, 1, 17), MONDAY_8) is None
    assert due_digest(None, None, utc(2025, 3, 1), MONDAY_8) is None
    assert due_digest(None, first, utc(2025, 1, 20, 7, 1), MONDAY_8) == Window(first, utc(2025, 1, 20, 7))


def test_a_window_is_due_once_and_after_downtime_one_catch_up_covers_the_gap() -> None:
    end = utc(2025, 1, 13, 7)
    assert due_digest(end, None, utc(2025, 1, 13, 9), MONDAY_8) is None  # already sent this slot
    assert due_digest(end, None, utc(2025, 1, 20, 7), MONDAY_8) == Window(end, utc(2025, 1, 20, 7))
    # off from Sunday 19th to Wednesday 29th: one digest from the last one to the latest slot
    assert due_digest(end, None, utc(2025, 1, 29, 10), MONDAY_8) == Window(end, utc(2025, 1, 27, 7))


# --- choosing, trends, sources -------------------------------------------------------------------

T0 = utc(2025, 1, 14, 9)


def hit(id: int, score: int, keywords: tuple[str, ...] = ("coworking",), **kw: object) -> dg.DigestHit:
    values: dict[str, object] = {
        "title": f"Titre {id}",
        "text": f"Texte de l'article {id}.",
        "url": f"https://news.example/{id}",
        "published": T0,
        "publisher": f"Journal {id}",
        "breakdown": {"title": 40.0, "freshness": 20.0, "_queries": 1.0},
    }
    values.update(kw)
    return dg.DigestHit(id=id, score=score, keywords=keywords, **values)  # type: ignore[arg-type]


def test_choose_groups_by_first_keyword_best_first_and_collapses_a_story_into_also_in() -> None:
    hits = [
        hit(1, 40, ("tiers-lieux",)),
        hit(2, 90, ("coworking", "tiers-lieux"), cluster=7),
        hit(3, 70, ("coworking",), cluster=7, publisher="Le Parisien"),
        hit(4, 60, ("tiers-lieux",)),
        hit(5, 10, ("fablab",)),
    ]
    groups, omitted = dg.choose(
        hits, ["tiers-lieux", "coworking", "fablab"], max_items=3, outlets={7: ["Ouest-France"]}
    )
    assert omitted == 1  # five hits, four stories, three shown
    assert [(k, [e.hit.id for e in es]) for k, es in groups] == [("tiers-lieux", [2, 4, 1])]
    assert groups[0][1][0].also == ("Ouest-France", "Le Parisien")


def test_trends_mark_spikes_and_silences_against_the_previous_average() -> None:
    previous = [{"coworking": 2, "fablab": 3}, {"coworking": 4, "fablab": 1}, {"fablab": 2}, {"fablab": 2}]
    got = {t.keyword: t for t in dg.trends({"coworking": 7, "python": 1}, previous, ["coworking", "fablab", "python"])}
    assert got["coworking"].average == 1.5 and got["coworking"].mark == "spike"
    assert got["fablab"].count == 0 and got["fablab"].mark == "silent"
    assert got["python"].mark == "" and got["python"].change is None
    assert dg.trends({"coworking": 7}, [], ["coworking"])[0].average is None  # no history: no comparison


def test_source_health_lists_failing_and_silent_sources_only_when_enabled() -> None:
    rows = [
        {"name": "broken", "last_status": "error", "last_error": "HTTP 500", "last_success": "2025-01-01T00:00:00Z"},
        {"name": "quiet", "last_status": "not_modified", "last_error": None, "last_success": "2025-01-14T00:00:00Z"},
        {"name": "fine", "last_status": "ok", "last_error": None, "last_success": "2025-01-14T00:00:00Z"},
        {"name": "off", "last_status": "error", "last_error": "gone", "last_success": None},
    ]
    got = dg.source_health(rows, ["broken", "quiet", "fine"], {"fine": 3}, [{"quiet": 5, "fine": 2}])
    assert [(s.name, s.state, s.error) for s in got] == [("broken", "failing", "HTTP 500"), ("quiet", "silent", None)]


# --- rendering and escaping ----------------------------------------------------------------------

HOSTILE_TITLE = '<script>alert("x")</script> Coworking <img src=x onerror=alert(1)>'
HOSTILE_TEXT = 'Voir <img src="https://tracker.example/pixel.gif"> et **gras** [lien](javascript:alert(1)) @everyone'


def sample(language: str = "fr", **kw: object) -> dg.Digest:
    hits = [
        hit(1, 95, ("coworking",), title=HOSTILE_TITLE, text=HOSTILE_TEXT, url="javascript:alert(document.cookie)"),
        hit(2, 80, ("coworking", "tiers-lieux"), publisher="Le <b>Monde</b>", alerted=True),
        hit(3, 50, ("tiers-lieux",), title="", text="Un post sans titre " + "très long " * 30, publisher=None),
    ]
    groups, omitted = dg.choose(hits, ["coworking", "tiers-lieux"])
    values: dict[str, object] = {
        "start": utc(2025, 1, 6, 7),
        "end": utc(2025, 1, 13, 7),
        "language": language,
        "tz": PARIS,
        "total": 3,
        "groups": groups,
        "omitted": omitted,
        "trends": dg.trends({"coworking": 2, "tiers-lieux": 2}, [{"coworking": 1}], ["coworking", "tiers-lieux"]),
        "previous_windows": 1,
        "sources": (dg.SourceHealth("broken", "failing", "HTTP 500 <b>", utc(2025, 1, 2)),),
    }
    values.update(kw)
    return dg.Digest(**values)  # type: ignore[arg-type]


class Tags(HTMLParser):
    """Every start tag and attribute a browser would build from the document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_escapes_feed_text_and_keeps_only_http_links() -> None:
    page = dg.render_html(sample())
    parser = Tags()
    parser.feed(page)
    names = {t for t, _ in parser.tags}
    assert not names & {"script", "img", "iframe", "style", "link", "object"}
    assert all(not k.startswith("on") for _, attrs in parser.tags for k in attrs)
    hrefs = [a["href"] for t, a in parser.tags if t == "a"]
    assert hrefs and all(h and h.startswith("https://") for h in hrefs)
    assert "&lt;script&gt;" in page and "onerror=alert(1)&gt;" in page
    assert "https://tracker.example/pixel.gif" not in hrefs
    assert "Le &lt;b&gt;Monde&lt;/b&gt;" in page  # a publisher's markup is shown, not applied
    assert "⚡ déjà signalé" in page
    assert "Un post sans titre très long" in page  # an untitled post shows the start of its text
    assert 'name="viewport"' in page and "max-width:640px" in page


def test_markdown_neutralises_feed_markup_links_and_mentions() -> None:
    text = dg.render_markdown(sample())
    assert "javascript:" not in text.replace("\\[lien\\]\\(javascript:alert\\(1\\)\\)", "")
    assert "](javascript" not in text
    assert "\\*\\*gras\\*\\*" in text and "\\<script\\>" in text
    assert "@\u200beveryone" in text
    links = re.findall(r"\]\((\S+?)\)", text)
    assert links and all(link.startswith("https://") for link in links)


def test_labels_follow_the_language_setting() -> None:
    assert "En bref" in dg.render_text(sample("fr")) and "Pourquoi : " in dg.render_text(sample("fr"))
    english = dg.render_text(sample("en"))
    assert "In short" in english and "Why: " in english and "already alerted" in english
    assert dg.subject(sample("en")) == "Watch digest 6 to 13 Jan 2025: 3 hits"
    assert dg.subject(sample("fr")) == "Veille du 6 au 13 janv. 2025 : 3 résultats"


@pytest.mark.parametrize("limit", [2000, 4096, 700])
def test_chat_rendering_fits_the_service_limit_and_says_what_is_left_out(limit: int) -> None:
    many = [hit(i, 100 - i, ("coworking",), text="mot " * 60) for i in range(1, 40)]
    groups, omitted = dg.choose(many, ["coworking"], max_items=40)
    d = sample(groups=groups, omitted=omitted, total=len(many))
    text, complete = dg.fit(dg.render_markdown, d, limit, attached=True)
    assert len(text) <= limit and not complete
    shown = text.count("https://news.example/")
    assert 0 < shown < len(many) or limit < 1000
    assert f"et {len(many) - shown} autres dans le résumé complet (en pièce jointe)" in text
    full, complete = dg.fit(dg.render_markdown, d, 10**6, attached=True)
    assert complete and full.count("https://news.example/") == len(many)


def test_an_alert_is_titled_by_its_story_and_renders_inert_in_each_format() -> None:
    h = hit(1, 95, ("coworking",), title=HOSTILE_TITLE)
    title, body = dg.render_alert(h, "fr", PARIS, "html")
    assert title == " ".join(HOSTILE_TITLE.split()) and "Alerte" not in title
    assert "<script>" not in body and "&lt;script&gt;" in body
    md_title, md_body = dg.render_alert(h, "en", PARIS, "markdown")
    assert "\\<script\\>" in md_body and "\\<script\\>" in md_title
    long = hit(2, 95, ("coworking",), title="mot " * 80)
    assert len(dg.render_alert(long, "fr", PARIS, "text")[0]) <= dg.ALERT_TITLE_CHARS


def test_the_test_message_gives_its_time_in_the_configured_zone() -> None:
    title, body = dg.render_test("en", datetime(2026, 12, 7, 17, 30, tzinfo=UTC), PARIS)
    assert title == "watcher: test message" and "2026-12-07 18:30 CET" in body and "UTC" not in body


@pytest.mark.parametrize(("language", "label"), [("fr", "relayé"), ("en", "relayed")])
def test_every_format_shows_where_the_relay_triage_of_a_hit_has_got_to(language: str, label: str) -> None:
    hits = [hit(1, 90, state="relayed"), hit(2, 80, state="new")]
    groups, omitted = dg.choose(hits, ["coworking"])
    d = sample(language, groups=groups, omitted=omitted, total=2)
    for rendered in (dg.render_html(d), dg.render_markdown(d), dg.render_text(d)):
        assert rendered.count(label) == 1, rendered
    assert [
        dg.hit_from_row({"id": 1, "published": "2025-01-06T07:00:00Z", "state": s}).state for s in ("picked", None)
    ] == ["picked", "new"]
