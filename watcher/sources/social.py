"""What the social adapters share: JSON answers, times, counts, and requests that chain.

Pure. A poll of a source that logs in is a chain of requests: login (when the cursor holds
no session), then one search after another, each request's answer bringing the next. The
chain's state rides in the request's `tag` as `"<step> <json>"`, so `parse` and `recover`
know what is left to do without any state of their own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from watcher.errors import HTTPStatusError, ParseError
from watcher.query import Node
from watcher.sources import error_body
from watcher.sources.syntax import Dialect, query_trees, translate
from watcher.types import Fetched, Query, SourceSpec


def shown_url(url: str) -> str:
    """A URL fit for a message: no query string (it may hold a search or a token)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", "")) if parts.hostname else url


def load_json(fetched: Fetched, network: str) -> Any:
    """The JSON answer of a request; ParseError naming the network and URL if it is not JSON."""
    try:
        return json.loads(fetched.body)
    except (ValueError, UnicodeDecodeError):
        head = fetched.body[:200].lstrip().lower()
        what = "an HTML page" if head.startswith((b"<!doctype html", b"<html")) else "not JSON"
        raise ParseError(f"{network} answered {what} from {shown_url(fetched.url)}") from None


def error_json(error: HTTPStatusError) -> Mapping[str, Any]:
    """The JSON object an API sent with an error status ({} if none)."""
    try:
        found = json.loads(error_body(error))
    except (ValueError, UnicodeDecodeError):
        return {}
    return found if isinstance(found, Mapping) else {}


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time as networks write it (Z, +00:00, 3 to 9 decimals), aware; None if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # Python reads at most 6 decimals
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def from_epoch(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def count(value: Any) -> int:
    """A non-negative count from an API field (None, floats and strings tolerated)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        return max(int(value), 0)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return 0


def text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def searches(spec: SourceSpec, queries: Sequence[Query], dialect: Dialect) -> list[str]:
    """Every search the source makes: each query (its own `queries:` or keywords.txt's), translated."""
    trees: list[Node] = query_trees(spec.options.get("queries"), queries)
    found = [s for tree in trees for s in translate(tree, dialect)]
    return list(dict.fromkeys(s for s in found if s.strip()))


def tag(step: str, state: Mapping[str, Any]) -> str:
    return f"{step} {json.dumps(state, ensure_ascii=False, separators=(',', ':'))}"


def read_tag(value: str) -> tuple[str, dict[str, Any]]:
    step, _, rest = value.partition(" ")
    try:
        state = json.loads(rest) if rest else {}
    except ValueError:
        state = {}
    return step, state if isinstance(state, dict) else {}


def with_backlog(
    cursor: Mapping[str, Any],
    key: str,
    read: Callable[[Mapping[str, Any]], bool] | None,
    left: Mapping[str, Any] | None,
    **fields: Any,
) -> dict[str, Any]:
    """`cursor` with `fields` set and the backlog of search `key` brought up to date.

    The backlog is what a poll left unread past its page limit, a list of windows per search:
    the window just read to its end (the one `read` says is it, when reading one) goes, the
    stretch this reading left (`left`) is added. An empty backlog is no key at all.
    """
    backlog = {k: list(v) for k, v in (cursor.get("backlog") or {}).items()}
    windows = [w for w in backlog.get(key, []) if read is None or not read(w)]
    if left is not None:
        windows.append(dict(left))
    if windows:
        backlog[key] = windows
    else:
        backlog.pop(key, None)
    updated = {k: v for k, v in cursor.items() if k != "backlog"} | fields
    if backlog:
        updated["backlog"] = backlog
    return updated


def check_strings(spec: SourceSpec, keys: Iterable[str]) -> str | None:
    """A problem with list-of-text options (`queries`, `hashtags`, `subreddits`), or None."""
    from watcher.errors import QuerySyntaxError
    from watcher.query import parse_query

    for key in keys:
        value = spec.options.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            return f"`{key}` must be a list of words, e.g. {key}: [coworking, tierslieux]"
        if key == "queries":
            for query in value:
                try:
                    parse_query(query)
                except QuerySyntaxError as exc:
                    return f"query {query!r}: {exc}"
    return None


def missing(spec: SourceSpec, key: str, variable: str) -> str | None:
    """The message for a credential that is absent or empty, or None when it is there."""
    if text(spec.options.get(key)):
        return None
    state = "is empty" if key in spec.options else "is missing"
    return (
        f"`{key}` {state}: write `{key}: ${{{variable}}}` and set {variable} in the environment"
        " or in the credentials file"
    )
