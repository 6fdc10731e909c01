"""The SQLite database: schema and migrations, and every read and write (the one sqlite-utils user).

Tables: `items` (one row per story URL, with its score and matched keywords; a hit is an item
with score > 0), `item_sources` (which source gave which item under which key), `hit_keywords`
(item x query, for filters and counts), `cluster_keys` (title signatures that group one news
item told by several outlets), `sources` (per-source cursor, errors and schedule), and
`items_fts` (full-text search, accents folded, filled in bulk at the end of each poll).

Writes take the lock up front (BEGIN IMMEDIATE) and a source's results (items and new cursor)
are stored whole in one transaction, alone or with a few other sources, so a crash loses at
most the sources in flight, and readers (the CLI while the daemon runs) are never blocked
thanks to WAL.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from watcher.dates import shift
from watcher.dedupe import cluster_keys, same_story
from watcher.errors import SearchSyntaxError, StoreError
from watcher.types import Hit, SourceResult, SourceState

BUSY_TIMEOUT_MS = 30_000
LABELLED_TEXT_CHARS = 3000  # what learning reads of a labelled hit's text (feedback.TEXT_CHARS)
WAL_AUTOCHECKPOINT_PAGES = 16_384  # 64 MB of write-ahead log between automatic checkpoints
WAL_KEPT_BYTES = 16 * 1024 * 1024  # what the log file keeps on disk once checkpointed

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

# The delivery ledger (notify.py): each digest and its window; per target (a hash of its Apprise
# URL, never the URL) the state of its delivery; which hits each target has been sent, so a hit
# goes at most once to a target; and the immediate alerts sent.
_V2_LEDGER = """
CREATE TABLE digests (
    id INTEGER PRIMARY KEY,
    window_start TEXT NOT NULL,
    window_end TEXT NOT NULL,
    created TEXT NOT NULL,
    manual INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX digests_end ON digests(window_end);
CREATE TABLE deliveries (
    digest_id INTEGER NOT NULL REFERENCES digests(id),
    target TEXT NOT NULL,
    label TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT,
    claimed_at TEXT,
    error TEXT,
    sent_at TEXT,
    items INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (digest_id, target)
) WITHOUT ROWID;
CREATE INDEX deliveries_state ON deliveries(state, target);
CREATE TABLE delivered_hits (
    target TEXT NOT NULL,
    item_id INTEGER NOT NULL REFERENCES items(id),
    digest_id INTEGER NOT NULL REFERENCES digests(id),
    PRIMARY KEY (target, item_id)
) WITHOUT ROWID;
CREATE TABLE alerts (
    item_id INTEGER NOT NULL REFERENCES items(id),
    target TEXT NOT NULL,
    label TEXT NOT NULL,
    state TEXT NOT NULL,
    claimed_at TEXT NOT NULL,
    sent_at TEXT,
    error TEXT,
    PRIMARY KEY (item_id, target)
) WITHOUT ROWID;
CREATE INDEX alerts_claimed ON alerts(claimed_at);
"""

# Triage (new -> picked -> exported -> relayed, or skipped) with its history, when a hit was
# exported for relay, and a line per source per poll for the report on the sources' health.
_V3_TRIAGE = """
ALTER TABLE items ADD COLUMN exported_at TEXT;
CREATE INDEX items_state ON items(state) WHERE score > 0;
CREATE TABLE state_changes (
    item_id INTEGER NOT NULL REFERENCES items(id),
    state TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX state_changes_at ON state_changes(at);
CREATE TABLE poll_log (
    source TEXT NOT NULL,
    at TEXT NOT NULL,
    status TEXT NOT NULL,
    items INTEGER NOT NULL DEFAULT 0,
    new_hits INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX poll_log_at ON poll_log(at, source);
"""

# The digest counts each source's items per window (a silent source is flagged): without this
# index that count scans item_sources once per window. The index holds the table's key too
# (source, key), so the count reads the index alone.
_V4_DIGEST_COUNTS = """
CREATE INDEX item_sources_first_seen ON item_sources(first_seen);
"""

# Full-text indexing in bulk: a trigger indexing each inserted item made every source's small
# transaction flush its own FTS segment (and merges), which cost more than storing the items.
# Store.index_new indexes, in one statement, the items past `indexed_to` (ids only grow, so that
# one number says exactly what is indexed; everything stored so far was indexed by the trigger).
# The update and delete triggers stay, but act only on indexed rows: an external-content
# 'delete' of values that were never indexed corrupts the index.
_V5_BULK_FTS = """
DROP TRIGGER items_ai;
DROP TRIGGER items_ad;
DROP TRIGGER items_au;
CREATE TABLE fts_state (indexed_to INTEGER NOT NULL);
INSERT INTO fts_state (indexed_to) SELECT COALESCE(MAX(id), 0) FROM items;
CREATE TRIGGER items_ad AFTER DELETE ON items WHEN old.id <= (SELECT indexed_to FROM fts_state) BEGIN
    INSERT INTO items_fts(items_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
END;
CREATE TRIGGER items_au AFTER UPDATE OF title, text ON items WHEN old.id <= (SELECT indexed_to FROM fts_state) BEGIN
    INSERT INTO items_fts(items_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
    INSERT INTO items_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
END;
"""

# Triage moves can be undone (triage.undo): the move taken back stays in the history, marked
# `undone`, and the step back is a row of its own marked `undo`; the report counts neither. Each
# item's history is read by its id (the latest move, to mark it undone; the labels' stamp).
_V6_TRIAGE_UNDO = """
ALTER TABLE state_changes ADD COLUMN undo INTEGER NOT NULL DEFAULT 0;
ALTER TABLE state_changes ADD COLUMN undone INTEGER NOT NULL DEFAULT 0;
CREATE INDEX state_changes_item ON state_changes(item_id);
"""

# Dates that cannot be right (Go's "no date", year 1; before 1970; more than a day after the item
# was first seen) became "unknown", which is the time first seen, as normalise.py now does when
# storing. Earlier versions stored them, and a year-1 date overflowed clustering (a crash).
_V7_PLAUSIBLE_DATES = """
UPDATE cluster_keys SET published = (SELECT first_seen FROM items WHERE items.id = cluster_keys.item_id)
WHERE item_id IN (SELECT id FROM items WHERE published < '1970-01-02'
                  OR published > strftime('%Y-%m-%dT%H:%M:%SZ', first_seen, '+1 day'));
UPDATE items SET published = first_seen
WHERE published < '1970-01-02' OR published > strftime('%Y-%m-%dT%H:%M:%SZ', first_seen, '+1 day');
"""

# What the triage taught (feedback.py, labels.py): one model, with the stamp of the labels it was
# learned from, so that a change of labels is seen by a cheap look at `state_changes`.
_V8_LEARNED = """
CREATE TABLE learned_model (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    stamp TEXT NOT NULL,
    trained_at TEXT NOT NULL,
    model TEXT NOT NULL
);
"""

# The web page (watcher.web): its secrets (the key that signs the digest's action links, the
# password's hash), its sessions and its one-time login links, each kept by the hash of its token.
_V9_WEB = """
CREATE TABLE web_secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    csrf TEXT NOT NULL,
    created TEXT NOT NULL,
    expires TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE web_login_links (token_hash TEXT PRIMARY KEY, expires TEXT NOT NULL) WITHOUT ROWID;
"""

# The features learning reads of each labelled hit (feedback.features, joined by newlines), kept
# once cut: learning again after each triage command then reads them instead of cutting the
# texts of every labelled hit again. `version` is feedback.FEATURES_VERSION: others are cut again.
_V10_LABELLED_FEATURES = """
CREATE TABLE labelled_features (
    item_id INTEGER PRIMARY KEY REFERENCES items(id),
    version INTEGER NOT NULL,
    features TEXT NOT NULL
);
"""

# Relevance: the detected language of each item (items.language, now the detector's and no longer
# the source's word) with an index to find the items left out for their language when the setting
# changes; the models learned from the store (the theme), cached with what they were learned from;
# and the settings a past poll ran with, to notice a change (the languages read).
_V11_RELEVANCE = """
CREATE INDEX items_language ON items(language) WHERE score = 0;
CREATE TABLE relevance_models (
    name TEXT PRIMARY KEY,
    built TEXT NOT NULL,
    basis TEXT NOT NULL,
    model TEXT NOT NULL
);
CREATE TABLE settings_seen (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# Presence (watcher.presence): each account's figures per day (followers, following, posts, visits;
# from its API, by hand or by file: a second reading the same day replaces the first), its recent
# posts with their engagement as last read, and the last snapshot of each account and its error.
_V12_PRESENCE = """
CREATE TABLE presence_figures (
    account TEXT NOT NULL,
    day TEXT NOT NULL,
    metric TEXT NOT NULL,
    value INTEGER NOT NULL,
    origin TEXT NOT NULL,
    PRIMARY KEY (account, metric, day)
) WITHOUT ROWID;
CREATE TABLE presence_posts (
    account TEXT NOT NULL,
    post_id TEXT NOT NULL,
    published TEXT NOT NULL,
    link TEXT NOT NULL,
    text TEXT NOT NULL,
    likes INTEGER,
    reposts INTEGER,
    replies INTEGER,
    quotes INTEGER,
    shared TEXT NOT NULL DEFAULT '',
    seen TEXT NOT NULL,
    PRIMARY KEY (account, post_id)
) WITHOUT ROWID;
CREATE INDEX presence_posts_published ON presence_posts(account, published);
CREATE TABLE presence_snapshots (
    account TEXT PRIMARY KEY,
    last_try TEXT NOT NULL,
    last_success TEXT,
    last_error TEXT
) WITHOUT ROWID;
"""

# The quarterly report sent by itself (watcher.report_send): one row per quarter and target, at
# most once like the digest's deliveries ('sending' claimed before the send, then 'sent' or
# 'failed'; a claim a crash cut short is never sent again).
_V13_REPORT_DELIVERIES = """
CREATE TABLE report_deliveries (
    quarter TEXT NOT NULL,
    target TEXT NOT NULL,
    label TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT,
    claimed_at TEXT,
    sent_at TEXT,
    error TEXT,
    PRIMARY KEY (quarter, target)
) WITHOUT ROWID;
"""

# Each migration is run once, in order, in its own transaction; PRAGMA user_version counts them.
MIGRATIONS: list[str] = [
    _V1,
    _V2_LEDGER,
    _V3_TRIAGE,
    _V4_DIGEST_COUNTS,
    _V5_BULK_FTS,
    _V6_TRIAGE_UNDO,
    _V7_PLAUSIBLE_DATES,
    _V8_LEARNED,
    _V9_WEB,
    _V10_LABELLED_FEATURES,
    _V11_RELEVANCE,
    _V12_PRESENCE,
    _V13_REPORT_DELIVERIES,
]


def iso(dt: datetime) -> str:
    """UTC ISO 8601 with seconds, the one format stored and printed."""
    if dt.tzinfo is not UTC:  # items come in UTC already: no conversion for them (a poll stores thousands)
        dt = dt.astimezone(UTC)
    return dt.isoformat(timespec="seconds")[:19] + "Z"


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class SourceSave:
    """One source's poll results to store: its outcome, its items scored, its next poll."""

    result: SourceResult
    hits: Sequence[Hit]
    now: datetime
    next_poll: datetime
    failures: int


@dataclass(frozen=True)
class Saved:
    """What storing one source's results changed."""

    new_items: int
    new_hits: int
    hit_ids: tuple[int, ...]


# A hit is news when it was found within max_age of its publication; older, it is a source's
# archive. Both times are stored as ISO 8601 UTC, which julianday reads.
_NEWS = "julianday(items.first_seen) - julianday(items.published) <= :max_age_days"


class Store:
    """One open database. Not shared between threads: the poll stores from its main thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        _private_files(path)
        try:
            # autocommit mode: transactions are ours, explicit and IMMEDIATE
            conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; safe against corruption
            # A checkpoint syncs the disk; at SQLite's default (every 1,000 pages, 4 MB) a poll of
            # hundreds of feeds spent a third of its storing time waiting on them. The poll ends
            # with one (checkpoint()), so what it stored is durable when it returns.
            conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
            conn.execute(f"PRAGMA journal_size_limit = {WAL_KEPT_BYTES}")  # the log file shrinks back after
            conn.execute("PRAGMA foreign_keys = ON")
            self.db = sqlite_utils.Database(conn)
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database {path}: {exc}{_why_not_writable(path)}") from None

    def close(self) -> None:
        self.db.conn.close()

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database file now, as far as readers allow (passive)."""
        try:
            self.db.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to {self.path}: {exc}") from None

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
            _rollback(conn)
            raise StoreError(f"cannot write to {self.path}: {exc}") from None
        except BaseException:
            _rollback(conn)
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
        return self.save_sources([SourceSave(result, hits, now, next_poll, failures)], cluster_days)[0]

    def save_sources(self, saves: Sequence[SourceSave], cluster_days: int = 3) -> list[Saved]:
        """Store several sources' items and new states in one transaction, in order.

        Each source is stored whole or not at all (with the others of the transaction): its
        items never without its new cursor, nor the other way round. One transaction per few
        sources rather than one each: every commit writes the pages it changed (the indexes'
        included) to the write-ahead log again.
        """
        with self.write() as conn:
            return [self._save_one(conn, save, cluster_days) for save in saves]

    def _save_one(self, conn: sqlite3.Connection, save: SourceSave, cluster_days: int) -> Saved:
        result, now, next_poll, failures = save.result, save.now, save.next_poll, save.failures
        spec = result.spec
        new_items = new_hits = 0
        hit_ids: list[int] = []
        for created, became_hit, item_id in self._save_items(conn, spec.name, save.hits, now, cluster_days):
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
        conn.execute(
            "INSERT INTO poll_log (source, at, status, items, new_hits, error) VALUES (?, ?, ?, ?, ?, ?)",
            (spec.name, iso(now), result.status, len(result.items), new_hits, result.error),
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
        next_id = int(conn.execute(_NEXT_ID).fetchone()[0])

        results: list[tuple[bool, bool, int]] = []
        new_rows: dict[int, list[Any]] = {}  # id -> the INSERT's values, still open to merges
        links: list[tuple[str, str, int, str]] = []  # item_sources
        keyword_rows: list[tuple[int, str]] = []
        updates: list[tuple[str, int, str | None, int]] = []
        engagement: list[tuple[str, int]] = []
        to_cluster: list[tuple[int, str, datetime, Sequence[str] | None]] = []
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
                json.dumps(hit.breakdown) if hit.matches or hit.breakdown else None,
                json.dumps(list(hit.keywords)) if hit.matches else "[]",
            ]
            fresh = _Stored(item_id, hit.score, list(hit.keywords))
            by_url.setdefault(item.canonical_url, fresh)
            if item.global_id:
                by_gid.setdefault(item.global_id, fresh)
            links.append((source, item.key, item_id, stamp))
            known[item.key] = item_id
            if hit.score > 0:
                keyword_rows.extend((item_id, k) for k in hit.keywords)
                to_cluster.append((item_id, item.title, item.published, hit.cluster_keys))
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
        for item_id, title, published, keys in to_cluster:
            self._cluster(conn, item_id, title, published, cluster_days, keys)
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

    def _cluster(
        self,
        conn: sqlite3.Connection,
        item_id: int,
        title: str,
        published: datetime,
        days: int,
        keys: Sequence[str] | None = None,
    ) -> None:
        """Join the story of a near-identical headline published within `days`, found by signature.

        `keys` are the title's cluster keys when the caller has them (a poll computes them where
        it scores, off this thread).
        """
        if keys is None:
            keys = cluster_keys(title)
        if not keys:
            return
        # shift: a stored date near either end of the calendar (year 1, 9999) must not overflow here
        low, high = iso(shift(published, -timedelta(days=days))), iso(shift(published, timedelta(days=days)))
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
        stamp = iso(published)
        conn.executemany(
            "INSERT OR IGNORE INTO cluster_keys (key, published, item_id) VALUES (?, ?, ?)",
            [(k, stamp, item_id) for k in keys],
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
        states: Sequence[str] | None = None,
        ids: Sequence[int] | None = None,
    ) -> list[dict[str, Any]]:
        """Stored hits, newest first, as plain dicts in the shape of `watcher hits --json`."""
        # `score > 0` as written in the partial indexes (items_hits_first_seen): a week's hits are
        # read through it, not through every item of the week
        where = ["items.score > 0", "items.score >= :min_score"]
        params: dict[str, Any] = {"min_score": max(min_score, 1)}
        if states is not None:
            where.append(f"items.state IN ({_marks('state', states, params)})")
        if ids is not None:
            where.append(f"items.id IN ({_marks('id', ids, params)})")
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

    def index_new(self) -> int:
        """Add the items stored since the last call to the full-text index, in one transaction.

        Returns how many were indexed. The poll calls it once at its end: one bulk statement costs
        a fraction of indexing each source's items as they are stored. A poll killed before it
        leaves a backlog, which the next call indexes (everything past `indexed_to`).
        """
        conn = self.db.conn
        try:  # the common case, nothing new (a poll with nothing due), without taking the write lock
            if not conn.execute(_UNINDEXED).fetchone()[0]:
                return 0
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from None
        with self.write() as conn:
            start = int(conn.execute("SELECT indexed_to FROM fts_state").fetchone()[0])
            end = int(conn.execute("SELECT MAX(COALESCE(MAX(id), 0), ?) FROM items", (start,)).fetchone()[0])
            indexed = conn.execute(
                "INSERT INTO items_fts(rowid, title, text)"
                " SELECT id, title, text FROM items WHERE id > ? AND id <= ? ORDER BY id",
                (start, end),
            ).rowcount
            conn.execute("UPDATE fts_state SET indexed_to = ?", (end,))
        return int(indexed)

    def search(self, fts_query: str, *, limit: int = 50, hits_only: bool = True) -> list[dict[str, Any]]:
        """Items whose title or text hold `fts_query` (FTS5 syntax, accents folded), best match first.

        The title counts ten times the text in the ranking (bm25). Raises SearchSyntaxError on a
        query FTS5 cannot read. Search finds what finished polls stored: items are indexed in
        bulk at the end of a poll (index_new), so those of a poll still running are not found
        yet. It does not index them itself, as it may run read-only beside a writing daemon.
        """
        sql = f"""
            SELECT items.*, bm25(items_fts, 10.0, 1.0) AS rank,
                   (SELECT json_group_array(source) FROM
                     (SELECT source FROM item_sources WHERE item_id = items.id ORDER BY first_seen, source)
                   ) AS sources
            FROM items_fts JOIN items ON items.id = items_fts.rowid
            WHERE items_fts MATCH :q {"AND items.score > 0" if hits_only else ""}
            ORDER BY rank, items.published DESC LIMIT :limit
        """
        try:
            return [_hit_row(row) for row in self.db.query(sql, {"q": fts_query, "limit": limit})]
        except sqlite3.OperationalError as exc:
            # the database's own trouble (busy, locked, I/O, corrupt, full) has its own code; what
            # FTS5 cannot read is the plain SQLITE_ERROR, whatever words its message holds
            code = (getattr(exc, "sqlite_errorcode", None) or 1) & 0xFF
            if code != sqlite3.SQLITE_ERROR or "no such table" in str(exc):
                raise StoreError(f"cannot search {self.path}: {exc}") from None
            column = re.match(r"no such column: (.*)", str(exc))
            if column:
                raise SearchSyntaxError(
                    f"{column.group(1)!r} followed by ':' would name a field to search in (there are title and text)"
                ) from None
            raise SearchSyntaxError(str(exc).removeprefix("fts5: ")) from None

    # --- triage ----------------------------------------------------------------------------------

    def states_of(self, ids: Sequence[int]) -> dict[int, str]:
        """The triage state of each of these items that is a hit; unknown ids are left out."""
        params: dict[str, Any] = {}
        sql = f"SELECT id, state FROM items WHERE score > 0 AND id IN ({_marks('id', ids, params)})"
        return {int(row[0]): str(row[1]) for row in self.db.execute(sql, params).fetchall()}

    def set_state(self, ids: Sequence[int], state: str, *, allowed_from: Sequence[str], now: datetime) -> list[int]:
        """Move these hits to `state` where their state is one of `allowed_from`; the ids moved.

        One transaction; each change is kept in `state_changes` with its time, and moving to
        "exported" also stamps `exported_at`.
        """
        if not ids:
            return []
        params: dict[str, Any] = {"state": state, "now": iso(now)}
        id_marks = _marks("id", ids, params)
        from_marks = _marks("from", allowed_from, params)
        where = f"score > 0 AND id IN ({id_marks}) AND state IN ({from_marks})"
        with self.write() as conn:
            moved = [int(r[0]) for r in conn.execute(f"SELECT id FROM items WHERE {where}", params).fetchall()]
            stamp = ", exported_at = :now" if state == "exported" else ""
            conn.execute(f"UPDATE items SET state = :state{stamp} WHERE {where}", params)
            conn.executemany(
                "INSERT INTO state_changes (item_id, state, at) VALUES (?, ?, ?)", [(i, state, iso(now)) for i in moved]
            )
        return moved

    def undo_states_of(self, ids: Sequence[int]) -> dict[int, tuple[str, bool]]:
        """For each of these items that is a hit: its triage state and whether it is marked exported."""
        params: dict[str, Any] = {}
        sql = f"SELECT id, state, exported_at FROM items WHERE score > 0 AND id IN ({_marks('id', ids, params)})"
        return {int(r[0]): (str(r[1]), r[2] is not None) for r in self.db.execute(sql, params).fetchall()}

    def step_back(self, changes: Sequence[tuple[int, str, str]], *, now: datetime) -> dict[int, str]:
        """Apply (id, from state, to state) where the hit is still in `from`; {id: new state} of those moved.

        One transaction. The latest move of each hit is marked `undone` and the step back is kept
        as a move of its own marked `undo`; going back from exported clears `exported_at`.
        """
        moved: dict[int, str] = {}
        if not changes:
            return moved
        with self.write() as conn:
            for item_id, old, new in changes:
                stamp = ", exported_at = NULL" if old == "exported" else ""
                cursor = conn.execute(
                    f"UPDATE items SET state = ?{stamp} WHERE id = ? AND score > 0 AND state = ?", (new, item_id, old)
                )
                if cursor.rowcount != 1:
                    continue
                conn.execute(
                    "UPDATE state_changes SET undone = 1 WHERE rowid = (SELECT max(rowid) FROM state_changes"
                    " WHERE item_id = ? AND state = ? AND undo = 0 AND undone = 0)",
                    (item_id, old),
                )
                conn.execute(
                    "INSERT INTO state_changes (item_id, state, at, undo) VALUES (?, ?, ?, 1)", (item_id, new, iso(now))
                )
                moved[item_id] = new
        return moved

    # --- what the triage taught (labels.py) -------------------------------------------------------

    def labels_stamp(self) -> str:
        """Changes whenever a triage move is made or undone: how many moves, and the latest."""
        row = self.db.execute("SELECT count(*), coalesce(max(rowid), 0) FROM state_changes").fetchone()
        return f"{row[0]}:{row[1]}"

    def labelled_hits(self, states: Sequence[str], features_version: int | None) -> list[dict[str, Any]]:
        """The hits in these triage states, oldest first: id, state, and `features` as kept (a
        string) when kept in this version, else None with what learning reads to cut them (title,
        the start of the text, sources, canonical_url, author). With no version: always the latter."""
        version = -1 if features_version is None else features_version  # -1: no features kept are read
        params: dict[str, Any] = {"chars": LABELLED_TEXT_CHARS, "version": version}
        sql = f"""
            SELECT items.id, items.state, lf.features,
                   CASE WHEN lf.features IS NULL THEN items.title END AS title,
                   CASE WHEN lf.features IS NULL THEN substr(items.text, 1, :chars) END AS text,
                   CASE WHEN lf.features IS NULL THEN items.canonical_url END AS canonical_url,
                   CASE WHEN lf.features IS NULL THEN items.author END AS author,
                   CASE WHEN lf.features IS NULL THEN
                       (SELECT json_group_array(source) FROM item_sources WHERE item_id = items.id)
                   END AS sources
            FROM items LEFT JOIN labelled_features lf ON lf.item_id = items.id AND lf.version = :version
            WHERE items.score > 0 AND items.state IN ({_marks("state", states, params)}) ORDER BY items.id
        """
        rows = []
        for row in self.db.execute(sql, params):
            item_id, state, features, title, text, url, author, sources = row
            rows.append(
                {
                    "id": item_id,
                    "state": state,
                    "features": features,
                    "title": title,
                    "text": text,
                    "canonical_url": url,
                    "author": author,
                    "sources": json.loads(sources) if sources else [],
                }
            )
        return rows

    def recent_texts(self, limit: int) -> list[str]:
        """Title and start of the text of the `limit` items stored last (hits or not), but those
        marked as noise."""
        sql = (
            "SELECT title || ' ' || substr(text, 1, :chars) FROM items WHERE state != 'noise'"
            " ORDER BY id DESC LIMIT :limit"
        )
        return [str(r[0]) for r in self.db.execute(sql, {"chars": LABELLED_TEXT_CHARS, "limit": limit})]

    def learned_model(self) -> tuple[str, str] | None:
        """(labels stamp, model text) of the stored model, or None."""
        row = self.db.execute("SELECT stamp, model FROM learned_model WHERE id = 1").fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def save_learned_model(
        self,
        stamp: str,
        model: str,
        rescored: Sequence[tuple[int, int, str]],
        now: datetime,
        features: Sequence[tuple[int, int, str]] = (),
    ) -> None:
        """Keep the model learned from the labels of `stamp`, the new (id, score, breakdown) of the
        hits it scores again, and the (id, version, features) newly cut, in one transaction."""
        with self.write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO labelled_features (item_id, version, features) VALUES (?, ?, ?)", features
            )
            conn.execute(
                "INSERT INTO learned_model (id, stamp, trained_at, model) VALUES (1, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp, trained_at = excluded.trained_at,"
                " model = excluded.model",
                (stamp, iso(now), model),
            )
            conn.executemany(
                "UPDATE items SET score = ?, breakdown = ? WHERE id = ? AND score > 0",
                [(score, breakdown, item_id) for item_id, score, breakdown in rescored],
            )

    def new_hits_since(self, since: datetime) -> list[dict[str, Any]]:
        """The untriaged hits first seen since `since`, in the row shape of `hits`."""
        sql = """
            SELECT items.*, (SELECT json_group_array(source) FROM item_sources WHERE item_id = items.id) AS sources
            FROM items WHERE score > 0 AND state = 'new' AND first_seen >= :since ORDER BY id
        """
        return [_hit_row(row) for row in self.db.query(sql, {"since": iso(since)})]

    # --- matching stored items again (a query was added) ------------------------------------------

    def items_since(self, since: datetime | None) -> list[dict[str, Any]]:
        """Every stored item (hit or not) first seen since `since`, with its sources, oldest first."""
        where, params = ("first_seen >= :since", {"since": iso(since)}) if since else ("1", {})
        sql = f"""
            SELECT items.*, (SELECT json_group_array(source) FROM item_sources WHERE item_id = items.id) AS sources
            FROM items WHERE {where} ORDER BY first_seen, id
        """
        return [_hit_row(row) for row in self.db.query(sql, params)]

    def add_matches(self, updates: Sequence[Rematch], *, cluster_days: int = 3) -> int:
        """Record queries that stored items turn out to match; the score only ever goes up.

        An item that becomes a hit this way joins its story cluster as a newly polled one would.
        Returns how many items changed.
        """
        changed = 0
        with self.write() as conn:
            for u in updates:
                row = conn.execute("SELECT score, keywords, title, published FROM items WHERE id = ?", (u.item_id,))
                found = row.fetchone()
                if found is None:
                    continue
                old_score, old_keywords = int(found[0]), json.loads(found[1])
                keywords = list(dict.fromkeys([*old_keywords, *u.keywords]))
                if keywords == old_keywords and u.score <= old_score:
                    continue
                better = u.score > old_score
                conn.execute(
                    "UPDATE items SET keywords = ?, score = MAX(score, ?),"
                    " breakdown = CASE WHEN ? THEN ? ELSE breakdown END WHERE id = ?",
                    (json.dumps(keywords), u.score, better, json.dumps(dict(u.breakdown)), u.item_id),
                )
                conn.executemany(
                    "INSERT OR IGNORE INTO hit_keywords (item_id, query) VALUES (?, ?)",
                    [(u.item_id, k) for k in keywords],
                )
                if old_score == 0 and u.score > 0:
                    published = parse_iso(found[3])
                    assert published is not None
                    self._cluster(conn, u.item_id, found[2], published, cluster_days)
                changed += 1
        return changed

    # --- relevance: the models learned from the store, and the scores they change -------------------

    def left_out_languages(self, since: datetime | None) -> dict[str, int]:
        """Items that matched a query but were left out for their language, per language."""
        sql = (
            "SELECT language, count(*) FROM items WHERE score = 0 AND breakdown IS NOT NULL"
            " AND json_extract(breakdown, '$._left_out_language') IS NOT NULL AND first_seen >= ? GROUP BY language"
        )
        rows = self.db.execute(sql, (iso(since) if since else "",)).fetchall()
        return {str(lang): int(n) for lang, n in rows}

    def theme_documents(self, limit: int, chars: int) -> list[dict[str, Any]]:
        """The latest `limit` items (hit or not): id, title, the first `chars` of the text, score,
        state, keywords (a list)."""
        sql = "SELECT id, title, substr(text, 1, ?), score, state, keywords FROM items ORDER BY id DESC LIMIT ?"
        return [
            {**dict(zip(("id", "title", "text", "score", "state"), r[:5], strict=True)), "keywords": json.loads(r[5])}
            for r in self.db.execute(sql, (chars, limit)).fetchall()
        ]

    def theme_seed_count(self, limit: int, seed_queries: Sequence[str], positive_states: Sequence[str]) -> int:
        """How many of the latest `limit` items are theme seeds (relevance._is_seed, in SQL): not
        noise, and either in a positive state or a hit of one of `seed_queries`. Counted without
        reading any text: a poll asks this to know whether the cached theme still holds."""
        params: dict[str, Any] = {"limit": limit}
        positive = _marks("pos", positive_states, params)
        seeds = _marks("seed", seed_queries, params)
        sql = f"""
            SELECT count(*) FROM (SELECT score, state, keywords FROM items ORDER BY id DESC LIMIT :limit)
            WHERE state != 'noise' AND (state IN ({positive})
                OR (score > 0 AND EXISTS (SELECT 1 FROM json_each(keywords) WHERE value IN ({seeds}))))
        """
        return int(self.db.execute(sql, params).fetchone()[0])

    def query_counts(self) -> dict[str, int]:
        """Hits per query (as written in keywords.txt)."""
        sql = "SELECT query, count(*) FROM hit_keywords GROUP BY query"
        return {str(q): int(n) for q, n in self.db.execute(sql).fetchall()}

    def relevance_model(self, name: str) -> tuple[str, str] | None:
        """(basis, model) of the cached model `name`, both JSON text, or None."""
        found = self.db.execute("SELECT basis, model FROM relevance_models WHERE name = ?", (name,)).fetchone()
        return (str(found[0]), str(found[1])) if found else None

    def save_relevance_model(self, name: str, basis: str, model: str, now: datetime) -> None:
        with self.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO relevance_models (name, built, basis, model) VALUES (?, ?, ?, ?)",
                (name, iso(now), basis, model),
            )

    def setting_seen(self, name: str) -> str | None:
        found = self.db.execute("SELECT value FROM settings_seen WHERE name = ?", (name,)).fetchone()
        return str(found[0]) if found else None

    def save_setting_seen(self, name: str, value: str) -> None:
        with self.write() as conn:
            conn.execute("INSERT OR REPLACE INTO settings_seen (name, value) VALUES (?, ?)", (name, value))

    def items_to_rescore(self, since: datetime, hits_since: datetime | None = None) -> list[dict[str, Any]]:
        """Items first seen since `since` (hits, and non-hits that a theme may find related), and
        the hits first seen since `hits_since` (earlier): what a theme learned anew scores again.
        Only hits go back that far: the non-hits of a fortnight would be most of the database.

        Each half is read through its own index (a plain OR, ordered by id, scanned the whole table
        at every poll)."""
        sql = """
            SELECT items.*, (SELECT json_group_array(source) FROM item_sources WHERE item_id = items.id) AS sources
            FROM items WHERE id IN (
                SELECT id FROM items WHERE first_seen >= :since
                UNION SELECT id FROM items WHERE score > 0 AND first_seen >= :hits_since
            ) ORDER BY id
        """
        params = {"since": iso(since), "hits_since": iso(hits_since) if hits_since else iso(since)}
        return [_hit_row(row) for row in self.db.query(sql, params)]

    def items_left_out_for_language(self) -> list[dict[str, Any]]:
        """Items that matched a query but were left out for their language, with their sources."""
        sql = """
            SELECT items.*, (SELECT json_group_array(source) FROM item_sources WHERE item_id = items.id) AS sources
            FROM items WHERE score = 0 AND language IS NOT NULL
            AND json_extract(breakdown, '$._left_out_language') IS NOT NULL ORDER BY id
        """
        return [_hit_row(row) for row in self.db.query(sql)]

    def rescore(self, updates: Sequence[tuple[int, int, Mapping[str, float]]]) -> int:
        """Set (item id, score, breakdown) of stored items; returns how many changed."""
        changed = 0
        with self.write() as conn:
            for item_id, value, breakdown in updates:
                changed += conn.execute(
                    "UPDATE items SET score = ?, breakdown = ? WHERE id = ? AND (score != ? OR breakdown IS NOT ?)",
                    (value, json.dumps(dict(breakdown)), item_id, value, json.dumps(dict(breakdown))),
                ).rowcount
        return changed

    # --- the report --------------------------------------------------------------------------------

    # The report speaks of what was published in its period: it selects hits by `published`
    # (a feed's archive found this quarter is not this quarter's news), and counts related items
    # (shown for their theme, matching no query) nowhere.

    def keyword_weeks(self, start: datetime, end: datetime) -> list[tuple[str, str, int]]:
        """(query, day the hit was published (YYYY-MM-DD), hits) for hits published in [start, end)."""
        sql = """
            SELECT hit_keywords.query, substr(items.published, 1, 10) AS day, count(*)
            FROM hit_keywords JOIN items ON items.id = hit_keywords.item_id
            WHERE items.score > 0 AND items.published >= ? AND items.published < ?
            GROUP BY hit_keywords.query, day ORDER BY day
        """
        return [(str(q), str(d), int(n)) for q, d, n in self.db.execute(sql, (iso(start), iso(end))).fetchall()]

    def keyword_items(self, start: datetime, end: datetime) -> list[tuple[int, str]]:
        """(item id, query) for every hit published in [start, end) and each query it matched."""
        sql = """
            SELECT hit_keywords.item_id, hit_keywords.query FROM hit_keywords
            JOIN items ON items.id = hit_keywords.item_id
            WHERE items.score > 0 AND items.published >= ? AND items.published < ?
        """
        return [(int(i), str(q)) for i, q in self.db.execute(sql, (iso(start), iso(end))).fetchall()]

    def top_publishers(self, start: datetime, end: datetime, limit: int = 10) -> list[tuple[str, int]]:
        """The outlets (else authors) of the most hits published in [start, end)."""
        sql = """
            SELECT COALESCE(NULLIF(publisher, ''), NULLIF(author, ''), '(unknown)') AS who, count(*) AS n
            FROM items WHERE score > 0 AND published >= ? AND published < ?
              AND id IN (SELECT item_id FROM hit_keywords)
            GROUP BY who ORDER BY n DESC, who LIMIT ?
        """
        return [(str(w), int(n)) for w, n in self.db.execute(sql, (iso(start), iso(end), limit)).fetchall()]

    def source_hits(self, start: datetime, end: datetime) -> list[tuple[str, int]]:
        """Hits published in [start, end) per source that gave them (a hit from two sources counts for both)."""
        sql = """
            SELECT item_sources.source, count(DISTINCT items.id) AS n
            FROM item_sources JOIN items ON items.id = item_sources.item_id
            WHERE items.score > 0 AND items.published >= ? AND items.published < ?
              AND items.id IN (SELECT item_id FROM hit_keywords)
            GROUP BY item_sources.source ORDER BY n DESC, item_sources.source
        """
        return [(str(s), int(n)) for s, n in self.db.execute(sql, (iso(start), iso(end))).fetchall()]

    def state_counts(self, start: datetime, end: datetime) -> dict[str, int]:
        """The hits published in [start, end) by their triage state now: they add up to those hits."""
        sql = """
            SELECT state, count(*) FROM items WHERE score > 0 AND published >= ? AND published < ?
              AND id IN (SELECT item_id FROM hit_keywords) GROUP BY state
        """
        return {str(s): int(n) for s, n in self.db.execute(sql, (iso(start), iso(end))).fetchall()}

    def report_stories(
        self, start: datetime, end: datetime, limit: int, *, states: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """The best hits published in [start, end) (only those in `states` when given), one per
        story (cluster), highest score first, in the row shape of `hits`."""
        marks = ",".join("?" * len(states))
        only = f"AND items.state IN ({marks})" if states else "AND items.state != 'noise'"
        sql = f"""
            SELECT * FROM (
                SELECT items.*, '[]' AS sources,
                       row_number() OVER (PARTITION BY coalesce(items.cluster, -items.id)
                                          ORDER BY items.score DESC, items.id) AS rank
                FROM items WHERE items.score > 0 AND items.published >= ? AND items.published < ? {only}
                  AND items.id IN (SELECT item_id FROM hit_keywords)
            ) WHERE rank = 1 ORDER BY score DESC, published DESC, id LIMIT ?
        """
        params = [iso(start), iso(end), *states, limit]
        return [_hit_row(row) for row in self.db.query(sql, params)]

    def triage_counts(self, start: datetime, end: datetime) -> dict[str, int]:
        """How many distinct hits reached each triage state in [start, end)."""
        sql = """
            SELECT state, count(DISTINCT item_id) FROM state_changes
            WHERE at >= ? AND at < ? AND undo = 0 AND undone = 0 GROUP BY state
        """
        return {str(s): int(n) for s, n in self.db.execute(sql, (iso(start), iso(end))).fetchall()}

    def poll_health(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Per source, its polls in [start, end): how many, how many failed, the last error, new hits."""
        sql = """
            SELECT source, count(*) AS polls, sum(status = 'error') AS errors, sum(items) AS items,
                   sum(new_hits) AS new_hits, max(at) AS last_poll,
                   (SELECT error FROM poll_log AS p WHERE p.source = poll_log.source AND p.at >= :start
                      AND p.at < :end AND p.status = 'error' ORDER BY p.at DESC LIMIT 1) AS last_error
            FROM poll_log WHERE at >= :start AND at < :end GROUP BY source ORDER BY source
        """
        return list(self.db.query(sql, {"start": iso(start), "end": iso(end)}))

    def count(self, sql_where: str = "1", params: Mapping[str, Any] | None = None) -> int:
        row = self.db.execute(f"SELECT count(*) FROM items WHERE {sql_where}", dict(params or {})).fetchone()
        return int(row[0])

    def integrity(self) -> str:
        return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])

    # --- the digest and alert ledger (notify.py drives it; the order of writes is its guarantee) --

    def first_seen(self, *, hits_only: bool = True) -> datetime | None:
        """When the first hit (or, with hits_only=False, the first item) was stored."""
        where = "WHERE score > 0" if hits_only else ""
        return parse_iso(self.db.execute(f"SELECT MIN(first_seen) FROM items {where}").fetchone()[0])

    def last_digest(self) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM digests ORDER BY window_end DESC, id DESC LIMIT 1"))
        return rows[0] if rows else None

    def digest_hits(
        self, start: datetime | None, end: datetime, *, target: str | None = None, max_age: timedelta | None = None
    ) -> list[dict[str, Any]]:
        """The hits first seen in [start, end), best first, each with `alerted` (sent as an alert).

        With `target`: the hits first seen before `end` and since the target's first digest
        (or `start` for a new target) that were never delivered to it, and `alerted` means
        alerted to that target. With `max_age`: only the news, the hits found within `max_age` of
        their publication (an older one is the archive of a source, counted by archive_count).
        """
        where, params = self._digest_where(start, end, target, max_age)
        if target is not None:
            alerted = "EXISTS (SELECT 1 FROM alerts WHERE item_id = items.id AND target = :target AND state = 'sent')"
        else:
            alerted = "EXISTS (SELECT 1 FROM alerts WHERE item_id = items.id AND state = 'sent')"
        sql = f"""
            SELECT items.*, {alerted} AS alerted,
                   (SELECT json_group_array(source) FROM
                     (SELECT source FROM item_sources WHERE item_id = items.id ORDER BY first_seen, source)
                   ) AS sources
            FROM items WHERE {where}
            ORDER BY items.score DESC, items.published DESC, items.id
        """
        return [{**_hit_row(row), "alerted": bool(row["alerted"])} for row in self.db.query(sql, params)]

    def _digest_where(
        self, start: datetime | None, end: datetime, target: str | None, max_age: timedelta | None = None
    ) -> tuple[str, dict[str, Any]]:
        """The WHERE clause (on `items`) of the hits a digest covers: the selection of digest_hits."""
        params: dict[str, Any] = {"end": iso(end), "target": target}
        # a hit marked as noise leaves the digest at once (triage: `relay skip --noise`)
        where = ["items.score > 0", "items.state != 'noise'", "items.first_seen < :end"]
        if max_age is not None:
            where.append(_NEWS)
            params["max_age_days"] = max_age.total_seconds() / 86400
        if target is not None:
            floor = self.db.execute(
                "SELECT MIN(digests.window_start) FROM deliveries JOIN digests ON digests.id = deliveries.digest_id"
                " WHERE deliveries.target = ?",
                (target,),
            ).fetchone()[0]
            start = parse_iso(floor) or start
            where.append("items.id NOT IN (SELECT item_id FROM delivered_hits WHERE target = :target)")
        if start is not None:
            where.append("items.first_seen >= :start")
            params["start"] = iso(start)
        return " AND ".join(where), params

    def digest_size(
        self, start: datetime | None, end: datetime, *, target: str | None = None, max_age: timedelta | None = None
    ) -> tuple[int, int]:
        """(hits, stories) of the selection of digest_hits: a story is a cluster, or a hit in none."""
        where, params = self._digest_where(start, end, target, max_age)
        row = self.db.execute(
            f"SELECT count(*), count(DISTINCT cluster) + count(*) FILTER (WHERE cluster IS NULL)"
            f" FROM items WHERE {where}",
            params,
        ).fetchone()
        return int(row[0]), int(row[1])

    def digest_below(
        self,
        start: datetime | None,
        end: datetime,
        theme_floor: float,
        *,
        target: str | None = None,
        max_age: timedelta | None = None,
    ) -> int:
        """Stories of the selection of digest_hits whose every hit is off the theme (at most `theme_floor`)."""
        where, params = self._digest_where(start, end, target, max_age)
        params["theme_floor"] = theme_floor
        on = "coalesce(json_extract(i.breakdown, '$.theme'), 0) > :theme_floor"
        row = self.db.execute(
            f"SELECT count(DISTINCT coalesce(items.cluster, -items.id)) FROM items WHERE {where}"
            f" AND coalesce(json_extract(items.breakdown, '$.theme'), 0) <= :theme_floor"
            f" AND (items.cluster IS NULL OR NOT EXISTS"
            f" (SELECT 1 FROM items AS i WHERE i.cluster = items.cluster AND i.score > 0 AND {on}))",
            params,
        ).fetchone()
        return int(row[0])

    def digest_best(
        self,
        start: datetime | None,
        end: datetime,
        limit: int,
        *,
        target: str | None = None,
        max_age: timedelta | None = None,
        theme_floor: float | None = None,
    ) -> list[dict[str, Any]]:
        """The hits of the `limit` best stories of the selection of digest_hits, in its row shape.

        A story ranks by its best hit (score, then the latest published, then the lowest id);
        every hit of the selection in a chosen story's cluster is returned (the digest names
        their outlets), so the digest never loads the whole window.
        """
        where, params = self._digest_where(start, end, target, max_age)
        params["limit"] = limit
        if theme_floor is not None:  # off the theme: counted (digest_below), not listed
            where += " AND coalesce(json_extract(items.breakdown, '$.theme'), 0) > :theme_floor"
            params["theme_floor"] = theme_floor
        alerted = (
            "EXISTS (SELECT 1 FROM alerts WHERE item_id = items.id AND target = :target AND state = 'sent')"
            if target is not None
            else "EXISTS (SELECT 1 FROM alerts WHERE item_id = items.id AND state = 'sent')"
        )
        sql = f"""
            WITH chosen AS (
                SELECT id, cluster FROM (
                    SELECT items.id, items.cluster, items.score, items.published,
                           row_number() OVER (PARTITION BY items.cluster IS NULL, coalesce(items.cluster, items.id)
                                              ORDER BY items.score DESC, items.published DESC, items.id) AS rank
                    FROM items WHERE {where}
                ) WHERE rank = 1
                ORDER BY score DESC, published DESC, id LIMIT :limit
            )
            SELECT items.*, {alerted} AS alerted,
                   (SELECT json_group_array(source) FROM
                     (SELECT source FROM item_sources WHERE item_id = items.id ORDER BY first_seen, source)
                   ) AS sources
            FROM items
            WHERE (items.id IN (SELECT id FROM chosen)
                   OR items.cluster IN (SELECT cluster FROM chosen WHERE cluster IS NOT NULL))
              AND {where}
            ORDER BY items.score DESC, items.published DESC, items.id
        """
        return [{**_hit_row(row), "alerted": bool(row["alerted"])} for row in self.db.query(sql, params)]

    def hits_by_id(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        sql = f"""
            SELECT items.*, (SELECT json_group_array(source) FROM
                              (SELECT source FROM item_sources WHERE item_id = items.id ORDER BY first_seen, source)
                            ) AS sources
            FROM items WHERE items.id IN ({marks}) ORDER BY items.score DESC, items.id
        """
        return [_hit_row(row) for row in self.db.query(sql, list(ids))]

    def cluster_outlets(self, clusters: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """For each story cluster, its items (id, publisher, author, sources), whenever found."""
        if not clusters:
            return {}
        marks = ",".join("?" * len(clusters))
        out: dict[int, list[dict[str, Any]]] = {}
        for row in self.db.query(
            f"""SELECT items.id, items.cluster, items.publisher, items.author, items.url,
                       (SELECT group_concat(source, ', ') FROM item_sources WHERE item_id = items.id) AS sources
                FROM items WHERE cluster IN ({marks}) ORDER BY items.score DESC, items.id""",
            list(clusters),
        ):
            out.setdefault(row["cluster"], []).append(dict(row))
        return out

    def keyword_counts(self, start: datetime, end: datetime, max_age: timedelta | None = None) -> dict[str, int]:
        """Hits per query (as written in keywords.txt) first seen in [start, end); with `max_age`,
        the news only (found within `max_age` of their publication)."""
        news = f" AND {_NEWS}" if max_age is not None else ""
        rows = self.db.execute(
            "SELECT hit_keywords.query, count(*) FROM hit_keywords JOIN items ON items.id = hit_keywords.item_id"
            " WHERE items.score > 0 AND items.first_seen >= :start AND items.first_seen < :end"
            f"{news} GROUP BY hit_keywords.query",
            {"start": iso(start), "end": iso(end), "max_age_days": (max_age or timedelta()).total_seconds() / 86400},
        ).fetchall()
        return {query: int(n) for query, n in rows}

    def archive_count(self, start: datetime, end: datetime, max_age: timedelta) -> int:
        """Hits first seen in [start, end) that were published more than `max_age` before: a
        source's archive (a feed just added brings years of posts), stored but not news."""
        row = self.db.execute(
            f"SELECT count(*) FROM items WHERE items.score > 0 AND items.first_seen >= :start"
            f" AND items.first_seen < :end AND NOT ({_NEWS})",
            {"start": iso(start), "end": iso(end), "max_age_days": max_age.total_seconds() / 86400},
        ).fetchone()
        return int(row[0])

    def source_item_counts(self, start: datetime, end: datetime) -> dict[str, int]:
        """Items (hits or not) each source brought that were first seen in [start, end)."""
        rows = self.db.execute(
            "SELECT source, count(*) FROM item_sources WHERE first_seen >= ? AND first_seen < ? GROUP BY source",
            (iso(start), iso(end)),
        ).fetchall()
        return {source: int(n) for source, n in rows}

    def create_digest(
        self, start: datetime, end: datetime, now: datetime, targets: Sequence[tuple[str, str]], *, manual: bool = False
    ) -> int:
        """Record a digest and one pending delivery per (target id, label), in one transaction."""
        with self.write() as conn:
            return _insert_digest(conn, start, end, now, targets, manual)

    def create_next_digest(
        self,
        window: Callable[[dict[str, Any] | None], tuple[datetime, datetime] | None],
        now: datetime,
        targets: Sequence[tuple[str, str]],
        *,
        manual: bool = False,
    ) -> tuple[int, datetime, datetime] | None:
        """Record the digest that follows the last one, reading the last one in the same transaction.

        `window(last digest or None)` says which window the next digest covers, or None when none
        is due; it runs under the write lock, so two processes deciding at once never record two
        digests for one slot: the second sees the first's. Returns (id, start, end), or None.
        """
        with self.write() as conn:
            chosen = window(self.last_digest())
            if chosen is None:
                return None
            start, end = chosen
            return _insert_digest(conn, start, end, now, targets, manual), start, end

    def open_deliveries(self) -> list[dict[str, Any]]:
        """Deliveries not done yet (pending or failed), oldest digest first, with their digest's window."""
        return list(
            self.db.query(
                """SELECT deliveries.*, digests.window_start, digests.window_end, digests.created
                   FROM deliveries JOIN digests ON digests.id = deliveries.digest_id
                   WHERE deliveries.state IN ('pending', 'failed')
                   ORDER BY digests.window_end, digests.id, deliveries.target"""
            )
        )

    def set_delivery_state(self, digest_id: int, target: str, state: str, error: str | None = None) -> None:
        """For states that send nothing: 'superseded' (a later digest covers it), 'skipped' (nothing to say)."""
        with self.write() as conn:
            conn.execute(
                "UPDATE deliveries SET state = ?, error = ? WHERE digest_id = ? AND target = ?",
                (state, error, digest_id, target),
            )

    def claim_delivery(self, digest_id: int, target: str, item_ids: Sequence[int], now: datetime) -> bool:
        """Before sending: mark the delivery 'sending' and its hits as delivered to the target; commit.

        Returns False (and changes nothing) when another process claimed it first. After this
        commit, a crash leaves a 'sending' row: possibly sent, so it is never sent again.
        """
        with self.write() as conn:
            changed = conn.execute(
                "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, claimed_at = ?, items = ?"
                " WHERE digest_id = ? AND target = ? AND state IN ('pending', 'failed')",
                (iso(now), len(item_ids), digest_id, target),
            ).rowcount
            if not changed:
                return False
            conn.executemany(
                "INSERT INTO delivered_hits (target, item_id, digest_id) VALUES (?, ?, ?)",
                [(target, item_id, digest_id) for item_id in item_ids],
            )
        return True

    def claim_delivery_of(
        self,
        digest_id: int,
        target: str,
        start: datetime | None,
        end: datetime,
        expected: int,
        now: datetime,
        max_age: timedelta | None = None,
    ) -> str:
        """claim_delivery for the hits of the selection of digest_hits(start, end, target), in SQL.

        Returns "claimed"; "busy" (nothing changed) when another process claimed it first; or
        "changed" (nothing changed) when the selection no longer holds `expected` hits (hits
        came in since the digest was built: build it again), so the target is recorded as
        having had exactly the hits it is sent.
        """
        try:
            with self.write() as conn:
                return self._claim_of(conn, digest_id, target, start, end, expected, now, max_age)
        except _SelectionChanged:  # rolled back by write()
            return "changed"

    def _claim_of(
        self,
        conn: sqlite3.Connection,
        digest_id: int,
        target: str,
        start: datetime | None,
        end: datetime,
        expected: int,
        now: datetime,
        max_age: timedelta | None = None,
    ) -> str:
        where, params = self._digest_where(start, end, target, max_age)
        changed = conn.execute(
            "UPDATE deliveries SET state = 'sending', attempts = attempts + 1, claimed_at = ?, items = ?"
            " WHERE digest_id = ? AND target = ? AND state IN ('pending', 'failed')",
            (iso(now), expected, digest_id, target),
        ).rowcount
        if not changed:
            return "busy"
        inserted = conn.execute(
            f"INSERT INTO delivered_hits (target, item_id, digest_id) SELECT :target, items.id, :digest_id"
            f" FROM items WHERE {where}",
            {**params, "digest_id": digest_id},
        ).rowcount
        if inserted != expected:
            raise _SelectionChanged
        return "claimed"

    def finish_delivery(
        self, digest_id: int, target: str, now: datetime, *, error: str | None = None, retry_at: datetime | None = None
    ) -> None:
        """After sending: 'sent', or 'failed' with its error, its hits released for the retry."""
        with self.write() as conn:
            if error is None:
                conn.execute(
                    "UPDATE deliveries SET state = 'sent', sent_at = ?, error = NULL"
                    " WHERE digest_id = ? AND target = ?",
                    (iso(now), digest_id, target),
                )
                conn.execute(
                    "UPDATE deliveries SET state = 'uncertain-reported' WHERE target = ? AND state = 'uncertain'",
                    (target,),
                )
                return
            conn.execute(
                "UPDATE deliveries SET state = 'failed', error = ?, next_attempt = ?"
                " WHERE digest_id = ? AND target = ?",
                (error, iso(retry_at or now), digest_id, target),
            )
            conn.execute("DELETE FROM delivered_hits WHERE digest_id = ? AND target = ?", (digest_id, target))

    def mark_interrupted(self, claimed_before: datetime) -> list[dict[str, Any]]:
        """'sending' deliveries claimed before this time were cut short by a crash: 'uncertain'."""
        with self.write() as conn:
            rows = conn.execute(
                "SELECT digest_id, target, label FROM deliveries WHERE state = 'sending' AND claimed_at < ?",
                (iso(claimed_before),),
            ).fetchall()
            conn.execute(
                "UPDATE deliveries SET state = 'uncertain',"
                " error = 'interrupted while sending: it may or may not have arrived'"
                " WHERE state = 'sending' AND claimed_at < ?",
                (iso(claimed_before),),
            )
            conn.execute(
                "UPDATE alerts SET state = 'uncertain' WHERE state = 'sending' AND claimed_at < ?",
                (iso(claimed_before),),
            )
        return [{"digest_id": r[0], "target": r[1], "label": r[2]} for r in rows]

    def uncertain_deliveries(self, target: str) -> list[dict[str, Any]]:
        return list(
            self.db.query(
                """SELECT deliveries.*, digests.window_start, digests.window_end FROM deliveries
                   JOIN digests ON digests.id = deliveries.digest_id
                   WHERE deliveries.target = ? AND deliveries.state = 'uncertain' ORDER BY digests.id""",
                [target],
            )
        )

    def digest_history(self, limit: int = 20) -> list[dict[str, Any]]:
        """The latest digests, newest first, each with its deliveries (target labels, never URLs)."""
        digests = list(self.db.query("SELECT * FROM digests ORDER BY id DESC LIMIT ?", [limit]))
        for digest in digests:
            digest["manual"] = bool(digest["manual"])
            digest["deliveries"] = list(
                self.db.query(
                    "SELECT target, label, state, attempts, next_attempt, error, sent_at, items FROM deliveries"
                    " WHERE digest_id = ? ORDER BY label",
                    [digest["id"]],
                )
            )
        return digests

    def alerts_since(self, since: datetime) -> int:
        """Items alerted (or being alerted) since this time, whatever the number of targets."""
        row = self.db.execute(
            "SELECT count(DISTINCT item_id) FROM alerts WHERE claimed_at >= ? AND state != 'failed'", (iso(since),)
        ).fetchone()
        return int(row[0])

    def claim_alert(self, item_id: int, target: str, label: str, now: datetime) -> bool:
        """Before sending an alert: record it 'sending'; False when this item was already alerted to the target."""
        with self.write() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO alerts (item_id, target, label, state, claimed_at)"
                " VALUES (?, ?, ?, 'sending', ?)",
                (item_id, target, label, iso(now)),
            )
            return cursor.rowcount == 1

    def claim_alert_within(
        self, item_id: int, target: str, label: str, now: datetime, since: datetime, limit: int
    ) -> str:
        """claim_alert under an hourly limit, counted and claimed in one transaction.

        Returns "claimed"; "taken" when this item was already alerted to the target; "held" when
        `limit` other items were alerted (or are being alerted) since `since`. Counting and
        claiming together, two processes sending alerts at once cannot both take the last place.
        """
        with self.write() as conn:
            others = conn.execute(
                "SELECT count(DISTINCT item_id) FROM alerts WHERE claimed_at >= ? AND state != 'failed'"
                " AND item_id != ?",
                (iso(since), item_id),
            ).fetchone()[0]
            if int(others) >= limit:
                return "held"
            cursor = conn.execute(
                "INSERT OR IGNORE INTO alerts (item_id, target, label, state, claimed_at)"
                " VALUES (?, ?, ?, 'sending', ?)",
                (item_id, target, label, iso(now)),
            )
            return "claimed" if cursor.rowcount == 1 else "taken"

    def finish_alert(self, item_id: int, target: str, now: datetime, error: str | None = None) -> None:
        with self.write() as conn:
            conn.execute(
                "UPDATE alerts SET state = ?, sent_at = ?, error = ? WHERE item_id = ? AND target = ?",
                ("failed" if error else "sent", None if error else iso(now), error, item_id, target),
            )


def _insert_digest(
    conn: sqlite3.Connection,
    start: datetime,
    end: datetime,
    now: datetime,
    targets: Sequence[tuple[str, str]],
    manual: bool,
) -> int:
    cursor = conn.execute(
        "INSERT INTO digests (window_start, window_end, created, manual) VALUES (?, ?, ?, ?)",
        (iso(start), iso(end), iso(now), int(manual)),
    )
    digest_id = int(cursor.lastrowid or 0)
    conn.executemany(
        "INSERT INTO deliveries (digest_id, target, label, next_attempt) VALUES (?, ?, ?, ?)",
        [(digest_id, target, label, iso(now)) for target, label in targets],
    )
    return digest_id


class _SelectionChanged(Exception):
    """A digest's hits changed between building it and claiming its delivery."""


_FTS_SYNTAX = re.compile(r'["*()^:]|\b(?:AND|OR|NOT|NEAR)\b')


def fts_query(text: str) -> str:
    """What a person typed, as an FTS5 query.

    Plain words (the usual case) become quoted strings that must all occur, so `tiers-lieux`
    or `l'équilibre` need no FTS5 knowledge; text that uses FTS5's own syntax (quotes, `*`,
    AND/OR/NOT, NEAR, parentheses) is handed over as written.
    """
    if _FTS_SYNTAX.search(text):
        return text
    return " ".join('"' + word.replace('"', '""') + '"' for word in text.split())


@dataclass(frozen=True)
class Rematch:
    """A stored item that matches queries it was not matched with when it was stored."""

    item_id: int
    keywords: tuple[str, ...]
    score: int
    breakdown: Mapping[str, float]


def _private_files(path: Path) -> None:
    """The database's folder 0700 when watcher makes it; the database and its companions 0600.

    The sources table holds session tokens. SQLite creates the write-ahead log, its index and
    the journals with the database file's own mode, so a database file made 0600 (whatever the
    umask) keeps every later one 0600 too; files left wider by an earlier version are narrowed.
    A file that cannot be opened or changed here is left to SQLite, whose error says why.
    """
    path = Path(os.path.realpath(path))  # SQLite names the log and journals after a link's target
    folder = path.parent
    if not folder.is_dir():
        try:
            folder.mkdir(parents=True, mode=0o700)  # the umask can only narrow it
        except FileExistsError:
            pass
        except OSError as exc:
            raise StoreError(f"cannot create the folder {folder}: {exc.strerror or exc}") from None
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return  # read-only, another owner's: SQLite's own error will say so
    try:
        if stat.S_IMODE(os.fstat(fd).st_mode) & 0o077:
            os.fchmod(fd, 0o600)
    except OSError:
        pass
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm", "-journal"):
        companion = path.with_name(path.name + suffix)
        with suppress(OSError):
            if stat.S_IMODE(companion.stat().st_mode) & 0o077:
                os.chmod(companion, 0o600)


def _why_not_writable(path: Path) -> str:
    """A hint for "unable to open database file": SQLite needs to write beside a WAL database."""
    for place in (path, path.parent):
        if place.exists() and not os.access(place, os.W_OK):
            return f" ({place} is not writable: a read-only file system, or another owner)"
    return ""


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back what is left of a transaction: after some errors (a full disk, an I/O error) SQLite
    has already rolled it back itself, and a second ROLLBACK would hide the first error."""
    if conn.in_transaction:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _marks(prefix: str, values: Sequence[Any], params: dict[str, Any]) -> str:
    """Named placeholders for an IN (...) list, their values added to `params`."""
    names = []
    for index, value in enumerate(values):
        params[f"{prefix}{index}"] = value
        names.append(f":{prefix}{index}")
    return ", ".join(names) or "NULL"


_STORED_COLUMNS = "canonical_url, id, score, keywords"
# Past the full-text mark too: were the newest items ever deleted, their ids must not come back
# below it, or the new items would be taken as indexed (Store.index_new).
_NEXT_ID = "SELECT MAX(COALESCE((SELECT MAX(id) FROM items), 0), (SELECT indexed_to FROM fts_state)) + 1"
_STORED_BY_GID = "global_id, id, score, keywords"
# Positions in the INSERT's values of the columns a later merge may change.
_SCORE, _BREAKDOWN, _KEYWORDS = 13, 14, 15
_UNINDEXED = "SELECT EXISTS (SELECT 1 FROM items WHERE id > (SELECT indexed_to FROM fts_state))"
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
        # shown for being close to the theme, without matching a query
        "related": bool(row["score"]) and not (loads(row["keywords"]) or []),
        "engagement": loads(row["engagement"]) or {},
        "no_reuse": bool(row["no_reuse"]),
        "state": row["state"],
        "exported_at": row.get("exported_at"),
        "text": row["text"],
    }
