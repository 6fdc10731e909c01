"""The quarterly report: how the watch and the organisation's presence evolved over a period.

`collect` reads the store once for the period; `render_html`, `render_markdown` and
`weekly_chart` are pure and escape every piece of feed text. The chart is an SVG file that
the page embeds (no plotting library: a line per query and week is a few dozen elements).

Contents: what was published in the period (hits selected by publication date, so that a
feed's archive found this quarter does not count as this quarter's news): the hits by their
triage state now (figures that add up), the best stories and the ones relayed, hits per query
per week (the chart and its table; weeks still to come are not plotted), top publishers and
sources, share of voice of the `[group]`s of keywords.txt and of the sources tagged
`competitor`, and each source's health over the period. Labels follow `settings.language`.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from watcher.digest import headline_and_snippet, hit_from_row, local_date, safe_url, window_text
from watcher.store import Store
from watcher.types import Config

CHART_FILE = "hits-per-week.svg"
MAX_SERIES = 8  # more lines than this cannot be told apart: the rest are summed as "other queries"
BEST_STORIES = 10
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
_QUARTER = re.compile(r"^\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*$")
EVERY_OTHER = "every other source"  # the competitors' counterpart: a key for --json, a label per language
STATE_ORDER = ("new", "picked", "exported", "relayed", "skipped", "noise")

LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Rapport de veille {label}",
        "title_since": "Rapport de veille : les {since} derniers jours",
        "generated": "produit le {date}",
        "hits": "résultats publiés dans la période",
        "states_intro": "Où en est leur tri aujourd’hui (chaque résultat compte une fois) :",
        "new": "non triés",
        "picked": "retenus pour relais",
        "exported": "exportés pour relais",
        "relayed": "relayés",
        "skipped": "écartés",
        "noise": "hors sujet",
        "best": "Les meilleurs articles de la période",
        "relayed_h": "Relayés",
        "none_relayed": "Aucun résultat de la période n’a été relayé.",
        "per_week": "Résultats par requête et par semaine",
        "chart_title": "Résultats par semaine",
        "weeks_note": "Semaines du lundi au dimanche, par date de publication ; {partial}.",
        "partial_first": "la semaine du {day} n’est qu’en partie dans la période",
        "partial_last": "la semaine en cours n’est pas finie",
        "partial_both": "la première et la dernière semaine n’y sont qu’en partie",
        "future": "les semaines à venir ne sont pas tracées",
        "query": "requête",
        "total": "total",
        "share": "Part de voix",
        "group": "groupe de mots-clés",
        "source": "source",
        "share_col": "part",
        "hits_col": "résultats",
        "overlap": "Un résultat qui relève de plusieurs groupes compte dans chacun : les parts se "
        "rapportent à la somme des groupes ({sum}), pas aux {total} résultats.",
        "competitors": "Sources marquées <code>competitor</code> dans feeds.yaml :",
        "every_other": "toutes les autres sources",
        "no_group": "Aucun [groupe] dans keywords.txt : la part de voix par groupe en demande un "
        "(par ex. [nous] et [concurrents]).",
        "nothing_compare": "Rien à comparer : déclarez des groupes dans keywords.txt ou marquez des "
        "sources `competitor`.",
        "publishers": "Médias les plus présents",
        "publisher": "média ou auteur",
        "sources": "Sources les plus productives",
        "health": "Santé des sources",
        "polls": "relevés",
        "failed": "échecs",
        "success": "réussite",
        "new_hits": "nouveaux résultats",
        "last_error": "dernière erreur",
        "none": "Aucun sur cette période.",
        "no_poll": "Aucun relevé enregistré sur cette période.",
        "no_hit": "Aucun résultat sur cette période",
        "other_queries": "{n} autres requêtes",
        "score": "score",
        "unknown": "(inconnu)",
    },
    "en": {
        "title": "Watch report {label}",
        "title_since": "Watch report: the last {since} days",
        "generated": "generated {date}",
        "hits": "hits published in the period",
        "states_intro": "Where their triage stands today (each hit counts once):",
        "new": "not triaged",
        "picked": "picked for relay",
        "exported": "exported for relay",
        "relayed": "relayed",
        "skipped": "skipped",
        "noise": "off-topic",
        "best": "The best stories of the period",
        "relayed_h": "Relayed",
        "none_relayed": "No hit of the period was relayed.",
        "per_week": "Hits per query per week",
        "chart_title": "Hits per week",
        "weeks_note": "Weeks run Monday to Sunday, by publication date; {partial}.",
        "partial_first": "the week of {day} is only partly in the period",
        "partial_last": "the current week is not over",
        "partial_both": "the first and the last week are only partly in it",
        "future": "weeks still to come are not plotted",
        "query": "query",
        "total": "total",
        "share": "Share of voice",
        "group": "keyword group",
        "source": "source",
        "share_col": "share",
        "hits_col": "hits",
        "overlap": "A hit that belongs to several groups counts in each: shares are of the groups' "
        "sum ({sum}), not of the {total} hits.",
        "competitors": "Sources tagged <code>competitor</code> in feeds.yaml:",
        "every_other": "every other source",
        "no_group": "No [group] in keywords.txt: share of voice by group needs one (e.g. [us] and [competitors]).",
        "nothing_compare": "Nothing to compare: declare groups in keywords.txt or tag sources `competitor`.",
        "publishers": "Top publishers",
        "publisher": "publisher or author",
        "sources": "Top sources",
        "health": "Sources' health",
        "polls": "polls",
        "failed": "failed",
        "success": "success",
        "new_hits": "new hits",
        "last_error": "last error",
        "none": "None in this period.",
        "no_poll": "No poll recorded in this period.",
        "no_hit": "No hit in this period",
        "other_queries": "{n} other queries",
        "score": "score",
        "unknown": "(unknown)",
    },
}


def labels(language: str) -> dict[str, str]:
    return LABELS.get(language[:2].lower(), LABELS["en"])


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
class Story:
    """One story of the report: its best hit, as read."""

    id: int
    title: str
    url: str | None
    outlet: str
    published: datetime
    score: int
    state: str


@dataclass(frozen=True)
class Report:
    title: str
    start: datetime
    end: datetime
    generated: datetime
    total_hits: int  # hits published in the period
    weeks: tuple[date, ...]  # Mondays, up to the current week (weeks still to come are left out)
    series: Mapping[str, tuple[int, ...]]  # query -> hits per week, biggest first
    publishers: tuple[tuple[str, int], ...]
    sources: tuple[tuple[str, int], ...]
    groups: tuple[Share, ...]
    competitors: tuple[Share, ...]
    triage: Mapping[str, int]  # moves made in the period (picked, exported, ...): the JSON's "triage"
    health: tuple[Mapping[str, Any], ...]
    notes: tuple[str, ...] = field(default=())
    language: str = "en"
    tz: tzinfo = UTC
    states: Mapping[str, int] = field(default_factory=dict)  # the period's hits by their state now
    best: tuple[Story, ...] = ()
    relayed: tuple[Story, ...] = ()
    cut_future: bool = False  # the period runs past now: its weeks to come are not plotted
    presence: Any = None  # watcher.presence.indicators.Indicators, when feeds.yaml has `presence:`

    @property
    def lab(self) -> dict[str, str]:
        return labels(self.language)


def report_title(language: str, label: str | None = None, since_days: int | None = None) -> str:
    lab = labels(language)
    if since_days is not None:
        return lab["title_since"].format(since=since_days)
    return lab["title"].format(label=label or "")


def collect(store: Store, config: Config, start: datetime, end: datetime, title: str, now: datetime) -> Report:
    """Everything the report shows, read from the store for what was published in [start, end)."""
    language = config.settings.language
    lab = labels(language)
    tz = ZoneInfo(config.settings.timezone)
    weeks = _mondays(start, min(end, max(start + timedelta(seconds=1), now)))
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
        series[lab["other_queries"].format(n=len(ranked) - MAX_SERIES)] = tuple(rest)

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
        counts[EVERY_OTHER] = sum(n for s, n in by_source.items() if s not in competitor_names)
        competitors = _shares(counts)
    notes = [lab["no_group"]] if not group_of else []
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
        language=language,
        tz=tz,
        states=store.state_counts(start, end),
        best=tuple(_story(r) for r in store.report_stories(start, end, BEST_STORIES)),
        relayed=tuple(_story(r) for r in store.report_stories(start, end, 50, states=("relayed",))),
        cut_future=end > now,
        presence=_presence(store, config, start, end),
    )


def _presence(store: Store, config: Config, start: datetime, end: datetime) -> Any:
    """The indicators section's figures (watcher.presence), when there are accounts to compare."""
    if not config.presence:
        return None
    from watcher.presence.indicators import collect_indicators

    return collect_indicators(store, config, start, end)


def _story(row: Mapping[str, Any]) -> Story:
    hit = hit_from_row({**row, "text": row.get("text") or ""})
    headline, _ = headline_and_snippet(hit)
    outlet = hit.publisher or hit.author or ""
    return Story(hit.id, headline, safe_url(hit.url), outlet, hit.published, hit.score, hit.state)


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


def _day(report: Report, day: date) -> str:
    """A week's Monday, as the digest writes a day: "5 oct." / "5 Oct"."""
    text = local_date(datetime(day.year, day.month, day.day, 12, tzinfo=UTC), report.language, UTC, False, day.year)
    return text.split(" ", 1)[1]  # without the weekday: it is always a Monday


# --- the chart -------------------------------------------------------------------------------------


def weekly_chart(report: Report, width: int = 480, height: int = 270) -> str:
    """An SVG line chart of hits per week, a line and a colour per query. It scales to its box
    (viewBox) and keeps large type, so it reads at a phone's width; the legend is the page's."""
    e = html.escape
    lab = report.lab
    left, right, top, bottom = 40, 12, 56, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((max(v) for v in report.series.values() if v), default=0)
    ceiling = _nice_ceiling(peak)
    n = len(report.weeks)

    def x(i: int) -> float:
        return left + (plot_w * (i + 0.5) / n)

    def y(v: float) -> float:
        return top + plot_h - (plot_h * v / ceiling)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        ' font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="15">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{left}" y="22" font-size="17" font-weight="bold" fill="#222">{e(lab["chart_title"])}</text>',
        f'<text x="{left}" y="42" font-size="14" fill="#555">{e(_period(report))}</text>',
    ]
    for k in range(5):
        value = ceiling * k / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#e3e3e3"/>'
        )
        parts.append(f'<text x="{left - 6}" y="{y(value) + 5:.1f}" text-anchor="end" fill="#555">{value:g}</text>')
    every = max(1, (n + 3) // 4)  # at most four date labels: they must not touch at a phone's width
    for i, week in enumerate(report.weeks):
        if i % every == 0:
            parts.append(
                f'<text x="{x(i):.1f}" y="{top + plot_h + 20}" text-anchor="middle" fill="#555">'
                f"{e(_day(report, week))}</text>"
            )
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#999"/>')
    if not report.series:
        parts.append(
            f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" text-anchor="middle" fill="#777">'
            f"{e(lab['no_hit'])}</text>"
        )
    for index, (query, values) in enumerate(report.series.items()):
        colour = PALETTE[index % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="3"/>')
        parts.append(f"<title>{e(query)} ({sum(values)})</title>")
        for i, v in enumerate(values):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5" fill="{colour}"/>')
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

_CSS = """
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222; max-width: 960px;
       margin: 1.5em auto; padding: 0 14px; line-height: 1.45; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
.period { color: #555; margin-top: 0; }
.figures { display: flex; gap: 0.6em; flex-wrap: wrap; margin: 0.4em 0; }
.figure { border: 1px solid #ddd; border-radius: 6px; padding: 0.4em 0.8em; min-width: 7.5em; flex: 1 1 7.5em; }
.figure b { display: block; font-size: 1.5em; }
.figure.total { background: #f3f6fb; border-color: #c9d6ea; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { text-align: left; padding: 0.3em 0.6em; border-bottom: 1px solid #e5e5e5; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.bar { background: #1f77b4; height: 0.8em; display: inline-block; vertical-align: middle; }
.bad { color: #b00020; } .note { color: #666; font-style: italic; }
img.chart { width: 100%; max-width: 640px; height: auto; border: 1px solid #eee; }
.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.3em 1.2em; }
.legend span { display: inline-block; width: 14px; height: 5px; margin-right: 6px; vertical-align: middle; }
.scroll { overflow-x: auto; max-width: 100%; }
.scroll table { font-size: 0.85em; } .scroll td:first-child { white-space: nowrap; }
.two { display: flex; gap: 2em; flex-wrap: wrap; } .two > div { flex: 1 1 280px; min-width: 0; }
ol.stories { padding-left: 1.4em; } ol.stories li { margin-bottom: 0.6em; overflow-wrap: anywhere; }
.meta { color: #555; font-size: 0.9em; }
"""


def _period(report: Report) -> str:
    """The period in words, one format everywhere: "du 1er oct. au 31 déc. 2026" style."""
    return period_text(report.language, report.start, report.end)


def period_text(language: str, start: datetime, end: datetime) -> str:
    """The period [start, end) in words, its days as counted (a quarter runs in UTC days), one
    format everywhere: "du 1 oct. au 31 déc. 2026", "1 Oct to 31 Dec 2026"."""
    return window_text(language, UTC, start, end - timedelta(seconds=1))


def _weeks_note(report: Report) -> str:
    lab = report.lab
    first_partial = report.start.date() != report.weeks[0]
    last_day = (min(report.end, report.generated) - timedelta(seconds=1)).date()
    last_partial = last_day < report.weeks[-1] + timedelta(days=6)
    bits = []
    if first_partial and last_partial and len(report.weeks) > 1:
        bits.append(lab["partial_both"])
    elif first_partial:
        bits.append(lab["partial_first"].format(day=_day(report, report.weeks[0])))
    elif last_partial:
        bits.append(lab["partial_last"])
    if report.cut_future:
        bits.append(lab["future"])
    return lab["weeks_note"].format(partial="; ".join(bits)) if bits else ""


def _state_figures(report: Report) -> list[tuple[str, int]]:
    lab = report.lab
    return [(lab[s], report.states.get(s, 0)) for s in STATE_ORDER if report.states.get(s, 0) or s != "noise"]


def _story_html(report: Report, story: Story) -> str:
    e = html.escape
    lab = report.lab
    title = f'<a href="{e(story.url)}">{e(story.title)}</a>' if story.url else e(story.title)
    when = local_date(story.published, report.language, report.tz, False, report.generated.year)
    meta = " · ".join(
        x for x in (f"#{story.id}", story.outlet, when, f"{lab['score']} {story.score}", lab.get(story.state, "")) if x
    )
    return f'<li>{title}<br><span class="meta">{e(meta)}</span></li>'


def render_html(report: Report, chart_file: str = CHART_FILE) -> str:
    e = html.escape
    lab = report.lab
    generated = local_date(report.generated, report.language, report.tz, True, None)
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{e(report.language[:2])}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(report.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(report.title)}</h1>",
        f'<p class="period">{e(_period(report))} · {e(lab["generated"].format(date=generated))}</p>',
        '<div class="figures">',
        f'<div class="figure total"><b>{report.total_hits}</b>{e(lab["hits"])}</div>',
        "</div>",
        f"<p>{e(lab['states_intro'])}</p>",
        '<div class="figures">',
    ]
    for name, n in _state_figures(report):
        out.append(f'<div class="figure"><b>{n}</b>{e(name)}</div>')
    out.append("</div>")
    out.append(f"<h2>{e(lab['best'])}</h2>")
    if report.best:
        out.append('<ol class="stories">' + "".join(_story_html(report, s) for s in report.best) + "</ol>")
    else:
        out.append(f'<p class="note">{e(lab["none"])}</p>')
    out.append(f"<h2>{e(lab['relayed_h'])} ({len(report.relayed)})</h2>")
    if report.relayed:
        out.append('<ol class="stories">' + "".join(_story_html(report, s) for s in report.relayed) + "</ol>")
    else:
        out.append(f'<p class="note">{e(lab["none_relayed"])}</p>')
    out.append(f"<h2>{e(lab['per_week'])}</h2>")
    out.append(f'<img class="chart" src="{e(chart_file)}" alt="{e(lab["per_week"])}">')
    if report.series:
        out.append('<ul class="legend">')
        for index, (query, values) in enumerate(report.series.items()):
            colour = PALETTE[index % len(PALETTE)]
            out.append(f'<li><span style="background:{colour}"></span>{e(query)} ({sum(values)})</li>')
        out.append("</ul>")
    note = _weeks_note(report)
    if note:
        out.append(f'<p class="note">{e(note)}</p>')
    if report.series:
        out.append('<div class="scroll">')
        out.append(
            f"<table><tr><th>{e(lab['query'])}</th>"
            + "".join(f"<th>{e(_day(report, w))}</th>" for w in report.weeks)
            + f"<th>{e(lab['total'])}</th></tr>"
        )
        for query, values in report.series.items():
            cells = "".join(f'<td class="n">{v}</td>' for v in values)
            out.append(f'<tr><td>{e(query)}</td>{cells}<td class="n"><b>{sum(values)}</b></td></tr>')
        out.append("</table></div>")
    out.append(f"<h2>{e(lab['share'])}</h2>")
    if report.groups:
        out.append(_share_table(report, lab["group"], report.groups))
        summed = sum(s.hits for s in report.groups)
        if summed > report.total_hits:
            out.append(f'<p class="note">{e(lab["overlap"].format(sum=summed, total=report.total_hits))}</p>')
    if report.competitors:
        out.append(f"<p>{lab['competitors']}</p>")
        out.append(_share_table(report, lab["source"], report.competitors))
    for text in report.notes:
        out.append(f'<p class="note">{e(text)}</p>')
    if not report.groups and not report.competitors:
        out.append(f'<p class="note">{e(lab["nothing_compare"])}</p>')
    out.append(f'<div class="two"><div><h2>{e(lab["publishers"])}</h2>')
    out.append(_count_table(report, lab["publisher"], report.publishers))
    out.append(f'</div><div><h2>{e(lab["sources"])}</h2>')
    out.append(_count_table(report, lab["source"], report.sources))
    out.append("</div></div>")
    out.append(f"<h2>{e(lab['health'])}</h2>")
    out.append(_health_html(report))
    if report.presence is not None:
        from watcher.presence.indicators import indicators_html

        out.append(indicators_html(report.presence))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _share_table(report: Report, label: str, shares: Sequence[Share]) -> str:
    e = html.escape
    lab = report.lab
    rows = [
        f"<table><tr><th>{e(label)}</th><th>{e(lab['hits_col'])}</th><th>{e(lab['share_col'])}</th><th></th></tr>"
    ]
    for s in shares:
        bar = f'<span class="bar" style="width:{100 * s.share:.0f}px"></span>'
        rows.append(
            f'<tr><td>{e(_name(report, s.name))}</td><td class="n">{s.hits}</td>'
            f'<td class="n">{_percent(report, s.share)}</td>'
            f"<td>{bar}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _name(report: Report, name: str) -> str:
    return report.lab["every_other"] if name == EVERY_OTHER else name


def _percent(report: Report, share: float) -> str:
    return f"{share:.0%}".replace("%", " %") if report.language[:2] == "fr" else f"{share:.0%}"


def _count_table(report: Report, label: str, counts: Sequence[tuple[str, int]]) -> str:
    e = html.escape
    lab = report.lab
    if not counts:
        return f'<p class="note">{e(lab["none"])}</p>'
    rows = [f"<table><tr><th>{e(label)}</th><th>{e(lab['hits_col'])}</th></tr>"]
    rows += [
        f'<tr><td>{e(lab["unknown"] if name == "(unknown)" else name)}</td><td class="n">{n}</td></tr>'
        for name, n in counts
    ]
    rows.append("</table>")
    return "\n".join(rows)


def _health_html(report: Report) -> str:
    e = html.escape
    lab = report.lab
    if not report.health:
        return f'<p class="note">{e(lab["no_poll"])}</p>'
    heads = (lab["source"], lab["polls"], lab["failed"], lab["success"], lab["new_hits"], lab["last_error"])
    rows = ['<div class="scroll"><table><tr>' + "".join(f"<th>{e(h)}</th>" for h in heads) + "</tr>"]
    for h in report.health:
        polls, errors = int(h["polls"]), int(h["errors"] or 0)
        ok = (polls - errors) / polls if polls else 0.0
        style = ' class="bad"' if ok < 0.9 else ""
        rows.append(
            f'<tr><td>{e(h["source"])}</td><td class="n">{polls}</td><td class="n">{errors}</td>'
            f'<td class="n"><span{style}>{_percent(report, ok)}</span></td><td class="n">{int(h["new_hits"] or 0)}</td>'
            f"<td>{e(h['last_error'] or '')}</td></tr>"
        )
    rows.append("</table></div>")
    return "\n".join(rows)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|])")


def md(text: str) -> str:
    """Feed text made inert in Markdown: every character that could start markup is escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _story_md(report: Report, story: Story) -> str:
    lab = report.lab
    when = local_date(story.published, report.language, report.tz, False, report.generated.year)
    title = f"[{md(story.title)}]({story.url})" if story.url else md(story.title)
    meta = " · ".join(x for x in (f"#{story.id}", md(story.outlet), when, f"{lab['score']} {story.score}") if x)
    return f"1. {title} — {meta}"


def render_markdown(report: Report, chart_file: str = CHART_FILE) -> str:
    lab = report.lab
    generated = local_date(report.generated, report.language, report.tz, True, None)
    out = [f"# {md(report.title)}", "", f"{_period(report)} · {lab['generated'].format(date=generated)}", ""]
    figures = ", ".join(f"{n} {name}" for name, n in _state_figures(report))
    out += [f"**{report.total_hits} {lab['hits']}.** {lab['states_intro']} {figures}.", ""]
    out += [f"## {lab['best']}", ""]
    out += [_story_md(report, s) for s in report.best] or [f"_{lab['none']}_"]
    out += ["", f"## {lab['relayed_h']} ({len(report.relayed)})", ""]
    out += [_story_md(report, s) for s in report.relayed] or [f"_{lab['none_relayed']}_"]
    out += ["", f"## {lab['per_week']}", "", f"![{lab['per_week']}]({chart_file})", ""]
    if note := _weeks_note(report):
        out += [f"_{note}_", ""]
    if report.series:
        out.append(f"| {lab['query']} | " + " | ".join(_day(report, w) for w in report.weeks) + f" | {lab['total']} |")
        out.append("|---|" + "---:|" * (len(report.weeks) + 1))
        for query, values in report.series.items():
            out.append(f"| {md(query)} | " + " | ".join(map(str, values)) + f" | **{sum(values)}** |")
        out.append("")
    out += [f"## {lab['share']}", ""]
    for label, shares in ((lab["group"], report.groups), (lab["source"], report.competitors)):
        if shares:
            out += [f"| {label} | {lab['hits_col']} | {lab['share_col']} |", "|---|---:|---:|"]
            out += [f"| {md(_name(report, s.name))} | {s.hits} | {_percent(report, s.share)} |" for s in shares]
            out.append("")
    summed = sum(s.hits for s in report.groups)
    if summed > report.total_hits:
        out += [f"_{lab['overlap'].format(sum=summed, total=report.total_hits)}_", ""]
    out += [f"_{md(n)}_" for n in report.notes]
    for heading, label, counts in (
        (lab["publishers"], lab["publisher"], report.publishers),
        (lab["sources"], lab["source"], report.sources),
    ):
        out += ["", f"## {heading}", "", f"| {label} | {lab['hits_col']} |", "|---|---:|"]
        out += [f"| {md(name)} | {n} |" for name, n in counts]
    out += [
        "",
        f"## {lab['health']}",
        "",
        f"| {lab['source']} | {lab['polls']} | {lab['failed']} | {lab['new_hits']} | {lab['last_error']} |",
        "|---|---:|---:|---:|---|",
    ]
    for h in report.health:
        out.append(
            f"| {md(h['source'])} | {h['polls']} | {int(h['errors'] or 0)} | {int(h['new_hits'] or 0)} "
            f"| {md(h['last_error'] or '')} |"
        )
    if report.presence is not None:
        from watcher.presence.indicators import indicators_markdown

        out += ["", indicators_markdown(report.presence)]
    return "\n".join(out) + "\n"
