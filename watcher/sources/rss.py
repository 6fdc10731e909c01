"""The `rss` source: RSS 0.9x/1.0/2.0 and Atom feeds, Google Alerts and Google News search feeds.

`plan` asks for the feed with the stored validators (conditional GET); `parse` reads the
answer. `parse_feed` is the feed reading itself, shared with adapters that fetch feeds of
their own (google_news). Titles and contents are handed over as HTML fragments: the
normalise stage turns them into text and unwraps redirect links. Dates are aware UTC.

Two parsers: fastfeedparser (on lxml, some twenty times faster) reads ordinary feeds, and
feedparser, the reference, reads everything the fast path declines: documents that are not
well-formed UTF-8 XML, Google Alerts and Google News feeds (their ids, publishers and double
escaping are feedparser's to read), and any feed with an entry the fast path would read
differently (no date, a relative link, markup in a title, ...). The fast path either gives the
entries feedparser would give (id, link, title, date) or gives the feed to feedparser:
tests/test_rss_fast.py checks it on a sample of feedparser's own test corpus.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import io
import re
import xml.sax
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree

from watcher.errors import ConfigError, HTTPStatusError, NotAFeed, ParseError
from watcher.normalise import unwrap_redirect
from watcher.redact import redact
from watcher.sources.xmlguard import refuse_entity_expansion
from watcher.types import Fetched, FetchRequest, Parsed, Query, RawItem, Settings, SourceSpec

GOOGLE_ALERTS_ENTRY_PREFIX = "tag:google.com,2013:googlealerts/feed:"
GOOGLE_ALERTS_FEED_MARK = "state/com.google/alerts/"
_ALERTS_ENTRY_ID = re.compile(r"googlealerts/feed:(\d+)$")

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9,"
    " application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)

FEED_LINK_TYPES = ("application/rss+xml", "application/atom+xml")

_XML_DECL = re.compile(rb"^\s*<\?xml\s", re.IGNORECASE)
_XML_DECL_ENCODING = re.compile(
    rb"^\s*<\?xml[^>]*?\bencoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']", re.IGNORECASE
)
_BOMS = (codecs.BOM_UTF32_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF8, codecs.BOM_UTF16_BE, codecs.BOM_UTF16_LE)


class RssSource:
    """One conditional GET of `spec.url` per poll.

    The cursor is `{"validators": {url: {"etag": ..., "last_modified": ...}}}`, keyed by URL
    so that an adapter fetching several feeds per source can keep the same shape; the URL as it
    may be shown (redact.py: `?token=${TOKEN}`, `user:***@`), so that the database holds no secret.
    """

    def plan(
        self,
        spec: SourceSpec,
        cursor: Mapping[str, Any],
        queries: Sequence[Query],
        settings: Settings,
    ) -> list[FetchRequest]:
        if not spec.url:
            raise ConfigError("feeds.yaml", spec.line or None, f"feed {spec.name!r}: kind rss needs a url")
        return [FetchRequest(url=spec.url, headers=conditional_headers(cursor, spec.url), tag="feed")]

    def parse(self, spec: SourceSpec, fetched: Fetched, cursor: Mapping[str, Any]) -> Parsed:
        if fetched.status == 304:
            return Parsed(items=(), cursor=None)
        if not 200 <= fetched.status < 300:
            raise HTTPStatusError(fetched.status, f"HTTP {fetched.status} from {fetched.url}")
        items, title = parse_feed(fetched.body, fetched.headers, fetched.url)
        new_cursor = remember_validators(cursor, fetched)
        return Parsed(items=tuple(items), cursor=new_cursor, title=title)


def conditional_headers(cursor: Mapping[str, Any], url: str) -> dict[str, str]:
    """Request headers for a GET of `url`: the validators the cursor holds for it, verbatim."""
    stored = _validators(cursor).get(redact(url)) or {}
    headers = {"Accept": ACCEPT}
    if stored.get("etag"):
        headers["If-None-Match"] = str(stored["etag"])
    if stored.get("last_modified"):
        headers["If-Modified-Since"] = str(stored["last_modified"])
    return headers


def remember_validators(cursor: Mapping[str, Any], fetched: Fetched) -> dict[str, Any]:
    """A copy of the cursor holding this response's ETag / Last-Modified for the URL asked for.

    A 2xx answer replaces what was stored (dropping validators the server no longer sends,
    which would otherwise keep asking for a version it forgot); a 304 only refreshes the
    ones it repeats; any other status leaves the cursor as it was.
    """
    url = redact(fetched.request.url)
    lower = {k.lower(): v for k, v in fetched.headers.items()}
    # a key holding a secret (stored before keys were redacted) goes
    validators = {u: dict(v) for u, v in _validators(cursor).items() if redact(u) == u}
    fresh = {
        name: lower[header]
        for name, header in (("etag", "etag"), ("last_modified", "last-modified"))
        if lower.get(header)
    }
    if fetched.status == 304:
        if fresh:
            validators[url] = {**validators.get(url, {}), **fresh}
    elif 200 <= fetched.status < 300:
        if fresh:
            validators[url] = fresh
        else:
            validators.pop(url, None)
    return {**cursor, "validators": validators}


def _validators(cursor: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    found = cursor.get("validators")
    return found if isinstance(found, Mapping) else {}


def parse_feed(body: bytes, headers: Mapping[str, str], url: str) -> tuple[list[RawItem], str | None]:
    """The entries of a feed body and the feed's title.

    Raises NotAFeed for an HTML page, JSON or other non-feed (with the feed links an HTML
    page advertises), and ParseError for broken XML that yields no entry. A feed that is
    not well-formed but still yields entries is accepted.
    """
    refuse_entity_expansion(body, url)  # before any parser: billion laughs never reach one
    fast = parse_fast(body, headers)
    if fast is not None:
        return fast
    return parse_reference(body, headers, url)


def parse_reference(body: bytes, headers: Mapping[str, str], url: str) -> tuple[list[RawItem], str | None]:
    """parse_feed with feedparser alone: the reference, and the path for anything unusual."""
    import feedparser  # imported on first use: ordinary feeds never need it (nor its import time)

    doc = feedparser.parse(io.BytesIO(body), response_headers=_feedparser_headers(body, headers, url))
    feed = doc.get("feed") or {}
    entries = doc.get("entries") or []
    if not entries:
        _check_empty(doc, body, headers, url)
    language = _text(feed.get("language"))
    is_news = _text(feed.get("generator")).startswith("NFE/")
    is_alerts = GOOGLE_ALERTS_FEED_MARK in _text(feed.get("id"))
    items = [_raw_item(entry, language, is_news, is_alerts) for entry in entries]
    title = _text(feed.get("title")) or None
    # A Google feed's own title names the search, not an outlet ("Google Alert - coworking").
    return credit_outlets(items, None if is_alerts or is_news else title), title


def credit_outlets(items: list[RawItem], feed_title: str | None) -> list[RawItem]:
    """Each item's publisher: the entry's own source (RSS <source>, Atom <source><title>), else
    the feed's title (the site's name), else the domain of its link (Google's redirect unwrapped)."""
    name = " ".join((feed_title or "").split())
    out = []
    for item in items:
        if item.publisher:
            out.append(item)
            continue
        outlet = name or _domain(item.link)
        out.append(replace(item, publisher=outlet) if outlet else item)
    return out


def _domain(link: str) -> str:
    try:
        host = urlsplit(unwrap_redirect(link)).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


# What sends a document to feedparser without trying the fast path: Google's feeds, whose
# particulars _raw_item knows in feedparser's terms.
_REFERENCE_MARKS = (b"NFE/", GOOGLE_ALERTS_FEED_MARK.encode(), b"googlealerts", b"news.google.com")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)
_UTF8_NAMES = frozenset(("utf-8", "utf8", "us-ascii", "ascii"))
_ATOM_NS = "{http://www.w3.org/2005/Atom}"
# A link or source that is not absolute, in lower-cased markup. The quote is taken possessively
# (?+): were it optional in the ordinary way, `href="https://..."` would match by leaving it out.
_RELATIVE_REF = re.compile(r"""(?:href|src)\s*=\s*["']?+(?![a-z][a-z0-9+.-]*:|//)""")
_ABSOLUTE = re.compile(r"^https?://[^\s/]+", re.IGNORECASE)
_STRICT_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def parse_fast(body: bytes, headers: Mapping[str, str]) -> tuple[list[RawItem], str | None] | None:
    """The entries and title of an ordinary RSS 2.0 or Atom 1.0 feed, or None to ask feedparser.

    Ordinary means: UTF-8 by every account (BOM, XML declaration, HTTP charset), well-formed,
    no DTD, no xml:base, no entry with a <source>, not one of Google's feeds, and every entry with an absolute link, a
    title without markup, and a date the fast parser could read if the entry has one.
    Anything else is feedparser's.
    """
    if any(mark in body for mark in _REFERENCE_MARKS) or b"<!DOCTYPE" in body[:2048] or b"xml:base" in body:
        return None
    if b"<source" in body:  # an entry naming its own outlet (RSS <source>, Atom <source><title>): feedparser's
        return None
    if not _is_utf8(body, headers):
        return None
    try:
        root = etree.fromstring(body, _STRICT_XML)
    except (etree.XMLSyntaxError, ValueError):
        return None
    shape = _shape(root, headers)
    if shape is None:
        return None
    del root
    import fastfeedparser  # imported here: `watcher --help` and the other commands never need it

    try:
        doc = fastfeedparser.parse(body)
    except Exception:  # any refusal of the fast parser is feedparser's to judge
        return None
    entries = doc.get("entries") or []
    if not entries or len(entries) != len(shape):
        return None  # an empty feed, or entries seen differently: the reference says what it is
    items = []
    for entry, expect in zip(entries, shape, strict=True):
        item = _fast_item(entry, expect)
        if item is None:
            return None
        items.append(item)
    title = _text((doc.get("feed") or {}).get("title")) or None
    return credit_outlets(items, title), title


_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_DATE_NAMES = frozenset(("pubDate", "date", "published", "updated", "issued", "created", "modified"))


def _has_relative_reference(content: str) -> bool:
    """Whether the markup holds a link or a source that is not absolute (feedparser would resolve it).

    The regular expression is tried only where "href" or "src" starts: searched over a whole
    content it costs ~50 µs, as every position is tried.
    """
    lowered = content.lower()
    for name in ("href", "src"):
        at = lowered.find(name)
        while at != -1:
            if _RELATIVE_REF.match(lowered, at):
                return True
            at = lowered.find(name, at + len(name))
    return False


@dataclass(frozen=True)
class _Expect:
    """What the tree says of one entry, that the fast parser's reading must agree with."""

    dated: bool  # has a date element
    link: str  # the link feedparser takes: RSS <link>, Atom's first rel="alternate" (or rel-less) link
    plain_title: bool  # the title is text (RSS, or Atom type="text"), not HTML
    language: str | None  # the entry's (or its title's) xml:lang, else the feed's, else Content-Language


def _shape(root: Any, headers: Mapping[str, str]) -> list[_Expect] | None:
    """The expectations for each entry of an RSS 2.0 / Atom 1.0 tree; None for any other tree."""
    default = next((v.strip() for k, v in headers.items() if k.lower() == "content-language"), "")
    rss = root.tag == "rss"
    if rss:
        if root.get("version") not in ("2.0", "0.92", "0.91"):
            return None
        channel = root.find("channel")
        if channel is None:
            return None
        entries = channel.findall("item")
        feed_language = (
            _text(channel.findtext("language")) or channel.get(_XML_LANG) or root.get(_XML_LANG) or default
        )
    elif root.tag == _ATOM_NS + "feed":
        entries = root.findall(_ATOM_NS + "entry")
        feed_language = root.get(_XML_LANG) or default
    else:
        return None
    title_tag, link_tag = ("title", "link") if rss else (_ATOM_NS + "title", _ATOM_NS + "link")
    found = []
    for entry in entries:
        # One pass over the entry's children (what find, findtext and a scan for dates would
        # read in three): the first title, the first link (RSS) or first alternate link (Atom),
        # any date element of whatever namespace.
        title = link_element = None
        dated = False
        for child in entry:
            tag = child.tag
            if not isinstance(tag, str):  # comments and processing instructions
                continue
            if tag == title_tag:
                if title is None:
                    title = child
            elif tag == link_tag:
                if link_element is None and (rss or child.get("rel", "alternate") == "alternate"):
                    link_element = child
            elif not dated and tag.rpartition("}")[2] in _DATE_NAMES:
                dated = True
        if rss:
            link = _text(link_element.text) if link_element is not None else ""
            plain = True
        else:
            link = _text(link_element.get("href")) if link_element is not None else ""
            plain = title is None or title.get("type", "text") == "text"
        language = (title.get(_XML_LANG) if title is not None else None) or entry.get(_XML_LANG)
        found.append(
            _Expect(
                dated=dated,
                link=link,
                plain_title=plain,
                language=language or feed_language or None,
            )
        )
    return found


def _is_utf8(body: bytes, headers: Mapping[str, str]) -> bool:
    if body.startswith((codecs.BOM_UTF32_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF16_LE)):
        return False
    declared = _XML_DECL_ENCODING.match(body[:512])
    if declared:
        if declared.group(1).decode("ascii").lower() not in _UTF8_NAMES:
            return False
    elif not body.startswith(codecs.BOM_UTF8):
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        charset = _CHARSET.search(content_type)
        if charset and charset.group(1).lower() not in _UTF8_NAMES:
            return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _fast_item(entry: Mapping[str, Any], expect: _Expect) -> RawItem | None:
    """One entry read by the fast parser, or None where feedparser might read it otherwise."""
    link = _text(entry.get("link"))
    title = _text(entry.get("title"))
    entry_id = _text(entry.get("id"))
    stamp = _text(entry.get("published")) or _text(entry.get("updated"))
    if not link or link != expect.link or not _ABSOLUTE.match(link) or expect.dated != bool(stamp):
        return None
    if "<" in title or ("&" in title and not expect.plain_title):
        return None
    published: datetime | None = None
    if stamp:
        try:
            published = datetime.fromisoformat(stamp)
            published = published.replace(tzinfo=UTC) if published.tzinfo is None else published.astimezone(UTC)
        except (ValueError, OverflowError):  # year 1 at +01:00 is before what UTC can hold
            return None
        published = published.replace(microsecond=0)
    contents = entry.get("content") or []
    if contents:
        first = contents[0]
        kind = _text(first.get("type"))
        value = _text(first.get("value"))
        content = html.escape(value, quote=False) if kind in ("text", "text/plain") else value
    else:
        content = _text(entry.get("description"))
    # without "=" there is no attribute: no need to lower a long content
    if "=" in content and _has_relative_reference(content):
        return None  # feedparser makes these links absolute against the feed's URL
    return RawItem(
        key=entry_id or link,
        link=link,
        title=html.escape(title, quote=False),
        content=content,
        author=_text(entry.get("author")) or None,
        publisher=None,
        published=published,
        language=expect.language,
    )


def _feedparser_headers(body: bytes, headers: Mapping[str, str], url: str) -> dict[str, str]:
    result = {k.lower(): v for k, v in headers.items()}
    # Relative links in the feed are resolved against Content-Location when feedparser is
    # given a stream rather than a URL.
    result.setdefault("content-location", url)
    # A body that names its own encoding (BOM or XML declaration) is believed over the HTTP
    # charset: servers mislabel feeds far more often than feeds mislabel themselves, and
    # feedparser would otherwise decode text/xml by the header alone (mojibake).
    if body.startswith(_BOMS) or _XML_DECL_ENCODING.match(body[:512]):
        result["content-type"] = "application/xml"
    return result


def _check_empty(doc: Mapping[str, Any], body: bytes, headers: Mapping[str, str], url: str) -> None:
    """Raise when a body with no entries is not simply an empty feed."""
    version = doc.get("version") or ""
    error = doc.get("bozo_exception") if doc.get("bozo") else None
    xml_error = error if isinstance(error, xml.sax.SAXParseException) else None
    if not version:
        head = body.lstrip(b"".join(_BOMS) + b" \t\r\n")[:1024]
        content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "").lower()
        if not head:
            raise NotAFeed(f"not a feed: the server sent an empty body ({url})")
        if _looks_like_html(head, content_type):
            raise NotAFeed(f"not a feed: the server sent an HTML page ({url})", advertised_feeds(body, url))
        if head[:1] in (b"{", b"[") or "json" in content_type:
            raise NotAFeed(f"not a feed: the server sent JSON ({url})")
        if xml_error is not None and head.startswith(b"<"):
            raise ParseError(_xml_error_message(xml_error, body, url))
        if xml_error is None and head.startswith(b"<"):
            raise NotAFeed(f"not a feed: the XML document is neither RSS nor Atom ({url})")
        raise NotAFeed(f"not a feed: the body is neither RSS, Atom nor HTML ({url})")
    if xml_error is not None:
        raise ParseError(_xml_error_message(xml_error, body, url))


def _looks_like_html(head: bytes, content_type: str) -> bool:
    lowered = head.lower()
    return "html" in content_type or lowered.startswith(b"<!doctype html") or b"<html" in lowered


def _xml_error_message(error: xml.sax.SAXParseException, body: bytes, url: str) -> str:
    line = error.getLineNumber() or 0
    # feedparser prepends an XML declaration on its own line when the body has none.
    if not _XML_DECL.match(body.lstrip(b"".join(_BOMS))) and line > 1:
        line -= 1
    return f"malformed XML at line {line}: {error.getMessage()} ({url})"


def advertised_feeds(page: bytes, url: str) -> tuple[str, ...]:
    """The RSS/Atom feed URLs an HTML page advertises with <link rel="alternate">, made absolute."""
    from bs4 import BeautifulSoup  # only for the rare HTML page (its import costs ~0.15 s)

    soup = BeautifulSoup(page, "html.parser")
    base_tag = soup.find("base", href=True)
    base = urljoin(url, str(base_tag["href"])) if base_tag else url
    found: list[str] = []
    for link in soup.find_all("link", href=True):
        rel = link.get("rel") or ()
        rels = [rel] if isinstance(rel, str) else [str(r) for r in rel]
        kind = str(link.get("type") or "").split(";")[0].strip().lower()
        if "alternate" in (r.lower() for r in rels) and kind in FEED_LINK_TYPES:
            absolute = urljoin(base, str(link["href"]).strip())
            if absolute not in found:
                found.append(absolute)
    return tuple(found)


def _raw_item(entry: Mapping[str, Any], feed_language: str, is_news: bool, is_alerts: bool) -> RawItem:
    title = _html(entry.get("title_detail"), entry.get("title"))
    content = _content(entry)
    link = _text(entry.get("link"))
    entry_id = _text(entry.get("id"))
    source = entry.get("source") or {}
    publisher = _text(source.get("title")) or None

    alerts_id = _ALERTS_ENTRY_ID.search(entry_id) if is_alerts else None
    if entry_id.startswith(GOOGLE_ALERTS_ENTRY_PREFIX):
        key = entry_id[len(GOOGLE_ALERTS_ENTRY_PREFIX) :]
    elif alerts_id:
        key = alerts_id.group(1)
    elif entry_id:
        key = entry_id
    elif link:
        key = link
    else:
        key = "sha256:" + hashlib.sha256(f"{title}\n{content}".encode()).hexdigest()

    if publisher and (is_news or urlsplit(link).hostname == "news.google.com"):
        title = _strip_publisher(title, publisher)

    return RawItem(
        key=key,
        link=link,
        title=title,
        content=content,
        author=_author(entry),
        publisher=publisher,
        published=_published(entry),
        language=_language(entry, feed_language),
    )


def _strip_publisher(title: str, publisher: str) -> str:
    """Google News titles end in " - Publisher": drop it only when it is this item's source."""
    head, sep, tail = title.rpartition(" - ")
    if sep and head.strip() and html.unescape(tail).strip() == html.unescape(publisher).strip():
        return head.rstrip()
    return title


def _html(detail: Any, value: Any) -> str:
    """A title or content as an HTML fragment: plain text is escaped so later stages treat all alike."""
    text = _text(value if value is not None else (detail or {}).get("value"))
    kind = _text((detail or {}).get("type")) if isinstance(detail, Mapping) else ""
    if kind == "text/plain":
        return html.escape(text, quote=False)
    return text


def _content(entry: Mapping[str, Any]) -> str:
    contents = entry.get("content") or []
    if contents:
        first = contents[0]
        return _html(first, first.get("value"))
    return _html(entry.get("summary_detail"), entry.get("summary"))


def _author(entry: Mapping[str, Any]) -> str | None:
    # Google Alerts sends an empty <author><name/></author>: blank means none.
    detail = entry.get("author_detail") or {}
    name = _text(detail.get("name")) or _text(entry.get("author"))
    return name or None


def _published(entry: Mapping[str, Any]) -> datetime | None:
    # feedparser gives these as UTC struct_times, whatever zone the feed wrote.
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    year, month, day, hour, minute, second = parsed[:6]
    try:
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (ValueError, OverflowError):  # year 0, a 60th second: no date
        return None


def _language(entry: Mapping[str, Any], feed_language: str) -> str | None:
    for field in ("title_detail", "summary_detail"):
        detail = entry.get(field) or {}
        if _text(detail.get("language")):
            return _text(detail["language"])
    for content in entry.get("content") or []:
        if _text(content.get("language")):
            return _text(content["language"])
    return feed_language or None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
