"""Every error watcher raises, in one tree. Third-party errors are translated at one boundary each.

WatcherError
├── ConfigError          feeds.yaml / keywords.txt: file, line, problem
│   └── QuerySyntaxError a keywords.txt query that does not parse: column
├── FetchError           fetch.py: transport and HTTP failures of one request
│   ├── FetchTimeout     the total deadline passed (slow drip, no answer)
│   ├── BodyTooLarge     the decoded body passed the cap (100 MB body, gzip bomb)
│   ├── TooManyRedirects a redirect loop
│   ├── ConnectFailed    DNS, refused, TLS
│   └── HTTPStatusError  4xx/5xx; carries status and retry_after
├── ParseError           sources/*: an answer that is not what the source gives
│   └── NotAFeed         an HTML page or other non-feed; names advertised feed links
├── FileWriteError       files.py: keywords.txt or feeds.yaml could not be written
├── StoreError           store.py: the database cannot be read or written
│   └── SearchSyntaxError a full-text search that FTS5 cannot read
└── DeliveryError        notify.py: a target refused a message
"""

from __future__ import annotations

from typing import Any


class WatcherError(Exception):
    """Root of every error watcher raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors come back from the pool's processes pickled; the subclasses' own __init__
        # signatures differ from their args, so they are rebuilt from their attributes instead.
        return _rebuilt, (type(self), self.args, self.__dict__)


def _rebuilt(cls: type[WatcherError], args: tuple[Any, ...], state: dict[str, Any]) -> WatcherError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigError(WatcherError):
    def __init__(self, path: object, line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {problem}")


class FileWriteError(WatcherError):
    """A file watcher edits for the user (keywords.txt, feeds.yaml) could not be written; it is unchanged."""

    def __init__(self, path: object, error: OSError) -> None:
        self.path = str(path)
        self.reason = error.strerror or str(error)
        super().__init__(f"cannot write {self.path}: {self.reason}; the file was left as it was")


class QuerySyntaxError(WatcherError):
    """A query that does not parse; `column` is 1-based."""

    def __init__(self, query: str, column: int, problem: str) -> None:
        self.query = query
        self.column = column
        self.problem = problem
        super().__init__(f"column {column}: {problem}")


class FetchError(WatcherError):
    """A request that did not give a usable answer."""


class FetchTimeout(FetchError):
    pass


class BodyTooLarge(FetchError):
    pass


class TooManyRedirects(FetchError):
    pass


class ConnectFailed(FetchError):
    pass


class HTTPStatusError(FetchError):
    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        self.status = status
        self.retry_after = retry_after  # seconds from now, when the server said
        super().__init__(message)


class ParseError(WatcherError):
    """An answer a source adapter cannot read."""


class NotAFeed(ParseError):
    def __init__(self, message: str, feed_links: tuple[str, ...] = ()) -> None:
        self.feed_links = feed_links
        if feed_links:
            message = f"{message}; the page advertises: {', '.join(feed_links)}"
        super().__init__(message)


class StoreError(WatcherError):
    pass


class SearchSyntaxError(StoreError):
    """`watcher search` text that SQLite FTS5 cannot read (an unclosed quote, a lone operator)."""


class DeliveryError(WatcherError):
    pass
