"""Storing one source's items in bulk keeps the one-by-one decisions, within the batch too."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from watcher.store import SourceSave, Store
from watcher.types import Hit, Item, Query, QueryMatch, SourceResult, SourceSpec

NOW = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
SPEC = SourceSpec(name="blog", kind="rss", url="https://example.org/feed")


def hit(key: str, url: str, title: str, *keywords: str, score: int = 0) -> Hit:
    item = Item(source="blog", key=key, url=url, canonical_url=url, title=title, text="", published=NOW)
    matches = tuple(QueryMatch(Query(text=k, line=1, tree=None), True, False) for k in keywords)
    return Hit(item, matches, score, {"keywords": float(score)} if matches else {})


def save(store: Store, hits: list[Hit]) -> tuple[int, int, tuple[int, ...]]:
    saved = store.save_source(SourceResult(SPEC, "ok", cursor={}), hits, now=NOW, next_poll=NOW, failures=0)
    return saved.new_items, saved.new_hits, saved.hit_ids


def test_a_story_told_twice_in_one_batch_is_one_item_with_both_keywords_and_the_best_score(tmp_path: Path) -> None:
    with Store(tmp_path / "w.db") as store:
        new_items, new_hits, ids = save(
            store,
            [
                hit("a", "https://example.org/x", "Le fablab ouvre", "fablab", score=40),
                hit("b", "https://example.org/x", "Le fablab ouvre", "coworking", score=70),
                hit("c", "https://example.org/y", "Autre chose"),
            ],
        )
        assert (new_items, new_hits) == (2, 1)
        [row] = store.hits()
        assert row["id"] == ids[0]
        assert row["keywords"] == ["fablab", "coworking"]
        assert row["score"] == 70
        assert row["score_breakdown"] == {"keywords": 70.0}
        assert store.count("1") == 2


def test_a_batch_merging_into_stored_items_updates_them_and_a_repeat_adds_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "w.db") as store:
        save(store, [hit("a", "https://example.org/x", "Le fablab ouvre")])
        first = save(
            store,
            [
                hit("b", "https://example.org/x", "Le fablab ouvre", "fablab", score=30),
                hit("c", "https://example.org/x", "Le fablab ouvre", "maker", score=20),
            ],
        )
        assert first[:2] == (0, 1)
        [row] = store.hits()
        assert (row["keywords"], row["score"]) == (["fablab", "maker"], 30)
        assert save(store, [hit("b", "https://example.org/x", "Le fablab ouvre", "fablab", score=30)]) == (0, 0, ())


def test_sources_stored_together_share_one_story_and_each_get_their_state(tmp_path: Path) -> None:
    other = SourceSpec(name="journal", kind="rss", url="https://example.net/feed")
    story = "https://example.org/x"
    with Store(tmp_path / "w.db") as store:
        first, second = store.save_sources(
            [
                SourceSave(
                    SourceResult(SPEC, "ok", cursor={"etag": "1"}),
                    [hit("a", story, "Le fablab ouvre", "fablab", score=40)],
                    NOW,
                    NOW,
                    0,
                ),
                SourceSave(
                    SourceResult(other, "error", cursor={"etag": "2"}, error="HTTP 500"),
                    [hit("b", story, "Le fablab ouvre", "coworking", score=60)],
                    NOW,
                    NOW,
                    1,
                ),
            ]
        )
        assert (first.new_items, first.new_hits, second.new_items, second.new_hits) == (1, 1, 0, 0)
        [row] = store.hits()
        assert (row["keywords"], row["score"], row["sources"]) == (["fablab", "coworking"], 60, ["blog", "journal"])
        states = store.states()
        assert (states["blog"].cursor, states["blog"].failures) == ({"etag": "1"}, 0)
        assert (states["journal"].cursor, states["journal"].failures, states["journal"].last_error) == (
            {"etag": "2"},
            1,
            "HTTP 500",
        )
