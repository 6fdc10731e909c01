"""When each source is polled next: its interval with jitter, and backoff after failures (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from watcher.types import SourceResult, SourceSpec, SourceState

JITTER = 0.1  # +-10% of the interval, so sources of one host drift apart
MAX_BACKOFF = 24 * 3600  # a failing source is still tried once a day
AUTH_BACKOFF = 6 * 3600  # 401/403: a person must act; do not hammer meanwhile


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
    the server's own Retry-After / rate-limit reset; at least 6 hours after a refusal (401/403).
    """
    jitter = 1 + JITTER * (2 * unit - 1)
    if result.status != "error":
        delay = spec.interval * jitter
    else:
        delay = min(spec.interval * (2 ** max(failures - 1, 0)), MAX_BACKOFF) * jitter
        if result.auth_problem:
            delay = max(delay, AUTH_BACKOFF)
    if result.retry_after is not None:
        delay = max(delay, result.retry_after)
    return now + timedelta(seconds=delay)
