"""The theme: a score component learned from the watch's own items, explained in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Response
from watcher import relevance, theme, triage
from watcher.config import parse_feeds, parse_keywords
from watcher.fetch import Fetcher
from watcher.poll import run_poll
from watcher.query import parse_query
from watcher.score import explain, score, with_components
from watcher.store import Store
from watcher.types import Config, Item, Query, QueryMatch, ScoreComponent

RSS = {"Content-Type": "application/rss+xml"}
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)

# The watch of a coworking space: stories about coworking, third places and remote work...
ON_THEME = [
    ("Un espace de coworking ouvre à Sceaux", "Bureaux partagés, salle de réunion et café pour les indépendants."),
    (
        "Le tiers-lieu de la gare fête ses deux ans",
        "Coworking, fablab et café associatif : le lieu attire les indépendants.",
    ),
    ("Coworking : les indépendants cherchent des bureaux partagés", "Le télétravail pousse vers les espaces partagés."),
    ("Un fablab et un coworking dans l'ancienne halle", "Le tiers-lieu propose des bureaux partagés et des machines."),
    ("Télétravail : le coworking près de chez soi", "Les salariés en télétravail louent des bureaux partagés."),
    ("Tiers-lieux : un réseau pour les espaces partagés", "Coworking et fablab se regroupent pour les indépendants."),
    (
        "Le coworking associatif recrute ses adhérents",
        "Bureaux partagés et animations pour les indépendants du quartier.",
    ),
    ("Ouverture d'un tiers-lieu rural", "Un coworking, un fablab et un café dans l'ancienne école."),
    ("Coworking : des bureaux partagés à la demi-journée", "Le tiers-lieu s'adapte aux indépendants en télétravail."),
    (
        "Les espaces de coworking se multiplient en banlieue",
        "Bureaux partagés et télétravail : la demande des indépendants.",
    ),
]
# ... and stories that share a generic word with its queries but are about something else.
OFF_THEME = [
    (
        "Narcotrafic : des liens avec le cartel établis",
        "La police judiciaire a démantelé un réseau de trafic de drogue.",
    ),
    ("Les liens du jour", "Une sélection de liens sur la politique, le sport et la météo."),
    ("Sommet de l'intelligence artificielle à Paris", "Les dirigeants parlent d'innovation et de puces électroniques."),
    ("Football : le club s'impose à domicile", "Le match s'est joué en seconde période devant les supporters."),
]


def _model() -> theme.ThemeModel:
    documents = ON_THEME + OFF_THEME
    model = theme.build(documents, range(len(ON_THEME)))
    assert model is not None
    return model


def test_items_about_the_theme_are_closer_than_items_that_only_share_a_word() -> None:
    model = _model()
    close = model.closeness(
        "Un coworking s'installe dans la médiathèque", "Des bureaux partagés pour les indépendants."
    )
    cartel = model.closeness("Des liens avec le narcotrafic", "Le trafic de drogue et la police judiciaire.")
    assert close > cartel
    assert model.points(close) > 0
    assert model.points(cartel) <= theme.OFF_THEME_POINTS / 2
    assert model.points(0.0) == theme.OFF_THEME_POINTS and model.points(1.0) == theme.THEME_POINTS


def test_too_few_seed_items_give_no_model() -> None:
    assert theme.build(ON_THEME, range(theme.MIN_SEEDS - 1)) is None


def test_the_model_survives_its_cache() -> None:
    model = _model()
    again = theme.ThemeModel.from_json(model.to_json())
    assert again == model


def test_seed_queries_are_the_heaviest_then_the_rarest() -> None:
    def q(text: str, weight: float = 1.0) -> Query:
        return Query(text, 1, parse_query(text), weight)

    queries = [q("coworking", 2), q("tiers-lieux", 2), q("innovation"), q("lien")]
    counts = {"coworking": 30, "tiers-lieux": 10, "innovation": 80, "lien": 50}
    assert [s.text for s in theme.seed_queries(queries, counts)] == ["coworking", "tiers-lieux"]
    even = [q("coworking"), q("innovation"), q("lien")]
    assert [s.text for s in theme.seed_queries(even, counts)] == ["coworking"]


def test_a_score_component_counts_after_the_weight_and_is_explained_in_french_and_english() -> None:
    item = Item("s", "k", "https://x.example/a", "https://x.example/a", "Coworking", "", NOW)
    match = QueryMatch(Query("coworking", 1, parse_query("coworking")), True, False)
    plain, _ = score(item, [match], source_weight=1.0, now=NOW)
    value, breakdown = score(
        item, [match], source_weight=1.0, now=NOW, components=[ScoreComponent("theme", -20, {"closeness": 0.01})]
    )
    assert breakdown["theme"] == -20 and breakdown["_theme_closeness"] == 0.01
    assert value == plain - 20
    assert "hors thème (−20)" in explain(breakdown, "fr")
    assert "off the theme (−20)" in explain(breakdown, "en")
    assert explain(breakdown, "fr").startswith("trouvé dans le titre (+40)")
    _, close = with_components(breakdown, [ScoreComponent("theme", 12, {"closeness": 0.4})])
    assert close["theme"] == 12 and "proche du thème (+12)" in explain(close, "fr")


def test_a_poll_scores_on_theme_hits_above_off_theme_ones_and_offers_related_items(
    server: LoopbackServer, tmp_path: Path
) -> None:
    entries = [Entry(t, f"https://news.example/on/{i}", body=b) for i, (t, b) in enumerate(ON_THEME)]
    entries += [Entry(t, f"https://news.example/off/{i}", body=b) for i, (t, b) in enumerate(OFF_THEME)]
    related = Entry(
        "Des bureaux partagés pour les indépendants du quartier",
        "https://news.example/related",
        body="Le nouvel espace partagé accueille les indépendants en télétravail, avec café et salle de réunion.",
    )
    entries.append(related)
    server.route("/feed", Response(200, RSS, rss(entries)))
    feeds = f"settings:\n  timeout: 5\nfeeds:\n  - name: news\n    kind: rss\n    url: {server.url('/feed')}\n"
    specs, settings = parse_feeds(feeds, "feeds.yaml", env={})
    config = Config(specs, parse_keywords("coworking ^2\ntiers-lieux ^2\nlien\ninnovation\n"), settings)
    with Store(tmp_path / "watch.db") as store, Fetcher(user_agent="t", timeout=5, max_body_bytes=10**6) as f:
        run_poll(config, store, f, everything=True, clock=lambda: datetime.now(UTC))
        hits = {h["url"]: h for h in store.hits()}
        assert store.relevance_model(theme.NAME) is not None
    cartel = hits["https://news.example/off/0"]
    assert cartel["score_breakdown"]["theme"] <= theme.OFF_THEME_POINTS / 2
    on = [h for u, h in hits.items() if "/on/" in u]
    assert sum(h["score_breakdown"]["theme"] > 0 for h in on) >= len(on) - 2
    assert min(h["score"] for h in on) > cartel["score"]
    offered = hits[related.link]
    assert offered["related"] and offered["keywords"] == []
    assert not any(h["related"] for h in on)
    assert datetime.now(UTC) - timedelta(minutes=5) < datetime.fromisoformat(
        offered["first_seen"].replace("Z", "+00:00")
    )


def test_the_seed_count_that_keeps_the_cached_theme_is_the_count_learning_uses(
    server: LoopbackServer, tmp_path: Path
) -> None:
    # a poll decides whether the cached theme still holds by counting seeds in SQL, without
    # reading any text; learning picks them in Python: both must see the same seeds
    entries = [Entry(t, f"https://news.example/on/{i}", body=b) for i, (t, b) in enumerate(ON_THEME)]
    entries += [Entry(t, f"https://news.example/off/{i}", body=b) for i, (t, b) in enumerate(OFF_THEME)]
    server.route("/feed", Response(200, RSS, rss(entries)))
    feeds = f"settings:\n  timeout: 5\nfeeds:\n  - name: news\n    kind: rss\n    url: {server.url('/feed')}\n"
    specs, settings = parse_feeds(feeds, "feeds.yaml", env={})
    config = Config(specs, parse_keywords("coworking ^2\ntiers-lieux ^2\nlien\ninnovation\n"), settings)

    def both(store: Store) -> tuple[int, int]:
        seed_queries = {q.text for q in theme.seed_queries(config.queries, store.query_counts())}
        documents = store.theme_documents(relevance.DOCUMENTS, theme.TEXT_CHARS)
        in_python = sum(relevance._is_seed(d, seed_queries) for d in documents)
        in_sql = store.theme_seed_count(relevance.DOCUMENTS, sorted(seed_queries), relevance.POSITIVE_STATES)
        return in_python, in_sql

    with Store(tmp_path / "watch.db") as store, Fetcher(user_agent="t", timeout=5, max_body_bytes=10**6) as f:
        run_poll(config, store, f, everything=True, clock=lambda: datetime.now(UTC))
        ids = {h["url"]: h["id"] for h in store.hits()}
        python_count, sql_count = both(store)
        assert python_count == sql_count >= len(ON_THEME) - 2
        now = datetime.now(UTC)
        assert triage.skip(store, [ids["https://news.example/on/0"]], now, noise=True).moved  # a seed no more
        assert triage.pick(store, [ids["https://news.example/off/2"]], now).moved  # a seed by its state
        assert both(store) == (python_count, python_count)
        assert triage.skip(store, [ids["https://news.example/on/1"]], now, noise=True).moved
        assert both(store) == (python_count - 1, python_count - 1)


def test_what_the_theme_scores_again_is_the_polls_items_and_when_learned_anew_the_recent_hits(
    tmp_path: Path,
) -> None:
    def at(days: float) -> str:
        return (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")

    stored = {  # url: (first seen days ago, score)
        "old-item": (10, 0),
        "old-hit": (10, 30),
        "older-hit": (30, 30),
        "new-item": (0, 0),
        "new-hit": (0, 40),
    }
    with Store(tmp_path / "watch.db") as store:
        with store.write() as conn:
            conn.executemany(
                "INSERT INTO items (canonical_url, url, title, text, published, first_seen, score)"
                " VALUES (?, ?, ?, '', ?, ?, ?)",
                [(u, u, u, at(days), at(days), score) for u, (days, score) in stored.items()],
            )
        since = NOW - timedelta(minutes=1)
        assert [r["url"] for r in store.items_to_rescore(since)] == ["new-item", "new-hit"]
        again = store.items_to_rescore(since, hits_since=NOW - timedelta(days=relevance.RESCORE_DAYS))
        assert [r["url"] for r in again] == ["old-hit", "new-item", "new-hit"]
