"""The quarterly report: how the watch and the organisation's presence evolved over a period.

`collect` reads the store once for the period; `render_html`, `render_markdown` and
`weekly_chart` are pure and escape every piece of feed text. The chart is an SVG file that
the page embeds (no plotting library: a line per query and week is a few dozen elements).

Contents: hits per query per week (the chart and its table), top publishers and sources,
share of voice of the `[group]`s of keywords.txt and of the sources tagged `competitor`,
how many hits were picked, exported and relayed, and each source's health over the period.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from watcher.store import Store
from watcher.types import Config

CHART_FILE = "hits-per-week.svg"
MAX_SERIES = 8  # more lines than this cannot be told apart: the rest are summed as "other queries"
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
_QUARTER = re.compile(r"^\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*$")


def quarter_bounds(text: str) -> tuple[datetime, datetime]:
    """'2026Q3' -> (2026-07-01, 2026-10-01), UTC. Raises ValueError."""
    m = _QUARTER.match(text)
    if not m:
        raise ValueError(f"not a quarter: {text!r} (write it like 2026Q3)")
    year, q = int(m.group(1)), int(m.group(2))
    start = datetime(year, 3 * q - 2, 1, tzinfo=UTC)
    end = datetime(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1, tzinfo=UTC)
    return start, end


def current_quarter(now: datetime) -> str:
    return f"{now.year}Q{(now.month - 1) // 3 + 1}"


@dataclass(frozen=True)
class Share:
    name: str
    hits: int
    share: float  # 0..1


@dataclass(frozen=True)
class Report:
    title: str
    start: datetime
    end: datetime
    generated: datetime
    total_hits: int
    weeks: tuple[date, ...]  # Mondays
    series: Mapping[str, tuple[int, ...]]  # query -> hits per week, biggest first
    publishers: tuple[tuple[str, int], ...]
    sources: tuple[tuple[str, int], ...]
    groups: tuple[Share, ...]
    competitors: tuple[Share, ...]
    triage: Mapping[str, int]
    health: tuple[Mapping[str, Any], ...]
    notes: tuple[str, ...] = field(default=())


def collect(store: Store, config: Config, start: datetime, end: datetime, title: str, now: datetime) -> Report:
    """Everything the report shows, read from the store for [start, end)."""
    weeks = _mondays(start, end)
    per_query: dict[str, list[int]] = defaultdict(lambda: [0] * len(weeks))
    watched = {q.text for q in config.queries}  # a query removed from keywords.txt leaves the report
    for query, day, n in store.keyword_weeks(start, end):
        if query not in watched:
            continue
        index = (_monday(date.fromisoformat(day)) - weeks[0]).days // 7
        if 0 <= index < len(weeks):
            per_query[query][index] += n
    ranked = sorted(per_query, key=lambda q: (-sum(per_query[q]), q))
    series: dict[str, tuple[int, ...]] = {q: tuple(per_query[q]) for q in ranked[:MAX_SERIES]}
    if len(ranked) > MAX_SERIES:
        rest = [sum(per_query[q][i] for q in ranked[MAX_SERIES:]) for i in range(len(weeks))]
        others = len(ranked) - MAX_SERIES
        series[f"{others} other quer{'ies' if others > 1 else 'y'}"] = tuple(rest)

    pairs = store.keyword_items(start, end)
    total = len({i for i, _ in pairs})
    group_of = {q.text: q.group for q in config.queries if q.group}
    members: dict[str, set[int]] = defaultdict(set)
    for item_id, query in pairs:
        if query in group_of:
            members[group_of[query]].add(item_id)
    groups = _shares({g: len(ids) for g, ids in members.items()})

    by_source = dict(store.source_hits(start, end))
    competitor_names = [f.name for f in config.feeds if "competitor" in f.tags]
    competitors: tuple[Share, ...] = ()
    if competitor_names:
        counts = {name: by_source.get(name, 0) for name in competitor_names}
        counts["every other source"] = sum(n for s, n in by_source.items() if s not in competitor_names)
        competitors = _shares(counts)
    notes = []
    if not group_of:
        notes.append("No [group] in keywords.txt: share of voice by group needs one (e.g. [us] and [competitors]).")
    return Report(
        title=title,
        start=start,
        end=end,
        generated=now,
        total_hits=total,
        weeks=tuple(weeks),
        series=series,
        publishers=tuple(store.top_publishers(start, end)),
        sources=tuple(sorted(by_source.items(), key=lambda kv: (-kv[1], kv[0]))),
        groups=groups,
        competitors=competitors,
        triage=store.triage_counts(start, end),
        health=tuple(store.poll_health(start, end)),
        notes=tuple(notes),
    )


def _shares(counts: Mapping[str, int]) -> tuple[Share, ...]:
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(Share(name, n, n / total if total else 0.0) for name, n in ordered)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _mondays(start: datetime, end: datetime) -> list[date]:
    first = _monday(start.date())
    last = (end - timedelta(seconds=1)).date()
    weeks = []
    while first <= last:
        weeks.append(first)
        first += timedelta(days=7)
    return weeks or [_monday(start.date())]


# --- the chart -------------------------------------------------------------------------------------


def weekly_chart(report: Report, width: int = 960, height: int = 380) -> str:
    """An SVG line chart: hits per week, a line and a colour per query, with a legend below."""
    e = html.escape
    left, right, top = 48, 16, 36
    legend_rows = (len(report.series) + 2) // 3
    bottom = 40 + 22 * legend_rows
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((max(v) for v in report.series.values() if v), default=0)
    ceiling = _nice_ceiling(peak)
    n = len(report.weeks)

    def x(i: int) -> float:
        return left + (plot_w * (i + 0.5) / n)

    def y(v: float) -> float:
        return top + plot_h - (plot_h * v / ceiling)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}"'
        ' font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{left}" y="20" font-size="14" font-weight="bold" fill="#222">Hits per query per week,'
        f" {_period(report)}</text>",
    ]
    for k in range(5):
        value = ceiling * k / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#e3e3e3"/>'
        )
        parts.append(f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" fill="#555">{value:g}</text>')
    every = max(1, (n + 11) // 12)  # at most a dozen date labels
    for i, week in enumerate(report.weeks):
        if i % every == 0:
            label = week.strftime("%d/%m")
            parts.append(
                f'<text x="{x(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle" fill="#555">{label}</text>'
            )
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#999"/>')
    if not report.series:
        parts.append(
            f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle" fill="#777">'
            "No hit in this period</text>"
        )
    for index, (query, values) in enumerate(report.series.items()):
        colour = PALETTE[index % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.2"/>')
        for i, v in enumerate(values):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.6" fill="{colour}"/>')
        row, col = divmod(index, 3)
        lx, ly = left + col * (plot_w / 3), top + plot_h + 38 + 22 * row
        name = query if len(query) <= 38 else query[:37] + "…"
        parts.append(f'<rect x="{lx:.1f}" y="{ly - 9}" width="14" height="4" fill="{colour}"/>')
        parts.append(f'<text x="{lx + 20:.1f}" y="{ly - 3}" fill="#222">{e(name)} ({sum(values)})</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _nice_ceiling(value: float) -> float:
    """The smallest of 4, 8, 10, 20, 40, 50, 100... at or above `value`, so the 4 grid steps read well."""
    if value <= 4:
        return 4
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 4, 5, 8, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(10 * magnitude)


# --- HTML and Markdown ---------------------------------------------------------------------------

_TRIAGE_ORDER = ("picked", "exported", "relayed", "skipped")

_CSS = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222; max-width: 1000px;
       margin: 2em auto; padding: 0 1em; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.8em; }
.period { color: #555; margin-top: 0; }
.figures { display: flex; gap: 1em; flex-wrap: wrap; }
.figure { border: 1px solid #ddd; border-radius: 6px; padding: 0.6em 1em; min-width: 8em; }
.figure b { display: block; font-size: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; min-width: 50%; }
th, td { text-align: left; padding: 0.3em 0.8em; border-bottom: 1px solid #e5e5e5; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.bar { background: #1f77b4; height: 0.8em; display: inline-block; vertical-align: middle; }
.bad { color: #b00020; } .note { color: #666; font-style: italic; }
img.chart { max-width: 100%; border: 1px solid #eee; }
.scroll { overflow-x: auto; font-size: 0.85em; } .scroll td:first-child { white-space: nowrap; }
.two { display: flex; gap: 2em; flex-wrap: wrap; } .two > div { flex: 1; min-width: 300px; }
"""


def _period(report: Report) -> str:
    last = report.end - timedelta(seconds=1)
    return f"{report.start:%d/%m/%Y} – {last:%d/%m/%Y}"


def _partial_weeks(report: Report) -> str:
    """Which weeks of the chart the period covers only in part, in words ('' when none)."""
    first_full = report.start.date() == report.weeks[0] and report.start.time() == datetime.min.time()
    last_day = (report.end - timedelta(seconds=1)).date()
    last_full = last_day == report.weeks[-1] + timedelta(days=6)
    names = [f"the week of {report.weeks[0]:%d/%m}"] if not first_full else []
    if not last_full and (len(report.weeks) > 1 or first_full):
        names.append(f"the week of {report.weeks[-1]:%d/%m}")
    if not names:
        return ""
    return " and ".join(names) + (" are" if len(names) > 1 else " is")


def render_html(report: Report, chart_file: str = CHART_FILE) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(report.title)}</h1>",
        f'<p class="period">{_period(report)} · generated {report.generated:%d/%m/%Y %H:%M} UTC</p>',
        '<div class="figures">',
        f'<div class="figure"><b>{report.total_hits}</b>hits</div>',
    ]
    for state in _TRIAGE_ORDER:
        out.append(f'<div class="figure"><b>{report.triage.get(state, 0)}</b>{state}</div>')
    out.append("</div>")
    out.append("<h2>Hits per query per week</h2>")
    out.append(f'<img class="chart" src="{e(chart_file)}" alt="Hits per query per week">')
    partial = _partial_weeks(report)
    if partial:
        out.append(f'<p class="note">Weeks start on Monday; {partial} only partly in the period.</p>')
    if report.series:
        out.append('<div class="scroll">')
        out.append(
            "<table><tr><th>query</th>" + "".join(f"<th>{w:%d/%m}</th>" for w in report.weeks) + "<th>total</th></tr>"
        )
        for query, values in report.series.items():
            cells = "".join(f'<td class="n">{v}</td>' for v in values)
            out.append(f'<tr><td>{e(query)}</td>{cells}<td class="n"><b>{sum(values)}</b></td></tr>')
        out.append("</table></div>")
    out.append("<h2>Share of voice</h2>")
    if report.groups:
        out.append(_share_table("keyword group", report.groups))
    if report.competitors:
        out.append("<p>Sources tagged <code>competitor</code> in feeds.yaml:</p>")
        out.append(_share_table("source", report.competitors))
    for note in report.notes:
        out.append(f'<p class="note">{e(note)}</p>')
    if not report.groups and not report.competitors:
        out.append(
            '<p class="note">Nothing to compare: declare groups in keywords.txt or tag sources `competitor`.</p>'
        )
    out.append('<div class="two"><div><h2>Top publishers</h2>')
    out.append(_count_table("publisher or author", report.publishers))
    out.append("</div><div><h2>Top sources</h2>")
    out.append(_count_table("source", report.sources))
    out.append("</div></div>")
    out.append("<h2>Sources' health</h2>")
    out.append(_health_html(report.health))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _share_table(label: str, shares: Sequence[Share]) -> str:
    e = html.escape
    rows = [f"<table><tr><th>{e(label)}</th><th>hits</th><th>share</th><th></th></tr>"]
    for s in shares:
        bar = f'<span class="bar" style="width:{200 * s.share:.0f}px"></span>'
        rows.append(
            f'<tr><td>{e(s.name)}</td><td class="n">{s.hits}</td><td class="n">{s.share:.0%}</td><td>{bar}</td></tr>'
        )
    rows.append("</table>")
    return "\n".join(rows)


def _count_table(label: str, counts: Sequence[tuple[str, int]]) -> str:
    e = html.escape
    if not counts:
        return '<p class="note">None in this period.</p>'
    rows = [f"<table><tr><th>{e(label)}</th><th>hits</th></tr>"]
    rows += [f'<tr><td>{e(name)}</td><td class="n">{n}</td></tr>' for name, n in counts]
    rows.append("</table>")
    return "\n".join(rows)


def _health_html(health: Sequence[Mapping[str, Any]]) -> str:
    e = html.escape
    if not health:
        return '<p class="note">No poll recorded in this period.</p>'
    heads = ("source", "polls", "failed", "success", "new hits", "last error")
    rows = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in heads) + "</tr>"]
    for h in health:
        polls, errors = int(h["polls"]), int(h["errors"] or 0)
        ok = (polls - errors) / polls if polls else 0.0
        style = ' class="bad"' if ok < 0.9 else ""
        rows.append(
            f'<tr><td>{e(h["source"])}</td><td class="n">{polls}</td><td class="n">{errors}</td>'
            f'<td class="n"><span{style}>{ok:.0%}</span></td><td class="n">{int(h["new_hits"] or 0)}</td>'
            f"<td>{e(h['last_error'] or '')}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|])")


def md(text: str) -> str:
    """Feed text made inert in Markdown: every character that could start markup is escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def render_markdown(report: Report, chart_file: str = CHART_FILE) -> str:
    out = [f"# {md(report.title)}", "", f"{_period(report)} · generated {report.generated:%d/%m/%Y %H:%M} UTC", ""]
    triage = ", ".join(f"{report.triage.get(s, 0)} {s}" for s in _TRIAGE_ORDER)
    out += [f"**{report.total_hits} hits**; {triage}.", "", "## Hits per query per week", ""]
    out += [f"![Hits per query per week]({chart_file})", ""]
    if report.series:
        out.append("| query | " + " | ".join(f"{w:%d/%m}" for w in report.weeks) + " | total |")
        out.append("|---|" + "---:|" * (len(report.weeks) + 1))
        for query, values in report.series.items():
            out.append(f"| {md(query)} | " + " | ".join(map(str, values)) + f" | **{sum(values)}** |")
        out.append("")
    out += ["## Share of voice", ""]
    for label, shares in (("keyword group", report.groups), ("competitor source", report.competitors)):
        if shares:
            out += [f"| {label} | hits | share |", "|---|---:|---:|"]
            out += [f"| {md(s.name)} | {s.hits} | {s.share:.0%} |" for s in shares]
            out.append("")
    out += [f"_{md(n)}_" for n in report.notes]
    for heading, label, counts in (
        ("Top publishers", "publisher or author", report.publishers),
        ("Top sources", "source", report.sources),
    ):
        out += ["", f"## {heading}", "", f"| {label} | hits |", "|---|---:|"]
        out += [f"| {md(name)} | {n} |" for name, n in counts]
    out += [
        "",
        "## Sources' health",
        "",
        "| source | polls | failed | new hits | last error |",
        "|---|---:|---:|---:|---|",
    ]
    for h in report.health:
        out.append(
            f"| {md(h['source'])} | {h['polls']} | {int(h['errors'] or 0)} | {int(h['new_hits'] or 0)} "
            f"| {md(h['last_error'] or '')} |"
        )
    return "\n".join(out) + "\n"
