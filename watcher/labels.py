"""The user's labels in the database -> the learned part of the score, kept up to date.

`refresh` is called after each triage command (triage.py) and at the start of each poll (so
the daemon sees, at its next cycle, labels given from elsewhere): when the labels changed since
the stored model was learned, it learns again (feedback.train), stores the model and scores
the untriaged hits of the last RESCORE_DAYS again, in one transaction. `current` gives the model
for a poll. A model that cannot be read or learned leaves the score as it was without the
learned part, with one logged warning; it never stops a triage command or a poll.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from watcher import feedback, suggest
from watcher.errors import StoreError
from watcher.store import Store
from watcher.triage import LABELS
from watcher.types import Hit, Item, Query

log = logging.getLogger("watcher.labels")

RESCORE_DAYS = 35  # the untriaged hits a digest may still show (a monthly digest's window, and some)

_warned = False
_cache: tuple[str, feedback.Model] | None = None  # (database and stamp, model) last loaded in this process


def example_of_row(row: Mapping[str, Any]) -> feedback.Example:
    """A stored hit (the row shape of Store.hits) as the model sees it."""
    return feedback.Example(
        title=row["title"] or "",
        text=row["text"] or "",
        sources=tuple(row.get("sources") or ()),
        url=row.get("canonical_url") or row.get("url") or "",
        author=row.get("author"),
    )


def example_of_item(item: Item) -> feedback.Example:
    """A polled item as the model sees it."""
    return feedback.Example(item.title, item.text, (item.source,), item.canonical_url, item.author)


def stamp_of(store: Store) -> str:
    return f"v{feedback.MODEL_VERSION}:{store.labels_stamp()}"


def learn(store: Store) -> tuple[feedback.Model, list[tuple[int, int, str]]]:
    """Learn from the labelled hits now in the database (nothing stored): the model, and the
    (id, version, features) of the labelled hits whose features were cut now (to be kept)."""
    labelled: list[tuple[set[str], bool]] = []
    cut: list[tuple[int, int, str]] = []
    for row in store.labelled_hits(list(LABELS), feedback.FEATURES_VERSION):
        kept = row["features"]
        if kept is None:
            feats = feedback.features(example_of_row(row))
            cut.append((int(row["id"]), feedback.FEATURES_VERSION, "\n".join(sorted(feats))))
        else:
            feats = set(kept.split("\n")) if kept else set()
        labelled.append((feats, LABELS[row["state"]]))
    return feedback.train(labelled), cut


def refresh(store: Store, now: datetime) -> feedback.Model | None:
    """The model for the labels now in the database, learned again and stored if they changed.

    None when there is no usable model (never raises: a failure is logged once).
    """
    global _cache
    try:
        stamp = stamp_of(store)
        if _cache is not None and _cache[0] == f"{store.path}|{stamp}":
            return _cache[1]
        stored = store.learned_model()
        if stored is not None and stored[0] == stamp:
            model = feedback.loads(stored[1])
        else:
            model, cut = learn(store)
            rescored = _rescore(model, store.new_hits_since(now - timedelta(days=RESCORE_DAYS)))
            store.save_learned_model(stamp, feedback.dumps(model), rescored, now, cut)
        _cache = (f"{store.path}|{stamp}", model)
        return model
    except (StoreError, ValueError, OSError) as exc:
        _warn(exc)
        return None


def current(store: Store, now: datetime) -> feedback.Model | None:
    """The model a poll scores with (refreshed if the labels changed); None: score without it."""
    model = refresh(store, now)
    return model if model is not None and model.active else None


def _rescore(model: feedback.Model, rows: Sequence[Mapping[str, Any]]) -> list[tuple[int, int, str]]:
    """(id, score, breakdown as JSON) of the rows whose score the model changes."""
    out = []
    for row in rows:
        learned = feedback.part(model, feedback.features(example_of_row(row))) if model.active else None
        score, breakdown = feedback.adjust(row["score"], row["score_breakdown"], learned)
        if score != row["score"] or breakdown != row["score_breakdown"]:
            out.append((int(row["id"]), score, json.dumps(breakdown)))
    return out


def adjust_hits(model: feedback.Model | None, hits: Sequence[Hit]) -> list[Hit]:
    """The hits of a poll with the learned part in their score (unchanged without a model)."""
    if model is None:
        return list(hits)
    out = []
    for hit in hits:
        if hit.score <= 0:
            out.append(hit)
            continue
        learned = feedback.part(model, feedback.features(example_of_item(hit.item)))
        if learned is None:
            out.append(hit)
            continue
        score, breakdown = feedback.adjust(hit.score, hit.breakdown, learned)
        out.append(replace(hit, score=score, breakdown=breakdown))
    return out


def _warn(exc: Exception) -> None:
    global _warned
    if not _warned:
        log.warning("the score goes on without what the triage taught: %s", exc)
        _warned = True


# --- what `keywords suggest` and the web page's suggestions read ---------------------------------------

COMMON_SAMPLE = 3000  # stored items read to know the common words (never proposed as exclusions)


def labelled_hits(store: Store) -> list[suggest.Labelled]:
    """The labelled hits (noise marks, and picked, exported, relayed hits) as the suggestions see
    them: for this command and the web page's suggestions."""
    return [
        suggest.Labelled(
            id=int(r["id"]),
            title=r["title"] or "",
            text=r["text"] or "",
            sources=tuple(r["sources"]),
            domain=feedback.domain_of(r["canonical_url"] or ""),
            author=r["author"],
            relevant=LABELS[r["state"]],
        )
        for r in store.labelled_hits(list(LABELS), None)
    ]


def suggestions(
    store: Store, queries: Sequence[Query], limit: int
) -> tuple[list[suggest.Labelled], list[suggest.Suggestion]]:
    """The labelled hits, and the exclusions they suggest (best first, at most `limit`)."""
    labelled = labelled_hits(store)
    if not any(not h.relevant for h in labelled):
        return labelled, []
    common = suggest.common_words(store.recent_texts(COMMON_SAMPLE))
    return labelled, list(suggest.suggest(labelled, queries, limit=limit, common=common))
