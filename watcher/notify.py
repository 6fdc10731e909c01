"""Delivery through Apprise (the one apprise user), and the ledger that makes it happen once.

Targets come from WATCHER_NOTIFY (Apprise URLs separated by spaces) and from the Apprise
configuration file named in `settings.notify.config` (where Apprise tags route: a target
tagged `email` can take the digest only, one tagged `chat` the alerts). With no target at
all, the digest is written to a file beside the database.

Apprise URLs hold passwords and tokens: a target is known by a hash of its URL (in the
database) and by its service name and the start of that hash (in logs and output); the URL
itself is never logged, printed or stored.

Order of writes, per target, for each digest (at most once):
  1. record the digest and a 'pending' delivery per target              (one transaction)
  2. claim: 'sending', attempts + 1, and the hits it covers recorded
     as delivered to the target                                         (commit)
  3. send through Apprise, and read the target's own result
  4. 'sent'; or 'failed' with the error, a retry time, the hits released (commit)
A crash between 2 and 4 leaves a 'sending' row: the message may or may not have gone out.
Such a row is never sent again; it becomes 'uncertain', is listed by `watcher digest
--history`, and the next digest that reaches the target says so. Immediate alerts follow
the same order in the `alerts` table.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

from watcher import digest as dg
from watcher.config import MAX_SEND_TIMEOUT, parse_duration, setting_error
from watcher.errors import ConfigError
from watcher.redact import SECRETS
from watcher.redact import redact as redact_secrets
from watcher.schedule import DigestSlot, Window, due_digest, last_slot, next_slot, parse_slot
from watcher.store import Store, iso, parse_iso
from watcher.types import Config

log = logging.getLogger("watcher.notify")

# Apprise's own log lines can carry parts of a URL: keep them out of ours. Each target's
# outcome is read from the result Apprise returns, and logged redacted.
_apprise_log = logging.getLogger("apprise")
_apprise_log.addHandler(logging.NullHandler())
_apprise_log.propagate = False

ENV = "WATCHER_NOTIFY"
CONFIG_ENV = "WATCHER_APPRISE_CONFIG"  # an Apprise configuration file; the systemd unit passes it by LoadCredential
FILE_TARGET = "file"  # the pseudo-target when nothing is configured: a file in the data directory
RETRY_FIRST = timedelta(minutes=5)
RETRY_MAX = timedelta(hours=6)
STALE_SENDING = timedelta(minutes=30)  # a claim older than this was cut short by a crash
SEND_TIMEOUT = 60.0  # seconds one message to one target may take, all included (settings.notify.timeout)
# Apprise ends its own call at the deadline; the thread that runs it is waited for this much
# longer, so that Apprise's own report comes first whenever Apprise keeps to it.
SEND_GRACE = 5.0
DEFAULT_ALERT_SCORE = 85
DEFAULT_ALERTS_PER_HOUR = 3
MIN_NEWS_AGE = timedelta(days=2)  # a daily digest still takes yesterday's post found this morning
CLAIM_TRIES = 3  # builds of a digest whose hits keep changing under it before giving up for this turn


# --- settings and targets ----------------------------------------------------------------------


@dataclass(frozen=True)
class NotifySettings:
    """settings.digest, settings.alerts and settings.notify of feeds.yaml, checked."""

    slot: DigestSlot
    language: str
    tz: tzinfo
    max_items: int = dg.DEFAULT_MAX_ITEMS
    digest_tag: str | None = None
    alert_min_score: int | None = DEFAULT_ALERT_SCORE  # None: no immediate alerts
    alert_max_per_hour: int = DEFAULT_ALERTS_PER_HOUR
    alert_tag: str | None = None
    send_timeout: float = SEND_TIMEOUT
    config_file: Path | None = None
    # An item found more than this long after it was published is a source's archive (a feed
    # just added brings years of posts): stored, searchable and counted, never in the digest's
    # stories nor alerted. settings.digest.max_age; by default the digest's period, 2 days at least.
    news_age: timedelta = timedelta(days=7)


def notify_settings(config: Config) -> NotifySettings:
    """Read the digest, alert and target settings; a bad value is a ConfigError naming it."""
    settings = config.settings
    where = str(config.feeds_path or "feeds.yaml")
    tz = ZoneInfo(settings.timezone)
    extra = settings.extra

    def section(name: str) -> Mapping[str, Any]:
        value = extra.get(name) or {}
        if not isinstance(value, Mapping):
            raise setting_error(where, settings, f"settings.{name} must be a mapping")
        return value

    digest, alerts, notify = section("digest"), section("alerts"), section("notify")
    try:
        slot = parse_slot(digest, tz)
    except ValueError as exc:
        raise setting_error(where, settings, str(exc)) from None
    max_items = digest.get("max_items", dg.DEFAULT_MAX_ITEMS)
    if not isinstance(max_items, int) or isinstance(max_items, bool) or max_items < 1:
        raise setting_error(where, settings, "settings.digest.max_items must be a whole number of at least 1")
    min_score = alerts.get("min_score", DEFAULT_ALERT_SCORE)
    if alerts.get("enabled") is False or min_score is None:
        min_score = None
    elif not isinstance(min_score, int) or isinstance(min_score, bool) or not 1 <= min_score <= 100:
        raise setting_error(where, settings, "settings.alerts.min_score must be a score from 1 to 100")
    per_hour = alerts.get("max_per_hour", DEFAULT_ALERTS_PER_HOUR)
    if not isinstance(per_hour, int) or isinstance(per_hour, bool) or per_hour < 0:
        raise setting_error(where, settings, "settings.alerts.max_per_hour must be a whole number (0: no alerts)")
    news_age = max(slot.period, MIN_NEWS_AGE)
    if "max_age" in digest:
        try:
            news_age = timedelta(seconds=parse_duration(digest["max_age"]))
        except ValueError as exc:
            raise setting_error(where, settings, f"settings.digest.max_age: {exc}") from None
        if news_age < timedelta(hours=1):
            raise setting_error(where, settings, "settings.digest.max_age must be at least 1h (e.g. 7d)")
    config_file = os.environ.get(CONFIG_ENV) or notify.get("config")
    base = config.feeds_path.parent if config.feeds_path else Path(".")
    send_timeout = notify.get("timeout", SEND_TIMEOUT)
    if (
        not isinstance(send_timeout, int | float)
        or isinstance(send_timeout, bool)
        or not math.isfinite(send_timeout)
        or not 1 <= send_timeout <= MAX_SEND_TIMEOUT
    ):
        raise setting_error(
            where, settings, f"settings.notify.timeout must be a number of seconds from 1 to {MAX_SEND_TIMEOUT:g}"
        )
    return NotifySettings(
        slot=slot,
        language=settings.language,
        tz=tz,
        max_items=max_items,
        digest_tag=_tag(digest.get("tag")),
        alert_min_score=min_score,
        alert_max_per_hour=per_hour,
        alert_tag=_tag(alerts.get("tag")),
        config_file=base / str(config_file) if config_file else None,
        news_age=news_age,
        send_timeout=float(send_timeout),
    )


def _tag(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


@dataclass(frozen=True)
class Target:
    """One Apprise service. `id` is a hash of its URL, `label` is safe to show; the URL is kept nowhere."""

    id: str
    label: str
    tags: frozenset[str] = frozenset()
    fmt: str = "text"  # what we render for it: html (e-mail), markdown (chat), text
    max_chars: int = 32768
    attachments: bool = False
    service: Any = field(default=None, repr=False, compare=False)
    secrets: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def wants(self, tag: str | None) -> bool:
        return tag is None or tag in self.tags


def target_id(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def _secrets(url: str) -> tuple[str, ...]:
    """The parts of a URL that may be credentials, to scrub from error messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return (url,)
    words = {url, parts.netloc, parts.password or "", parts.username or ""}
    words |= {unquote(p) for p in parts.path.split("/")}
    words |= {unquote(v.partition("=")[2]) for v in parts.query.split("&")}
    return tuple(sorted((w for w in words if len(w) >= 6), key=len, reverse=True))


def redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _target(service: Any, url: str) -> Target:
    ident = target_id(url)
    SECRETS.remember_url(url)  # for every log line and output of this process
    declared = service._formats() if hasattr(service, "_formats") else [service.notify_format]
    formats = [str(getattr(f, "value", f)).lower() for f in declared]
    # An HTML-first service without Markdown is e-mail-like: it gets the HTML digest with its
    # text alternative. Chat services get Markdown (converted by Apprise where they take HTML).
    if formats[0] == "html" and "markdown" not in formats:
        fmt = "html"
    elif "markdown" in formats or "html" in formats:
        fmt = "markdown"
    else:
        fmt = "text"
    name = str(getattr(service, "service_name", None) or type(service).__name__)
    return Target(
        id=ident,
        label=f"{name} [{ident[:8]}]",
        tags=frozenset(str(t) for t in (getattr(service, "tags", None) or ())),
        fmt=fmt,
        max_chars=int(getattr(service, "body_maxlen", 32768) or 32768),
        attachments=bool(getattr(service, "attachment_support", False)),
        service=service,
        secrets=_secrets(url),
    )


def load_targets(config: Config, env: Mapping[str, str] | None = None) -> list[Target]:
    """The targets of WATCHER_NOTIFY and of the Apprise configuration file; [] when none is set.

    Raises ConfigError for a URL Apprise cannot use (naming its position and scheme only) or
    an unreadable configuration file.
    """
    import apprise  # imported when targets are needed: a preview never loads it (~0.2 s)

    ns = notify_settings(config)
    environ = os.environ if env is None else env
    targets: list[Target] = []
    for number, url in enumerate((environ.get(ENV) or "").split(), start=1):
        service = apprise.Apprise.instantiate(url)
        if service is None:
            scheme = url.split("://", 1)[0] if "://" in url else "?"
            raise ConfigError(ENV, None, f"URL {number} ({scheme}://…) is not an Apprise URL this watcher can use")
        targets.append(_target(service, url))
    if ns.config_file is not None:
        if not ns.config_file.is_file():
            raise ConfigError(ns.config_file, None, "Apprise configuration file not found (settings.notify.config)")
        loaded = apprise.AppriseConfig()
        if not loaded.add(str(ns.config_file)):
            raise ConfigError(ns.config_file, None, "not an Apprise configuration file (text or YAML)")
        bundle = apprise.Apprise()
        bundle.add(loaded)
        services = list(bundle.find())
        if not services:
            raise ConfigError(ns.config_file, None, "no usable Apprise URL in this file")
        for service in services:
            targets.append(_target(service, str(service.url(privacy=False))))  # type: ignore[no-untyped-call]
    unique: dict[str, Target] = {}
    for t in targets:  # the same URL twice is one target
        unique.setdefault(t.id, t)
    return list(unique.values())


@dataclass(frozen=True)
class SendResult:
    target: str  # label
    ok: bool
    error: str | None = None
    # no answer by the deadline: the message may have gone out, or may still go (the abandoned
    # call runs on), so it is never sent again (at most once), and the next digest says so
    uncertain: bool = False


# HTML bodies being sent -> the text alternative to send with each (see _own_text_alternative).
_TEXT_ALTERNATIVES: dict[str, str] = {}
_TEXT_ALTERNATIVES_LOCK = threading.Lock()


def _own_text_alternative() -> bool:
    """Make Apprise's e-mail send watcher's own text digest as the plain-text part of an HTML mail.

    Apprise builds that part by converting the HTML, which puts one table cell per line and
    leaves the links out; it has no parameter for a text of our own. Its e-mail module calls
    `convert_between` for that conversion, so that name is wrapped (once) to answer with the
    text registered for exactly this HTML body (stripped, as Apprise strips it), and to convert
    as before for any other. If a
    later Apprise no longer has it, the mail keeps Apprise's conversion (the HTML never cuts a
    link, so the converted text keeps them whole). Returns whether the wrapper is in place.
    """
    try:
        from apprise.plugins.email import base
    except ImportError:
        return False
    original = getattr(base, "convert_between", None)
    if original is None:
        return False
    if getattr(original, "watcher_text", False):
        return True

    def convert_between(from_format: Any, to_format: Any, content: Any) -> Any:
        if str(getattr(to_format, "value", to_format)).lower() == "text":
            with _TEXT_ALTERNATIVES_LOCK:
                own = _TEXT_ALTERNATIVES.get(content.strip()) if isinstance(content, str) else None
            if own is not None:
                return own
        return original(from_format, to_format, content)

    convert_between.watcher_text = True  # type: ignore[attr-defined]
    base.convert_between = convert_between  # type: ignore[attr-defined]
    return True


def _send(
    target: Target,
    title: str,
    body: str,
    fmt: str,
    attach: Sequence[str] = (),
    text: str | None = None,
    timeout: float = SEND_TIMEOUT,
) -> SendResult:
    """One message to one target, within `timeout` seconds; its own outcome read from Apprise's
    per-service results.

    `text`: for an HTML body, the plain-text alternative an e-mail carries beside it.

    Apprise runs in a thread of its own, waited for until the deadline: its name lookups,
    connections and a server that accepts and never answers are Apprise's own (it bounds its
    call by `timeout` too, but not every step of every service), and must not hold the caller
    (the daemon's loop) beyond it.
    """
    import apprise

    bundle = apprise.Apprise()
    bundle.add(target.service)
    # what goes out holds no secret (a source's last error quoting its address, say)
    title, body = redact_secrets(title), redact_secrets(body)
    own_text = fmt == "html" and text is not None and _own_text_alternative()
    if own_text:
        with _TEXT_ALTERNATIVES_LOCK:
            _TEXT_ALTERNATIVES[body.strip()] = redact_secrets(text or "")  # Apprise strips the body it is given
    outcome: list[Any] = []

    def deliver() -> None:
        try:
            outcome.append(
                bundle.notify(body=body, title=title, body_format=fmt, attach=list(attach) or None, timeout=timeout)
            )
        except Exception as exc:  # Apprise reports service failures as results; this is a call it refused
            outcome.append(exc)
        finally:  # when the send ends, even after it was given up: a late send keeps its text
            if own_text:
                with _TEXT_ALTERNATIVES_LOCK:
                    _TEXT_ALTERNATIVES.pop(body.strip(), None)

    sender = threading.Thread(target=deliver, name="watcher-send", daemon=True)
    sender.start()
    sender.join(timeout + SEND_GRACE)
    if not outcome:  # still running: left to end by itself, in the background
        return _no_answer(target, timeout)
    result = outcome[0]
    if isinstance(result, Exception):
        return SendResult(
            target.label, False, redact_secrets(redact(f"{type(result).__name__}: {result}", target.secrets))
        )
    if result.status == apprise.AppriseResultStatus.TIMEOUT:  # Apprise stopped waiting: the same
        return _no_answer(target, timeout)
    outcomes = list(result)
    if result and outcomes and all(outcomes):
        return SendResult(target.label, True)
    messages = [e.message for e in result.logs() if e.level in ("WARNING", "ERROR", "CRITICAL")]
    status = getattr(result.status, "name", str(result.status)).lower()
    error = "; ".join(dict.fromkeys(messages[-3:])) or f"delivery {status}"
    error = " ".join(redact_secrets(redact(error, target.secrets)).split())
    return SendResult(target.label, False, error[:500])


def _no_answer(target: Target, timeout: float) -> SendResult:
    return SendResult(
        target.label,
        False,
        f"no answer within {timeout:g} s (settings.notify.timeout): it may or may not have arrived,"
        " and is not sent again",
        uncertain=True,
    )


def send_test(config: Config, now: datetime, targets: Sequence[Target] | None = None) -> list[SendResult]:
    """One short message to every target; each target's own result."""
    ns = notify_settings(config)
    targets = load_targets(config) if targets is None else targets
    title, body = dg.render_test(ns.language, now, ns.tz)
    return [_send(t, title, body, "text", timeout=ns.send_timeout) for t in targets]


# --- the digest ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """What became of one (digest, target) in a call."""

    digest_id: int
    target: str  # label
    state: str  # sent, failed, uncertain (no answer by the deadline), skipped, superseded, dropped, busy
    items: int = 0
    error: str | None = None
    path: str | None = None  # the file written, for the file target


@dataclass(frozen=True)
class DigestReport:
    created: int | None  # the digest recorded by this call, if any
    window: Window | None
    deliveries: tuple[Delivery, ...]
    interrupted: tuple[str, ...]  # deliveries found cut short by a crash, now 'uncertain'
    next_due: datetime  # the next slot, or an earlier retry

    @property
    def failed(self) -> bool:
        return any(d.state == "failed" for d in self.deliveries)


def digest_dir(store: Store) -> Path:
    return store.path.parent / "digests"


def _windows_before(start: datetime, period: timedelta, since: datetime | None) -> list[Window]:
    """The previous windows the summary averages: full periods before `start` with data in them."""
    out = []
    for k in range(1, dg.PREVIOUS_WINDOWS + 1):
        w = Window(start - k * period, start - (k - 1) * period)
        if since is not None and w.end > since:
            out.append(w)
    return out


def build_digest(
    store: Store,
    config: Config,
    start: datetime,
    end: datetime,
    *,
    target: str | None = None,
    digest_id: int | None = None,
    notes: Sequence[str] = (),
) -> tuple[dg.Digest, int]:
    """The digest of [start, end) (for `target`: what it has not had yet), and how many hits it covers.

    Only the hits of the stories shown are read; the window's totals and the trends are counted
    in SQL, so a long window costs no more memory than a short one.
    """
    ns = notify_settings(config)
    age = ns.news_age
    total, stories = store.digest_size(start, end, target=target, max_age=age)
    floor = dg.OFF_THEME_FLOOR
    rows = store.digest_best(start, end, ns.max_items, target=target, max_age=age, theme_floor=floor) if total else []
    below = store.digest_below(start, end, floor, target=target, max_age=age) if total else 0
    hits = [dg.hit_from_row(r) for r in rows]
    in_digest = {h.id for h in hits}  # every hit of the window in the clusters shown
    clusters = sorted({h.cluster for h in hits if h.cluster is not None})
    outlets = {
        cluster: [
            o["publisher"] or o["author"] or (o["sources"] or "").split(", ")[0]
            for o in items
            if o["id"] not in in_digest
        ]
        for cluster, items in store.cluster_outlets(clusters).items()
    }
    keywords = [q.text for q in config.queries]
    weights = {q.text: q.weight for q in config.queries}
    groups, omitted = dg.choose(
        hits,
        keywords,
        ns.max_items,
        outlets,
        stories_total=stories - below,
        weights=weights,
        counts=store.query_counts(),
    )
    period = ns.slot.period
    history = _windows_before(start, period, store.first_seen(hits_only=False))
    scale = (end - start) / period
    watched = set(keywords)  # a query removed from keywords.txt leaves the summary

    def counts(a: datetime, b: datetime) -> dict[str, int]:
        return {k: n for k, n in store.keyword_counts(a, b, max_age=age).items() if k in watched}

    trends = dg.trends(counts(start, end), [counts(w.start, w.end) for w in history], keywords, scale)
    health = dg.source_health(
        store.source_rows(),
        [f.name for f in config.feeds if f.enabled],
        store.source_item_counts(start, end),
        [store.source_item_counts(w.start, w.end) for w in history],
        scale,
    )
    d = dg.Digest(
        start=start,
        end=end,
        language=ns.language,
        tz=ns.tz,
        total=total,
        groups=groups,
        omitted=omitted,
        trends=trends if total or any(t.mark for t in trends) else (),
        previous_windows=len(history),
        weekly=ns.slot.every == "weekly",
        sources=health,
        notes=tuple(notes),
        digest_id=digest_id,
        actions=_action_links(store, config, [e.hit.id for _, entries in groups for e in entries], end),
        archived=store.archive_count(start, end, age),
        more_url=more_url(config),
        below=below,
    )
    return d, total


def _action_links(
    store: Store, config: Config, hit_ids: Sequence[int], end: datetime
) -> dict[int, tuple[tuple[str, str], ...]]:
    """The web page's signed "Relayer · Hors sujet" links of each story (settings.web.public_url)."""
    if not config.settings.extra.get("web"):
        return {}
    from watcher.web.links import action_links

    return action_links(store, config, hit_ids, end)


def more_url(config: Config) -> str | None:
    """Where the whole of a digest can be read, linked from its "N more" line: None until a web
    page is configured (`settings.web.public_url`), and then that page's address when it is http(s)."""
    web = config.settings.extra.get("web")
    url = web.get("public_url") if isinstance(web, Mapping) else None
    return dg.safe_url(str(url)) if url else None


def render(d: dg.Digest, fmt: str) -> str:
    if fmt == "html":
        return dg.render_html(d)
    if fmt == "markdown":
        return dg.render_markdown(d)
    return dg.render_text(d)


def preview_digest(store: Store, config: Config, now: datetime, fmt: str = "html") -> tuple[str, dg.Digest]:
    """The next digest as it stands now (everything since the last one), rendered; nothing recorded."""
    d, _ = build_digest(store, config, *next_window(store, config, now))
    return render(d, fmt), d


def next_window(store: Store, config: Config, now: datetime) -> tuple[datetime, datetime]:
    """The window of the next digest as it stands now: from the end of the last one (the last period
    for the first) to `now` included. The web page's week is this window."""
    last = store.last_digest()
    start = parse_iso(last["window_end"]) if last else None
    end = _through(now)
    return start or _first_start(store, end, notify_settings(config).slot.period) or end, end


def _first_start(store: Store, end: datetime, period: timedelta) -> datetime | None:
    """Where the first digest starts: one period before its end (None before the first hit).

    The first digest covers the last period (a week for weekly digests), even when the watch
    started within it (its title then says the week it covers, not the day of the first hit),
    and only that, however long the database has been filling: what came before is in
    `watcher hits` and the report.
    """
    first = store.first_seen()
    return None if first is None or first >= end else end - period


def _write_files(store: Store, d: dg.Digest, digest_id: int) -> Path:
    folder = digest_dir(store)
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"digest-{digest_id}-{d.end.astimezone(d.tz):%Y-%m-%d}"
    (folder / f"{stem}.txt").write_text(redact_secrets(dg.render_text(d)), encoding="utf-8")
    path = folder / f"{stem}.html"
    path.write_text(redact_secrets(dg.render_html(d)), encoding="utf-8")
    return path


def _through(now: datetime) -> datetime:
    """A window end that includes everything stored up to `now` (stored times have whole seconds)."""
    return now.replace(microsecond=0) + timedelta(seconds=1)


def _when(text: str) -> datetime:
    moment = parse_iso(text)
    if moment is None:
        raise ValueError("a ledger row without its time")
    return moment


def _deliver(store: Store, config: Config, row: dict[str, Any], target: Target | None, now: datetime) -> Delivery:
    """Steps 2 to 4 of the order of writes for one delivery."""
    digest_id, tid = int(row["digest_id"]), str(row["target"])
    ns = notify_settings(config)
    notes = [
        dg.uncertain_note(ns.language, ns.tz, u["digest_id"], _when(u["window_start"]), _when(u["window_end"]))
        for u in store.uncertain_deliveries(tid)
    ]
    start, end = _when(row["window_start"]), _when(row["window_end"])
    for _ in range(CLAIM_TRIES):
        d, count = build_digest(store, config, start, end, target=tid, digest_id=digest_id, notes=notes)
        if d.is_empty():
            store.set_delivery_state(digest_id, tid, "skipped")
            return Delivery(digest_id, row["label"], "skipped")
        # The hits the digest covers are recorded in SQL from the same selection; "changed" means
        # hits came in since it was built (a poll running beside us): build it again.
        claim = store.claim_delivery_of(digest_id, tid, start, end, count, now, ns.news_age)
        if claim != "changed":
            break
    if claim != "claimed":
        return Delivery(digest_id, row["label"], "busy")  # another process has it, or it keeps changing
    result: SendResult
    path: Path | None = None
    try:
        path = _write_files(store, d, digest_id)
        if target is None:  # the file target: the file is the delivery
            log.warning("no notification target configured (%s): digest written to %s", ENV, path)
            result = SendResult(FILE_TARGET, True)
        else:
            title = dg.subject(d)
            text = None
            if target.fmt == "html":
                body, complete, text = dg.render_html(d), True, dg.render_text(d)
            else:
                renderer = dg.render_markdown if target.fmt == "markdown" else dg.render_text
                budget = max(200, target.max_chars - len(title) - 8)
                body, complete = dg.fit(renderer, d, budget, attached=target.attachments)
            attach = [str(path)] if not complete and target.attachments else []
            result = _send(target, title, body, target.fmt, attach, text, timeout=ns.send_timeout)
    except OSError as exc:  # the data directory is not writable: nothing was sent
        result = SendResult(row["label"], False, f"cannot write the digest file: {exc.strerror}")
    if result.ok:
        store.finish_delivery(digest_id, tid, now)
        log.info("digest %d delivered to %s (%d hit%s)", digest_id, row["label"], count, "" if count == 1 else "s")
        return Delivery(digest_id, row["label"], "sent", count, path=str(path) if target is None else None)
    if result.uncertain:  # as after a crash mid-send: never sent again, its hits stay covered
        store.set_delivery_state(digest_id, tid, "uncertain", result.error)
        log.warning("digest %d to %s: %s", digest_id, row["label"], result.error)
        return Delivery(digest_id, row["label"], "uncertain", count, result.error)
    attempts = int(row["attempts"]) + 1
    retry_at = now + min(RETRY_FIRST * 2 ** (attempts - 1), RETRY_MAX)
    store.finish_delivery(digest_id, tid, now, error=result.error, retry_at=retry_at)
    log.warning(
        "digest %d to %s failed (attempt %d, retry at %s): %s",
        digest_id,
        row["label"],
        attempts,
        iso(retry_at),
        result.error,
    )
    return Delivery(digest_id, row["label"], "failed", count, result.error)


def _digest_targets(config: Config, targets: Sequence[Target]) -> list[Target | None]:
    ns = notify_settings(config)
    chosen: list[Target | None] = [t for t in targets if t.wants(ns.digest_tag)]
    return chosen or ([None] if not targets else [])


def _deliver_open(
    store: Store, config: Config, targets: Sequence[Target], now: datetime, *, force: bool
) -> list[Delivery]:
    """Send every open delivery that is due (all of them with `force`), the newest per target only."""
    by_id: dict[str, Target | None] = {t.id: t for t in targets}
    if not targets:
        by_id[FILE_TARGET] = None
    latest: dict[str, dict[str, Any]] = {}
    out: list[Delivery] = []
    for row in store.open_deliveries():  # oldest first
        older = latest.get(row["target"])
        if older is not None:  # a later digest covers what this one had not delivered yet
            store.set_delivery_state(int(older["digest_id"]), older["target"], "superseded")
            out.append(Delivery(int(older["digest_id"]), older["label"], "superseded"))
        latest[row["target"]] = row
    for tid, row in latest.items():
        if tid not in by_id:
            store.set_delivery_state(int(row["digest_id"]), tid, "dropped", "target no longer configured")
            out.append(Delivery(int(row["digest_id"]), row["label"], "dropped"))
            continue
        due = parse_iso(row["next_attempt"])
        if not force and due is not None and due > now:
            continue
        out.append(_deliver(store, config, row, by_id[tid], now))
    return out


def _recover(store: Store, now: datetime) -> tuple[str, ...]:
    rows = store.mark_interrupted(now - STALE_SENDING)
    for r in rows:
        log.warning(
            "digest %d to %s was interrupted while sending: it may not have arrived; it will not be sent again",
            r["digest_id"],
            r["label"],
        )
    return tuple(f"{r['digest_id']}:{r['label']}" for r in rows)


def _next_due(store: Store, ns: NotifySettings, now: datetime) -> datetime:
    times = [next_slot(ns.slot, now)]
    times += [t for r in store.open_deliveries() if (t := parse_iso(r["next_attempt"])) is not None]
    return max(now, min(times))


def send_due_digest(
    store: Store, config: Config, now: datetime, targets: Sequence[Target] | None = None
) -> DigestReport:
    """The daemon's call, at every turn of its loop: send the scheduled digest if one is due.

    Contract: cheap when nothing is due (a few queries); safe to call as often as wanted and
    from several processes (a digest is recorded once per slot; each delivery is claimed in a
    transaction before it is sent). It records the digest of the window since the previous one
    when the slot has passed (after downtime: one catch-up digest for the whole gap), sends
    it to each target that has not had it, retries failed targets whose backoff has passed,
    and never sends again to a target that succeeded or that was cut short by a crash. Delivery
    failures are values in the report (`failed`), never exceptions; StoreError and ConfigError
    (a bad target URL) are raised. `next_due` says when to call again at the latest.
    `targets` defaults to load_targets(config).
    """
    ns = notify_settings(config)
    targets = load_targets(config) if targets is None else list(targets)
    interrupted = _recover(store, now)
    chosen = _digest_targets(config, targets)
    pairs = [(t.id, t.label) if t else (FILE_TARGET, FILE_TARGET) for t in chosen]

    def next_window(last: dict[str, Any] | None) -> tuple[datetime, datetime] | None:
        # under the write lock: another process that just recorded this slot's digest is seen here
        first = None if last else _first_start(store, last_slot(ns.slot, now), ns.slot.period)
        due = due_digest(parse_iso(last["window_end"]) if last else None, first, now, ns.slot)
        return (due.start, due.end) if due else None

    created = window = None
    recorded = store.create_next_digest(next_window, now, pairs)
    if recorded is not None:
        created, start, end = recorded
        window = Window(start, end)
        log.info("digest %d recorded for %s to %s", created, iso(start), iso(end))
    deliveries = _deliver_open(store, config, targets, now, force=False)
    return DigestReport(created, window, tuple(deliveries), interrupted, _next_due(store, ns, now))


def send_digest_now(
    store: Store, config: Config, now: datetime, targets: Sequence[Target] | None = None
) -> DigestReport:
    """`watcher digest --send`: deliver now what has not been delivered yet to each target.

    Retries every open delivery at once (backoff ignored) and, when some target has hits it
    never had, records a digest of the window from the previous digest to `now`. With nothing
    new, it records and sends nothing (the report has no delivery).
    """
    ns = notify_settings(config)
    targets = load_targets(config) if targets is None else list(targets)
    interrupted = _recover(store, now)
    chosen = _digest_targets(config, targets)
    pairs = [(t.id, t.label) if t else (FILE_TARGET, FILE_TARGET) for t in chosen]
    now = _through(now)

    def next_window(last: dict[str, Any] | None) -> tuple[datetime, datetime] | None:
        # under the write lock, as for the scheduled digest: two `--send` at once record one digest
        start = parse_iso(last["window_end"]) if last else _first_start(store, now, ns.slot.period)
        if start is None or start >= now:
            return None
        fresh = any(
            store.digest_size(start, now, target=t.id if t else FILE_TARGET, max_age=ns.news_age)[0] for t in chosen
        )
        return (start, now) if fresh else None

    created = window = None
    recorded = store.create_next_digest(next_window, now, pairs, manual=True)
    if recorded is not None:
        created, start, end = recorded
        window = Window(start, end)
    deliveries = _deliver_open(store, config, targets, now, force=True)
    return DigestReport(created, window, tuple(deliveries), interrupted, _next_due(store, ns, now))


# --- immediate alerts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertReport:
    sent: tuple[tuple[int, str], ...] = ()  # (hit id, target label)
    failed: tuple[tuple[int, str, str], ...] = ()  # (hit id, target label, error)
    held: tuple[int, ...] = ()  # over the hourly limit: they wait for the digest


def send_alerts(
    store: Store, config: Config, hit_ids: Sequence[int], now: datetime, targets: Sequence[Target] | None = None
) -> AlertReport:
    """The daemon's call after each poll, with the ids of the new hits (PollReport.hit_ids).

    Contract: each hit scoring at least settings.alerts.min_score is sent at once to every
    target that takes alerts (settings.alerts.tag), best first, at most
    settings.alerts.max_per_hour hits in any hour (the others are `held` and wait for the
    digest, which lists alerted hits too, marked). An alert goes at most once per hit and
    target: recorded 'sending' before it is sent, so a crash never repeats it; a failed alert
    is not retried (the digest carries the hit). With no target, nothing is sent. Failures are
    values in the report, never exceptions; StoreError and ConfigError are raised.
    """
    ns = notify_settings(config)
    if ns.alert_min_score is None or not hit_ids:
        return AlertReport()
    targets = load_targets(config) if targets is None else list(targets)
    chosen = [t for t in targets if t.wants(ns.alert_tag)]
    rows = [
        r
        for r in store.hits_by_id(hit_ids)
        if r["score"] >= ns.alert_min_score and is_news(r, ns.news_age)  # an archive post is not news
    ]
    if not chosen or not rows:
        return AlertReport()
    hour_ago = now - timedelta(hours=1)
    sent: list[tuple[int, str]] = []
    failed: list[tuple[int, str, str]] = []
    held: list[int] = []
    for row in rows:  # best first
        hit = dg.hit_from_row(row)
        for target in chosen:
            # the hourly limit is counted where the alert is claimed: another process alerting at
            # the same moment (the daemon and a `watcher poll`) cannot take the same last place
            claim = store.claim_alert_within(hit.id, target.id, target.label, now, hour_ago, ns.alert_max_per_hour)
            if claim == "held":
                held.append(hit.id)
                break
            if claim == "taken":
                continue  # already alerted to this target
            title, body = dg.render_alert(hit, ns.language, ns.tz, target.fmt, now)
            text = dg.render_alert(hit, ns.language, ns.tz, "text", now)[1] if target.fmt == "html" else None
            result = _send(target, title, body, target.fmt, text=text, timeout=ns.send_timeout)
            store.finish_alert(hit.id, target.id, now, result.error if not result.ok else None)
            if result.ok:
                sent.append((hit.id, target.label))
            else:
                failed.append((hit.id, target.label, result.error or "failed"))
                log.warning("alert for hit %d to %s failed: %s", hit.id, target.label, result.error)
    if held:
        log.info(
            "%d alert%s held back by the limit of %d an hour",
            len(held),
            "s" if len(held) != 1 else "",
            ns.alert_max_per_hour,
        )
    return AlertReport(tuple(sent), tuple(failed), tuple(held))


def is_news(row: Mapping[str, Any], max_age: timedelta) -> bool:
    """Whether a stored hit was found within `max_age` of its publication."""
    published, found = parse_iso(row.get("published")), parse_iso(row.get("first_seen"))
    return published is None or found is None or found - published <= max_age


def describe_report(report: DigestReport) -> str:
    """One log line for a digest call, in words: what was recorded and what became of each target."""
    parts = []
    if report.created is not None:
        window = f" for {iso(report.window.start)} to {iso(report.window.end)}" if report.window else ""
        parts.append(f"digest {report.created} recorded{window}")
    for d in report.deliveries:
        hits = f" ({d.items} hit{'s' if d.items != 1 else ''})" if d.state == "sent" and d.items else ""
        parts.append(f"digest {d.digest_id} {d.state} to {d.target}{hits}" + (f": {d.error}" if d.error else ""))
    parts += [f"digest {i.split(':', 1)[0]} to {i.split(':', 1)[1]} may not have arrived" for i in report.interrupted]
    return "; ".join(parts) or "nothing to send"


def describe_alerts(report: AlertReport) -> str:
    """One log line for the alerts of a poll, in words: which hits went where, which failed or wait."""
    by_hit: dict[int, list[str]] = {}
    for hit_id, label in report.sent:
        by_hit.setdefault(hit_id, []).append(label)
    parts = [f"alert for hit #{hit_id} sent to {', '.join(labels)}" for hit_id, labels in by_hit.items()]
    parts += [f"alert for hit #{hit_id} to {label} failed: {error}" for hit_id, label, error in report.failed]
    if report.held:
        n = len(report.held)
        ids = ", ".join(f"#{i}" for i in report.held)
        parts.append(f"{n} alert{'s' if n != 1 else ''} held back by the hourly limit ({ids}): in the digest")
    return "; ".join(parts) or "no alert"


def digest_status(store: Store, config: Config, now: datetime) -> dict[str, Any]:
    """For `watcher status`: the next digest slot, and the last digest with its result per target."""
    ns = notify_settings(config)
    history = store.digest_history(limit=1)
    last = None
    if history:
        d = history[0]
        sent = [x["sent_at"] for x in d["deliveries"] if x["sent_at"]]
        last = {
            "id": d["id"],
            "sent": max(sent) if sent else None,
            "window_start": d["window_start"],
            "window_end": d["window_end"],
            "targets": [
                {
                    "target": x["label"],
                    "ok": x["state"] == "sent",
                    "state": x["state"],
                    "error": x["error"],
                    "sent_at": x["sent_at"],
                }
                for x in d["deliveries"]
            ],
        }
    return {"next": iso(_next_due(store, ns, now)), "last": last}
