"""`watcher status`: the health of the watch at a glance, gathered from the database and the configuration.

`collect` reads (the store, the database file's size, the digest ledger through watcher.notify when
this build has it) and returns one plain dict, the shape of `watcher status --json`; `render` turns
that dict into the lines a person reads, and is pure (`now` is a parameter).
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from watcher.errors import ConfigError
from watcher.hints import hint
from watcher.store import Store, iso, parse_iso
from watcher.terminal import line as one_line
from watcher.types import Config
from watcher.words import count

OVERDUE = timedelta(minutes=5)  # a due source not polled after this long: the daemon is probably not running


def collect(store: Store, config: Config | None, now: datetime, config_error: str | None = None) -> dict[str, Any]:
    """Everything `watcher status` shows. `config` may be None when feeds.yaml does not load."""
    rows = {row["name"]: row for row in store.source_rows()}
    specs = {spec.name: spec for spec in config.feeds} if config else {}
    sources = []
    for name in [*specs, *sorted(set(rows) - set(specs))]:
        row, spec = rows.get(name, {}), specs.get(name)
        # without a configuration, what the database knows is shown as it is
        enabled = spec.enabled if spec else config is None
        next_poll = row.get("next_poll") or (iso(now) if enabled else None)
        due_at = parse_iso(next_poll)
        sources.append(
            {
                "name": name,
                "kind": spec.kind if spec else row.get("kind"),
                "enabled": enabled,
                "in_config": spec is not None if config else None,  # None: the configuration did not load
                "status": row.get("last_status"),  # ok, not_modified, error, or None: never polled
                "last_poll": row.get("last_poll"),
                "last_success": row.get("last_success"),
                "last_error": row.get("last_error"),
                "failures": row.get("failures", 0),
                "next_poll": next_poll if enabled and not row.get("disabled_reason") else None,
                "disabled_reason": row.get("disabled_reason"),
                "overdue": bool(enabled and due_at and now - due_at > OVERDUE),
                "new_hits_last_poll": row.get("last_new", 0),
                "backlog": backlog(row.get("cursor")),
            }
        )
    week = iso(now - timedelta(days=7))
    return {
        "now": iso(now),
        "timezone": config.settings.timezone if config else None,  # times are shown in it; stored in UTC
        "config_error": config_error,
        "sources": sources,
        "hits": {
            "this_week": store.count("score > 0 AND first_seen >= :since", {"since": week}),
            "total": store.count("score > 0"),
        },
        "digest": digest_status(store, config, now),
        "database": {"path": str(store.path), "bytes": database_bytes(store.path)},
    }


def backlog(cursor: str | None) -> int:
    """Searches of a social source with posts still to read: a burst went past a poll's page limit."""
    try:
        windows = json.loads(cursor or "{}").get("backlog") or {}
        return sum(len(w) for w in windows.values() if isinstance(w, list))
    except (ValueError, AttributeError):
        return 0


def digest_status(store: Store, config: Config | None, now: datetime) -> dict[str, Any] | None:
    """The next digest and the last one with its result per target; None without a valid configuration."""
    if config is None:
        return None
    from watcher import notify

    try:
        return notify.digest_status(store, config, now)
    except ConfigError:  # bad digest settings: `watcher check` names them
        return None


def database_bytes(path: Path) -> int:
    """The database with its write-ahead log: what it takes on disk."""
    total = 0
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(OSError):  # no WAL file when no one has the database open
            total += Path(str(path) + suffix).stat().st_size
    return total


# --- rendering (pure) ----------------------------------------------------------------------------


def relative(when: str | None, now: datetime) -> str:
    """'12 min ago', 'in 2 h', 'now', or 'never'."""
    moment = parse_iso(when)
    if moment is None:
        return "never"
    seconds = (moment - now).total_seconds()
    size = abs(seconds)
    if size < 60:
        return "now"
    if size < 3600:
        amount = f"{size // 60:.0f} min"
    elif size < 2 * 86400:
        amount = f"{size / 3600:.0f} h"
    else:
        amount = f"{size / 86400:.0f} d"
    return f"in {amount}" if seconds > 0 else f"{amount} ago"


def local_time(when: str | None, timezone: str | None) -> str:
    """A stored UTC time as the watch's local time, e.g. '2026-12-14 08:00 CET' (UTC without a zone)."""
    moment = parse_iso(when)
    if moment is None:
        return "-"
    try:
        zone: tzinfo = ZoneInfo(timezone) if timezone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".rstrip()


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{count} B"


def render(status: dict[str, Any], now: datetime) -> list[str]:
    """The human form of `collect`'s dict: a table of sources, then hits, digest and database."""
    lines: list[str] = []
    if status["config_error"]:
        lines += [f"configuration: {status['config_error']}", ""]
    sources = status["sources"]
    configured = [s for s in sources if s["in_config"] is not False]  # a removed source is no source
    enabled = sum(s["enabled"] for s in configured)
    gone = len(sources) - len(configured)
    removed = f" ({gone} more in the database, no longer in feeds.yaml)" if gone else ""
    lines.append(f"Sources: {enabled} enabled of {len(configured)}{removed}")
    table = [("name", "last success", "next poll", "state")]
    for s in sources:
        if s["in_config"] is False:
            state = "no longer in feeds.yaml"
        elif not s["enabled"]:
            state = "disabled in feeds.yaml"
        elif s["disabled_reason"]:
            state = f"stopped: {s['disabled_reason']}"
        elif s["status"] == "error":
            state = f"error ({s['failures']} in a row): {one_line(s['last_error'])}"
        elif s["status"] is None:
            state = "not polled yet"
        else:
            state = f"{s['status']}, {count(s['new_hits_last_poll'], 'new hit')} at the last poll"
        if s.get("backlog"):
            n = s["backlog"]
            state += f"; catching up on {n} search{'es' if n > 1 else ''} (a burst beyond the page limit)"
        upcoming = relative(s["next_poll"], now) if s["next_poll"] else "-"
        if s["overdue"]:
            upcoming += hint(" (overdue: is `watcher run` running?)")
        table.append((s["name"], relative(s["last_success"], now), upcoming, state))
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    for row in table:
        lines.append("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])
    hits = status["hits"]
    lines.append(f"Hits: {hits['this_week']} this week, {hits['total']} in all")
    digest = status["digest"]
    if digest is None:
        lines.append("Digest: not available in this build")
    else:
        upcoming = digest.get("next")
        when = local_time(upcoming, status.get("timezone"))
        line = f"Digest: next {when} ({relative(upcoming, now)})" if upcoming else "Digest: none scheduled"
        last = digest.get("last")
        if last:
            results = ", ".join(
                f"{t['target']} " + ("ok" if t.get("ok") else f"{t.get('state')}: {t.get('error') or ''}".rstrip(": "))
                for t in last.get("targets", [])
            )
            line += f"; last sent {relative(last.get('sent'), now)}" + (f" ({results})" if results else "")
        lines.append(line)
    database = status["database"]
    lines.append(f"Database: {database['path']}, {human_bytes(database['bytes'])}")
    return lines
