"""When things happen (pure): each source's next poll (interval, jitter, backoff) and the digest's slots."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from watcher.dates import shift
from watcher.types import SourceResult, SourceSpec, SourceState

JITTER = 0.1  # +-10% of the interval, so sources of one host drift apart
MAX_BACKOFF = 24 * 3600  # a failing source is still tried once a day
AUTH_BACKOFF = 6 * 3600  # 401/403: a person must act; do not hammer meanwhile
MAX_SERVER_WAIT = 7 * 24 * 3600  # a Retry-After or rate-limit reset further off (1e300, a year 9999 date) is wrong


def due(
    specs: Iterable[SourceSpec], states: Mapping[str, SourceState], now: datetime, everything: bool = False
) -> list[SourceSpec]:
    """The enabled sources whose time has come (all enabled ones with `everything`)."""
    out = []
    for spec in specs:
        state = states.get(spec.name)
        if not spec.enabled or (state and state.disabled_reason and not everything):
            continue
        if everything or state is None or state.next_poll is None or state.next_poll <= now:
            out.append(spec)
    return out


def next_poll(spec: SourceSpec, failures: int, result: SourceResult, now: datetime, unit: float) -> datetime:
    """The next poll time. `unit` is a random number in [0, 1) drawn by the caller.

    Success: interval +-10%. Failure n: interval * 2**n +-10%, capped at a day; never before
    the server's own Retry-After / rate-limit reset (up to a week); at least 6 hours after a refusal (401/403).
    """
    jitter = 1 + JITTER * (2 * unit - 1)
    if result.status != "error":
        delay = spec.interval * jitter
    else:
        delay = min(spec.interval * (2 ** max(failures - 1, 0)), MAX_BACKOFF) * jitter
        if result.auth_problem:
            delay = max(delay, AUTH_BACKOFF)
    if result.retry_after is not None:
        delay = max(delay, min(result.retry_after, MAX_SERVER_WAIT))
    return shift(now, timedelta(seconds=delay))


# --- the digest's slots -------------------------------------------------------------------------

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
PERIODS = {"daily": 1, "weekly": 7, "monthly": 30}  # days; "monthly" counts 30 for averages only


@dataclass(frozen=True)
class DigestSlot:
    """When digests go out: every day, week or month at a local time, in the zone `tz`."""

    every: str = "weekly"
    day: int = 0  # weekly: 0 = Monday; monthly: day of the month, 1..28
    hour: int = 8
    minute: int = 0
    tz: tzinfo = UTC

    @property
    def period(self) -> timedelta:
        """The nominal length of a window, for averages over past windows."""
        return timedelta(days=PERIODS[self.every])


@dataclass(frozen=True)
class Window:
    """The stretch of time one digest covers: hits first seen in [start, end)."""

    start: datetime
    end: datetime


def parse_slot(value: object, tz: tzinfo) -> DigestSlot:
    """`settings.digest` (a mapping: every, day, time) -> DigestSlot. Raises ValueError in words."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise ValueError("settings.digest must be a mapping, e.g. {every: weekly, day: monday, time: '08:00'}")
    every = str(value.get("every", "weekly")).lower()
    if every not in PERIODS:
        raise ValueError(f"settings.digest.every: {every!r} is not one of {', '.join(PERIODS)}")
    day = 0
    raw_day = value.get("day")
    if every == "weekly":
        name = str(raw_day if raw_day is not None else "monday").lower()
        if name in DAYS:
            day = DAYS.index(name)
        elif name in _DAYS_FR:
            day = _DAYS_FR.index(name)
        else:
            raise ValueError(f"settings.digest.day: {raw_day!r} is not a day of the week (monday ... sunday)")
    elif every == "monthly":
        day = raw_day if isinstance(raw_day, int) and not isinstance(raw_day, bool) else 1
        if not 1 <= day <= 28 or (raw_day is not None and day != raw_day):
            raise ValueError("settings.digest.day: for a monthly digest, a day of the month from 1 to 28")
    raw_time = value.get("time", "08:00")
    if isinstance(raw_time, int) and not isinstance(raw_time, bool):
        # YAML 1.1 reads an unquoted 08:00 as a sexagesimal number of minutes
        hour, minute = divmod(raw_time, 60)
    else:
        parts = str(raw_time).split(":")
        try:
            hour, minute = int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
        except ValueError:
            hour = minute = -1
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"settings.digest.time: {raw_time!r} is not a time of day such as '08:00'")
    return DigestSlot(every, day, hour, minute, tz)


def _slot_on(day: date, slot: DigestSlot) -> datetime:
    return datetime.combine(day, time(slot.hour, slot.minute), tzinfo=slot.tz).astimezone(UTC)


def _shift(day: date, slot: DigestSlot, steps: int) -> date:
    """The slot's day `steps` periods later (or earlier), counted in the local calendar."""
    if slot.every == "daily":
        return day + timedelta(days=steps)
    if slot.every == "weekly":
        return day + timedelta(days=7 * steps)
    months = day.year * 12 + day.month - 1 + steps
    return date(months // 12, months % 12 + 1, slot.day)


def last_slot(slot: DigestSlot, now: datetime) -> datetime:
    """The latest slot at or before `now` (UTC)."""
    local = now.astimezone(slot.tz).date()
    if slot.every == "weekly":
        day = local - timedelta(days=(local.weekday() - slot.day) % 7)
    elif slot.every == "monthly":
        day = date(local.year, local.month, slot.day)
    else:
        day = local
    moment = _slot_on(day, slot)
    while moment > now:
        day = _shift(day, slot, -1)
        moment = _slot_on(day, slot)
    return moment


def next_slot(slot: DigestSlot, now: datetime) -> datetime:
    """The first slot strictly after `now` (UTC)."""
    local = last_slot(slot, now).astimezone(slot.tz).date()
    moment = _slot_on(_shift(local, slot, 1), slot)
    while moment <= now:  # a DST jump may land a shifted slot on `now`
        local = _shift(local, slot, 1)
        moment = _slot_on(_shift(local, slot, 1), slot)
    return moment


def due_digest(
    last_end: datetime | None, first_data: datetime | None, now: datetime, slot: DigestSlot
) -> Window | None:
    """The window the next scheduled digest covers, or None when no digest is due.

    A window runs from the end of the previous digest (or, before the first one, from the
    first stored data) to the latest slot at or before `now`. So after days with the machine
    off, one catch-up digest covers the whole gap as soon as it is back, and a digest is never
    due twice for the same slot.
    """
    start = last_end or first_data
    if start is None:
        return None
    end = last_slot(slot, now)
    return Window(start, end) if end > start else None
