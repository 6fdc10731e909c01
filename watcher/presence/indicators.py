"""The quarterly report's indicators section: our presence against competitors and a model.

`collect_indicators` reads the store once for the period; `indicators_html`,
`indicators_markdown` and `followers_chart` are pure and escape every piece of text that came
from a network (post texts, handles, links) and from feeds.yaml (organisation names).

Per medium: the followers' curve of each organisation (an SVG drawn inline, like the hits
chart: a few dozen elements), the comparative table (table.py), our posts that engaged most,
website visits per month where they were recorded, and the relay loop: hits we relayed that
we find among our own posts (by link), with their engagement.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from watcher.normalise import canonical_url
from watcher.presence import storage
from watcher.presence.accounts import accounts_of
from watcher.presence.networks import Post
from watcher.presence.table import Row, number, rows_for
from watcher.store import Store
from watcher.types import Config

TOP_POSTS = 5
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")

LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Présence et indicateurs",
        "intro": "Nos comptes face aux concurrents et au modèle, réseau par réseau (– : chiffre inconnu).",
        "curve": "Abonnés de chaque organisation",
        "organisation": "organisation",
        "followers": "abonnés",
        "change": "évolution",
        "per_week": "posts / semaine",
        "per_post": "engagement / post",
        "per_1000": "engagement / 1 000 abonnés",
        "best": "meilleur post",
        "ours": "Nos posts les plus engageants",
        "engagement": "engagement",
        "visits": "Visites du site par mois",
        "month": "mois",
        "relay": "Boucle de relais : résultats relayés retrouvés dans nos posts",
        "no_relay": "Aucun résultat relayé de la période n’a été retrouvé dans nos posts.",
        "hit": "résultat relayé",
        "our_post": "notre post",
        "no_curve": "Moins de deux relevés sur la période : pas de courbe.",
        "self": "nous",
        "model": "modèle",
        "competitor": "concurrent",
        "open": "ouvrir",
    },
    "en": {
        "title": "Presence and indicators",
        "intro": "Our accounts against competitors and the model, network by network (– : unknown figure).",
        "curve": "Followers of each organisation",
        "organisation": "organisation",
        "followers": "followers",
        "change": "change",
        "per_week": "posts / week",
        "per_post": "engagement / post",
        "per_1000": "engagement / 1,000 followers",
        "best": "best post",
        "ours": "Our most engaging posts",
        "engagement": "engagement",
        "visits": "Website visits per month",
        "month": "month",
        "relay": "Relay loop: relayed hits found among our posts",
        "no_relay": "No relayed hit of the period was found among our posts.",
        "hit": "relayed hit",
        "our_post": "our post",
        "no_curve": "Fewer than two readings in the period: no curve.",
        "self": "us",
        "model": "model",
        "competitor": "competitor",
        "open": "open",
    },
}
NETWORK_NAMES = {"mastodon": "Mastodon", "bluesky": "Bluesky", "website": "Website", "x": "X"}


@dataclass(frozen=True)
class Relay:
    title: str
    url: str
    post: Post
    network: str


@dataclass(frozen=True)
class Indicators:
    language: str
    start: datetime
    end: datetime
    table: Mapping[str, Sequence[Row]]
    curves: Mapping[str, Mapping[str, Sequence[tuple[date, int]]]]  # network -> organisation -> followers
    ours: Sequence[tuple[str, Post]]  # (network, post), most engaging first
    visits: Mapping[str, Mapping[str, int]]  # organisation -> month (YYYY-MM) -> visits
    relays: Sequence[Relay]

    @property
    def lab(self) -> dict[str, str]:
        return LABELS.get(self.language[:2].lower(), LABELS["en"])


def collect_indicators(store: Store, config: Config, start: datetime, end: datetime) -> Indicators:
    accounts = accounts_of(config.presence)
    keys = [a.key for a in accounts]
    figures = storage.figures(store, keys)
    posts = storage.posts(store, keys, start, end)
    table = rows_for(config.presence, figures, posts, start, end)
    org_of = {a.key: a.organisation for a in accounts}
    network_of = {a.key: a.network for a in accounts}
    curves: dict[str, dict[str, list[tuple[date, int]]]] = {}
    visits: dict[str, dict[str, int]] = {}
    for f in figures:
        last_day = (end - timedelta(microseconds=1)).date()  # the period is [start, end)
        if not start.date() <= f.day <= last_day:
            continue
        if f.metric == "followers":
            curves.setdefault(network_of[f.account], {}).setdefault(org_of[f.account], []).append((f.day, f.value))
        elif f.metric == "visits":  # the month's figure is its last reading
            visits.setdefault(org_of[f.account], {})[f.day.strftime("%Y-%m")] = f.value
    ours_keys = [a.key for o in config.presence if o.role == "self" for a in o.accounts if a.network != "website"]
    own = [(network_of[k], p) for k in ours_keys for p in posts.get(k, ())]  # our posts on the networks
    engaged = sorted(
        ((n, p) for n, p in own if p.engagement), key=lambda np: (-(np[1].engagement or 0), np[1].published)
    )
    relays = _relay_loop(store, own, start, end)
    return Indicators(config.settings.language, start, end, table, curves, engaged[:TOP_POSTS], visits, relays)


def _relay_loop(store: Store, own: Sequence[tuple[str, Post]], start: datetime, end: datetime) -> list[Relay]:
    """Hits we relayed (triage state `relayed`) whose link one of our posts shares."""
    shared: dict[str, tuple[str, Post]] = {}
    for network, post in own:
        for link in post.shared:
            shared.setdefault(canonical_url(link), (network, post))
    found = []
    for row in store.report_stories(start, end, 200, states=("relayed",)):
        for url in (row.get("canonical_url"), row.get("url")):
            if url and canonical_url(str(url)) in shared:
                network, post = shared[canonical_url(str(url))]
                found.append(Relay(str(row.get("title") or url), str(row.get("url") or url), post, network))
                break
    return found


# --- the followers' curve ----------------------------------------------------------------------


def followers_chart(ind: Indicators, network: str, width: int = 480, height: int = 240) -> str:
    """An SVG line per organisation of its followers over the period (days on x)."""
    e = html.escape
    series = {org: sorted(points) for org, points in ind.curves.get(network, {}).items() if points}
    left, right, top, bottom = 64, 12, 40, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    first, last = ind.start.date(), max(ind.start.date(), (ind.end.date()))
    span = max((last - first).days, 1)
    values = [v for points in series.values() for _, v in points]
    low, high = (min(values), max(values)) if values else (0, 1)
    if low == high:
        low, high = max(0, low - 1), high + 1

    def x(day: date) -> float:
        return left + plot_w * min(max((day - first).days, 0), span) / span

    def y(value: float) -> float:
        return top + plot_h - plot_h * (value - low) / (high - low)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img"'
        f' aria-label="{e(ind.lab["curve"])}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="14">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{left}" y="22" font-size="15" font-weight="bold" fill="#222">'
        f"{e(NETWORK_NAMES.get(network, network.capitalize()))}: {e(ind.lab['followers'])}</text>",
    ]
    for k in range(3):
        value = low + (high - low) * k / 2
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#e3e3e3"/>'
        )
        parts.append(f'<text x="{left - 6}" y="{y(value) + 5:.1f}" text-anchor="end" fill="#555">{value:,.0f}</text>')
    for day in (first, last):
        anchor = "start" if day == first else "end"
        parts.append(
            f'<text x="{x(day):.1f}" y="{height - 8}" text-anchor="{anchor}" fill="#555">{day:%Y-%m-%d}</text>'
        )
    for index, (org, points) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        path = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in points)
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="3"><title>{e(org)}</title>'
        )
        parts.append("</polyline>")
        for d, v in points:
            parts.append(f'<circle cx="{x(d):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"/>')
    parts.append("</svg>")
    return "\n".join(parts)


# --- HTML --------------------------------------------------------------------------------------


def _link(url: str, text: str) -> str:
    e = html.escape
    if not url.startswith(("https://", "http://")) or any(c.isspace() or ord(c) < 32 for c in url):
        return e(text)
    return f'<a href="{e(url)}">{e(text)}</a>'


def _excerpt(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def indicators_html(ind: Indicators) -> str:
    e = html.escape
    lab = ind.lab
    out = [f'<section class="presence"><h2>{e(lab["title"])}</h2>', f'<p class="note">{e(lab["intro"])}</p>']
    heads = ("organisation", "followers", "change", "per_week", "per_post", "per_1000", "best")
    for network, rows in ind.table.items():
        out.append(f"<h3>{e(NETWORK_NAMES.get(network, network.capitalize()))}</h3>")
        series = ind.curves.get(network, {})
        if any(len(points) >= 2 for points in series.values()):
            out.append(f'<div style="max-width:640px">{followers_chart(ind, network)}</div>')
            out.append('<ul class="legend">')
            for index, org in enumerate(o for o, points in series.items() if points):
                out.append(f'<li><span style="background:{PALETTE[index % len(PALETTE)]}"></span>{e(org)}</li>')
            out.append("</ul>")
        elif series:
            out.append(f'<p class="note">{e(lab["no_curve"])}</p>')
        out.append(
            '<div style="overflow-x:auto;max-width:100%"><table><tr>'
            + "".join(f"<th>{e(lab[h])}</th>" for h in heads)
            + "</tr>"
        )
        for r in rows:
            name = f"<b>{e(r.organisation)}</b>" if r.role == "self" else e(r.organisation)
            best = r.best_post
            best_cell = (
                _link(best.link, f"{_excerpt(best.text, 60) or lab['open']} ({best.engagement})") if best else "–"
            )
            out.append(
                f'<tr><td>{name}<br><span class="meta">{e(lab.get(r.role, r.role))}</span></td>'
                f'<td class="n">{number(r.followers)}</td><td class="n">{number(r.change, sign=True)}</td>'
                f'<td class="n">{number(r.posts_per_week, 1)}</td><td class="n">{number(r.engagement_per_post, 1)}</td>'
                f'<td class="n">{number(r.engagement_per_1000, 1)}</td><td>{best_cell}</td></tr>'
            )
        out.append("</table></div>")
    out.append(f"<h3>{e(lab['ours'])}</h3>")
    if ind.ours:
        out.append('<ol class="stories">')
        for network, post in ind.ours:
            meta = " · ".join(
                (
                    NETWORK_NAMES.get(network, network),
                    f"{post.published:%d/%m/%Y}",
                    f"{lab['engagement']} {post.engagement}",
                )
            )
            out.append(
                f"<li>{_link(post.link, _excerpt(post.text) or lab['open'])}<br>"
                f'<span class="meta">{e(meta)} ({post.likes or 0} ♥, {post.reposts or 0} ⇄, '
                f"{post.replies or 0} ↩, {post.quotes or 0} ❝)</span></li>"
            )
        out.append("</ol>")
    else:
        out.append('<p class="note">–</p>')
    if ind.visits:
        months = sorted({m for v in ind.visits.values() for m in v})
        out.append(f"<h3>{e(lab['visits'])}</h3>")
        out.append(
            f'<div style="overflow-x:auto;max-width:100%"><table><tr><th>{e(lab["organisation"])}</th>'
            + "".join(f"<th>{e(m)}</th>" for m in months)
            + "</tr>"
        )
        for org, per_month in ind.visits.items():
            cells = "".join(f'<td class="n">{number(per_month.get(m))}</td>' for m in months)
            out.append(f"<tr><td>{e(org)}</td>{cells}</tr>")
        out.append("</table></div>")
    out.append(f"<h3>{e(lab['relay'])}</h3>")
    if ind.relays:
        out.append(
            f"<table><tr><th>{e(lab['hit'])}</th><th>{e(lab['our_post'])}</th><th>{e(lab['engagement'])}</th></tr>"
        )
        for relay in ind.relays:
            out.append(
                f"<tr><td>{_link(relay.url, relay.title)}</td>"
                f"<td>{_link(relay.post.link, NETWORK_NAMES.get(relay.network, relay.network))}</td>"
                f'<td class="n">{number(relay.post.engagement)}</td></tr>'
            )
        out.append("</table>")
    else:
        out.append(f'<p class="note">{e(lab["no_relay"])}</p>')
    out.append("</section>")
    return "\n".join(out)


# --- Markdown ----------------------------------------------------------------------------------


def _md(text: str) -> str:
    from watcher.report import md

    return md(text)


def _md_link(url: str, text: str) -> str:
    if not url.startswith(("https://", "http://")) or any(c.isspace() or c in "()<>" for c in url):
        return _md(text)
    return f"[{_md(text)}](<{url}>)"


def indicators_markdown(ind: Indicators) -> str:
    lab = ind.lab
    out = [f"## {_md(lab['title'])}", "", _md(lab["intro"]), ""]
    heads = ("organisation", "followers", "change", "per_week", "per_post", "per_1000", "best")
    for network, rows in ind.table.items():
        out += [f"### {_md(NETWORK_NAMES.get(network, network.capitalize()))}", ""]
        out += ["| " + " | ".join(_md(lab[h]) for h in heads) + " |", "|---|" + "---:|" * 5 + "---|"]
        for r in rows:
            name = f"**{_md(r.organisation)}**" if r.role == "self" else _md(r.organisation)
            best = r.best_post
            best_cell = (
                _md_link(best.link, f"{_excerpt(best.text, 60) or lab['open']} ({best.engagement})") if best else "–"
            )
            out.append(
                f"| {name} | {number(r.followers)} | {number(r.change, sign=True)} | {number(r.posts_per_week, 1)} "
                f"| {number(r.engagement_per_post, 1)} | {number(r.engagement_per_1000, 1)} | {best_cell} |"
            )
        for org, points in ind.curves.get(network, {}).items():
            if len(points) >= 2:
                curve = ", ".join(f"{d:%d/%m} {v}" for d, v in sorted(points))
                out.append(f"\n{_md(lab['followers'])} ({_md(org)}): {curve}")
        out.append("")
    out += [f"### {_md(lab['ours'])}", ""]
    for i, (network, post) in enumerate(ind.ours, start=1):
        out.append(
            f"{i}. {_md_link(post.link, _excerpt(post.text) or lab['open'])}: "
            f"{_md(NETWORK_NAMES.get(network, network))}, {post.published:%d/%m/%Y}, "
            f"{lab['engagement']} {post.engagement}"
        )
    if not ind.ours:
        out.append("–")
    if ind.visits:
        months = sorted({m for v in ind.visits.values() for m in v})
        out += ["", f"### {_md(lab['visits'])}", "", f"| {_md(lab['organisation'])} | " + " | ".join(months) + " |"]
        out.append("|---|" + "---:|" * len(months))
        for org, per_month in ind.visits.items():
            out.append(f"| {_md(org)} | " + " | ".join(number(per_month.get(m)) for m in months) + " |")
    out += ["", f"### {_md(lab['relay'])}", ""]
    for relay in ind.relays:
        out.append(
            f"- {_md_link(relay.url, relay.title)}: "
            f"{_md_link(relay.post.link, NETWORK_NAMES.get(relay.network, relay.network))}, "
            f"{lab['engagement']} {number(relay.post.engagement)}"
        )
    if not ind.relays:
        out.append(f"_{_md(lab['no_relay'])}_")
    return "\n".join(out) + "\n"
