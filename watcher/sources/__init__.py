"""Source adapters: one module per kind, all behind the `Source` protocol.

An adapter is pure: it says what to ask (`plan`) and reads what came back
(`parse`). It never does I/O; poll.py hands its requests to fetch.py. A login is
a request too: its answer, read by `parse`, goes into the cursor and brings the
searches as follow-up requests.

Three hooks are optional, for the sources that need them (see `check_spec`,
`recover_from` and `explain_error`, which call them when an adapter has them):

    check(spec) -> str | None        a problem with the feed's own keys (an empty
                                     credential...), reported by `watcher check`
    recover(spec, request, error, cursor) -> Parsed | None
                                     an HTTP error the source can get past (an
                                     expired session: renew it, then go on)
    explain(spec, error) -> str      what an HTTP error means for this source and
                                     what the user should do about it
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from watcher.errors import HTTPStatusError
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
    if kind == "mastodon":
        from watcher.sources.mastodon import MastodonSource

        return MastodonSource()
    if kind == "bluesky":
        from watcher.sources.bluesky import BlueskySource

        return BlueskySource()
    if kind == "reddit":
        from watcher.sources.reddit import RedditSource

        return RedditSource()
    if kind == "hackernews":
        from watcher.sources.hackernews import HackerNewsSource

        return HackerNewsSource()
    raise KeyError(kind)


def check_spec(spec: SourceSpec) -> str | None:
    """The adapter's objection to a feed's own keys, or None (also when it has no `check`)."""
    try:
        source = adapter(spec.kind)
    except KeyError:
        return None
    check = getattr(source, "check", None)
    return check(spec) if check is not None else None


def recover_from(
    source: Source, spec: SourceSpec, request: FetchRequest, error: HTTPStatusError, cursor: Mapping[str, Any]
) -> Parsed | None:
    """What the adapter does about an HTTP error (renewed session and retries), or None: give up."""
    recover = getattr(source, "recover", None)
    return recover(spec, request, error, cursor) if recover is not None else None


def explain_error(source: Source, spec: SourceSpec, error: HTTPStatusError) -> str:
    """The error's message, in the adapter's words when it has some."""
    explain = getattr(source, "explain", None)
    return explain(spec, error) if explain is not None else str(error)


def error_body(error: HTTPStatusError) -> bytes:
    """The body the server sent with an error (fetch keeps the first 64 KiB), or b""."""
    body = getattr(error, "body", b"")
    return body if isinstance(body, bytes) else b""
