"""Relevance at the edges of a poll: the theme learned from the store, and the languages read.

Before a poll: when the languages read (settings.languages, a source's `languages`) changed since
the last poll, the stored items left out for their language that are now read are matched again,
and scored as a poll scores its hits (the place's, the learned and the theme's parts with them).

After a poll: the theme model (theme.py) is loaded from its cache in the store, or learned again
when what it was learned from changed meaningfully (a tenth more or fewer seed items, other seed
queries); then the items this poll stored get their theme component, and those matching no
query but close enough to the theme (theme.RELATED_SHARE) become related hits (keywords []).
When the model was learned again, the hits of the last RESCORE_DAYS days are scored again with
it, so the digest ranks with one model (only hits: the non-hits of a fortnight would be most of
the database).

Nothing here may stop a poll: a missing model (too few items yet) leaves the scores as they were,
said once in the log; any other failure is logged and the poll goes on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from watcher import labels, place, theme
from watcher.backfill import Found, find_matches, item_of_row
from watcher.language import detect, reads
from watcher.read import left_out
from watcher.score import with_components
from watcher.store import Rematch, Store
from watcher.types import Config, Hit, Query, ScoreComponent, SourceSpec

log = logging.getLogger("watcher.relevance")

DOCUMENTS = 5000  # the latest items the theme is learned over
RESCORE_DAYS = 14  # when the model changes, the items of this recent past are scored again
CHANGED = 0.1  # the share of seed items gained or lost that makes the model learned again
POSITIVE_STATES = ("picked", "exported", "relayed")
_SETTING = "languages"

_said_missing = False
_cached: tuple[str, theme.ThemeModel] | None = None  # (the stored model's text, the model) last parsed


def _languages_read(config: Config) -> dict[str, list[str] | None]:
    return {f.name: (list(f.languages) if f.languages is not None else None) for f in config.feeds}


def before_poll(store: Store, config: Config, now: datetime) -> int:
    """Match again the stored items left out for a language that is now read; how many became hits."""
    try:
        return _rematch_languages(store, config, now)
    except Exception as exc:
        name = type(exc).__name__
        log.warning("languages: could not match the items of newly read languages again (%s: %s)", name, exc)
        return 0


def _rematch_languages(store: Store, config: Config, now: datetime) -> int:
    read = _languages_read(config)
    value = json.dumps(read, sort_keys=True)
    seen = store.setting_seen(_SETTING)
    if seen == value:
        return 0
    store.save_setting_seen(_SETTING, value)
    if seen is None:
        return 0  # the first poll with languages: nothing was left out before
    rows = [
        row
        for row in store.items_left_out_for_language()  # matched, but not in a language read then
        if any(reads(read.get(source, None), row["language"]) for source in row["sources"])
    ]
    if not rows:
        return 0
    weights = {f.name: f.weight for f in config.feeds}
    found = _read(config, find_matches(rows, config.queries, config.queries, weights))
    changed = store.add_matches(_as_polled(store, config, found, now), cluster_days=config.settings.cluster_days)
    if changed:
        log.info("languages: %d stored items in a newly read language became hits", changed)
    return changed


def catch_up(
    store: Store,
    config: Config,
    wanted: Sequence[Query],
    since: datetime | None,
    now: datetime,
    *,
    progress: Callable[[int], None] = lambda _n: None,
) -> tuple[int, int]:
    """Match the items stored since `since` against the queries `wanted` (just added) and record
    what they match, as a poll would have: only items that one of their sources reads (their
    language, its exclusions), scored with every query and the parts a poll adds.

    Returns (items that match, items changed in the store).
    """
    weights = {f.name: f.weight for f in config.feeds}
    found = _read(config, find_matches(store.items_since(since), wanted, config.queries, weights, progress))
    changed = store.add_matches(_as_polled(store, config, found, now), cluster_days=config.settings.cluster_days)
    return len(found), changed


def _read(config: Config, found: Sequence[Found]) -> list[Found]:
    """The matched items that a poll would have made hits (see `_is_read`)."""
    specs = {f.name: f for f in config.feeds}
    return [f for f in found if _is_read(specs, f.row)]


def _is_read(specs: Mapping[str, SourceSpec], row: Mapping[str, Any]) -> bool:
    """Whether one of the stored item's sources (or a source no longer configured) reads its
    language and does not leave it out (exclude_domains, exclude_authors). The language is
    detected now: an item that matched nothing when polled kept the one its source declared."""
    item = item_of_row(row)
    language = detect(item.title, item.text, item.language)
    for name in row["sources"] or [""]:
        spec = specs.get(name)
        if spec is None or (reads(spec.languages, language) and not left_out(item, spec)):
            return True
    return False


def _as_polled(store: Store, config: Config, found: Sequence[Found], now: datetime) -> list[Rematch]:
    """The items matched again, scored as a poll scores its hits: with the place's and the learned
    parts (poll._store_results) and the theme's (after_poll, with the model stored: none is learned
    here, so that after_poll still sees a model learned anew and scores the recent hits again)."""
    hits = [Hit(item_of_row(f.row), f.matches, f.score, f.breakdown) for f in found]
    local = place.finder_for(config.settings.place)
    hits = labels.adjust_hits(labels.current(store, now), place.adjust_hits(local, hits))
    model = _stored_model(store)
    updates = []
    for f, hit in zip(found, hits, strict=True):
        value, breakdown = hit.score, hit.breakdown
        if model is not None and value > 0:
            value, breakdown = with_components(breakdown, [model.component(hit.item.title, hit.item.text)])
        updates.append(Rematch(f.row["id"], tuple(m.query.text for m in f.matches), value, breakdown))
    return updates


def _stored_model(store: Store) -> theme.ThemeModel | None:
    """The theme model stored in the database, if any."""
    stored = store.relevance_model(theme.NAME)
    return _parsed(stored[1]) if stored is not None else None


def _parsed(text: str) -> theme.ThemeModel:
    """A stored theme model, parsed once per model (not at every poll)."""
    global _cached
    if _cached is None or _cached[0] != text:
        _cached = (text, theme.ThemeModel.from_json(json.loads(text)))
    return _cached[1]


def theme_model(store: Store, config: Config, now: datetime) -> tuple[theme.ThemeModel | None, bool]:
    """The theme model (None when there are too few items yet) and whether it was learned anew."""
    global _said_missing
    counts = store.query_counts()
    seeds_queries = {q.text for q in theme.seed_queries(config.queries, counts)}
    # whether the cached model holds is decided on a count: no item's text is read for it
    seed_count = store.theme_seed_count(DOCUMENTS, sorted(seeds_queries), POSITIVE_STATES)
    basis = {"queries": sorted(seeds_queries), "seeds": seed_count}
    cached = store.relevance_model(theme.NAME)
    if cached is not None:
        old_basis = json.loads(cached[0])
        old_seeds = int(old_basis.get("seeds", 0))
        same_queries = old_basis.get("queries") == basis["queries"]
        if same_queries and abs(seed_count - old_seeds) <= CHANGED * max(old_seeds, 1):
            return _parsed(cached[1]), False
    documents = store.theme_documents(DOCUMENTS, theme.TEXT_CHARS)
    seeds = [i for i, d in enumerate(documents) if _is_seed(d, seeds_queries)]
    basis["seeds"] = len(seeds)
    model = theme.build([(d["title"], d["text"]) for d in documents], seeds)
    if model is None:
        if not _said_missing:
            _said_missing = True
            log.warning(
                "theme: %d items matched the most specific queries, %d are needed to learn what the watch is "
                "about; scores go without it until then",
                len(seeds),
                theme.MIN_SEEDS,
            )
        return None, False
    store.save_relevance_model(theme.NAME, json.dumps(basis), json.dumps(model.to_json()), now)
    log.info("theme: learned from %d items among %d (%d words)", model.seeds, model.documents, len(model.centroid))
    return model, True


def _is_seed(document: Mapping[str, Any], seed_queries: set[str]) -> bool:
    if document["state"] == "noise":
        return False
    if document["state"] in POSITIVE_STATES:
        return True
    return document["score"] > 0 and any(k in seed_queries for k in document["keywords"])


def after_poll(store: Store, config: Config, since: datetime, now: datetime) -> int:
    """Give the items stored since `since` their theme component; how many scores changed."""
    try:
        model, fresh = theme_model(store, config, now)
        if model is None:
            return 0
        earlier = now - timedelta(days=RESCORE_DAYS) if fresh else None
        return apply(store, config, model, store.items_to_rescore(since, hits_since=earlier))
    except Exception as exc:
        log.warning("theme: scores left as they were (%s: %s)", type(exc).__name__, exc)
        return 0


def apply(store: Store, config: Config, model: theme.ThemeModel, rows: Sequence[Mapping[str, Any]]) -> int:
    """Score the stored items `rows` with the theme: hits get its component, close non-hits become related."""
    specs = {f.name: f for f in config.feeds}
    updates: list[tuple[int, int, Mapping[str, float]]] = []
    for row in rows:
        closeness = model.closeness(row["title"], row["text"])
        component = ScoreComponent(theme.NAME, model.points(closeness), {"closeness": round(closeness, 3)})
        breakdown = row["score_breakdown"]
        if row["keywords"] and row["score"] > 0:
            updates.append((row["id"], *with_components(breakdown, [component])))
        elif row["score"] > 0 and theme.RELATED in breakdown:  # related before: still?
            if model.related(closeness):
                updates.append((row["id"], *with_components(breakdown, [component])))
            else:
                updates.append((row["id"], 0, {}))
        elif (
            row["score"] == 0
            and row["state"] != "noise"
            and model.related(closeness)
            and _is_read(specs, row)  # a poll would have read it (its language, its source's exclusions)
        ):
            related = ScoreComponent(theme.RELATED, theme.RELATED_POINTS)
            updates.append((row["id"], *with_components({}, [related, component])))
    return store.rescore(updates) if updates else 0
