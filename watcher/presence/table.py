"""The comparative table: per medium, per organisation, over a period. Pure: no I/O, no clock.

For each account: its followers (the last figure up to the end of the period) and their change
over the period (from the last figure on or before its start, else its first within it); posts
per week (the posts read in the period; for a network read by hand, the change of its `posts`
figure); the average engagement per post (likes + reposts + replies + quotes); that engagement
per 1,000 followers; its best post. A figure that cannot be had is None (shown as a dash), never
a made-up zero. The organisation whose role is `self` comes first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from watcher.presence.accounts import NETWORKS
from watcher.presence.networks import Post
from watcher.presence.storage import Figure
from watcher.types import Organisation, PresenceAccount

DASH = "–"


@dataclass(frozen=True)
class Row:
    organisation: str
    role: str
    network: str
    account: str  # Organisation/network
    handle: str  # "" for an account read by hand
    followers: int | None
    change: int | None
    posts_per_week: float | None
    engagement_per_post: float | None
    engagement_per_1000: float | None
    best_post: Post | None
    posts: int | None  # posts read in the period (None: not read, by hand)


def ordered(organisations: Sequence[Organisation]) -> list[Organisation]:
    """`self` first, then the model(s), then the competitors, each in the file's order."""
    rank = {"self": 0, "model": 1, "competitor": 2}
    return sorted(organisations, key=lambda o: rank.get(o.role, 3))


def _series(figures: Sequence[Figure], account: str, metric: str) -> list[tuple[date, int]]:
    return sorted((f.day, f.value) for f in figures if f.account == account and f.metric == metric)


def change_over(series: Sequence[tuple[date, int]], start: date, end: date) -> tuple[int | None, int | None]:
    """(the last value up to `end`, its change since `start`) from (day, value) pairs."""
    upto = [(d, v) for d, v in series if d <= end]
    if not upto:
        return None, None
    last_day, last = upto[-1]
    before = [(d, v) for d, v in upto if d <= start]
    first_day, first = before[-1] if before else next((d, v) for d, v in upto if d >= start)
    if first_day >= last_day:
        return last, None  # one reading: no change can be told
    return last, last - first


def rows_for(
    organisations: Sequence[Organisation],
    figures: Sequence[Figure],
    posts: Mapping[str, Sequence[Post]],
    start: datetime,
    end: datetime,
) -> dict[str, list[Row]]:
    """The table's rows per network (in NETWORKS' order), organisations `self` first."""
    weeks = max((end - start).total_seconds() / (7 * 86400), 1 / 7)
    table: dict[str, list[Row]] = {}
    for org in ordered(organisations):
        for account in org.accounts:
            row = _row(org, account, figures, posts.get(account.key, ()), start, end, weeks)
            table.setdefault(account.network, []).append(row)
    return {n: table[n] for n in NETWORKS if n in table}


def _row(
    org: Organisation,
    account: PresenceAccount,
    figures: Sequence[Figure],
    posts: Sequence[Post],
    start: datetime,
    end: datetime,
    weeks: float,
) -> Row:
    followers, change = change_over(_series(figures, account.key, "followers"), start.date(), end.date())
    read = not account.manual
    in_period = [p for p in posts if start <= p.published < end]
    if read:
        per_week: float | None = len(in_period) / weeks
    else:
        last, delta = change_over(_series(figures, account.key, "posts"), start.date(), end.date())
        per_week = delta / weeks if delta is not None and last is not None else None
    engaged = [p for p in in_period if p.engagement is not None]
    per_post = sum(p.engagement or 0 for p in engaged) / len(engaged) if engaged else None
    per_1000 = per_post / followers * 1000 if per_post is not None and followers else None
    best = max(engaged, key=lambda p: (p.engagement or 0, p.published)) if engaged else None
    return Row(
        org.name,
        org.role,
        account.network,
        account.key,
        account.handle,
        followers,
        change,
        per_week,
        per_post,
        per_1000,
        best,
        len(in_period) if read else None,
    )


def number(value: float | None, decimals: int = 0, sign: bool = False) -> str:
    """A figure for people: a dash when unknown."""
    if value is None:
        return DASH
    text = f"{value:+,.{decimals}f}" if sign else f"{value:,.{decimals}f}"
    return text.replace(",", "\u202f")


def as_dict(row: Row) -> dict[str, object]:
    best = row.best_post
    return {
        "organisation": row.organisation,
        "role": row.role,
        "network": row.network,
        "account": row.account,
        "handle": row.handle,
        "followers": row.followers,
        "followers_change": row.change,
        "posts_in_period": row.posts,
        "posts_per_week": None if row.posts_per_week is None else round(row.posts_per_week, 2),
        "engagement_per_post": None if row.engagement_per_post is None else round(row.engagement_per_post, 2),
        "engagement_per_1000_followers": None if row.engagement_per_1000 is None else round(row.engagement_per_1000, 2),
        "best_post": None
        if best is None
        else {"link": best.link, "published": best.published.isoformat(), "engagement": best.engagement},
    }
