"""The long-running watch: poll what is due, sleep until the next source is due, stop cleanly on a signal."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from watcher.config import load_config
from watcher.errors import ConfigError, StoreError
from watcher.fetch import Fetcher, default_user_agent
from watcher.poll import run_poll
from watcher.store import Store

log = logging.getLogger("watcher.daemon")

MAX_SLEEP = 60.0  # seconds; the loop wakes at least this often to look at the schedule


def run_daemon(feeds: Path, keywords: Path, db: Path) -> int:
    """Run until SIGTERM or SIGINT; returns the process exit code."""
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        config = load_config(feeds, keywords)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    log.info("watching %d sources for %d queries; database %s", len(config.feeds), len(config.queries), db)
    with (
        Store(db) as store,
        Fetcher(
            user_agent=default_user_agent(config.settings.contact),
            timeout=config.settings.timeout,
            max_body_bytes=config.settings.max_body_bytes,
            per_host=config.settings.per_host,
        ) as fetcher,
    ):
        while not stop.is_set():
            try:
                run_poll(config, store, fetcher, stop=stop.is_set)
            except StoreError as exc:  # disk full, read-only: say so, and try again later
                log.error("%s", exc)
            stop.wait(_sleep_for(store))
    log.info("stopped")
    return 0


def _sleep_for(store: Store) -> float:
    now = datetime.now(UTC)
    times = [s.next_poll for s in store.states().values() if s.next_poll and not s.disabled_reason]
    if not times:
        return MAX_SLEEP
    return max(1.0, min(MAX_SLEEP, (min(times) - now).total_seconds()))
