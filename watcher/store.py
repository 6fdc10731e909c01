"""The SQLite database: schema and migrations, and every read and write (the one sqlite-utils user).

Tables: `items` (one row per story URL, with its score and matched keywords; a hit is an item
with score > 0), `item_sources` (which source gave which item under which key), `hit_keywords`
(item x query, for filters and counts), `cluster_keys` (title signatures that group one news
item told by several outlets), `sources` (per-source cursor, errors and schedule), and
`items_fts` (full-text search, accents folded).

Writes take the lock up front (BEGIN IMMEDIATE) and one source's results are one transaction,
so a crash loses at most the source in flight, and readers (the CLI while the daemon runs) are
never blocked thanks to WAL.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from watcher.dedupe import cluster_keys, same_story
from watcher.errors import StoreError
from watcher.types import Hit, SourceResult, SourceState

BUSY_TIMEOUT_MS = 30_000

_V1 = """
CREATE TABLE sources (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    cursor TEXT NOT NULL DEFAULT '{}',
    last_poll TEXT,
    last_success TEXT,
    last_status TEXT,
    last_error TEXT,
    last_new INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    next_poll TEXT,
    disabled_reason TEXT,
    permanent_url TEXT
);
CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    canonical_url TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    author TEXT,
    publisher TEXT,
    language TEXT,
    published TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    engagement TEXT,
    no_reuse INTEGER NOT NULL DEFAULT 0,
    global_id TEXT,
    score INTEGER NOT NULL DEFAULT 0,
    breakdown TEXT,
    keywords TEXT NOT NULL DEFAULT '[]',
    cluster INTEGER,
    state TEXT NOT NULL DEFAULT 'new'
);
CREATE UNIQUE INDEX items_global_id ON items(global_id) WHERE global_id IS NOT NULL;
CREATE INDEX items_hits_first_seen ON items(first_seen) WHERE score > 0;
CREATE INDEX items_first_seen ON items(first_seen);
CREATE INDEX items_cluster ON items(cluster) WHERE cluster IS NOT NULL;
CREATE TABLE item_sources (
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    item_id INTEGER NOT NULL REFERENCES items(id),
    first_seen TEXT NOT NULL,
    PRIMARY KEY (source, key)
) WITHOUT ROWID;
CREATE INDEX item_sources_item ON item_sources(item_id);
CREATE TABLE hit_keywords (
    item_id INTEGER NOT NULL REFERENCES items(id),
    query TEXT NOT NULL,
    PRIMARY KEY (item_id, query)
) WITHOUT ROWID;
CREATE INDEX hit_keywords_query ON hit_keywords(query, item_id);
CREATE TABLE cluster_keys (
    key TEXT NOT NULL,
    published TEXT NOT NULL,
    item_id INTEGER NOT NULL REFERENCES items(id),
    PRIMARY KEY (key, published, item_id)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE items_fts USING fts5(
    title, text, content='items', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
);
CREATE TRIGGER items_ai AFTER INSERT ON items BEGIN
    INSERT INTO items_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
END;
CREATE TRIGGER items_ad AFTER DELETE ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
END;
CREATE TRIGGER items_au AFTER UPDATE OF title, text ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
    INSERT INTO items_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
END;
"""

# Each migration is run once, in order, in its own transaction; PRAGMA user_version counts them.
MIGRATIONS: list[str] = [_V1]


def iso(dt: datetime) -> str:
    """UTC ISO 8601 with seconds, the one format stored and printed."""
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Saved:
    """What storing one source's results changed."""

    new_items: int
    new_hits: int
    hit_ids: tuple[int, ...]


class Store:
    """One open database. Not shared between threads: the poll stores from its main thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # autocommit mode: transactions are ours, explicit and IMMEDIATE
            conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; safe against corruption
            conn.execute("PRAGMA foreign_keys = ON")
            self.db = sqlite_utils.Database(conn)
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database {path}: {exc}") from None

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction that takes the lock up front; rolled back on any error."""
        conn = self.db.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to {self.path}: {exc}") from None
        try:
            yield conn
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise StoreError(f"cannot write to {self.path}: {exc}") from None
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} was written by a newer watcher (schema {version}); upgrade watcher to read it"
            )
        for number in range(version, len(MIGRATIONS)):
            with self.write() as conn:
                for statement in _statements(MIGRATIONS[number]):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number + 1}")

    # --- sources -------------------------------------------------------------------------------

    def states(self) -> dict[str, SourceState]:
        return {row["name"]: _state(row) for row in self.db.query("SELECT * FROM sources")}

    def source_rows(self) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM sources ORDER BY name"))

    # --- the poll's one write per source ---------------------------------------------------------

    def save_source(
        self,
        result: SourceResult,
        hits: Sequence[Hit],
        *,
        now: datetime,
        next_poll: datetime,
        failures: int,
        cluster_days: int = 3,
    ) -> Saved:
        """Store one source's items and its new state, in one transaction."""
        spec = result.spec
        new_items = new_hits = 0
        hit_ids: list[int] = []
        with self.write() as conn:
            for created, became_hit, item_id in self._save_items(conn, spec.name, hits, now, cluster_days):
                new_items += created
                if became_hit:
                    new_hits += 1
                    hit_ids.append(item_id)
            ok = result.status != "error"
            cursor = result.cursor
            conn.execute(
                """
                INSERT INTO sources (name, kind, cursor, last_poll, last_success, last_status, last_error,
                                     last_new, failures, next_poll, disabled_reason, permanent_url)
                VALUES (:name, :kind, :cursor, :now, :success, :status, :error, :new, :failures, :next,
                        :disabled, :moved)
                ON CONFLICT(name) DO UPDATE SET
                    kind = excluded.kind,
                    cursor = COALESCE(:cursor_update, sources.cursor),
                    last_poll = excluded.last_poll,
                    last_success = COALESCE(excluded.last_success, sources.last_success),
                    last_status = excluded.last_status,
                    last_error = excluded.last_error,
                    last_new = excluded.last_new,
                    failures = excluded.failures,
                    next_poll = excluded.next_poll,
                    disabled_reason = excluded.disabled_reason,
                    permanent_url = COALESCE(excluded.permanent_url, sources.permanent_url)
                """,
                {
                    "name": spec.name,
                    "kind": spec.kind,
                    "cursor": json.dumps(cursor or {}),
                    "cursor_update": json.dumps(cursor) if cursor is not None else None,
                    "now": iso(now),
                    "success": iso(now) if ok else None,
                    "status": result.status,
                    "error": result.error,
                    "new": new_hits,
                    "failures": failures,
                    "next": iso(next_poll),
                    "disabled": result.error if result.gone else None,
                    "moved": result.permanent_url,
                },
            )
        return Saved(new_items, new_hits, tuple(hit_ids))

    def _save_items(
        self, conn: sqlite3.Connection, source: str, hits: Sequence[Hit], now: datetime, cluster_days: int
    ) -> list[tuple[bool, bool, int]]:
        """For each hit, in order: (a new item was created, a new hit appeared, its id).

        The same decisions as taking the hits one by one, in a few statements per source
        rather than several per item: what is already stored is read in bulk, the decisions
        are made in memory (a story told twice in one batch sees its first telling), and the
        writes go out with executemany. New ids are given here: the transaction holds the
        write lock, so nobody else can take them.
        """
        stamp = iso(now)
        known = self._known_keys(conn, source, [h.item.key for h in hits])
        urls = [h.item.canonical_url for h in hits if h.item.key not in known]
        by_url = {r[0]: _Stored(*r[1:]) for r in _select_in(conn, _STORED_COLUMNS, "canonical_url", urls)}
        gids = [h.item.global_id for h in hits if h.item.global_id and h.item.canonical_url not in by_url]
        by_gid = {r[0]: _Stored(*r[1:]) for r in _select_in(conn, _STORED_BY_GID, "global_id", gids)}
        next_id = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM items").fetchone()[0]) + 1

        results: list[tuple[bool, bool, int]] = []
        new_rows: dict[int, list[Any]] = {}  # id -> the INSERT's values, still open to merges
        links: list[tuple[str, str, int, str]] = []  # item_sources
        keyword_rows: list[tuple[int, str]] = []
        updates: list[tuple[str, int, str | None, int]] = []
        engagement: list[tuple[str, int]] = []
        to_cluster: list[tuple[int, str, datetime]] = []
        for hit in hits:
            item = hit.item
            item_id = known.get(item.key)
            if item_id is not None:  # seen before from this source, maybe with an edited title: the same entry
                if item.engagement:
                    engagement.append((json.dumps(dict(item.engagement)), item_id))
                results.append((False, False, item_id))
                continue
            stored = by_url.get(item.canonical_url)
            if stored is None and item.global_id:
                stored = by_gid.get(item.global_id)
            if stored is not None:  # the same story from another source (or under another key)
                item_id, old_score = stored.id, stored.score
                links.append((source, item.key, item_id, stamp))
                known[item.key] = item_id
                keywords = list(dict.fromkeys([*stored.keywords, *hit.keywords]))
                if hit.score > old_score or len(keywords) > len(stored.keywords):
                    best = hit if hit.score >= old_score else None
                    breakdown = json.dumps(best.breakdown) if best else None
                    stored.keywords, stored.score = keywords, max(old_score, hit.score)
                    row = new_rows.get(item_id)
                    if row is not None:  # told earlier in this batch: merge into the row not yet written
                        row[_KEYWORDS], row[_SCORE] = json.dumps(keywords), stored.score
                        if breakdown is not None:
                            row[_BREAKDOWN] = breakdown
                    else:
                        updates.append((json.dumps(keywords), hit.score, breakdown, item_id))
                    keyword_rows.extend((item_id, k) for k in keywords)
                results.append((False, old_score == 0 and hit.score > 0, item_id))
                continue
            item_id, next_id = next_id, next_id + 1
            new_rows[item_id] = [
                item_id,
                item.canonical_url,
                item.url,
                item.title,
                item.text,
                item.author,
                item.publisher,
                item.language,
                iso(item.published),
                stamp,
                json.dumps(dict(item.engagement)) if item.engagement else None,
                int(item.no_reuse),
                item.global_id,
                hit.score,
                json.dumps(hit.breakdown) if hit.matches else None,
                json.dumps(list(hit.keywords)),
            ]
            fresh = _Stored(item_id, hit.score, list(hit.keywords))
            by_url.setdefault(item.canonical_url, fresh)
            if item.global_id:
                by_gid.setdefault(item.global_id, fresh)
            links.append((source, item.key, item_id, stamp))
            known[item.key] = item_id
            if hit.score > 0:
                keyword_rows.extend((item_id, k) for k in hit.keywords)
                to_cluster.append((item_id, item.title, item.published))
            results.append((True, hit.score > 0, item_id))

        conn.executemany(
            """
            INSERT INTO items (id, canonical_url, url, title, text, author, publisher, language, published,
                               first_seen, engagement, no_reuse, global_id, score, breakdown, keywords)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            list(new_rows.values()),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO item_sources (source, key, item_id, first_seen) VALUES (?, ?, ?, ?)", links
        )
        conn.executemany(
            "UPDATE items SET keywords = ?, score = MAX(score, ?), breakdown = COALESCE(?, breakdown) WHERE id = ?",
            updates,
        )
        conn.executemany("INSERT OR IGNORE INTO hit_keywords (item_id, query) VALUES (?, ?)", keyword_rows)
        conn.executemany("UPDATE items SET engagement = ? WHERE id = ?", engagement)
        for item_id, title, published in to_cluster:
            self._cluster(conn, item_id, title, published, cluster_days)
        return results

    @staticmethod
    def _known_keys(conn: sqlite3.Connection, source: str, keys: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in _chunks(list(dict.fromkeys(keys))):
            marks = ",".join("?" * len(chunk))
            found.update(
                conn.execute(
                    f"SELECT key, item_id FROM item_sources WHERE source = ? AND key IN ({marks})", (source, *chunk)
                ).fetchall()
            )
        return found

    def _cluster(self, conn: sqlite3.Connection, item_id: int, title: str, published: datetime, days: int) -> None:
        """Join the story of a near-identical headline published within `days`, found by signature."""
        keys = cluster_keys(title)
        if not keys:
            return
        low, high = iso(published - timedelta(days=days)), iso(published + timedelta(days=days))
        marks = ",".join("?" * len(keys))
        candidates = conn.execute(
            f"""
            SELECT DISTINCT items.id, items.title, items.cluster FROM cluster_keys
            JOIN items ON items.id = cluster_keys.item_id
            WHERE cluster_keys.key IN ({marks}) AND cluster_keys.published BETWEEN ? AND ?
            ORDER BY items.id
            """,
            (*keys, low, high),
        ).fetchall()
        for other_id, other_title, other_cluster in candidates:
            if same_story(title, other_title):
                story = other_cluster or other_id
                if other_cluster is None:
                    conn.execute("UPDATE items SET cluster = ? WHERE id = ?", (story, other_id))
                conn.execute("UPDATE items SET cluster = ? WHERE id = ?", (story, item_id))
                break
        conn.executemany(
            "INSERT OR IGNORE INTO cluster_keys (key, published, item_id) VALUES (?, ?, ?)",
            [(k, iso(published), item_id) for k in keys],
        )

    # --- reads -----------------------------------------------------------------------------------

    def hits(
        self,
        *,
        since: datetime | None = None,
        keyword: str | None = None,
        source: str | None = None,
        min_score: int = 1,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Stored hits, newest first, as plain dicts in the shape of `watcher hits --json`."""
        where = ["items.score >= :min_score"]
        params: dict[str, Any] = {"min_score": max(min_score, 1)}
        if since is not None:
            where.append("items.first_seen >= :since")
            params["since"] = iso(since)
        if keyword is not None:
            where.append("items.id IN (SELECT item_id FROM hit_keywords WHERE query = :keyword)")
            params["keyword"] = keyword
        if source is not None:
            where.append("items.id IN (SELECT item_id FROM item_sources WHERE source = :source)")
            params["source"] = source
        sql = f"""
            SELECT items.*, (SELECT json_group_array(source) FROM
                              (SELECT source FROM item_sources WHERE item_id = items.id ORDER BY first_seen, source)
                            ) AS sources
            FROM items WHERE {" AND ".join(where)}
            ORDER BY items.published DESC, items.id DESC
        """
        if limit is not None:
            sql += " LIMIT :limit"
            params["limit"] = limit
        return [_hit_row(row) for row in self.db.query(sql, params)]

    def count(self, sql_where: str = "1", params: Mapping[str, Any] | None = None) -> int:
        row = self.db.execute(f"SELECT count(*) FROM items WHERE {sql_where}", dict(params or {})).fetchone()
        return int(row[0])

    def integrity(self) -> str:
        return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])


_STORED_COLUMNS = "canonical_url, id, score, keywords"
_STORED_BY_GID = "global_id, id, score, keywords"
# Positions in the INSERT's values of the columns a later merge may change.
_SCORE, _BREAKDOWN, _KEYWORDS = 13, 14, 15
_CHUNK = 500  # bound variables per statement, well under SQLite's limit


class _Stored:
    """What a batch needs to know of an item already stored (or written earlier in the batch)."""

    __slots__ = ("id", "keywords", "score")

    def __init__(self, item_id: int, score: int, keywords: str | list[str]) -> None:
        self.id = int(item_id)
        self.score = int(score)
        self.keywords: list[str] = json.loads(keywords) if isinstance(keywords, str) else keywords


def _chunks(values: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _select_in(conn: sqlite3.Connection, columns: str, column: str, values: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
    """Rows of items whose `column` is one of `values` (the first selected column is the match)."""
    for chunk in _chunks(list(dict.fromkeys(values))):
        marks = ",".join("?" * len(chunk))
        yield from conn.execute(f"SELECT {columns} FROM items WHERE {column} IN ({marks})", chunk)


def _statements(script: str) -> Iterator[str]:
    """Split a migration into statements (triggers hold semicolons, so use sqlite's own judgement)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()


def _state(row: Mapping[str, Any]) -> SourceState:
    return SourceState(
        name=row["name"],
        cursor=json.loads(row["cursor"] or "{}"),
        last_poll=parse_iso(row["last_poll"]),
        last_success=parse_iso(row["last_success"]),
        last_error=row["last_error"],
        failures=row["failures"],
        next_poll=parse_iso(row["next_poll"]),
        disabled_reason=row["disabled_reason"],
    )


def _hit_row(row: Mapping[str, Any]) -> dict[str, Any]:
    loads: Callable[[str | None], Any] = lambda v: json.loads(v) if v else None  # noqa: E731
    return {
        "id": row["id"],
        "url": row["url"],
        "canonical_url": row["canonical_url"],
        "title": row["title"],
        "published": row["published"],
        "first_seen": row["first_seen"],
        "sources": loads(row["sources"]) or [],
        "keywords": loads(row["keywords"]) or [],
        "score": row["score"],
        "score_breakdown": loads(row["breakdown"]) or {},
        "cluster": row["cluster"],
        "author": row["author"],
        "publisher": row["publisher"],
        "language": row["language"],
        "engagement": loads(row["engagement"]) or {},
        "no_reuse": bool(row["no_reuse"]),
        "state": row["state"],
        "text": row["text"],
    }
