"""The ended quarter's report, sent by itself once at the start of the next quarter.

With `settings.report.tag`, the daemon sends the report of the quarter that ended (HTML to
e-mail-like targets, with report.html and its chart attached where the service takes
attachments; Markdown to the others) to the Apprise targets with that tag. Each (quarter,
target) is a row of `report_deliveries`, claimed before the send and finished after it, as the
digest's deliveries are: sent once; a refusal is tried again an hour later, five times at
most; a send cut short by a crash, or left without an answer, is never sent again.
The files are also kept beside the database, in reports/report-QUARTER/.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from watcher import notify
from watcher import report as rp
from watcher.redact import redact
from watcher.store import Store, iso
from watcher.types import Config

RETRY = timedelta(hours=1)
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class ReportDelivery:
    quarter: str
    target: str  # label, safe to show
    state: str  # sent, failed, uncertain
    error: str | None = None


def report_tag(config: Config) -> str | None:
    section = config.settings.extra.get("report") or {}
    tag = section.get("tag") if isinstance(section, dict) else None
    return tag.strip() or None if isinstance(tag, str) else None


def ended_quarter(now: datetime) -> str:
    year, quarter = now.year, (now.month - 1) // 3  # the current one's number minus one
    return f"{year - 1}Q4" if quarter == 0 else f"{year}Q{quarter}"


def report_folder(store: Store, quarter: str) -> Path:
    return store.path.parent / "reports" / f"report-{quarter}"


def _due(store: Store, quarter: str, target: str, now: datetime) -> bool:
    row = store.db.execute(
        "SELECT state, attempts, next_attempt FROM report_deliveries WHERE quarter = ? AND target = ?",
        (quarter, target),
    ).fetchone()
    if row is None:
        return True
    state, attempts, next_attempt = row
    return bool(state == "failed" and attempts < MAX_ATTEMPTS and (next_attempt or "") <= iso(now))


def _claim(store: Store, quarter: str, target: notify.Target, now: datetime) -> bool:
    with store.write() as conn:
        cursor = conn.execute(
            "INSERT INTO report_deliveries (quarter, target, label, state, attempts, claimed_at)"
            " VALUES (?, ?, ?, 'sending', 1, ?) ON CONFLICT (quarter, target) DO UPDATE SET state = 'sending',"
            " attempts = attempts + 1, claimed_at = excluded.claimed_at WHERE report_deliveries.state = 'failed'",
            (quarter, target.id, target.label, iso(now)),
        )
        return cursor.rowcount == 1


def _finish(store: Store, quarter: str, target: str, state: str, error: str | None, now: datetime) -> None:
    with store.write() as conn:
        conn.execute(
            "UPDATE report_deliveries SET state = ?, error = ?, sent_at = ?, next_attempt = ?"
            " WHERE quarter = ? AND target = ?",
            (state, error, iso(now) if state == "sent" else None, iso(now + RETRY), quarter, target),
        )


def send_due_report(
    store: Store, config: Config, now: datetime, targets: Sequence[notify.Target] | None = None
) -> list[ReportDelivery]:
    """Send the ended quarter's report to the tagged targets that have not had it yet."""
    tag = report_tag(config)
    if tag is None:
        return []
    chosen = [t for t in (notify.load_targets(config) if targets is None else targets) if tag in t.tags]
    quarter = ended_quarter(now)
    due = [t for t in chosen if _due(store, quarter, t.id, now)]
    if not due:
        return []
    start, end = rp.quarter_bounds(quarter)
    title = rp.report_title(config.settings.language, quarter)
    data = rp.collect(store, config, start, end, title, now)
    page, markdown = redact(rp.render_html(data)), redact(rp.render_markdown(data))
    folder = report_folder(store, quarter)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / rp.CHART_FILE).write_text(redact(rp.weekly_chart(data)), encoding="utf-8")
    (folder / "report.html").write_text(page, encoding="utf-8")
    (folder / "report.md").write_text(markdown, encoding="utf-8")
    timeout = notify.notify_settings(config).send_timeout
    done = []
    for target in due:
        if not _claim(store, quarter, target, now):
            continue
        html_first = target.fmt == "html"
        attach = [str(folder / "report.html"), str(folder / rp.CHART_FILE)] if target.attachments else []
        body = page if html_first else markdown
        result = notify._send(
            target, title, body, "html" if html_first else "markdown", attach, text=markdown, timeout=timeout
        )
        state = "sent" if result.ok else "uncertain" if result.uncertain else "failed"
        _finish(store, quarter, target.id, state, result.error, now)
        done.append(ReportDelivery(quarter, target.label, state, result.error))
    return done
