"""Storing one source's items in bulk keeps the one-by-one decisions, within the batch too."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from watcher.store import Store
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
