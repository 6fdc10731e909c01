"""One poll cycle: the stages wired together, one source at a time per worker thread.

    plan -> fetch -> parse (-> next pages) -> normalise     in a worker thread, per source
    match -> score -> store                                 in the calling thread, as results arrive

A source's failure is a value (SourceResult with status "error"), never an exception that
stops the others. Each source's results are stored in one transaction.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from watcher import schedule
from watcher.errors import HTTPStatusError, WatcherError
from watcher.fetch import Fetcher
from watcher.match import Matcher, compile_queries
from watcher.normalise import normalise
from watcher.score import score
from watcher.sources import adapter, explain_error, recover_from
from watcher.store import Store
from watcher.types import Config, FetchRequest, Hit, Item, RawItem, SourceResult, SourceSpec, SourceState

log = logging.getLogger("watcher.poll")

MAX_REQUESTS_PER_POLL = 50  # pages and follow-ups of one source in one poll
STOP_CHECK = 0.5  # seconds between looks at the stop signal while sources are being fetched


@dataclass(frozen=True)
class PollReport:
    """One line of `watcher poll`: what happened to one source."""

    name: str
    status: str  # ok, not_modified, error
    new_hits: int
    items: int
    error: str | None
    hit_ids: tuple[int, ...] = ()


def fetch_source(
    spec: SourceSpec, state: SourceState | None, config: Config, fetcher: Fetcher, now: datetime
) -> SourceResult:
    """Plan, fetch, parse and normalise one source. Never raises for the source's own faults.

    When a request fails after others succeeded (a rate limit on the third page, a login that
    worked before a search was refused), what was read so far is kept with the cursor as the
    last successful parse left it: adapters advance their cursor only over the items they
    return, so nothing is skipped, and a renewed session is not thrown away.
    """
    cursor = dict(state.cursor) if state else {}
    raw_items: list[RawItem] = []
    statuses: set[int] = set()
    moved: str | None = None
    failure: SourceResult | None = None
    try:
        source = adapter(spec.kind)
        pending: list[FetchRequest] = source.plan(spec, cursor, config.queries, config.settings)
        done = 0
        while pending:
            if done >= MAX_REQUESTS_PER_POLL:
                log.warning("%s: stopped after %d requests in one poll", spec.name, done)
                break
            request = pending.pop(0)
            done += 1
            try:
                fetched = fetcher.fetch(request)
            except HTTPStatusError as exc:
                # e.g. an expired session: the adapter renews it and retries, or gives up
                recovered = recover_from(source, spec, request, exc, cursor)
                if recovered is None:
                    raise
                parsed = recovered
            else:
                statuses.add(fetched.status)
                if fetched.permanent_url and request.url in (spec.url, None):
                    moved = fetched.permanent_url
                parsed = source.parse(spec, fetched, cursor)
            if parsed.cursor is not None:
                cursor = dict(parsed.cursor)
            raw_items.extend(parsed.items)
            pending.extend(parsed.next)
    except HTTPStatusError as exc:
        failure = SourceResult(
            spec,
            "error",
            error=explain_error(source, spec, exc),
            retry_after=exc.retry_after,
            gone=exc.status == 410,
            auth_problem=exc.status in (401, 403),
        )
    except WatcherError as exc:  # FetchError, ParseError, ConfigError from plan...
        failure = SourceResult(spec, "error", error=str(exc))
    except Exception as exc:  # a bug in an adapter must not stop the other sources
        log.exception("%s: unexpected error", spec.name)
        return SourceResult(spec, "error", error=f"internal error: {type(exc).__name__}: {exc}")
    items: list[Item] = []
    seen: set[str] = set()
    for raw in raw_items:
        if raw.key in seen:  # the same entry twice in one answer (feeds do that)
            continue
        seen.add(raw.key)
        try:
            items.append(normalise(raw, source=spec.name, seen_at=now))
        except Exception as exc:  # one bad entry costs that entry, not the feed
            log.warning("%s: skipped an entry (%s: %s)", spec.name, type(exc).__name__, exc)
    if failure is not None:
        return replace(failure, items=tuple(items), cursor=cursor)
    status = "not_modified" if statuses == {304} else "ok"
    return SourceResult(spec, status, items=tuple(items), cursor=cursor, permanent_url=moved)


def score_items(matcher: Matcher, items: Sequence[Item], source_weight: float, now: datetime) -> list[Hit]:
    """Match and score every item; non-matching items are kept too, with score 0."""
    hits = []
    for item in items:
        matches = tuple(matcher.match(item.title, item.text))
        value, breakdown = score(item, matches, source_weight=source_weight, now=now) if matches else (0, {})
        hits.append(Hit(item, matches, value, breakdown))
    return hits


def run_poll(
    config: Config,
    store: Store,
    fetcher: Fetcher,
    *,
    everything: bool = False,
    names: Sequence[str] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_start: Callable[[int], None] | None = None,
    on_result: Callable[[PollReport], None] | None = None,
    rand: Callable[[], float] = random.random,
    stop: Callable[[], bool] = lambda: False,
) -> list[PollReport]:
    """Poll the due sources (all enabled ones with `everything`, or just `names`) and store the results."""
    now = clock()
    states = store.states()
    specs = [f for f in config.feeds if f.name in names] if names else config.feeds
    todo = schedule.due(specs, states, now, everything=everything or bool(names))
    matcher = compile_queries(config.queries)
    reports: list[PollReport] = []
    if on_start:
        on_start(len(todo))
    if not todo:
        store.index_new()  # the backlog of a poll killed before its end, if any (a cheap read otherwise)
        return reports
    pool = ThreadPoolExecutor(max_workers=min(config.settings.max_workers, len(todo)))
    stopped = False
    try:
        pending = {pool.submit(fetch_source, spec, states.get(spec.name), config, fetcher, now) for spec in todo}
        while pending:
            # wake at least every STOP_CHECK seconds, so a stop is seen even while a slow source drips
            done, pending = wait(pending, timeout=STOP_CHECK, return_when=FIRST_COMPLETED)
            for future in done:  # what has arrived is stored, even on a stop
                result = future.result()
                state = states.get(result.spec.name)
                report = _store_result(store, matcher, result, state, config, clock(), rand())
                reports.append(report)
                if on_result:
                    on_result(report)
            if stop():
                stopped = True
                break
    finally:
        # On a stop, sources not started are cancelled and running fetches are not waited for:
        # they end by their own deadline and nothing of theirs is stored (they are polled again later).
        pool.shutdown(wait=not stopped, cancel_futures=True)
    # Full-text indexing in one go, stopped poll or not; a poll killed before this line leaves
    # its items unindexed (not found by search) until the next poll's index_new takes them.
    store.index_new()
    store.checkpoint()  # what this poll stored is on disk, not only in the write-ahead log
    return reports


def _store_result(
    store: Store,
    matcher: Matcher,
    result: SourceResult,
    state: SourceState | None,
    config: Config,
    now: datetime,
    unit: float,
) -> PollReport:
    spec = result.spec
    failures = (state.failures + 1 if state else 1) if result.status == "error" else 0
    hits = score_items(matcher, result.items, spec.weight, now)
    saved = store.save_source(
        result,
        hits,
        now=now,
        next_poll=schedule.next_poll(spec, failures, result, now, unit),
        failures=failures,
        cluster_days=config.settings.cluster_days,
    )
    if result.status == "error":
        log.warning("%s: error: %s", spec.name, result.error)
    else:
        log.info("%s: %s, %d items, %d new hits", spec.name, result.status, len(result.items), saved.new_hits)
    return PollReport(spec.name, result.status, saved.new_hits, len(result.items), result.error, saved.hit_ids)
