"""Presence in the store (tables of store.py's migration `_V12_PRESENCE`).

Figures are kept per account, metric and day: a second reading the same day replaces the first,
so a second snapshot the same day changes nothing that was not changed on the network. Each
account's snapshot (figures and posts) is one transaction: a crash leaves it whole or absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from watcher.presence.networks import Post, Profile
from watcher.store import Store, iso

METRICS = ("followers", "following", "posts", "visits")


@dataclass(frozen=True)
class Figure:
    account: str
    day: date
    metric: str
    value: int
    origin: str  # api, hand, file, matomo, plausible


def save_snapshot(
    store: Store, account: str, day: date, profile: Profile | None, posts: Sequence[Post], now: datetime
) -> None:
    rows = []
    if profile is not None:
        for metric, value in (
            ("followers", profile.followers),
            ("following", profile.following),
            ("posts", profile.posts),
        ):
            if value is not None:
                rows.append((account, day.isoformat(), metric, value, "api"))
        rows += [(account, d.isoformat(), "visits", n, "matomo") for d, n in profile.visits]
    with store.write() as conn:
        conn.executemany(
            "INSERT INTO presence_figures (account, day, metric, value, origin) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (account, metric, day) DO UPDATE SET value = excluded.value, origin = excluded.origin",
            rows,
        )
        conn.executemany(
            "INSERT INTO presence_posts (account, post_id, published, link, text, likes, reposts, replies, quotes,"
            " shared, seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, post_id) DO UPDATE SET"
            " published = excluded.published, link = excluded.link, text = excluded.text, likes = excluded.likes,"
            " reposts = excluded.reposts, replies = excluded.replies, quotes = excluded.quotes,"
            " shared = excluded.shared, seen = excluded.seen",
            [
                (
                    account, p.post_id, iso(p.published), p.link, p.text, p.likes, p.reposts, p.replies, p.quotes,
                    "\n".join(p.shared), day.isoformat(),
                )
                for p in posts
            ],
        )  # fmt: skip
        _mark(conn, account, now, None)


def save_error(store: Store, account: str, now: datetime, error: str) -> None:
    with store.write() as conn:
        _mark(conn, account, now, error)


def _mark(conn: Any, account: str, now: datetime, error: str | None) -> None:
    conn.execute(
        "INSERT INTO presence_snapshots (account, last_try, last_success, last_error) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (account) DO UPDATE SET last_try = excluded.last_try, "
        "last_success = COALESCE(excluded.last_success, presence_snapshots.last_success), "
        "last_error = excluded.last_error",
        (account, iso(now), None if error else iso(now), error),
    )


def record(store: Store, figures: Iterable[Figure]) -> int:
    """Figures by hand or by file, in one transaction (a bad line of a file stores none)."""
    rows = [(f.account, f.day.isoformat(), f.metric, f.value, f.origin) for f in figures]
    with store.write() as conn:
        conn.executemany(
            "INSERT INTO presence_figures (account, day, metric, value, origin) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (account, metric, day) DO UPDATE SET value = excluded.value, origin = excluded.origin",
            rows,
        )
    return len(rows)


def figures(store: Store, accounts: Sequence[str], until: date | None = None) -> list[Figure]:
    if not accounts:
        return []
    marks = ",".join("?" * len(accounts))
    rows = store.db.execute(
        f"SELECT account, day, metric, value, origin FROM presence_figures WHERE account IN ({marks})"
        + (" AND day <= ?" if until else "")
        + " ORDER BY account, metric, day",
        [*accounts, *([until.isoformat()] if until else [])],
    ).fetchall()
    return [Figure(a, date.fromisoformat(d), m, int(v), o) for a, d, m, v, o in rows]


def posts(store: Store, accounts: Sequence[str], start: datetime, end: datetime) -> dict[str, list[Post]]:
    """Each account's posts published in [start, end), newest first."""
    found: dict[str, list[Post]] = {a: [] for a in accounts}
    if not accounts:
        return found
    marks = ",".join("?" * len(accounts))
    rows = store.db.execute(
        "SELECT account, post_id, published, link, text, likes, reposts, replies, quotes, shared FROM presence_posts"
        f" WHERE account IN ({marks}) AND published >= ? AND published < ? ORDER BY published DESC",
        [*accounts, iso(start), iso(end)],
    ).fetchall()
    for account, post_id, published, link, text, likes, reposts, replies, quotes, shared in rows:
        found[account].append(
            Post(
                post_id, datetime.fromisoformat(published.replace("Z", "+00:00")), link, text,
                likes, reposts, replies, quotes, tuple(s for s in shared.split("\n") if s),
            )
        )  # fmt: skip
    return found


def snapshot_states(store: Store) -> dict[str, dict[str, Any]]:
    rows = store.db.execute("SELECT account, last_try, last_success, last_error FROM presence_snapshots").fetchall()
    return {r[0]: {"last_try": r[1], "last_success": r[2], "last_error": r[3]} for r in rows}
