"""`watcher run`: the long-running watch, as a systemd service or in a terminal.

    main thread    signals, configuration files, systemd notify and watchdog, stop   (never slow)
    worker thread  owns the Store and the Fetcher; one cycle after another:
                   poll what is due -> after_poll (alerts) -> digest_step -> presence_step (once a
                   day) -> sleep until the next is due

The main thread only looks at things (a select on the signal pipe, a stat of two files), so it
answers SIGTERM and pings the watchdog on time whatever the network does. The worker looks at the
stop flag at least twice a second (poll.run_poll takes `stop`); each source's results are one
transaction, so a stop, or a kill at any moment, never leaves anything half-written.

Signals: SIGTERM/SIGINT stop; SIGHUP reloads feeds.yaml and keywords.txt (they are also reloaded
when they change on disk); SIGUSR1 polls every enabled source now, due or not.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from watcher import runlock
from watcher.config import load_config
from watcher.errors import ConfigError, StoreError
from watcher.fetch import Fetcher, fetcher_for
from watcher.poll import PollReport, Readers, run_poll
from watcher.store import Store, iso
from watcher.systemd import Notifier
from watcher.types import Config
from watcher.words import count

log = logging.getLogger("watcher.daemon")

TICK = 1.0  # seconds between the main thread's looks at the configuration files
MAX_SLEEP = 60.0  # the worker looks at the schedule at least this often
GRACE = 4.0  # seconds the worker has to finish after a stop signal before the process leaves without it
STUCK_AFTER = 3600.0  # a cycle longer than this is a hang: the watchdog is no longer fed, systemd restarts us

Stamp = tuple[int, int, int] | None  # (inode, size, mtime_ns) of a file, None when missing


def stamp(path: Path) -> Stamp:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


class Daemon:
    def __init__(
        self,
        feeds: Path,
        keywords: Path,
        db: Path,
        *,
        notifier: Notifier | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.feeds, self.keywords, self.db = feeds, keywords, db
        self.notifier = notifier or Notifier()
        self.clock = clock
        self.config: Config | None = None  # the last good configuration; replaced whole by the main thread
        self.cycles = 0
        self.digest_due: datetime | None = None  # the next digest slot or retry, from notify
        self._stop = threading.Event()
        self._wake = threading.Event()  # the worker's sleep ends early: reload, poll now, stop
        self._poll_all = threading.Event()
        self._busy_since: float | None = None  # monotonic start of the worker's current cycle
        self._stamps: tuple[Stamp, Stamp] = (None, None)  # of the files the current config was read from
        self._seen: tuple[Stamp, Stamp] = (None, None)  # at the previous look
        # the reading processes, kept from poll to poll: they compile the queries once per configuration
        self.readers = Readers()

    # --- main thread -----------------------------------------------------------------------------

    def run(self) -> int:
        """Run until SIGTERM or SIGINT; returns the process exit code (0 stopped, 1 failed, 2 bad config)."""
        wakeup_r, wakeup_w = socket.socketpair()
        for end in (wakeup_r, wakeup_w):
            end.setblocking(False)
        # Python runs handlers in the main thread only between bytecodes; the C-level handler also
        # writes the signal number to this pipe, which is all the main loop reads.
        old_fd = signal.set_wakeup_fd(wakeup_w.fileno(), warn_on_full_buffer=False)
        handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1)
        previous = {sig: signal.signal(sig, _ignore) for sig in handled}
        try:
            return self._main(wakeup_r)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(old_fd)
            wakeup_r.close()
            wakeup_w.close()
            self.notifier.close()

    def _main(self, wakeup: socket.socket) -> int:
        self._stamps = self._seen = self._read_stamps()
        try:
            self.config = load_config(self.feeds, self.keywords)
            with Store(self.db):  # opens (and migrates) the database before saying READY
                pass
            lock = runlock.hold(self.db)  # one daemon per database, for as long as this one runs
        except ConfigError as exc:
            log.error("%s", exc)
            return 2
        except StoreError as exc:
            log.error("%s", exc)
            return 1
        try:
            return self._watch(wakeup)
        finally:
            lock.release()

    def _watch(self, wakeup: socket.socket) -> int:
        assert self.config is not None
        worker = threading.Thread(target=self._work, name="watcher-worker", daemon=True)
        worker.start()
        enabled = sum(f.enabled for f in self.config.feeds)
        log.info(
            "watching %s for %s; database %s",
            count(enabled, "enabled source"),
            count(len(self.config.queries), "query", "queries"),
            self.db,
        )
        web = self._start_web(self.config)
        self.notifier.ready(self._summary_ready())
        code = 0
        next_ping = 0.0
        stuck_logged = False
        while True:
            for signum in _drain(wakeup):
                if signum in (signal.SIGTERM, signal.SIGINT):
                    log.info("%s: stopping", signal.Signals(signum).name)
                    self._stop.set()
                elif signum == signal.SIGHUP:
                    self.reload(forced=True)
                elif signum == signal.SIGUSR1:
                    self._reload_if_changed()  # an edit just made counts for this poll
                    log.info("SIGUSR1: polling every source now")
                    self._poll_all.set()
                    self._wake.set()
            if self._stop.is_set():
                break
            if not worker.is_alive():
                log.error("the worker stopped unexpectedly; exiting so that the service manager restarts watcher")
                code = 1
                break
            self._reload_if_changed()
            now = time.monotonic()
            period = self.notifier.watchdog_period
            if period and now >= next_ping:
                busy = self._busy_since
                if busy is not None and now - busy > STUCK_AFTER:
                    if not stuck_logged:
                        log.error("a poll has been running for %d s: no more watchdog pings", now - busy)
                        stuck_logged = True
                else:
                    self.notifier.watchdog()
                next_ping = now + period / 2
            timeout = TICK if not period else max(0.0, min(TICK, next_ping - time.monotonic()))
            select.select([wakeup], [], [], timeout)
        self.notifier.stopping("stopping")
        self._wake.set()
        worker.join(GRACE)
        if worker.is_alive():
            log.warning("the poll did not end within %.0f s; leaving it (every stored source is committed)", GRACE)
        if web is not None:
            web.stop()
        log.info("stopped")
        return code

    def _start_web(self, config: Config) -> Any:
        """The web page in its own threads when `settings.web` enables it (read at start only)."""
        if not config.settings.extra.get("web"):
            return None
        from watcher.web.server import start_for_daemon

        return start_for_daemon(self.feeds, self.keywords, self.db, config.settings.extra.get("web"))

    def reload(self, forced: bool = False) -> bool:
        """Read both files again; on any error keep the last good configuration. True if replaced."""
        self._stamps = self._seen = self._read_stamps()
        self.notifier.reloading()
        try:
            config = load_config(self.feeds, self.keywords)
        except ConfigError as exc:
            log.error("configuration not reloaded, the previous one stays in force: %s", exc)
            self.notifier.ready(f"configuration not reloaded: {exc}")
            return False
        except Exception as exc:  # a mistake the checks missed must not take the daemon down
            log.exception("configuration not reloaded, the previous one stays in force: %s", exc)
            self.notifier.ready("configuration not reloaded: see the log")
            return False
        self.config = config
        log.info(
            "configuration reloaded%s: %s, %s",
            " (SIGHUP)" if forced else "",
            count(sum(f.enabled for f in config.feeds), "enabled source"),
            count(len(config.queries), "query", "queries"),
        )
        self._wake.set()  # a new source is due at once
        self.notifier.ready(self._summary_ready())
        return True

    def _reload_if_changed(self) -> None:
        current = self._read_stamps()
        # Reload once a change has held still for one look, so a file being written is not read half-way.
        if current != self._stamps and current == self._seen:
            self.reload()
        self._seen = current

    def _read_stamps(self) -> tuple[Stamp, Stamp]:
        return (stamp(self.feeds), stamp(self.keywords))

    def _summary_ready(self) -> str:
        config = self.config
        assert config is not None
        enabled = sum(f.enabled for f in config.feeds)
        return f"watching {enabled} sources for {len(config.queries)} queries"

    # --- worker thread ---------------------------------------------------------------------------

    def _work(self) -> None:
        """Poll, alert, digest, sleep; until the stop flag. Owns the Store (a connection is per thread)."""
        fetcher: Fetcher | None = None
        fetcher_key: tuple[Any, ...] = ()
        interrupted = False
        try:
            with Store(self.db) as store:
                while not self._stop.is_set():
                    config = self.config
                    assert config is not None
                    s = config.settings
                    key = (s.contact, s.timeout, s.max_body_bytes, s.per_host)
                    if fetcher is None or key != fetcher_key:
                        if fetcher is not None:
                            fetcher.close()
                        fetcher = fetcher_for(s)
                        fetcher_key = key
                    everything = self._poll_all.is_set()
                    self._poll_all.clear()
                    self._busy_since = time.monotonic()
                    try:
                        self.cycle(store, fetcher, config, everything)
                    finally:
                        self._busy_since = None
                    interrupted = self._stop.is_set()
                    pause = self._sleep_for(store, config)
                    log.debug("cycle %d done; next look at the schedule in %.1f s", self.cycles, pause)
                    self._wake.wait(pause)
                    self._wake.clear()
        except Exception:  # the main thread sees the worker gone and exits 1: systemd restarts us
            log.exception("the worker failed")
        finally:
            self.readers.close(wait=not interrupted)
            # after an interrupted poll, fetches may still be running in the pool: leave the client to them
            if fetcher is not None and not interrupted:
                fetcher.close()

    def cycle(self, store: Store, fetcher: Fetcher, config: Config, everything: bool = False) -> list[PollReport]:
        """One turn of the worker: the sources that are due, then alerts, then the digest if its slot came."""
        try:
            reports = run_poll(
                config,
                store,
                fetcher,
                everything=everything,
                clock=self.clock,
                stop=self._stop.is_set,
                readers=self.readers,
            )
        except StoreError as exc:  # disk full, read-only: say so, and try again at the next cycle
            log.error("%s", exc)
            self.notifier.status(f"database error: {exc}")
            return []
        now = self.clock()
        if reports:
            self.cycles += 1
            self.after_poll(store, config, reports, now)
        if not self._stop.is_set():
            self.digest_step(store, config, now)
        if not self._stop.is_set() and config.presence:
            self.presence_step(store, fetcher, config, now)
        if not self._stop.is_set() and "report" in config.settings.extra:
            self.report_step(store, config, now)
        if reports:
            self.notifier.status(self._summary_cycle(store, config, reports, now))
        return reports

    def report_step(self, store: Store, config: Config, now: datetime) -> None:
        """The ended quarter's report, to the targets tagged settings.report.tag, once (report_send)."""
        from watcher.report_send import send_due_report

        try:
            for delivery in send_due_report(store, config, now):
                log.info("report %s to %s: %s", delivery.quarter, delivery.target, delivery.error or delivery.state)
        except Exception as exc:  # a delivery problem must not stop the watch; tried again next cycle
            log.error("quarterly report not sent: %s", exc)

    def presence_step(self, store: Store, fetcher: Fetcher, config: Config, now: datetime) -> None:
        """The presence accounts not yet read today (once a day each, failed or not: a network
        that refused is asked again tomorrow, not at every cycle)."""
        from watcher.presence.snapshot import due, run_snapshot

        try:
            accounts = due(config, store, now)
            if accounts:
                for result in run_snapshot(config, store, fetcher, now, only=accounts):
                    if result.status == "error":
                        log.warning("presence: %s", result.error)
                log.info("presence: %d accounts read", len(accounts))
        except Exception as exc:  # presence figures must not stop the watch
            log.error("presence snapshot not taken: %s", exc)

    def after_poll(self, store: Store, config: Config, reports: Sequence[PollReport], now: datetime) -> None:
        """Immediate alerts for the new hits of this cycle (above the threshold notify applies)."""
        from watcher import notify

        hit_ids = [i for r in reports for i in r.hit_ids]
        if not hit_ids:
            return
        try:
            result = notify.send_alerts(store, config, hit_ids, now)
        except Exception as exc:  # a delivery problem must not stop the watch
            log.error("alerts not sent: %s", exc)
            return
        if result.sent or result.failed or result.held:  # a report is a dataclass: always true
            log.info("%s", notify.describe_alerts(result))

    def digest_step(self, store: Store, config: Config, now: datetime) -> None:
        """Send the digest if its slot has come (notify decides and keeps the ledger)."""
        from watcher import notify

        try:
            result = notify.send_due_digest(store, config, now)
        except Exception as exc:  # a delivery problem must not stop the watch; notify retries at the next cycle
            log.error("digest not sent: %s", exc)
            return
        self.digest_due = result.next_due
        if result.created is not None or result.deliveries:
            log.info("%s", notify.describe_report(result))

    def _summary_cycle(self, store: Store, config: Config, reports: Sequence[PollReport], now: datetime) -> str:
        failed = sum(r.status == "error" for r in reports)
        new = sum(r.new_hits for r in reports)
        week = store.count("score > 0 AND first_seen >= :since", {"since": iso(now - timedelta(days=7))})
        upcoming = next_due(config, store, now)
        when = f"next poll {upcoming:%H:%M:%S}Z" if upcoming else "nothing scheduled"
        return (
            f"cycle {self.cycles}: {len(reports)} polled, {failed} failed, {count(new, 'new hit')}; "
            f"{week} hits this week; {when}"
        )

    def _sleep_for(self, store: Store, config: Config) -> float:
        if self._stop.is_set() or self._poll_all.is_set():
            return 0.0
        now = self.clock()
        upcoming = min((t for t in (next_due(config, store, now), self.digest_due) if t is not None), default=None)
        if upcoming is None:
            return MAX_SLEEP
        # at least half a second: a source whose poll was cut short is not retried in a spin
        return max(0.5, min(MAX_SLEEP, (upcoming - now).total_seconds()))


def next_due(config: Config, store: Store, now: datetime) -> datetime | None:
    """When the next enabled source of this configuration is due (now for one never polled)."""
    states = store.states()
    times = []
    for spec in config.feeds:
        state = states.get(spec.name)
        if not spec.enabled or (state and state.disabled_reason):
            continue
        times.append(state.next_poll if state and state.next_poll else now)
    return min(times, default=None)


def _ignore(_signum: int, _frame: object) -> None:
    """The Python-level handler: the work is done by the main loop, from the wakeup pipe."""


def _drain(wakeup: socket.socket) -> list[int]:
    signums: list[int] = []
    while True:
        try:
            data = wakeup.recv(64)
        except (BlockingIOError, InterruptedError):
            return signums
        if not data:
            return signums
        signums.extend(data)


def run_daemon(feeds: Path, keywords: Path, db: Path) -> int:
    """Run the watch; returns the exit code. Leaves at once if fetches abandoned by a stop still run."""
    code = Daemon(feeds, keywords, db).run()
    if threading.active_count() > 1:
        # Threads of a poll cut short by the stop are waiting on the network (the interpreter would
        # join them at exit, up to the fetch deadline). Everything they could have stored is either
        # committed or was never started, so there is nothing to wait for.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
