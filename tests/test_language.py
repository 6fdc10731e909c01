"""The language filter: real polls over loopback feeds into real SQLite files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Response
from watcher.cli import main
from watcher.config import parse_feeds, parse_keywords
from watcher.errors import ConfigError
from watcher.fetch import Fetcher
from watcher.language import detect, reads
from watcher.poll import PollReport, run_poll
from watcher.store import Store
from watcher.types import Config

RSS = {"Content-Type": "application/rss+xml"}
FRENCH = Entry(
    "Un espace de coworking ouvre ses portes à Sceaux",
    "https://news.example/fr",
    body="Le nouveau lieu propose des bureaux partagés aux indépendants du quartier.",
)
ENGLISH = Entry(
    "A new coworking space opens its doors in London",
    "https://news.example/en",
    body="The new place offers shared desks to the freelancers of the neighbourhood.",
)


def make_config(feeds: str, settings: str = "") -> Config:
    specs, parsed = parse_feeds(f"settings:\n  timeout: 5\n{settings}feeds:\n{feeds}", "feeds.yaml", env={})
    return Config(specs, parse_keywords("coworking\n"), parsed)


def feed(url: str, extra: str = "") -> str:
    return f"  - name: news\n    kind: rss\n    url: {url}\n{extra}"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "watch.db") as s:
        yield s


def poll(config: Config, store: Store) -> dict[str, PollReport]:
    with Fetcher(user_agent="watcher-test", timeout=5, max_body_bytes=1_000_000) as f:
        return {r.name: r for r in run_poll(config, store, f, everything=True)}


def languages_of(store: Store) -> dict[str, tuple[str | None, int]]:
    rows = store.db.execute("SELECT url, language, score FROM items").fetchall()
    return {url: (language, score) for url, language, score in rows}


def test_an_item_in_a_language_the_watch_does_not_read_is_stored_but_is_no_hit(
    server: LoopbackServer, store: Store
) -> None:
    server.route("/feed", Response(200, RSS, rss([FRENCH, ENGLISH])))
    report = poll(make_config(feed(server.url("/feed"))), store)["news"]
    assert (report.items, report.new_hits) == (2, 1)
    stored = languages_of(store)
    assert stored[FRENCH.link][0] == "fr" and stored[FRENCH.link][1] > 0
    assert stored[ENGLISH.link] == ("en", 0)
    assert [h["language"] for h in store.hits()] == ["fr"]
    assert store.search("London", hits_only=False), "the English item is searchable"


def test_a_source_may_read_more_languages_than_the_watch(server: LoopbackServer, store: Store) -> None:
    server.route("/feed", Response(200, RSS, rss([FRENCH, ENGLISH])))
    report = poll(make_config(feed(server.url("/feed"), "    languages: [fr, en]\n")), store)["news"]
    assert report.new_hits == 2
    assert sorted(h["language"] for h in store.hits()) == ["en", "fr"]


def test_languages_any_reads_every_language(server: LoopbackServer, store: Store) -> None:
    server.route("/feed", Response(200, RSS, rss([FRENCH, ENGLISH])))
    report = poll(make_config(feed(server.url("/feed")), "  languages: any\n"), store)["news"]
    assert report.new_hits == 2


def test_items_left_out_are_matched_again_when_the_setting_changes(server: LoopbackServer, store: Store) -> None:
    server.route("/feed", Response(200, RSS, rss([FRENCH, ENGLISH])))
    poll(make_config(feed(server.url("/feed"))), store)
    assert languages_of(store)[ENGLISH.link][1] == 0
    poll(make_config(feed(server.url("/feed")), "  languages: [fr, en]\n"), store)
    language, score = languages_of(store)[ENGLISH.link]
    assert language == "en" and score > 0
    [hit] = [h for h in store.hits() if h["url"] == ENGLISH.link]
    assert hit["keywords"] == ["coworking"]


def test_the_declared_language_is_a_hint_that_a_clear_text_overrides() -> None:
    text = "The new place offers shared desks to the freelancers of the neighbourhood."
    assert detect(ENGLISH.title, text, hint="fr") == "en"
    # too short to tell: the source's word stands
    assert detect("Coworking rapide", "", hint="fr-FR") == "fr"
    assert detect("Coworking rapide", "", hint=None) is None


def test_an_item_whose_language_is_unknown_is_read() -> None:
    assert reads(("fr",), None)
    assert reads(None, "de")
    assert not reads(("fr",), "de")


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ("  languages: [fr, 12]\n", "list of language codes"),
        ("  languages: [francais]\n", "not a language code"),
        ("  languages: {}\n", "list of language codes"),
    ],
)
def test_a_bad_languages_setting_is_a_clear_error_naming_its_line(settings: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make_config(feed("https://example.org/feed"), settings)
    assert problem in str(caught.value) and "feeds.yaml:3" in str(caught.value)


def test_the_commands_say_why_an_item_was_left_out(server: LoopbackServer, tmp_path: Path) -> None:
    server.route("/feed", Response(200, RSS, rss([FRENCH, ENGLISH])))
    (tmp_path / "feeds.yaml").write_text(
        f"settings:\n  language: fr\n  timeout: 5\nfeeds:\n{feed(server.url('/feed'))}", encoding="utf-8"
    )
    (tmp_path / "keywords.txt").write_text("coworking\n", encoding="utf-8")
    args = ["--feeds", str(tmp_path / "feeds.yaml"), "--keywords", str(tmp_path / "keywords.txt")]
    args += ["--db", str(tmp_path / "watch.db")]

    def run(*command: str) -> str:
        result = CliRunner().invoke(main, [*args, *command])
        assert result.exit_code == 0, result.output
        return result.output

    run("poll", "--all")
    explained = run("hits", "--explain")
    assert "pourquoi : trouvé dans le titre (+40)" in explained
    assert "1 élément(s) trouvé(s), écarté(s) pour leur langue : langue : en (1)" in explained
    tested = run("keywords", "test", "coworking")
    assert "(left out: langue : en)" in tested and ENGLISH.title in tested
    found = {f["url"]: f["left_out"] for f in json.loads(run("keywords", "test", "coworking", "--json"))}
    assert found == {FRENCH.link: None, ENGLISH.link: "langue : en"}
    checked = run("feeds", "check", "news")
    assert f"{ENGLISH.title}  (coworking): left out, langue : en" in checked
    [hit] = json.loads(run("hits", "--json"))
    assert hit["language"] == "fr" and hit["related"] is False


def test_items_matched_again_for_their_language_are_scored_as_a_poll_scores_its_hits(
    server: LoopbackServer, store: Store
) -> None:
    # the theme learned from the French items, and the place: an English item that the setting
    # lets in later is ranked with them as if it had been a hit when polled
    from tests.test_theme import ON_THEME
    from watcher import theme

    french = [Entry(t, f"https://news.example/on/{i}", body=b) for i, (t, b) in enumerate(ON_THEME)]
    english = Entry(
        "A coworking space for freelancers opens in Sceaux",
        "https://news.example/en/sceaux",
        body="Shared desks, meeting rooms and a cafe for the freelancers who work remotely near Paris.",
    )
    server.route("/feed", Response(200, RSS, rss([*french, english])))
    poll(make_config(feed(server.url("/feed")), "  place: Sceaux\n"), store)
    assert store.relevance_model(theme.NAME) is not None
    assert languages_of(store)[english.link] == ("en", 0)
    poll(make_config(feed(server.url("/feed")), "  place: Sceaux\n  languages: [fr, en]\n"), store)
    [hit] = [h for h in store.hits() if h["url"] == english.link]
    assert hit["keywords"] == ["coworking"]
    assert hit["score_breakdown"]["place"] > 0
    assert theme.NAME in hit["score_breakdown"]


def test_a_query_added_later_makes_no_hit_of_an_item_in_a_language_the_watch_does_not_read(
    server: LoopbackServer, tmp_path: Path
) -> None:
    # `keywords add` matches the stored items again: those a poll would have left out stay out
    server.route("/feed", Response(200, RSS, rss([FRENCH, ENGLISH])))
    (tmp_path / "feeds.yaml").write_text(
        f"settings:\n  language: fr\n  timeout: 5\nfeeds:\n{feed(server.url('/feed'))}", encoding="utf-8"
    )
    (tmp_path / "keywords.txt").write_text("fablab\n", encoding="utf-8")
    args = ["--feeds", str(tmp_path / "feeds.yaml"), "--keywords", str(tmp_path / "keywords.txt")]
    args += ["--db", str(tmp_path / "watch.db")]
    for command in (["poll", "--all"], ["keywords", "add", "coworking"]):
        result = CliRunner().invoke(main, [*args, *command])
        assert result.exit_code == 0, result.output
    assert "It matches 1 of the 2 items" in result.output
    with Store(tmp_path / "watch.db") as store:
        assert [h["url"] for h in store.hits()] == [FRENCH.link]
        assert languages_of(store)[ENGLISH.link][1] == 0
