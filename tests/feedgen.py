"""Build small, real RSS 2.0 documents for tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

from tests.loopback import Request, Response

NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Entry:
    title: str
    link: str
    body: str = ""
    guid: str | None = None
    hours_ago: float = 1.0


def rss(entries: list[Entry], title: str = "Test feed") -> bytes:
    items = []
    for e in entries:
        date = format_datetime(NOW - timedelta(hours=e.hours_ago), usegmt=True)
        guid = f'<guid isPermaLink="false">{escape(e.guid)}</guid>' if e.guid else ""
        items.append(
            f"<item><title>{escape(e.title)}</title><link>{escape(e.link)}</link>{guid}"
            f"<description>{escape(e.body)}</description><pubDate>{date}</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>https://example.org/</link><description>t</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def etag_feed(body: bytes, etag: str = '"v1"', content_type: str = "application/rss+xml") -> object:
    """A handler that serves `body` with an ETag and answers 304 to a matching If-None-Match."""

    def handler(req: Request) -> Response:
        if req.headers.get("if-none-match") == etag:
            return Response(304, {"ETag": etag})
        return Response(200, {"Content-Type": content_type, "ETag": etag}, body)

    return handler
