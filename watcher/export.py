"""Rendering hits for relay: CSV, JSON, and the bulk-upload file of Hootsuite's scheduler.

Pure: values in, text out; the current time comes in as `now`. No I/O here: the command
writes the files and marks what was exported.

Hootsuite's bulk scheduler imports a CSV file with no header row and three columns: the date
and time to post (`DD/MM/YYYY HH:MM`, 24-hour, in the future, on a 5-minute mark), the message,
and a link; at most 350 rows per file, and no two rows with the same message. The message
is a draft that can be posted as is: the title, then credit to the author (their handle where
the network has one) or the publisher, within the length the target network allows.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

HOOTSUITE_MAX_ROWS = 350
MAX_MESSAGE = 100_000  # characters: longer than any network's post
MAX_SPACING = timedelta(days=30)  # gap and lead: more is a typo
SLOT_MINUTES = 5  # Hootsuite only takes times on 5-minute marks

# network -> (characters allowed, what a link counts for: None means its own length)
NETWORKS: Mapping[str, tuple[int, int | None]] = {
    "x": (280, 23),
    "twitter": (280, 23),
    "linkedin": (3000, None),
    "facebook": (63206, None),
}

CSV_COLUMNS = ["id", "score", "published", "title", "url", "keywords", "sources", "author", "publisher", "state"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# A separator of some locale's CSV (comma, semicolon, tab), then what would start a formula in the
# cell it makes: French-locale Excel splits "a;=cmd|' /C calc'!A0" on the semicolon.
_SPLIT_FORMULA = re.compile(r"([,;\t])(\s*)(?=[=+\-@\r])")


def spreadsheet_safe(value: Any) -> str:
    """A cell that a spreadsheet will show, never run, whatever separator its locale splits on.

    A cell that starts like a formula (after any spaces) gets a leading quote, and so does every
    part of it that a separator could make a cell of its own. The writer also quotes every cell.
    """
    text = ", ".join(map(str, value)) if isinstance(value, list) else ("" if value is None else str(value))
    text = _SPLIT_FORMULA.sub(r"\1\2'", text)
    return "'" + text if text.lstrip(" ")[:1] in _FORMULA_START else text


def csv_row(row: Mapping[str, Any]) -> list[str]:
    """One hit's cells: a post's title is the start of its text, and only a web link is kept."""
    from watcher.normalise import display_title

    cells = {**row, "title": display_title(row.get("title") or "", row.get("text") or ""), "url": web_link(row["url"])}
    return [spreadsheet_safe(cells[c]) for c in CSV_COLUMNS]


def write_csv(rows: Iterable[Mapping[str, Any]], out: Any) -> None:
    """The hits as CSV with a header row, every cell quoted and spreadsheet-safe."""
    csv.writer(out).writerow(CSV_COLUMNS)  # our own names, nothing to quote
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    for row in rows:
        writer.writerow(csv_row(row))


def render_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    write_csv(rows, out)
    return out.getvalue()


def render_json(rows: Iterable[Mapping[str, Any]]) -> str:
    """The hits as JSON, without their text; a post's title is the start of its text."""
    from watcher.normalise import display_title

    return json.dumps(
        [
            {k: display_title(v or "", r.get("text") or "") if k == "title" else v for k, v in r.items() if k != "text"}
            for r in rows
        ],
        ensure_ascii=False,
        indent=2,
    )


# --- Hootsuite -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportSettings:
    """`settings: export:` of feeds.yaml, with defaults."""

    network: str = "x"
    max_length: int = 280
    link_length: int | None = 23  # what the link counts for in the message's length; None: its own length
    first_hour: time = time(9, 0)  # posting hours, local time: from
    last_hour: time = time(18, 0)  # ... until (exclusive)
    gap: timedelta = timedelta(hours=1)  # between two posts
    lead: timedelta = timedelta(minutes=30)  # the first post at least this far in the future
    timezone: str = "Europe/Paris"


_HOURS = re.compile(r"^\s*(\d{1,2})(?::(\d\d))?\s*-\s*(\d{1,2})(?::(\d\d))?\s*$")


def export_settings(data: Any, timezone: str, parse_duration: Any) -> ExportSettings:
    """Read `settings: export:` (a mapping, or None); raises ValueError with a readable message."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ValueError("settings.export must be a mapping (network, hours, gap, ...)")
    unknown = set(data) - {"network", "max_length", "link_length", "hours", "gap", "lead"}
    if unknown:
        raise ValueError(f"settings.export: unknown key {sorted(unknown)[0]!r}")
    network = str(data.get("network", "x")).lower()
    if network not in NETWORKS and "max_length" not in data:
        raise ValueError(
            f"settings.export.network: {network!r} is not one of {', '.join(NETWORKS)} (or give max_length)"
        )
    max_length, link_length = NETWORKS.get(network, (280, None))
    max_length = data.get("max_length", max_length)
    link_length = data.get("link_length", link_length)
    if not isinstance(max_length, int) or isinstance(max_length, bool) or not 40 <= max_length <= MAX_MESSAGE:
        raise ValueError(f"settings.export.max_length must be a whole number of characters from 40 to {MAX_MESSAGE}")
    if link_length is not None and (
        not isinstance(link_length, int) or isinstance(link_length, bool) or not 0 <= link_length < max_length
    ):
        raise ValueError("settings.export.link_length must be a whole number of characters, below max_length")
    first, last = time(9, 0), time(18, 0)
    if "hours" in data:
        m = _HOURS.match(str(data["hours"]))
        minutes = [int(m.group(i) or 0) for i in (2, 4)] if m else []
        if not m or int(m.group(1)) > 23 or int(m.group(3)) > 24 or max(minutes) > 59:
            raise ValueError(f"settings.export.hours: {data['hours']!r} is not like 09:00-18:00")
        first = time(int(m.group(1)), int(m.group(2) or 0))
        end_hour, end_minute = int(m.group(3)), int(m.group(4) or 0)
        last = time(23, 59) if end_hour == 24 or (end_hour, end_minute) == (0, 0) else time(end_hour, end_minute)
        if last <= first:
            raise ValueError(f"settings.export.hours: {data['hours']!r} ends before it starts")
        # Hootsuite takes 5-minute marks only: the window must hold one (09:01-09:04 holds none)
        first_mark = -(-(first.hour * 60 + first.minute) // SLOT_MINUTES) * SLOT_MINUTES
        if first_mark >= last.hour * 60 + last.minute:
            raise ValueError(
                f"settings.export.hours: {data['hours']!r} holds no time on a 5-minute mark"
                " (Hootsuite takes only those)"
            )
    spacing = {}
    for name, default in (("gap", "1h"), ("lead", "30m")):
        try:
            spacing[name] = timedelta(seconds=parse_duration(data.get(name, default)))
        except ValueError as exc:
            raise ValueError(f"settings.export.{name}: {exc}") from None
    gap, lead = spacing["gap"], spacing["lead"]
    if not timedelta(minutes=SLOT_MINUTES) <= gap <= MAX_SPACING:
        raise ValueError("settings.export.gap must be at least 5m, at most 30d")
    if not timedelta(0) <= lead <= MAX_SPACING:
        raise ValueError("settings.export.lead must be from 0s to 30d")
    return ExportSettings(network, max_length, link_length, first, last, gap, lead, timezone)


def schedule(count: int, now: datetime, settings: ExportSettings) -> list[datetime]:
    """`count` posting times (aware, local): in the future, on 5-minute marks, `gap` apart, within hours."""
    zone = ZoneInfo(settings.timezone)
    step = timedelta(minutes=SLOT_MINUTES)
    gap = max(step, (settings.gap // step) * step)
    t = _round_up(now.astimezone(zone) + settings.lead, step)
    slots: list[datetime] = []
    while len(slots) < count:
        local = t.replace(tzinfo=None)
        if local.time() < settings.first_hour:
            t = _at(local.date(), settings.first_hour, zone)
        elif local.time() >= settings.last_hour:
            t = _at(local.date() + timedelta(days=1), settings.first_hour, zone)
        else:
            slots.append(t)
            t = _round_up(t + gap, step)
    return slots


def _at(day: date, moment: time, zone: ZoneInfo) -> datetime:
    return _round_up(datetime.combine(day, moment, tzinfo=zone), timedelta(minutes=SLOT_MINUTES))


def _round_up(t: datetime, step: timedelta) -> datetime:
    t = t.replace(second=0, microsecond=0) + (timedelta(minutes=1) if t.second or t.microsecond else timedelta(0))
    minutes = step.seconds // 60
    extra = (-t.minute) % minutes
    return t + timedelta(minutes=extra)


def weighted_length(text: str, network: str) -> int:
    """Characters as the network counts them: X counts most CJK characters and emoji twice."""
    if network not in ("x", "twitter"):
        return len(text)
    light = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
    return sum(1 if any(a <= ord(c) <= b for a, b in light) else 2 for c in text)


def credit(row: Mapping[str, Any]) -> str | None:
    """Who to credit: the author's handle where the network gives one, else the publisher or author."""
    author = (row.get("author") or "").strip()
    publisher = (row.get("publisher") or "").strip()
    if author.startswith("@"):
        return author
    return publisher or author or None


def message(row: Mapping[str, Any], settings: ExportSettings) -> str:
    """The post: title, then '(via credit)', cut at a word so that message + link fit the network."""
    from watcher.normalise import display_title

    title = " ".join(display_title(row.get("title") or "", row.get("text") or "", limit=1000).split())
    title = title.lstrip("".join(_FORMULA_START) + " ")  # a post never starts like a formula
    url = row["url"]
    link = settings.link_length if settings.link_length is not None else len(url)
    budget = settings.max_length - link - 1  # Hootsuite puts a space and the link after the message
    who = credit(row)
    tail = f" (via {who})" if who else ""
    if weighted_length(tail, settings.network) > budget // 2:
        tail = ""
    room = budget - weighted_length(tail, settings.network)
    if weighted_length(title, settings.network) > room:
        cut = title
        while cut and weighted_length(cut + "…", settings.network) > room:
            cut = cut[: cut.rstrip().rfind(" ")] if " " in cut.rstrip() else cut[:-1]
        title = cut.rstrip(" ,;:—-") + "…"
    return title + tail


@dataclass(frozen=True)
class HootsuitePlan:
    """The rows to upload (date, message, link), the hits they come from, and what was left out."""

    rows: tuple[tuple[str, str, str], ...]
    ids: tuple[int, ...]
    held_back: int  # the authors asked not to be reused
    duplicates: int  # the same message as an earlier row


def plan_hootsuite(
    hits: Sequence[Mapping[str, Any]],
    now: datetime,
    settings: ExportSettings,
    drafts: Mapping[int, str] | None = None,
) -> HootsuitePlan:
    """Rows for Hootsuite's bulk upload, best score first, one time slot each.

    `drafts` are messages edited by a person (the web page), by hit id: used instead of the
    composed one, on one line and never starting like a formula.
    """
    kept: list[tuple[Mapping[str, Any], str]] = []
    seen: set[str] = set()
    held_back = duplicates = 0
    newest_first = sorted(hits, key=lambda h: str(h["published"]), reverse=True)
    for hit in sorted(newest_first, key=lambda h: -int(h["score"])):
        if hit.get("no_reuse"):
            held_back += 1
            continue
        text = edited_draft((drafts or {}).get(int(hit["id"]), "")) or message(hit, settings)
        if text.casefold() in seen:
            duplicates += 1
            continue
        seen.add(text.casefold())
        kept.append((hit, text))
    slots = schedule(len(kept), now, settings)
    rows = tuple(
        (when.strftime("%d/%m/%Y %H:%M"), text, web_link(hit["url"]))
        for (hit, text), when in zip(kept, slots, strict=True)
    )
    return HootsuitePlan(rows, tuple(int(h["id"]) for h, _ in kept), held_back, duplicates)


def edited_draft(text: str) -> str:
    """A message as a person edited it: one line, no control character, not starting like a formula."""
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return text.lstrip("".join(_FORMULA_START) + " ")


def web_link(url: str) -> str:
    """The link to post: only a web address; a feed's `javascript:` or `data:` link is left out."""
    return url if url.strip().lower().startswith(("http://", "https://")) else ""


def render_hootsuite(rows: Sequence[tuple[str, str, str]]) -> list[str]:
    """The file(s) to upload: no header, at most 350 rows each."""
    files = []
    for start in range(0, max(len(rows), 1), HOOTSUITE_MAX_ROWS):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
        for row in rows[start : start + HOOTSUITE_MAX_ROWS]:
            writer.writerow([spreadsheet_safe(cell) for cell in row])
        files.append(out.getvalue())
    return files
