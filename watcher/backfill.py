"""Matching stored items against queries: what a new query would have found, and catching up on it.

When a query is added to keywords.txt, the items stored in the recent past are matched against
it, so the next digest already holds what it would have found (relevance.catch_up stores them). The score of an item is
computed as of when it was first seen (the moment the poll scored it), so an old item does not
lose points for having waited, and a score only ever goes up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from watcher.match import compile_queries
from watcher.score import score
from watcher.store import parse_iso
from watcher.types import Item, Query, QueryMatch


@dataclass(frozen=True)
class Found:
    """A stored item that a query matches."""

    row: Mapping[str, Any]  # the stored item, in the shape of `watcher hits --json` (plus "text")
    matches: tuple[QueryMatch, ...]  # of the queries looked for
    score: int  # its score with every query of keywords.txt that it matches
    breakdown: Mapping[str, float]


def find_matches(
    rows: Iterable[Mapping[str, Any]],
    wanted: Sequence[Query],
    every_query: Sequence[Query],
    source_weights: Mapping[str, float],
    progress: Callable[[int], None] = lambda _n: None,
) -> list[Found]:
    """The stored items that match at least one of `wanted`, scored with all of `every_query`."""
    matcher = compile_queries(wanted)
    full = compile_queries(every_query)
    found: list[Found] = []
    for row in rows:
        progress(1)
        matches = matcher.match(row["title"], row["text"])
        if not matches:
            continue
        item = item_of_row(row)
        all_matches = tuple(full.match(item.title, item.text)) or tuple(matches)
        weight = max((source_weights.get(s, 1.0) for s in row["sources"]), default=1.0)
        seen = parse_iso(row["first_seen"]) or item.published
        value, breakdown = score(item, all_matches, source_weight=weight, now=seen)
        found.append(Found(row, tuple(matches), value, breakdown))
    return found


def item_of_row(row: Mapping[str, Any]) -> Item:
    """A stored item (the row shape of Store.items_since) as a poll read it."""
    published = parse_iso(row["published"])
    assert published is not None
    return Item(
        source=(row["sources"] or [""])[0],
        key=str(row["id"]),
        url=row["url"],
        canonical_url=row["canonical_url"],
        title=row["title"],
        text=row["text"],
        published=published,
        author=row["author"],
        publisher=row["publisher"],
        language=row["language"],
        engagement=row["engagement"] or {},
        no_reuse=row["no_reuse"],
    )
