"""One poll cycle: the stages wired together, one source at a time per worker thread.

    plan -> fetch (-> next pages)                in a worker thread, per source
        each answer: parse -> normalise -> match -> score
                                                in a pool process (large polls), else that thread
    store                                       in the calling thread, as results arrive

Reading an answer is pure Python, held to one core by the interpreter lock: a large poll hands
each answer to a pool of processes, one per core (processes.py), while its threads go on
fetching. A small poll, or a machine of one core, reads in the fetching threads. A pool that
cannot start or breaks is not an error: the threads read for themselves. The daemon keeps its
pool from one poll to the next (`Readers`), so that its processes compile the queries once per
configuration.

A source's failure is a value (SourceResult with status "error"), never an exception that
stops the others. Each source's results are stored whole, in one transaction with the other
sources that arrived about the same time.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from watcher import labels, language, place, relevance, schedule
from watcher.errors import HTTPStatusError, WatcherError
from watcher.feedback import Model
from watcher.fetch import Fetcher
from watcher.match import Matcher, compile_queries
from watcher.processes import Pool, PoolUnavailable, cores
from watcher.read import PROCESS_PRELOAD, hits_of, read_in_process, read_page, start_process
from watcher.redact import SECRETS, redact
from watcher.sources import adapter, explain_error, recover_from
from watcher.store import SourceSave, Store
from watcher.types import (
    Config,
    Fetched,
    FetchRequest,
    Hit,
    Parsed,
    SourceResult,
    SourceSpec,
    SourceState,
)
from watcher.words import count

log = logging.getLogger("watcher.poll")

MAX_REQUESTS_PER_POLL = 50  # pages and follow-ups of one source in one poll
STOP_CHECK = 0.5  # seconds between looks at the stop signal while sources are being fetched
# `processes: auto` starts the pool for polls of at least this many sources: below that, starting
# it (0.3 s for the first pool of a process, whose server imports the reading modules; 35 ms
# for each pool after it) costs more than it saves.
AUTO_POOL_SOURCES = 20
# Items stored between two runs of the full-text indexing: one run per source costs five times
# as much (each run writes and merges index segments), one run at the end of a large poll adds
# its whole cost after the last fetch; batches of this size cost about what one run does.
INDEX_BATCH = 5000
# Sources stored in one transaction: up to STORE_BATCH of them, or what arrived within STORE_WAIT
# seconds. Each commit writes the pages it changed (indexes included) to the log again: one per
# source cost a third more than one per few sources.
STORE_BATCH = 8
STORE_WAIT = 0.5


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
    """Plan, fetch, parse and normalise one source. Never raises for the source's own faults."""
    result, hits = fetch_hits(spec, state, config, fetcher, now, compile_queries(config.queries))
    return replace(result, items=tuple(h.item for h in hits))


def fetch_hits(
    spec: SourceSpec,
    state: SourceState | None,
    config: Config,
    fetcher: Fetcher,
    now: datetime,
    matcher: Matcher,
    pool: Pool | None = None,
) -> tuple[SourceResult, list[Hit]]:
    """Plan, fetch and read one source: its result and its items, matched and scored.

    Each answer is read (parse -> normalise -> match -> score) in one of the pool's processes
    when there is a pool, else here. Never raises for the source's own faults.

    When a request fails after others succeeded (a rate limit on the third page, a login that
    worked before a search was refused), what was read so far is kept with the cursor as the
    last successful parse left it: adapters advance their cursor only over the items they
    return, so nothing is skipped, and a renewed session is not thrown away.
    """
    cursor = dict(state.cursor) if state else {}
    hits: dict[str, Hit] = {}  # by key: the same entry twice in one poll (feeds do that) is kept once
    statuses: set[int] = set()
    moved: str | None = None

    def keep(page: list[Hit]) -> None:
        for hit in page:
            hits.setdefault(hit.item.key, hit)

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
                parsed, page = recovered, hits_of(matcher, recovered.items, spec, now)
            else:
                statuses.add(fetched.status)
                if fetched.permanent_url and request.url in (spec.url, None):
                    moved = fetched.permanent_url
                parsed, page = _read(pool, matcher, spec, fetched, cursor, now)
            if parsed.cursor is not None:
                cursor = dict(parsed.cursor)
            keep(page)
            pending.extend(parsed.next)
    except HTTPStatusError as exc:
        failure = SourceResult(
            spec,
            "error",
            cursor=cursor,
            error=explain_error(source, spec, exc),
            retry_after=exc.retry_after,
            gone=exc.status == 410,
            auth_problem=exc.status in (401, 403),
        )
        return failure, list(hits.values())
    except WatcherError as exc:  # FetchError, ParseError, ConfigError from plan...
        return SourceResult(spec, "error", cursor=cursor, error=str(exc)), list(hits.values())
    except Exception as exc:  # a bug in an adapter must not stop the other sources
        log.exception("%s: unexpected error", spec.name)
        return SourceResult(spec, "error", error=f"internal error: {type(exc).__name__}: {exc}"), []
    status = "not_modified" if statuses == {304} else "ok"
    return SourceResult(spec, status, cursor=cursor, permanent_url=moved), list(hits.values())


def _read(
    pool: Pool | None,
    matcher: Matcher,
    spec: SourceSpec,
    fetched: Fetched,
    cursor: Mapping[str, Any],
    now: datetime,
) -> tuple[Parsed, list[Hit]]:
    if pool is not None and fetched.body:
        try:
            return pool.run(read_in_process, spec, fetched, cursor, now)
        except PoolUnavailable:
            pass  # said once in the log by the pool; the work is done here
    return read_page(matcher, spec, fetched, cursor, now)


def pool_size(setting: int | None, sources: int, cpus: int) -> int:
    """How many processes a poll of `sources` sources reads with: 0 means none (this process).

    `setting` is `processes` of feeds.yaml: a number, or None for auto (one per core, for a
    poll of at least AUTO_POOL_SOURCES sources on a machine of more than one core).
    """
    if setting is not None:
        return setting
    return cpus if cpus > 1 and sources >= AUTO_POOL_SOURCES else 0


class Readers:
    """The pool of reading processes, kept from one poll to the next (the daemon's polls).

    Each process compiles the queries once, when it starts (read.start_process): a pool made
    for each poll compiled them again in every process at every poll (about a second of CPU
    for 10,000 phrases, and unpickling a compiled Matcher costs as much). The pool is replaced
    when what its processes were started with changes (the queries after a reload, the log
    level, the secrets known, its size) or when it broke (a process killed: this poll's
    threads read for themselves, the next poll has a new pool); a poll that needs no pool
    leaves it idle. Only the thread that polls uses it.
    """

    def __init__(self) -> None:
        self._pool: Pool | None = None
        self._made_for: tuple[Any, ...] = ()

    def pool(self, config: Config, size: int) -> Pool | None:
        """A pool of `size` processes started with the queries of `config`; None for size 0."""
        if not size:
            return None
        made_for = (config.queries, size, log.getEffectiveLevel(), SECRETS.known())
        if self._pool is None or self._pool.broken or made_for != self._made_for:
            self.close()
            self._pool = _new_pool(config, size)
            self._made_for = made_for
        return self._pool

    def close(self, wait: bool = True) -> None:
        """Stop the processes (the daemon's end)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close(wait=wait)


def _new_pool(config: Config, size: int) -> Pool:
    return Pool(
        size, start_process, (config.queries, log.getEffectiveLevel(), SECRETS.known()), preload=PROCESS_PRELOAD
    )


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
    readers: Readers | None = None,
) -> list[PollReport]:
    """Poll the due sources (all enabled ones with `everything`, or just `names`) and store the results.

    `readers` keeps the pool of reading processes for the next poll (the daemon); without it, a
    pool is started for this poll and closed at its end.
    """
    now = clock()
    relevance.before_poll(store, config, now)  # items of a language read from now on are matched again
    states = store.states()
    specs = [f for f in config.feeds if f.name in names] if names else config.feeds
    todo = schedule.due(specs, states, now, everything=everything or bool(names))
    matcher = compile_queries(config.queries)
    # what the triage taught, learned again first if the labels changed since the last poll
    learned = labels.current(store, now) if todo else None
    local = place.finder_for(config.settings.place) if todo else None
    reports: list[PollReport] = []
    if on_start:
        on_start(len(todo))
    if not todo:
        store.index_new()  # the backlog of a poll killed before its end, if any (a cheap read otherwise)
        return reports
    language.warm_up()  # while the first answers are on their way
    size = pool_size(config.settings.processes, len(todo), cores())
    pool = (readers or Readers()).pool(config, size)  # a pool of this poll's own, without `readers`
    threads = ThreadPoolExecutor(max_workers=min(config.settings.max_workers, len(todo)))
    stopped = False
    unindexed = 0
    arrived: list[tuple[SourceResult, list[Hit]]] = []  # fetched and read, not yet stored
    first_arrival = 0.0

    def store_arrived() -> None:
        nonlocal unindexed
        for report in _store_results(store, arrived, states, config, clock(), rand, learned, local):
            reports.append(report)
            if on_result:
                on_result(report)
        unindexed += sum(len(hits) for _, hits in arrived)
        arrived.clear()
        if unindexed >= INDEX_BATCH:  # while other sources are still being fetched
            store.index_new()
            unindexed = 0

    try:
        pending = {
            threads.submit(fetch_hits, spec, states.get(spec.name), config, fetcher, now, matcher, pool)
            for spec in todo
        }
        while pending:
            # wake at least every STOP_CHECK seconds, so a stop is seen even while a slow source drips,
            # and in time to store what arrived STORE_WAIT seconds ago
            timeout = STOP_CHECK
            if arrived:
                timeout = min(timeout, max(0.0, first_arrival + STORE_WAIT - time.monotonic()))
            done, pending = wait(pending, timeout=timeout, return_when=FIRST_COMPLETED)
            for future in done:
                if not arrived:
                    first_arrival = time.monotonic()
                arrived.append(future.result())
            if arrived and (
                len(arrived) >= STORE_BATCH or not pending or time.monotonic() - first_arrival >= STORE_WAIT
            ):
                store_arrived()
            if stop():
                stopped = True
                break
        if arrived:  # what has arrived is stored, even on a stop
            store_arrived()
    finally:
        # On a stop, sources not started are cancelled and running fetches are not waited for:
        # they end by their own deadline and nothing of theirs is stored (they are polled again later).
        if pool is not None and readers is None:
            pool.close(wait=not stopped)
        threads.shutdown(wait=not stopped, cancel_futures=True)
    # The theme (learned from the store, again when it changed) scores what this poll stored.
    relevance.after_poll(store, config, since=now, now=clock())
    # Full-text indexing in one go, stopped poll or not; a poll killed before this line leaves
    # its items unindexed (not found by search) until the next poll's index_new takes them.
    store.index_new()
    store.checkpoint()  # what this poll stored is on disk, not only in the write-ahead log
    return reports


def _without_secrets(result: SourceResult) -> SourceResult:
    """What is stored and shown of a source's outcome holds no secret (an error quoting the
    feed's address with its token, a moved address). Cursors are the adapters' to keep clean
    (rss keys its validators by a hash of the address): a redacted cursor could not be read back."""
    return replace(
        result,
        error=redact(result.error) if result.error else result.error,
        permanent_url=redact(result.permanent_url) if result.permanent_url else result.permanent_url,
    )


def _store_results(
    store: Store,
    arrived: Sequence[tuple[SourceResult, list[Hit]]],
    states: Mapping[str, SourceState],
    config: Config,
    now: datetime,
    rand: Callable[[], float],
    learned: Model | None = None,
    local: place.Finder | None = None,
) -> list[PollReport]:
    """Store the sources that arrived, in one transaction; a report for each.

    The place's part (place.py) and the learned part of the score (labels.py) are added here,
    to the hits alone: the reading processes need not carry them, and most items are no hit.
    """
    saves = []
    for result, hits in arrived:
        hits = labels.adjust_hits(learned, place.adjust_hits(local, hits))
        spec = result.spec
        state = states.get(spec.name)
        failures = (state.failures + 1 if state else 1) if result.status == "error" else 0
        result = replace(result, items=tuple(h.item for h in hits))
        result = _without_secrets(result)
        next_poll = schedule.next_poll(spec, failures, result, now, rand())
        saves.append(SourceSave(result, hits, now, next_poll, failures))
    reports = []
    for save, saved in zip(saves, store.save_sources(saves, config.settings.cluster_days), strict=True):
        result = save.result
        name = result.spec.name
        if result.status == "error":
            log.warning("%s: error: %s", name, result.error)
        else:
            items, new = count(len(result.items), "item"), count(saved.new_hits, "new hit")
            log.info("%s: %s, %s, %s", name, result.status, items, new)
        reports.append(PollReport(name, result.status, saved.new_hits, len(result.items), result.error, saved.hit_ids))
    return reports
