"""Choose and render the digest (pure): stored hits in, HTML / Markdown / plain text out.

    hit rows + keyword counts + source rows -> Digest      build()
    Digest                                  -> text        render_html(), render_markdown(), render_text()
    Digest + a size limit                   -> text        fit_markdown(), fit_text() (chat services)

Everything that comes from a feed is untrusted: it is escaped for the format it lands in
(html.escape for HTML, backslashes for Markdown, mentions broken), links are kept only when
they are http(s), and nothing is loaded from elsewhere (no image, no font, no pixel). Labels
exist in French and English (`settings.language`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import quote, urlsplit

from watcher.dates import in_zone
from watcher.normalise import display_title

DEFAULT_MAX_ITEMS = 30
SNIPPET_CHARS = 220
ALERT_TITLE_CHARS = 150  # an alert's subject: the headline, cut at a word beyond this
SPIKE_FACTOR = 2.0  # a keyword spiked when it has at least twice its usual count...
SPIKE_MIN = 3  # ...and at least this many hits
PREVIOUS_WINDOWS = 4  # the summary compares with the average of this many previous windows
# A story whose theme component (theme.py) is at most this is off the watch's theme: not listed,
# only counted, with the command that shows it. -19 of -20 is an item that shares next to no word
# with the theme (less than a thirtieth of the typical seed's closeness); higher floors hid useful
# stories on the labelled corpus (bench/relevance.py): the theme tells little at its low end.
OFF_THEME_FLOOR = -19.0
RELATED_GROUP = ""  # the group of the stories shown for being close to the theme, matching no query
RELATED_MAX = 5  # at most this many of them: a small section

LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Veille",
        "window": "du {start} au {end}",
        "hits": "{n} résultat{s}",
        "summary": "En bref",
        "keyword": "Mot-clé",
        "count": "Nombre",
        "change": "Évolution",
        "vs_avg": "par rapport à la moyenne des {n} semaines précédentes",
        "vs_avg_period": "par rapport à la moyenne des {n} périodes précédentes",
        "vs_one": "par rapport à la semaine précédente",
        "vs_one_period": "par rapport à la période précédente",
        "spike": "en hausse",
        "silent": "silence",
        "new": "nouveau",
        "best": "Les meilleurs résultats",
        "why": "Pourquoi",
        "also": "Aussi dans",
        "alerted": "déjà signalé",
        "state_picked": "retenu pour relais",
        "state_exported": "exporté pour relais",
        "state_relayed": "relayé",
        "state_skipped": "écarté",
        "score": "score",
        "more": "… et {n} autre{s} dans le résumé complet",
        "more_attached": "… et {n} autre{s} dans le résumé complet (en pièce jointe)",
        "more_hits": "… et {n} autre{s} résultat{s} de moindre score, non repris ici.",
        "more_link": "Tous les résultats",
        "archived": "{n} article{s} plus ancien{s} trouvé{s} dans les archives des sources : conservé{s}, "
        "hors de ce résumé.",
        "nothing": "Aucun nouveau résultat sur cette période.",
        "sources": "Sources en panne ou silencieuses",
        "failing": "en erreur",
        "since": "depuis le {date}",
        "never_ok": "jamais lue avec succès",
        "quiet": "aucun article cette période (il y en avait avant)",
        "footer": "Envoyé par watcher. Les liens mènent aux articles d’origine.",
        "act_pick": "Relayer",
        "act_noise": "Hors sujet",
        "uncertain": "L’envoi du résumé n° {id} ({window}) a été interrompu : il est peut-être arrivé, "
        "peut-être pas.",
        "test_title": "watcher : message de test",
        "test_body": "Ce service recevra le résumé de la veille et les alertes.",
        "title_part": "titre",
        "body_part": "texte",
        "queries_part": "plusieurs requêtes",
        "freshness_part": "fraîcheur",
        "engagement_part": "interactions",
        "weight_part": "poids",
        "feedback_part": "comme vos choix",
        "place_part": "local",
        "theme_part": "proche du thème",
        "related_part": "sans mot-clé",
        "related": "Proches de votre veille",
        "below": "{n} résultat{s} hors thème non listé{s} : `watcher hits --since {days}d --explain`",
    },
    "en": {
        "title": "Watch digest",
        "window": "{start} to {end}",
        "hits": "{n} hit{s}",
        "summary": "In short",
        "keyword": "Keyword",
        "count": "Hits",
        "change": "Change",
        "vs_avg": "against the average of the {n} previous weeks",
        "vs_avg_period": "against the average of the {n} previous periods",
        "vs_one": "against the previous week",
        "vs_one_period": "against the previous period",
        "spike": "spike",
        "silent": "silent",
        "new": "new",
        "best": "Best hits",
        "why": "Why",
        "also": "Also in",
        "alerted": "already alerted",
        "state_picked": "picked for relay",
        "state_exported": "exported for relay",
        "state_relayed": "relayed",
        "state_skipped": "skipped",
        "score": "score",
        "more": "… and {n} more in the full digest",
        "more_attached": "… and {n} more in the full digest (attached)",
        "more_hits": "… and {n} more lower-scoring hit{s}, not shown here.",
        "more_link": "All the hits",
        "archived": "{n} older item{s} found in the sources' archives: stored, left out of this digest.",
        "nothing": "No new hits in this period.",
        "sources": "Sources failing or silent",
        "failing": "failing",
        "since": "since {date}",
        "never_ok": "never read successfully",
        "quiet": "no items this period (it had some before)",
        "footer": "Sent by watcher. Links lead to the original articles.",
        "act_pick": "Relay",
        "act_noise": "Off-topic",
        "uncertain": "Sending digest #{id} ({window}) was interrupted: it may or may not have arrived.",
        "test_title": "watcher: test message",
        "test_body": "This service will receive the watch digest and alerts.",
        "title_part": "title",
        "body_part": "text",
        "queries_part": "several queries",
        "freshness_part": "freshness",
        "engagement_part": "engagement",
        "weight_part": "weight",
        "feedback_part": "like your picks",
        "place_part": "local",
        "theme_part": "close to the theme",
        "related_part": "no keyword",
        "related": "Close to your watch",
        "below": "{n} off-theme hit{s} not listed: `watcher hits --since {days}d --explain`",
    },
}

_MONTHS = {
    "fr": ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."],
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
}
_WEEKDAYS = {
    "fr": ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."],
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
}


def labels(language: str) -> dict[str, str]:
    """The labels of a language; English for a language without its own."""
    return LABELS.get(language[:2].lower(), LABELS["en"])


# --- values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestHit:
    """One stored hit, as the digest shows it."""

    id: int
    title: str
    text: str
    url: str
    published: datetime
    keywords: tuple[str, ...]
    score: int
    breakdown: Mapping[str, float] = field(default_factory=dict)
    publisher: str | None = None
    author: str | None = None
    sources: tuple[str, ...] = ()
    cluster: int | None = None
    alerted: bool = False
    state: str = "new"  # the relay triage: new, picked, exported, relayed, skipped


def badges(hit: DigestHit, lab: Mapping[str, str]) -> list[str]:
    """The marks beside a headline: already alerted, and where the relay triage has got to."""
    marks = [f"⚡ {lab['alerted']}"] if hit.alerted else []
    if hit.state != "new" and f"state_{hit.state}" in lab:
        marks.append(f"✓ {lab[f'state_{hit.state}']}")
    return marks


@dataclass(frozen=True)
class Entry:
    """One line of the digest: a story, its best hit, and the other outlets that told it."""

    hit: DigestHit
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class KeywordTrend:
    keyword: str
    count: int
    average: float | None  # expected count from the previous windows; None without history
    mark: str = ""  # "spike", "silent" or ""

    @property
    def change(self) -> float | None:
        """Percent change against the average; None when there is no average to compare with."""
        if not self.average:
            return None
        return (self.count - self.average) / self.average * 100


@dataclass(frozen=True)
class SourceHealth:
    name: str
    state: str  # "failing" or "silent"
    error: str | None = None
    last_success: datetime | None = None


@dataclass(frozen=True)
class Digest:
    """Everything one digest says, ready to render in any format."""

    start: datetime
    end: datetime
    language: str
    tz: tzinfo
    total: int  # hits in the window, clustered or not
    groups: tuple[tuple[str, tuple[Entry, ...]], ...]  # keyword -> its stories, best first
    omitted: int = 0  # stories left out by max_items
    trends: tuple[KeywordTrend, ...] = ()
    previous_windows: int = 0  # how many past windows the trends average
    weekly: bool = True
    sources: tuple[SourceHealth, ...] = ()
    notes: tuple[str, ...] = ()  # e.g. an interrupted earlier delivery
    digest_id: int | None = None
    # hit id -> (action, signed link) of the web page, e.g. ("pick", "https://…/a/…"): set when the
    # page has a public address (settings.web.public_url), shown under each story in HTML and Markdown
    actions: Mapping[int, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    archived: int = 0  # hits found in the window that were published long before: a source's archive
    more_url: str | None = None  # a page holding every hit (the web page, once one is configured)

    @property
    def year(self) -> int:
        """The digest's current year (local): dates of other years show theirs."""
        return self.end.astimezone(self.tz).year
    below: int = 0  # stories off the theme (OFF_THEME_FLOOR), counted, not listed

    @property
    def entries(self) -> list[Entry]:
        return [e for _, entries in self.groups for e in entries]

    def is_empty(self) -> bool:
        """Nothing worth a message: no hit, no source problem, no note."""
        return self.total == 0 and not self.sources and not self.notes


# --- building ----------------------------------------------------------------------------------


def hit_from_row(row: Mapping[str, Any]) -> DigestHit:
    """A row of Store.digest_hits / Store.hits -> DigestHit."""
    published = row["published"]
    if isinstance(published, str):
        published = datetime.fromisoformat(published.replace("Z", "+00:00"))
    return DigestHit(
        id=int(row["id"]),
        title=row.get("title") or "",
        text=row.get("text") or "",
        url=row.get("url") or "",
        published=published,
        keywords=tuple(row.get("keywords") or ()),
        score=int(row.get("score") or 0),
        breakdown=dict(row.get("score_breakdown") or {}),
        publisher=row.get("publisher"),
        author=row.get("author"),
        sources=tuple(row.get("sources") or ()),
        cluster=row.get("cluster"),
        alerted=bool(row.get("alerted", False)),
        state=str(row.get("state") or "new"),
    )


def trends(
    counts: Mapping[str, int],
    previous: Sequence[Mapping[str, int]],
    keywords: Sequence[str],
    scale: float = 1.0,
) -> tuple[KeywordTrend, ...]:
    """Counts per keyword against the average of the previous windows (scaled to this window's length).

    A keyword spiked when it has at least SPIKE_MIN hits and at least twice its average; it
    fell silent when it averaged one hit or more and has none. Busiest first.
    """
    names = list(dict.fromkeys([*keywords, *counts]))
    out = []
    for name in names:
        count = counts.get(name, 0)
        average = sum(p.get(name, 0) for p in previous) / len(previous) * scale if previous else None
        mark = ""
        if average is not None:
            if count >= SPIKE_MIN and count >= SPIKE_FACTOR * average:
                mark = "spike"
            elif count == 0 and average >= 1:
                mark = "silent"
        out.append(KeywordTrend(name, count, average, mark))
    order = {name: i for i, name in enumerate(names)}
    return tuple(sorted(out, key=lambda t: (-t.count, order[t.keyword])))


def source_health(
    sources: Iterable[Mapping[str, Any]],
    enabled: Iterable[str],
    counts: Mapping[str, int],
    previous: Sequence[Mapping[str, int]],
    scale: float = 1.0,
) -> tuple[SourceHealth, ...]:
    """Enabled sources that are failing now (last poll an error, or disabled) or fell silent.

    `sources` are the store's source rows; `counts` the items each brought in this window,
    `previous` the same for the previous windows: a source that brought items before and none
    now went silent. `scale` is this window's length in periods: a window shorter than half a
    period (a preview just after a send) is too short to call any source silent.
    """
    wanted = set(enabled)
    out = []
    for row in sources:
        name = row["name"]
        if name not in wanted:
            continue
        success = row.get("last_success")
        last_success = datetime.fromisoformat(success.replace("Z", "+00:00")) if success else None
        if row.get("last_status") == "error" or row.get("disabled_reason"):
            error = row.get("disabled_reason") or row.get("last_error")
            out.append(SourceHealth(name, "failing", error, last_success))
        elif scale >= 0.5 and counts.get(name, 0) == 0 and any(p.get(name, 0) for p in previous):
            out.append(SourceHealth(name, "silent", None, last_success))
    return tuple(sorted(out, key=lambda s: (s.state != "failing", s.name)))


def choose(
    hits: Sequence[DigestHit],
    keywords: Sequence[str],
    max_items: int = DEFAULT_MAX_ITEMS,
    outlets: Mapping[int, Sequence[str]] | None = None,
    stories_total: int | None = None,
    weights: Mapping[str, float] | None = None,
    counts: Mapping[str, int] | None = None,
) -> tuple[tuple[tuple[str, tuple[Entry, ...]], ...], int]:
    """Group the best stories by keyword: (groups, stories left out).

    A story told by several outlets (one cluster) is one entry, its best-scoring hit, with the
    others' names as "also in". Each story sits under its most specific keyword: the heaviest
    (`weights`, by query text), then the rarest (`counts`: hits per query), then the first in
    keywords.txt; a coworking story belongs under "coworking", not "innovation". Stories that
    match no keyword but are close to the theme (related) make a group of their own,
    RELATED_GROUP, last, of at most RELATED_MAX. Groups come best first, entries highest score
    first. `hits` may be only the hits of the best stories (every hit of each of them), with
    `stories_total` the number of stories in the whole window, so a long window is never loaded
    whole.
    """
    order = {k: i for i, k in enumerate(keywords)}
    weight = weights or {}
    count = counts or {}
    ranked = sorted(hits, key=lambda h: (-h.score, -h.published.timestamp(), h.id))
    stories: list[Entry] = []
    by_cluster: dict[int, int] = {}
    also: dict[int, list[str]] = {}
    for hit in ranked:
        if hit.cluster is not None and hit.cluster in by_cluster:
            also[by_cluster[hit.cluster]].append(_outlet(hit))
            continue
        if hit.cluster is not None:
            by_cluster[hit.cluster] = len(stories)
        also[len(stories)] = list((outlets or {}).get(hit.cluster, ())) if hit.cluster is not None else []
        stories.append(Entry(hit))
    entries = []
    for i, story in enumerate(stories):
        own = _outlet(story.hit)
        names = tuple(dict.fromkeys(n for n in also[i] if n and n != own))
        entries.append(replace(story, also=names))
    total = len(entries) if stories_total is None else max(stories_total, len(entries))
    shown: list[Entry] = []
    related = 0
    for entry in entries:
        if len(shown) >= max_items:
            break
        if not entry.hit.keywords:
            if related >= RELATED_MAX:
                continue
            related += 1
        shown.append(entry)
    omitted = max(0, total - len(shown))
    groups: dict[str, list[Entry]] = {}
    for entry in shown:
        if not entry.hit.keywords:
            groups.setdefault(RELATED_GROUP, []).append(entry)
            continue
        keys = sorted(
            entry.hit.keywords,
            key=lambda k: (-weight.get(k, 1.0), count.get(k, 0), order.get(k, len(order)), k),
        )
        groups.setdefault(keys[0], []).append(entry)
    ordered = sorted(
        groups.items(),
        key=lambda kv: (kv[0] == RELATED_GROUP, -kv[1][0].hit.score, order.get(kv[0], len(order))),
    )
    return tuple((k, tuple(v)) for k, v in ordered), omitted


def group_title(keyword: str, language: str) -> str:
    """A group's heading: its keyword, or "Proches de votre veille" for the related stories."""
    return labels(language)["related"] if keyword == RELATED_GROUP else keyword


def _outlet(hit: DigestHit) -> str:
    return hit.publisher or hit.author or (hit.sources[0] if hit.sources else "") or _host(hit.url)


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").removeprefix("www.")
    except ValueError:
        return ""


def uncertain_note(language: str, tz: tzinfo, digest_id: int, start: datetime, end: datetime) -> str:
    return labels(language)["uncertain"].format(id=digest_id, window=window_text(language, tz, start, end))


# --- shared formatting -------------------------------------------------------------------------


def safe_url(url: str) -> str | None:
    """The link if it is an absolute http(s) URL without spaces or control characters, else None."""
    if not url or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def local_date(
    moment: datetime, language: str, tz: tzinfo, with_time: bool = True, current_year: int | None = None
) -> str:
    """E.g. "lun. 7 déc. 09:30"; the year is written whenever it is not `current_year` (a 2012
    post must not read as this week's), and always when `current_year` is not given."""
    lang = "fr" if language[:2].lower() == "fr" else "en"
    local = in_zone(moment, tz)
    day = f"{_WEEKDAYS[lang][local.weekday()]} {local.day} {_MONTHS[lang][local.month - 1]}"
    if local.year != current_year:
        day += f" {local.year}"
    return f"{day} {local:%H:%M}" if with_time else day


def window_text(language: str, tz: tzinfo, start: datetime, end: datetime) -> str:
    """The dates a window covers in words, e.g. "du 6 au 13 janv. 2025" (the slot's day ends it)."""
    lang = "fr" if language[:2].lower() == "fr" else "en"
    first, last = in_zone(start, tz), in_zone(end, tz)
    months = _MONTHS[lang]
    a = str(first.day)
    if (first.year, first.month) != (last.year, last.month):
        a += f" {months[first.month - 1]}"
    if first.year != last.year:
        a += f" {first.year}"
    b = f"{last.day} {months[last.month - 1]} {last.year}"
    return labels(language)["window"].format(start=a, end=b)


def subject(d: Digest) -> str:
    lab = labels(d.language)
    sep = " : " if d.language[:2] == "fr" else ": "
    return f"{lab['title']} {window_text(d.language, d.tz, d.start, d.end)}{sep}{_count(lab['hits'], d.total)}"


def _count(template: str, n: int) -> str:
    return template.format(n=n, s="" if n == 1 else "s")


def headline_and_snippet(hit: DigestHit) -> tuple[str, str]:
    """The headline (the title, or the start of a post's text) and a short snippet that does not repeat it."""
    headline = display_title(hit.title, hit.text)
    rest = hit.text
    if not hit.title:
        rest = hit.text[len(headline.removesuffix("…")) :].strip() if headline.endswith("…") else ""
        if rest:
            rest = "…" + rest
    if len(rest) > SNIPPET_CHARS:
        rest = rest[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"
    return " ".join(headline.split()), " ".join(rest.split())


def why(hit: DigestHit, language: str) -> str:
    """Its keywords and the main parts of its score, e.g. "coworking · titre +40 · fraîcheur +20"."""
    lab = labels(language)
    parts = sorted(
        ((k, v) for k, v in hit.breakdown.items() if not k.startswith("_") and v > 0),
        key=lambda kv: -kv[1],
    )[:3]
    shown = [lab.get(f"{k}_part", k) + f" +{v:g}" for k, v in parts]
    return " · ".join([", ".join(hit.keywords) or lab["related"].lower(), *shown])


def _change_text(t: KeywordTrend, language: str) -> str:
    lab = labels(language)
    if t.average is None:
        return ""
    if not t.average:
        return lab["new"] if t.count else "="
    change = t.change or 0.0
    text = f"{change:+.0f} %" if language[:2] == "fr" else f"{change:+.0f}%"
    return "=" if abs(change) < 0.5 else text


def _mark_symbol(mark: str) -> str:
    return {"spike": "▲", "silent": "▼"}.get(mark, "")


def _source_line(s: SourceHealth, language: str, tz: tzinfo, year: int | None = None) -> tuple[str, str]:
    """(name, what is wrong) for one source."""
    lab = labels(language)
    if s.state == "silent":
        return s.name, lab["quiet"]
    since = (
        lab["since"].format(date=local_date(s.last_success, language, tz, with_time=False, current_year=year))
        if s.last_success
        else lab["never_ok"]
    )
    error = " ".join((s.error or lab["failing"]).split())
    if len(error) > 300:
        error = error[:300] + "…"
    gist = error_gist(error, language) if s.error else None
    return s.name, (f"{gist} : {error} ({since})" if gist else f"{error} ({since})")


# What a source's error means, in French, before its technical text (kept as the source gave it):
# the first pattern found in the message wins.
_GIST_FR = (
    (re.compile(r"\bHTTP (401|403)\b"), "accès refusé"),
    (re.compile(r"\bHTTP (404|410)\b|\bGone\b"), "adresse introuvable"),
    (re.compile(r"\bHTTP 429\b|rate limit", re.IGNORECASE), "trop de requêtes, en attente"),
    (re.compile(r"\bHTTP 5\d\d\b"), "le serveur est en panne"),
    (re.compile(r"no complete answer|deadline|timed? ?out", re.IGNORECASE), "pas de réponse à temps"),
    (re.compile(r"cannot connect|connection .* broke|name resolution", re.IGNORECASE), "connexion impossible"),
    (re.compile(r"^not a feed"), "ce n’est pas un flux RSS ou Atom"),
    (re.compile(r"malformed XML"), "flux mal formé"),
    (re.compile(r"\bcap\b"), "réponse trop volumineuse"),
    (re.compile(r"login|refused|credential", re.IGNORECASE), "identifiants refusés"),
)


def error_gist(error: str, language: str) -> str | None:
    """A source's error in a few words of the digest's language; None in English (the error is)."""
    if language[:2].lower() != "fr":
        return None
    for pattern, gist in _GIST_FR:
        if pattern.search(error):
            return gist
    return "en erreur"


def _meta(hit: DigestHit, d: Digest) -> list[str]:
    """#id (for `relay pick`), the outlet, the local date (with its year when not this one), the score."""
    credit = hit.publisher or hit.author
    bits = [f"#{hit.id}"]
    bits += [credit] if credit else []
    bits.append(local_date(hit.published, d.language, d.tz, current_year=d.year))
    bits.append(f"{labels(d.language)['score']} {hit.score}")
    return bits


# --- HTML --------------------------------------------------------------------------------------

_FONT = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
_MUTED = "#5f6b7a"
_ACCENT = "#1d4ed8"


# Mentions that notify a whole room, in every service Apprise reaches: @everyone and @here
# (Discord, Slack, Rocket.Chat, Mattermost), @channel and @all (Slack, Mattermost, Rocket.Chat),
# @room (Matrix), @online (Mattermost), Zulip's @**all**, @**everyone**, @**stream**, @**topic**
# (and their silent @_**…** forms), Slack's <!here> <!channel> <!everyone>, Google Chat's
# <users/all>. Chat services read them in plain text as in Markdown (Apprise sends Mattermost and
# Zulip plain text), so feed text is defused in every format: a zero-width space after the `@`
# (or the `<`) leaves it readable and pings no one.
_MASS_NAMES = r"everyone|everybody|here|channel|all|room|online|stream|topic"
# only where a mention can start (not mid-word: an e-mail address, a /@user path in a URL)
_MENTION = re.compile(rf"(?<![\w/.+-])@(?=[\\*_~]*(?:{_MASS_NAMES})\b)", re.IGNORECASE)
_BRACKET_MENTION = re.compile(r"<(?=\\?!(?:here|channel|everyone)\b|users/all\b)", re.IGNORECASE)


def defuse_mentions(text: str) -> str:
    """Feed text that notifies no whole room in any chat service, in any format."""
    if "@" not in text and "<" not in text:
        return text
    return _BRACKET_MENTION.sub("<\u200b", _MENTION.sub("@\u200b", text))


def _e(text: str) -> str:
    return html.escape(defuse_mentions(text), quote=True)


def _html_entry(entry: Entry, d: Digest) -> str:
    lab = labels(d.language)
    hit = entry.hit
    headline, snippet = headline_and_snippet(hit)
    link = safe_url(hit.url)
    title_style = f"font-size:16px;line-height:1.35;font-weight:600;color:{_ACCENT};text-decoration:none;"
    title = (
        f'<a href="{_e(link)}" style="{title_style}">{_e(headline)}</a>'
        if link
        else f'<span style="{title_style}color:#1f2937;">{_e(headline)}</span>'
    )
    badge = "".join(
        '<span style="display:inline-block;margin-left:6px;padding:1px 6px;border-radius:4px;'
        f'background:#fef3c7;color:#92400e;font-size:12px;font-weight:600;">{_e(mark)}</span>'
        for mark in badges(hit, lab)
    )
    rows = [f'<div style="margin:0 0 2px;">{title}{badge}</div>']
    rows.append(
        f'<div style="font-size:13px;color:{_MUTED};margin:0 0 4px;">'
        + " · ".join(_e(b) for b in _meta(hit, d))
        + "</div>"
    )
    if snippet:
        rows.append(f'<div style="font-size:14px;line-height:1.45;color:#1f2937;margin:0 0 4px;">{_e(snippet)}</div>')
    rows.append(
        f'<div style="font-size:12px;color:{_MUTED};">{_e(lab["why"])} : {_e(why(hit, d.language))}</div>'
        if d.language[:2] == "fr"
        else f'<div style="font-size:12px;color:{_MUTED};">{_e(lab["why"])}: {_e(why(hit, d.language))}</div>'
    )
    if entry.also:
        sep = " : " if d.language[:2] == "fr" else ": "
        rows.append(
            f'<div style="font-size:12px;color:{_MUTED};">{_e(lab["also"])}{sep}{_e(", ".join(entry.also))}</div>'
        )
    if link:
        rows.append(
            f'<div style="font-size:12px;margin-top:2px;word-break:break-all;">'
            f'<a href="{_e(link)}" style="color:{_MUTED};text-decoration:underline;">{_e(link)}</a></div>'
        )  # the whole link, never cut: a copied link must work
    acts = [(lab[f"act_{a}"], safe_url(u)) for a, u in d.actions.get(hit.id, ())]
    if acts:
        rows.append(
            '<div style="font-size:13px;margin-top:4px;">'
            + " · ".join(
                f'<a href="{_e(u)}" style="color:{_ACCENT};font-weight:600;">{_e(name)}</a>' for name, u in acts if u
            )
            + "</div>"
        )
    return '<div style="margin:0 0 18px;">' + "".join(rows) + "</div>"


def render_html(d: Digest) -> str:
    """The digest as one HTML document for e-mail: inline styles only, one centred column up to
    640 px that shrinks to a phone's width, no image, no script, no remote resource."""
    lab = labels(d.language)
    fr = d.language[:2] == "fr"
    sep = " : " if fr else ": "
    heading = f"{lab['title']} {window_text(d.language, d.tz, d.start, d.end)}"
    out: list[str] = [
        "<!DOCTYPE html>",
        f'<html lang="{_e(d.language[:2])}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(subject(d))}</title></head>",
        f'<body style="margin:0;padding:0;background:#f1f3f6;font-family:{_FONT};color:#1f2937;">',
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        'style="background:#f1f3f6;"><tr><td align="center" style="padding:16px 8px;">',
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        'style="max-width:640px;background:#ffffff;border:1px solid #e3e6ea;border-radius:8px;">',
        '<tr><td style="padding:20px 20px 8px;">',
        f'<h1 style="margin:0 0 4px;font-size:22px;line-height:1.25;color:#111827;">{_e(heading)}</h1>',
        f'<p style="margin:0;font-size:14px;color:{_MUTED};">{_e(_count(lab["hits"], d.total))}</p>',
    ]
    if d.archived:
        out.append(f'<p style="margin:4px 0 0;font-size:13px;color:{_MUTED};">{_e(archived_line(d))}</p>')
    out.append("</td></tr>")
    for note in d.notes:
        out.append(
            '<tr><td style="padding:8px 20px;"><div style="padding:8px 10px;border-left:4px solid #d97706;'
            f'background:#fffbeb;font-size:13px;">{_e(note)}</div></td></tr>'
        )
    if d.trends:
        basis = lab[("vs_one" if d.previous_windows == 1 else "vs_avg") + ("" if d.weekly else "_period")]
        basis = basis.format(n=d.previous_windows)
        out.append('<tr><td style="padding:12px 20px 4px;">')
        out.append(f'<h2 style="margin:0 0 6px;font-size:17px;color:#111827;">{_e(lab["summary"])}</h2>')
        out.append(
            '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
            'style="font-size:14px;border-collapse:collapse;">'
        )
        for t in d.trends:
            colour = {"spike": "#047857", "silent": "#b91c1c"}.get(t.mark, _MUTED)
            mark = f" {_mark_symbol(t.mark)} {lab[t.mark]}" if t.mark else ""
            out.append(
                '<tr><td width="100%" style="padding:3px 0;border-bottom:1px solid #eef0f3;word-break:break-word;">'
                f"{_e(t.keyword)}</td>"
                '<td align="right" style="padding:3px 12px;border-bottom:1px solid #eef0f3;font-weight:600;'
                f'white-space:nowrap;">{t.count}</td>'
                f'<td align="right" style="padding:3px 0;border-bottom:1px solid #eef0f3;color:{colour};'
                f'white-space:nowrap;">{_e(_change_text(t, d.language))}{_e(mark)}</td></tr>'
            )
        out.append("</table>")
        if d.previous_windows:
            out.append(
                f'<p style="margin:4px 0 0;font-size:12px;color:{_MUTED};">{_e(lab["change"])}{sep}{_e(basis)}</p>'
            )
        out.append("</td></tr>")
    if not d.groups:
        out.append(f'<tr><td style="padding:12px 20px;font-size:15px;">{_e(lab["nothing"])}</td></tr>')
    for keyword, entries in d.groups:
        out.append('<tr><td style="padding:14px 20px 0;">')
        out.append(
            f'<h2 style="margin:0 0 10px;padding-bottom:4px;font-size:17px;color:#111827;'
            f'border-bottom:2px solid {_ACCENT};word-break:break-word;">{_e(group_title(keyword, d.language))} '
            f'<span style="font-weight:400;color:{_MUTED};font-size:14px;">({len(entries)})</span></h2>'
        )
        out.extend(_html_entry(e, d) for e in entries)
        out.append("</td></tr>")
    if d.omitted:
        more = _e(_count(lab["more_hits"], d.omitted))
        if d.more_url:
            more += f' <a href="{_e(d.more_url)}" style="color:{_ACCENT};">{_e(lab["more_link"])}</a>'
        out.append(f'<tr><td style="padding:0 20px 8px;font-size:13px;color:{_MUTED};">{more}</td></tr>')
    if below := below_line(d):
        out.append(f'<tr><td style="padding:0 20px 8px;font-size:13px;color:{_MUTED};">{_e(below)}</td></tr>')
    if d.sources:
        out.append('<tr><td style="padding:12px 20px 4px;">')
        out.append(f'<h2 style="margin:0 0 6px;font-size:17px;color:#111827;">{_e(lab["sources"])}</h2>')
        out.append('<ul style="margin:0;padding-left:18px;font-size:13px;line-height:1.5;">')
        for s in d.sources:
            name, problem = _source_line(s, d.language, d.tz, d.year)
            out.append(f'<li style="word-break:break-word;"><strong>{_e(name)}</strong>{sep}{_e(problem)}</li>')
        out.append("</ul></td></tr>")
    out.append(
        f'<tr><td style="padding:16px 20px 20px;font-size:12px;color:{_MUTED};border-top:1px solid #eef0f3;">'
        f"{_e(lab['footer'])}</td></tr>"
    )
    out.append("</table></td></tr></table></body></html>")
    return "\n".join(out) + "\n"


# --- Markdown (chat) ---------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_~\[\]()<>#|!{}])")


def md_escape(text: str) -> str:
    """Feed text made inert in Markdown: specials backslashed, mass mentions broken, one line."""
    text = " ".join(text.split())
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return defuse_mentions(text)


def md_url(url: str) -> str:
    """A URL that cannot close the Markdown link around it."""
    return quote(url, safe=":/?#@!$&'*+,;=%~-._[]")


def _md_entry(entry: Entry, d: Digest) -> str:
    lab = labels(d.language)
    hit = entry.hit
    headline, snippet = headline_and_snippet(hit)
    link = safe_url(hit.url)
    title = f"[{md_escape(headline)}]({md_url(link)})" if link else f"**{md_escape(headline)}**"
    meta = " · ".join(md_escape(b) for b in _meta(hit, d))
    badge = "".join(f" · {md_escape(mark)}" for mark in badges(hit, lab))
    lines = [f"- {title}", f"  {meta}{badge}"]
    if snippet:
        lines.append(f"  {md_escape(snippet)}")
    sep = " : " if d.language[:2] == "fr" else ": "
    extra = f"_{lab['why']}{sep}{md_escape(why(hit, d.language))}_"
    if entry.also:
        extra += f" · {lab['also']}{sep}{md_escape(', '.join(entry.also))}"
    lines.append(f"  {extra}")
    acts = [(lab[f"act_{a}"], safe_url(u)) for a, u in d.actions.get(hit.id, ())]
    if acts:
        lines.append("  " + " · ".join(f"[{md_escape(name)}]({md_url(u)})" for name, u in acts if u))
    return "\n".join(lines)


def render_markdown(d: Digest, limit: int | None = None, attached: bool = False) -> str:
    """The digest in Markdown for chat; with `limit`, only the first `limit` stories, and a line
    saying how many more the full digest holds."""
    lab = labels(d.language)
    sep = " : " if d.language[:2] == "fr" else ": "
    out = [f"**{lab['title']} {window_text(d.language, d.tz, d.start, d.end)}**", _count(lab["hits"], d.total)]
    out += [md_escape(archived_line(d))] if d.archived else []
    out += [f"> {md_escape(n)}" for n in d.notes]
    if d.trends:
        out.append(f"\n**{lab['summary']}**")
        for t in d.trends:
            change = _change_text(t, d.language)
            mark = f" {_mark_symbol(t.mark)} {lab[t.mark]}" if t.mark else ""
            out.append(f"- {md_escape(t.keyword)}{sep}{t.count}" + (f" ({change})" if change else "") + mark)
    groups, shown = _cut(d, limit)
    for keyword, entries, _size in groups:
        out.append(f"\n**{md_escape(group_title(keyword, d.language))}**")
        out += [_md_entry(entry, d) for entry in entries]
    if not d.groups:
        out.append("\n" + lab["nothing"])
    if more := _more_line(d, shown, attached):
        out.append("\n" + more)
    if below := below_line(d):
        out.append("\n" + below)
    if d.sources:
        out.append(f"\n**{lab['sources']}**")
        for s in d.sources:
            name, problem = _source_line(s, d.language, d.tz, d.year)
            out.append(f"- **{md_escape(name)}**{sep}{md_escape(problem)}")
    return "\n".join(out).strip() + "\n"


def _cut(d: Digest, limit: int | None) -> tuple[list[tuple[str, tuple[Entry, ...], int]], int]:
    """The groups as far as `limit` stories go (a chat's size limit), each with its full size, and
    how many stories they show."""
    cut = limit if limit is not None else len(d.entries)
    groups: list[tuple[str, tuple[Entry, ...], int]] = []
    shown = 0
    for keyword, entries in d.groups:
        if shown >= cut:
            break
        taken = entries[: cut - shown]
        groups.append((keyword, taken, len(entries)))
        shown += len(taken)
    return groups, shown


def below_line(d: Digest) -> str | None:
    """How many stories were left out for being off the theme, and the command that shows them."""
    if not d.below:
        return None
    days = max(1, round((d.end - d.start).total_seconds() / 86400))
    return str(labels(d.language)["below"]).format(n=d.below, s="" if d.below == 1 else "s", days=days)


def _more_line(d: Digest, shown: int, attached: bool) -> str | None:
    """The closing "N more" line: stories cut for size, or hits beyond the digest's max_items."""
    lab = labels(d.language)
    left = len(d.entries) - shown
    if left > 0:
        return str(lab["more_attached" if attached else "more"]).format(n=left, s="" if left == 1 else "s")
    if d.omitted:
        more = _count(lab["more_hits"], d.omitted)
        sep = " : " if d.language[:2] == "fr" else ": "
        return more + (f" {lab['more_link']}{sep}{d.more_url}" if d.more_url else "")
    return None


def archived_line(d: Digest) -> str:
    """How many hits of the window were a source's archive, not news."""
    return _count(labels(d.language)["archived"], d.archived)


# --- plain text ---------------------------------------------------------------------------------


def _text_entry(entry: Entry, d: Digest) -> str:
    lab = labels(d.language)
    hit = entry.hit
    headline, snippet = headline_and_snippet(hit)
    sep = " : " if d.language[:2] == "fr" else ": "
    badge = "".join(f"  [{mark}]" for mark in badges(hit, lab))
    meta = defuse_mentions(" · ".join(_meta(hit, d)))
    lines = [f"* {defuse_mentions(headline)}{badge}", f"  {meta}"]
    if snippet:
        lines.append(f"  {defuse_mentions(snippet)}")
    lines.append(f"  {lab['why']}{sep}{defuse_mentions(why(hit, d.language))}")
    if entry.also:
        lines.append(f"  {lab['also']}{sep}{defuse_mentions(', '.join(entry.also))}")
    link = safe_url(hit.url)
    if link:
        lines.append(f"  {link}")
    return "\n".join(lines)


def render_text(d: Digest, limit: int | None = None, attached: bool = False) -> str:
    """The digest as plain text (the e-mail alternative, SMS-like services, files)."""
    lab = labels(d.language)
    sep = " : " if d.language[:2] == "fr" else ": "
    heading = f"{lab['title']} {window_text(d.language, d.tz, d.start, d.end)}"
    out = [heading, "=" * min(len(heading), 72), _count(lab["hits"], d.total)]
    out += [archived_line(d)] if d.archived else []
    out += [f"! {' '.join(n.split())}" for n in d.notes]
    if d.trends:
        out.append(f"\n{lab['summary']}")
        width = max(len(t.keyword) for t in d.trends)
        for t in d.trends:
            change = _change_text(t, d.language)
            mark = f" {_mark_symbol(t.mark)} {lab[t.mark]}" if t.mark else ""
            out.append(f"  {t.keyword:<{width}}  {t.count:>4}  {change}{mark}".rstrip())
    groups, shown = _cut(d, limit)
    for keyword, entries, size in groups:
        out.append(f"\n## {group_title(keyword, d.language)} ({size})\n")
        out += [_text_entry(entry, d) + "\n" for entry in entries]
    if not d.groups:
        out.append("\n" + lab["nothing"])
    if more := _more_line(d, shown, attached):
        out.append(more)
    if below := below_line(d):
        out.append(below)
    if d.sources:
        out.append(f"\n{lab['sources']}")
        for s in d.sources:
            name, problem = _source_line(s, d.language, d.tz, d.year)
            out.append(f"  - {name}{sep}{defuse_mentions(problem)}")  # an error can quote the server
    return "\n".join(out).strip() + "\n"


# --- fitting a size limit ----------------------------------------------------------------------


def fit(render: Callable[..., str], d: Digest, max_chars: int, attached: bool) -> tuple[str, bool]:
    """The longest rendering of `d` within `max_chars`, dropping the lowest stories first.

    Returns (text, complete). When even the summary alone is too long, the stories, trends and
    sources all go and the heading stays, cut to the limit: a short message beats a refused one.
    """
    full = render(d)
    if len(full) <= max_chars:
        return full, True
    low, high = 0, len(d.entries)
    best: str | None = None
    while low <= high:  # the most stories that fit: length grows with the count
        middle = (low + high) // 2
        text = render(d, limit=middle, attached=attached)
        if len(text) <= max_chars:
            best, low = text, middle + 1
        else:
            high = middle - 1
    if best is not None:
        return best, False
    bare = replace(d, trends=(), sources=(), notes=())
    text = render(bare, limit=0, attached=attached)
    return (text if len(text) <= max_chars else text[: max(0, max_chars - 1)] + "…"), False


# --- alerts and tests ----------------------------------------------------------------------------


def render_alert(
    hit: DigestHit, language: str, tz: tzinfo, fmt: str, now: datetime | None = None
) -> tuple[str, str]:
    """(title, body) of an immediate alert for one hit, in "html", "markdown" or "text".

    The title is the story's own headline, on one line (what a reader decides on); the date
    shows its year when it is not `now`'s."""
    headline, _ = headline_and_snippet(hit)
    title = " ".join(headline.split())
    if len(title) > ALERT_TITLE_CHARS:
        title = title[: ALERT_TITLE_CHARS - 1].rsplit(" ", 1)[0] + "…"
    keyword = hit.keywords[0] if hit.keywords else "?"
    end = now or hit.published
    d = Digest(start=end, end=end, language=language, tz=tz, total=1, groups=((keyword, (Entry(hit),)),))
    entry = Entry(hit)
    if fmt == "html":
        body = f'<div style="font-family:{_FONT};max-width:640px;">{_html_entry(entry, d)}</div>'
    elif fmt == "markdown":
        body = _md_entry(entry, d)
    else:
        body = _text_entry(entry, d)
    title = title or labels(language)["title"]
    title = md_escape(title) if fmt == "markdown" else defuse_mentions(title)
    return title, body


def render_test(language: str, now: datetime, tz: tzinfo = UTC) -> tuple[str, str]:
    """The test message, its time in the configured time zone."""
    lab = labels(language)
    local = now.astimezone(tz)
    return lab["test_title"], f"{lab['test_body']} ({local:%Y-%m-%d %H:%M} {local.tzname() or ''})".replace(" )", ")")
