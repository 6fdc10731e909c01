"""The score of a matched item (0..100), its breakdown, and the breakdown in words.

The score is where the words matched (title, text, how many queries), freshness and engagement,
times the query and source weights, plus the score components that other modules make
(`ScoreComponent`: the theme, feedback, the place), each bounded and explained in words by its
module's `wording` function, listed in `_WORDINGS`.

Pure: the current time comes in as `now`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from watcher import feedback, place, theme
from watcher.types import Item, QueryMatch, ScoreComponent

# How each score component is said in words: (points, facts, language "fr" or "en") -> a clause
# such as "proche du thème (+12)". A component without one is shown by name.
Wording = Callable[[float, Mapping[str, float], str], str]
_WORDINGS: dict[str, Wording] = {
    theme.NAME: theme.wording,
    theme.RELATED: theme.related_wording,
    place.NAME: place.wording,
    feedback.PART_KEY: feedback.wording,
}

TITLE_POINTS = 40.0
BODY_POINTS = 20.0
EXTRA_QUERY_POINTS = 10.0
EXTRA_QUERIES_CAP = 20.0
FRESHNESS_POINTS = 20.0
FRESH_DAYS = 1.0  # full points up to this age
HALF_LIFE_DAYS = 2.0  # past FRESH_DAYS, points halve every HALF_LIFE_DAYS: half at 3 days
STALE_DAYS = 14.0  # nothing at this age; older items lose points
OLD_DAYS = 365.0  # ...down to -FRESHNESS_POINTS at a year and beyond: a source's archive never tops the digest
ENGAGEMENT_POINTS = 15.0
ENGAGEMENT_PER_DECADE = 5.0  # 9 interactions: 5 points, 99: 10, 999 and more: 15

# Weights of each engagement count; a repost spreads the item, so it counts twice.
_ENGAGEMENT_WEIGHTS = {"likes": 1, "reposts": 2, "replies": 1, "points": 1, "comments": 1}

_PARTS_ORDER = ("title", "body", "queries", "freshness", "engagement", "weight")
# feedback.py's learned part and its record of the score before it (feedback.PART_KEY, BASE_KEY)
_LEARNED = "feedback"
_LEARNED_BASE = "_feedback_base"


def _freshness(age_days: float) -> float:
    if age_days <= FRESH_DAYS:
        return FRESHNESS_POINTS
    if age_days >= OLD_DAYS:
        return -FRESHNESS_POINTS
    if age_days >= STALE_DAYS:  # log scale: -4.7 at a month, -11.5 at three months
        return -FRESHNESS_POINTS * math.log(age_days / STALE_DAYS) / math.log(OLD_DAYS / STALE_DAYS)
    return FRESHNESS_POINTS * math.pow(0.5, (age_days - FRESH_DAYS) / HALF_LIFE_DAYS)


def score(
    item: Item,
    matches: Sequence[QueryMatch],
    *,
    source_weight: float,
    now: datetime,
    components: Sequence[ScoreComponent] = (),
) -> tuple[int, dict[str, float]]:
    """The score of `item` (0..100) and its breakdown; `(0, {})` when nothing matched.

    Score-adding keys (plain names; they add up to the score before it is clamped to 0..100
    and rounded):

    - "title": 40 when a query matched in the title, else "body": 20.
    - "queries": 10 per distinct query beyond the first, at most 20.
    - "freshness": 20 up to one day old, then halving every two days (10 at 3 days,
      5 at 5 days), 0 at 14 days, then negative: -4.7 at a month, -11.5 at three months,
      -20 from a year on; an item dated in the future counts as fresh.
    - "engagement": 5 * log10(1 + n), at most 15, where
      n = likes + 2 * reposts + replies + points + comments: 9 gives 5, 99 gives 10,
      999 gives the full 15, so one viral post does not drown the rest.
    - "weight": with m = (largest weight among the matched queries) * source_weight, the
      sum of the parts above is multiplied by m; this key holds the points that added or
      removed (sum * (m - 1)). Absent when m is 1.
    - one key per score component (`ScoreComponent.name`: "theme"...), its points, added after
      the weight; its facts as "_<name>_<fact>". A matched item keeps a score of at least 1
      (it stays a hit, ranked last) whatever its components take away.

    Informational keys start with "_" and add nothing: "_queries" (distinct queries matched),
    "_age_hours", "_interactions" (n above), "_query_weight", "_source_weight".
    Points are rounded to one decimal.
    """
    if not matches:
        return 0, {}
    parts: dict[str, float] = {}
    if any(m.in_title for m in matches):
        parts["title"] = TITLE_POINTS
    else:
        parts["body"] = BODY_POINTS

    distinct = len({m.query.text for m in matches})
    if distinct > 1:
        parts["queries"] = min(EXTRA_QUERIES_CAP, EXTRA_QUERY_POINTS * (distinct - 1))

    age_hours = (now - item.published).total_seconds() / 3600
    parts["freshness"] = round(_freshness(age_hours / 24), 1)

    interactions = sum(max(0, item.engagement.get(k, 0)) * w for k, w in _ENGAGEMENT_WEIGHTS.items())
    parts["engagement"] = round(
        min(ENGAGEMENT_POINTS, ENGAGEMENT_PER_DECADE * math.log10(1 + interactions)), 1
    )

    query_weight = max(m.query.weight for m in matches)
    multiplier = max(0.0, query_weight * source_weight)
    subtotal = sum(parts.values())
    if multiplier != 1.0:
        parts["weight"] = round(subtotal * (multiplier - 1.0), 1)
    facts: dict[str, float] = {}
    for component in components:
        parts[component.name] = round(component.points, 1)
        for fact, value in component.facts.items():
            facts[f"_{component.name}_{fact}"] = float(value)
    total = sum(parts.values())

    breakdown = dict(parts)
    breakdown.update(facts)
    breakdown["_queries"] = float(distinct)
    breakdown["_age_hours"] = round(age_hours, 2)
    breakdown["_interactions"] = float(interactions)
    breakdown["_query_weight"] = float(query_weight)
    breakdown["_source_weight"] = float(source_weight)
    return math.floor(min(100.0, max(1.0, total)) + 0.5), breakdown


def with_components(
    breakdown: Mapping[str, float], components: Sequence[ScoreComponent]
) -> tuple[int, dict[str, float]]:
    """A stored score's breakdown with `components` put in (replacing any of the same name): the
    new score (1..100: it stays a hit) and breakdown. The other parts stay as they were.

    The learned part of feedback.py ("feedback") is added last, to the rest kept within 1..100,
    as feedback.adjust does; its record of that rest ("_feedback_base") follows the new parts.
    """
    names = {c.name for c in components}
    kept = {
        k: v for k, v in breakdown.items() if k not in names and not any(k.startswith(f"_{n}_") for n in names)
    }
    for component in components:
        kept[component.name] = round(component.points, 1)
        for fact, value in component.facts.items():
            kept[f"_{component.name}_{fact}"] = float(value)
    rest = sum(v for k, v in kept.items() if not k.startswith("_") and k != _LEARNED)
    base = math.floor(min(100.0, max(1.0, rest)) + 0.5)
    if _LEARNED not in kept:
        return base, kept
    kept[_LEARNED_BASE] = float(base)
    return max(1, min(100, math.floor(base + kept[_LEARNED] + 0.5))), kept


def _points(value: float) -> str:
    text = f"{value:+.1f}"
    return text.removesuffix(".0")


def _number(value: float) -> str:
    return f"{value:g}"


def _age(hours: float, fr: bool = False) -> str:
    if hours < 1:
        minutes = max(0, round(hours * 60))
        return f"{minutes} minute{'s' if minutes != 1 else ''}" + ("" if fr else " old")
    if hours < 48:
        whole = round(hours)
        if fr:
            return f"{whole} heure{'s' if whole != 1 else ''}"
        return f"{whole} hour{'s' if whole != 1 else ''} old"
    days = round(hours / 24)
    if days >= 730:
        return f"{days // 365} ans" if fr else f"{days // 365} years old"
    return f"{days} jours" if fr else f"{days} days old"


def component_facts(breakdown: Mapping[str, float], name: str) -> dict[str, float]:
    """The facts of the score component `name` in a breakdown ("_theme_similarity" -> "similarity")."""
    head = f"_{name}_"
    return {k[len(head) :]: v for k, v in breakdown.items() if k.startswith(head)}


def explain(breakdown: Mapping[str, float], language: str = "en") -> str:
    """The breakdown of `score` in words: one short clause per score-adding key, joined by "; ".

    For example "matched in the title (+40); 2 more queries (+20); fresh: 2 hours old (+20);
    35 likes, reposts and replies (+7.7); source weight 1.5 (x1.5, +43.6); close to the theme
    (+12)". `language` "fr" says it in French ("trouvé dans le titre (+40)..."), like the digest.
    Keys starting with "_" only feed the wording; a score component is worded by its module
    (`_WORDINGS`); a key nobody knows is shown by name.
    """
    fr = language.lower().startswith("fr")
    if not breakdown:
        return "aucune requête trouvée" if fr else "no query matched"
    clauses: list[str] = []
    known = [k for k in _PARTS_ORDER if k in breakdown]
    others = [k for k in breakdown if not k.startswith("_") and k not in _PARTS_ORDER]
    for key in known + others:
        value = breakdown[key]
        pts = _points(value)
        if key == "title":
            clauses.append(f"trouvé dans le titre ({pts})" if fr else f"matched in the title ({pts})")
        elif key == "body":
            clauses.append(f"trouvé dans le texte ({pts})" if fr else f"matched in the text ({pts})")
        elif key == "queries":
            more = int(breakdown.get("_queries", 1 + value / EXTRA_QUERY_POINTS)) - 1
            if fr:
                clauses.append(f"{more} autre{'s' if more != 1 else ''} requête{'s' if more != 1 else ''} ({pts})")
            else:
                clauses.append(f"{more} more quer{'ies' if more != 1 else 'y'} ({pts})")
        elif key == "freshness":
            if "_age_hours" not in breakdown:
                clauses.append(f"{'fraîcheur' if fr else 'freshness'} ({pts})")
            else:
                age = _age(breakdown["_age_hours"], fr)
                fresh = value >= FRESHNESS_POINTS
                if fr:
                    clauses.append(f"{'récent : ' if fresh else 'publié il y a '}{age} ({pts})")
                else:
                    clauses.append(f"fresh: {age} ({pts})" if fresh else f"{age} ({pts})")
                if value < 0 and not fr:
                    clauses[-1] = f"old: {age} ({pts})"
        elif key == "engagement":
            count = int(breakdown.get("_interactions", 0))
            what = "j'aime, partages et réponses" if fr else "likes, reposts and replies"
            clauses.append(f"{count} {what} ({pts})")
        elif key == "weight":
            qw = breakdown.get("_query_weight", 1.0)
            sw = breakdown.get("_source_weight", 1.0)
            named = [f"{'poids de la requête' if fr else 'query weight'} {_number(qw)}"] if qw != 1.0 else []
            named += [f"{'poids de la source' if fr else 'source weight'} {_number(sw)}"] if sw != 1.0 else []
            label = " × ".join(named) or ("poids" if fr else "weight")
            clauses.append(f"{label} (x{_number(round(max(0.0, qw * sw), 3))}, {pts})")
        elif key in _WORDINGS:
            clauses.append(_WORDINGS[key](value, component_facts(breakdown, key), "fr" if fr else "en"))
        else:
            clauses.append(f"{key} ({pts})")
    return "; ".join(clauses)
