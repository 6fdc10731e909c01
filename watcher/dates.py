"""Dates from the outside world, made safe: the range watcher believes, and arithmetic that never overflows.

Feeds write dates Python cannot add to: Go and Hugo write "no date" as year 1, some servers
year 9999, and a date near either end overflows as soon as a few days are added or taken
away (clustering looks three days around a story) or it is moved to another time zone. Every
date that comes in goes through `plausible`, and every computation on a stored date through
`shift` or `in_zone`, so no date a source can write stops a poll, a digest or a command.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

# Nothing on the web predates it; 1970-01-01 itself is "no date" written as Unix time 0.
EARLIEST = datetime(1970, 1, 2, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)  # clocks and time zones drift; beyond this a date is wrong
_MIN = datetime.min.replace(tzinfo=UTC)
_MAX = datetime.max.replace(tzinfo=UTC)


def to_utc(moment: datetime) -> datetime | None:
    """`moment` in UTC (a naive time taken as UTC); None when UTC cannot hold it (year 1 at +01:00)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def plausible(moment: datetime | None, seen: datetime) -> datetime | None:
    """A source's date in UTC, or None (unknown) when it cannot be right.

    Unknown: before 1970-01-02, more than a day after `seen` (when it was read), or out of
    what UTC can hold.
    """
    if moment is None:
        return None
    utc = to_utc(moment)
    if utc is None or utc < EARLIEST or utc > shift(seen, FUTURE_SLACK):
        return None
    return utc


def shift(moment: datetime, delta: timedelta) -> datetime:
    """`moment + delta`, held at the first or last representable moment instead of overflowing."""
    try:
        return moment + delta
    except OverflowError:
        limit = _MAX if delta > timedelta(0) else _MIN
        return limit if moment.tzinfo is not None else limit.replace(tzinfo=None)


def in_zone(moment: datetime, zone: tzinfo) -> datetime:
    """`moment` in the time zone `zone`; at the ends of the calendar, where the zone cannot hold it, in UTC."""
    try:
        return moment.astimezone(zone)
    except (OverflowError, ValueError):
        return moment
