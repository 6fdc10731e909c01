"""The digest and relevance: stories under their most specific query, related stories in a section
of their own, stories off the theme counted but not listed. A real poll on loopback, a real store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Response
from tests.test_theme import OFF_THEME, ON_THEME
from watcher import digest as dg
from watcher import notify
from watcher.config import load_config
from watcher.fetch import Fetcher
from watcher.poll import run_poll
from watcher.store import Store

RSS = {"Content-Type": "application/rss+xml"}
T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


def hit(id: int, keywords: tuple[str, ...], score: int = 60) -> dg.DigestHit:
    return dg.DigestHit(id, f"Titre {id}", "", f"https://news.example/{id}", T0, keywords, score)


def test_a_story_goes_under_its_heaviest_query_then_its_rarest_not_the_first_in_the_file() -> None:
    keywords = ["innovation", "lien", "coworking", "fablab"]
    weights = {"coworking": 2.0}
    counts = {"innovation": 80, "lien": 40, "coworking": 30, "fablab": 5}
    groups, _ = dg.choose(
        [hit(1, ("innovation", "coworking")), hit(2, ("innovation", "lien")), hit(3, ("lien", "fablab"))],
        keywords,
        weights=weights,
        counts=counts,
    )
    where = {entry.hit.id: keyword for keyword, entries in groups for entry in entries}
    assert where == {1: "coworking", 2: "lien", 3: "fablab"}
    # without weights nor counts, the order of keywords.txt decides, as before
    plain, _ = dg.choose([hit(1, ("innovation", "coworking"))], keywords)
    assert plain[0][0] == "innovation"


def test_related_stories_make_a_small_section_of_their_own_last() -> None:
    related = [hit(10 + n, (), score=90) for n in range(dg.RELATED_MAX + 3)]
    groups, omitted = dg.choose([hit(1, ("coworking",), score=50), *related], ["coworking"], max_items=30)
    assert [k for k, _ in groups] == ["coworking", dg.RELATED_GROUP]
    assert len(groups[1][1]) == dg.RELATED_MAX and omitted == 3
    assert dg.group_title(dg.RELATED_GROUP, "fr") == "Proches de votre veille"


def test_the_digest_lists_stories_under_their_query_offers_related_ones_and_counts_off_theme_ones(
    server: LoopbackServer, tmp_path: Path
) -> None:
    entries = [Entry(t, f"https://news.example/on/{i}", body=b) for i, (t, b) in enumerate(ON_THEME)]
    entries += [Entry(t, f"https://news.example/off/{i}", body=b) for i, (t, b) in enumerate(OFF_THEME)]
    entries.append(
        Entry(
            "Innovation : un coworking pour les indépendants du quartier",
            "https://news.example/both",
            body="Bureaux partagés et télétravail : le lieu innove pour les indépendants.",
        )
    )
    entries.append(
        Entry(
            "Des bureaux partagés pour les indépendants du quartier",
            "https://news.example/related",
            body="Le nouvel espace partagé accueille les indépendants en télétravail, avec café et salle de réunion.",
        )
    )
    server.route("/feed", Response(200, RSS, rss(entries)))
    (tmp_path / "feeds.yaml").write_text(
        "settings:\n  language: fr\n  timezone: Europe/Paris\n"
        f"feeds:\n  - name: news\n    kind: rss\n    url: {server.url('/feed')}\n",
        encoding="utf-8",
    )
    # "innovation" first in the file: the story with both words still belongs under "coworking"
    (tmp_path / "keywords.txt").write_text("innovation\nlien\ncoworking ^2\ntiers-lieux ^2\n", encoding="utf-8")
    config = load_config(tmp_path / "feeds.yaml", tmp_path / "keywords.txt", env={})
    now = datetime.now(UTC)
    with Store(tmp_path / "watch.db") as store, Fetcher(user_agent="t", timeout=5, max_body_bytes=10**6) as f:
        run_poll(config, store, f, everything=True)
        d, total = notify.build_digest(store, config, now - timedelta(days=1), now + timedelta(minutes=5))
        off = [h for h in store.hits() if "/off/" in h["url"] and h["score_breakdown"]["theme"] <= dg.OFF_THEME_FLOOR]
    where = {entry.hit.url: keyword for keyword, group in d.groups for entry in group}
    assert where["https://news.example/both"] == "coworking"
    assert where["https://news.example/related"] == dg.RELATED_GROUP
    assert off and d.below == len(off)
    assert not any(h["url"] in where for h in off), "an off-theme story is counted, not listed"
    text = dg.render_text(d)
    assert "## Proches de votre veille (1)" in text
    assert f"{d.below} résultat" in text and "watcher hits --since 1d --explain" in text
    assert total >= len(where) + d.below
