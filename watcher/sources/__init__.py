"""Source adapters: one module per kind, all behind the `Source` protocol.

An adapter is pure: it says what to ask (`plan`) and reads what came back
(`parse`). It never does I/O; poll.py hands its requests to fetch.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from watcher.types import Fetched, FetchRequest, Parsed, Query, Settings, SourceSpec


class Source(Protocol):
    def plan(
        self,
        spec: SourceSpec,
        cursor: Mapping[str, Any],
        queries: Sequence[Query],
        settings: Settings,
    ) -> list[FetchRequest]:
        """The first requests of a poll, from the stored cursor."""
        ...

    def parse(self, spec: SourceSpec, fetched: Fetched, cursor: Mapping[str, Any]) -> Parsed:
        """Items, the new cursor and any follow-up requests. Raises ParseError."""
        ...


def adapter(kind: str) -> Source:
    """The adapter for a feeds.yaml `kind` (imported lazily: start-up stays fast)."""
    if kind == "rss":
        from watcher.sources.rss import RssSource

        return RssSource()
    if kind == "google_news":
        from watcher.sources.google_news import GoogleNewsSource

        return GoogleNewsSource()
    raise KeyError(kind)
