"""The full-text index is filled in bulk at the end of a poll, exactly once per item, and stays true."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Response
from watcher.config import parse_feeds, parse_keywords
from watcher.fetch import Fetcher
from watcher.poll import PollReport, run_poll
from watcher.store import MIGRATIONS, Store
from watcher.types import Config, Hit, Item, SourceResult, SourceSpec

NOW = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
SPEC = SourceSpec(name="blog", kind="rss", url="https://example.org/feed")
FEED = Response(
    200,
    {"Content-Type": "application/rss+xml"},
    rss([Entry("Le fablab de Bagneux ouvre", "https://news.example/fab", body="un atelier partagé")]),
)


def make_config(feeds: str) -> Config:
    specs, settings = parse_feeds(f"settings:\n  timeout: 2\nfeeds:\n{feeds}", "feeds.yaml", env={})
    return Config(specs, parse_keywords("fablab\ncoworking\n"), settings)


def rss_feed(name: str, url: str) -> str:
    return f"  - name: {name}\n    kind: rss\n    url: {url}\n"


def poll(config: Config, store: Store, everything: bool = True, **options: Any) -> list[PollReport]:
    with Fetcher(user_agent="watcher-test", timeout=2, max_body_bytes=1_000_000) as f:
        return run_poll(config, store, f, everything=everything, **options)


def save(store: Store, *titles: str) -> None:
    """Store items as a poll does, one source in one transaction, without indexing them."""
    hits = []
    for title in titles:
        url = f"https://example.org/{title.split()[-1]}"
        item = Item(source="blog", key=url, url=url, canonical_url=url, title=title, text="", published=NOW)
        hits.append(Hit(item, (), 0, {}))
    store.save_source(SourceResult(SPEC, "ok", cursor={}), hits, now=NOW, next_poll=NOW, failures=0)


def found(store: Store, text: str) -> list[str]:
    return sorted(row["title"] for row in store.search(text, hits_only=False))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "watch.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    with Store(db) as s:
        yield s


@pytest.fixture
def raw(db: Path) -> Iterator[sqlite3.Connection]:
    """A second connection on the same file, for what no code path of watcher does."""
    conn = sqlite3.connect(db, isolation_level=None)
    yield conn
    conn.close()


def delete(conn: sqlite3.Connection, town: str) -> None:
    [(item_id,)] = conn.execute("SELECT id FROM items WHERE title LIKE ?", (f"%{town}",)).fetchall()
    conn.execute("DELETE FROM item_sources WHERE item_id = ?", (item_id,))
    conn.execute("DELETE FROM items WHERE id = ?", (item_id,))


def assert_index_matches_items(db: Path) -> None:
    """FTS5's integrity check against the content table (rank 1): raises if a row is missing,
    indexed twice, or was 'deleted' with values it was not indexed with."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("INSERT INTO items_fts(items_fts, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()


def test_items_a_poll_stores_are_found_by_search_once_the_poll_ends(
    server: LoopbackServer, store: Store, db: Path
) -> None:
    server.route("/feed", FEED)
    [report] = poll(make_config(rss_feed("local", server.url("/feed"))), store)
    assert (report.status, report.items) == ("ok", 1)
    assert found(store, "bagneux") == ["Le fablab de Bagneux ouvre"]
    assert found(store, "partage") == ["Le fablab de Bagneux ouvre"]  # the text, accents folded
    assert store.index_new() == 0
    assert_index_matches_items(db)


def test_a_stopped_poll_indexes_what_it_stored(server: LoopbackServer, store: Store, db: Path) -> None:
    server.route("/feed", FEED)
    server.route("/slow", Response(200, {"Content-Type": "application/rss+xml"}, rss([]), delay=3))
    config = make_config(rss_feed("local", server.url("/feed")) + rss_feed("slow", server.url("/slow")))
    stored: list[PollReport] = []
    reports = poll(config, store, on_result=stored.append, stop=lambda: bool(stored))
    assert [r.name for r in reports] == ["local"]
    assert found(store, "fablab") == ["Le fablab de Bagneux ouvre"]
    assert_index_matches_items(db)


def test_the_next_poll_indexes_what_a_killed_poll_stored(server: LoopbackServer, store: Store, db: Path) -> None:
    save(store, "Un coworking rural à Pontivy")  # stored, and the poll died before indexing
    assert found(store, "pontivy") == []
    server.route("/feed", FEED)
    poll(make_config(rss_feed("local", server.url("/feed"))), store)
    assert found(store, "pontivy") == ["Un coworking rural à Pontivy"]
    assert found(store, "bagneux") == ["Le fablab de Bagneux ouvre"]
    assert_index_matches_items(db)


def test_a_poll_with_nothing_due_still_indexes_a_backlog(server: LoopbackServer, store: Store, db: Path) -> None:
    server.route("/feed", FEED)
    config = make_config(rss_feed("local", server.url("/feed")))
    poll(config, store)
    save(store, "Un coworking rural à Pontivy")
    assert poll(config, store, everything=False) == []  # the feed was just polled: not due
    assert found(store, "pontivy") == ["Un coworking rural à Pontivy"]
    assert_index_matches_items(db)


def test_a_saved_item_is_found_only_after_index_new_and_a_second_call_indexes_nothing(store: Store, db: Path) -> None:
    save(store, "Le tiers-lieu de Morlaix", "La ressourcerie de Quimper")
    assert found(store, "morlaix") == []
    assert store.index_new() == 2
    assert found(store, "morlaix") == ["Le tiers-lieu de Morlaix"]
    assert found(store, "ressourcerie") == ["La ressourcerie de Quimper"]
    assert store.index_new() == 0
    save(store, "Un fablab à Brest")
    assert store.index_new() == 1
    assert found(store, "brest") == ["Un fablab à Brest"]
    assert_index_matches_items(db)


def test_a_schema_4_database_keeps_its_index_and_indexes_new_items_exactly_once(db: Path) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    for script in MIGRATIONS[:4]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 4")
    conn.executemany(  # indexed by the old insert trigger
        "INSERT INTO items (id, canonical_url, url, title, text, published, first_seen) VALUES (?, ?, ?, ?, '', ?, ?)",
        [(i, f"https://old.example/{i}", f"https://old.example/{i}", f"Ancien article {w}", "2025-01-01T00:00:00Z",
          "2025-01-01T00:00:00Z") for i, w in ((1, "Lorient"), (2, "Vannes"))],
    )  # fmt: skip
    conn.close()
    with Store(db) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert found(store, "lorient") == ["Ancien article Lorient"]
        assert store.index_new() == 0  # the old items are not indexed a second time
        save(store, "Nouvel article Lorient")
        assert store.index_new() == 1
        assert found(store, "lorient") == ["Ancien article Lorient", "Nouvel article Lorient"]
        assert found(store, "vannes") == ["Ancien article Vannes"]
    assert_index_matches_items(db)


def test_editing_or_deleting_items_indexed_or_not_keeps_the_index_true(
    store: Store, db: Path, raw: sqlite3.Connection
) -> None:
    save(store, "Le tiers-lieu de Morlaix", "La ressourcerie de Quimper")
    store.index_new()
    save(store, "Un fablab à Brest", "Un repair café à Rennes")  # not indexed yet
    raw.execute("UPDATE items SET title = 'Le tiers-lieu de Landerneau' WHERE title LIKE '%Morlaix'")
    delete(raw, "Quimper")
    raw.execute("UPDATE items SET title = 'Un fablab à Vitré' WHERE title LIKE '%Brest'")
    delete(raw, "Rennes")
    assert store.index_new() == 1
    assert found(store, "landerneau") == ["Le tiers-lieu de Landerneau"]
    assert found(store, "vitre") == ["Un fablab à Vitré"]
    assert found(store, "morlaix OR quimper OR brest OR rennes") == []
    assert_index_matches_items(db)


def test_new_ids_stay_past_the_index_mark_when_the_newest_items_were_deleted(
    store: Store, db: Path, raw: sqlite3.Connection
) -> None:
    save(store, "Le tiers-lieu de Morlaix", "La ressourcerie de Quimper")
    store.index_new()
    delete(raw, "Quimper")  # the newest id, already indexed
    save(store, "Un fablab à Brest")
    assert store.index_new() == 1  # had it reused the deleted id, it would count as indexed already
    assert found(store, "brest") == ["Un fablab à Brest"]
    assert_index_matches_items(db)
