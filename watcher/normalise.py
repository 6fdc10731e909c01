"""RawItem -> Item: HTML to plain text, redirect unwrapping, canonical URLs (the dedupe key), UTC dates.

Pure: no clock, no network. The time an item was first seen comes in as `seen_at`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, unquote_plus, urlsplit, urlunsplit

from lxml import etree

from watcher.dates import plausible
from watcher.types import Item, RawItem

# Their text is never meant to be read.
_DROPPED_TAGS = frozenset(("script", "style", "noscript", "template"))

# Elements whose edges separate words: without a break, "<p>one</p><p>two</p>" reads "onetwo".
_BLOCK_TAGS = frozenset(
    """
    address article aside blockquote br caption dd details dialog div dl dt fieldset figcaption figure
    footer form h1 h2 h3 h4 h5 h6 header hgroup hr li main nav ol p pre section summary table tbody td
    tfoot th thead tr ul
    """.split()  # noqa: SIM905
)

# Google Alerts snippets end in "&nbsp;...": a cut, shown as a single ellipsis.
_TRAILING_CUT = re.compile(r"\s*\xa0(?:\.\.\.|…)\s*$")

# Control characters (C0 but tab and newlines, DEL, C1): a terminal would act on ESC sequences
# (clear the screen, hide a link), and none of them is text.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# In a URL no control character has a place (browsers drop tabs and line breaks too), nor the
# invisible marks that reorder text on screen.
_URL_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")

_GOOGLE_HOST = re.compile(r"^(?:www\.)?google\.[a-z]{2,3}(?:\.[a-z]{2})?$")

# Query parameters that identify a click or a campaign, never the page.
_TRACKING_PARAMS = frozenset(
    """
    fbclid gclid gclsrc dclid gbraid wbraid msclkid igshid yclid twclid ttclid li_fat_id epik srsltid
    _hsenc _hsmi __hssc __hstc __hsfp hsctatracking mkt_tok ref_src ref_url _ga _gl
    xtor at_medium at_campaign at_source at_term at_content at_format at_link at_send_date
    oly_anon_id oly_enc_id vero_id vero_conv wickedid rb_clickid s_kwcid ncid cmpid
    __twitter_impression
    """.split()  # noqa: SIM905
)
_TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "mtm_", "hsa_", "matomo_", "piwik_")

_DEFAULT_PORTS = {"http": 80, "https": 443}

# lxml refuses a str that starts with an XML declaration naming an encoding (the parser would
# drop the declaration anyway, as it drops any processing instruction).
_XML_DECLARATION = re.compile(r"<\?xml[^>]*>")

_HTML_PARSER = etree.HTMLParser(recover=True, no_network=True, remove_blank_text=False)


def _tree_text(root: Any) -> str:
    # One walk with an explicit stack: no recursion limit on deep markup. A node's text comes
    # on the way in, its tail (the text after it, inside its parent) on the way out.
    out: list[str] = []
    stack: list[tuple[Iterator[Any], bool, Any]] = [(iter((root,)), False, None)]
    while stack:
        children, block, node = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if node is not None:
                if block:
                    out.append("\n")
                if node.tail:
                    out.append(node.tail)
            continue
        tag = child.tag
        if not isinstance(tag, str) or tag in _DROPPED_TAGS:
            # Comments and processing instructions (their tag is a function), scripts, styles:
            # nothing of theirs is read but the text that follows them.
            if child.tail:
                out.append(child.tail)
            continue
        is_block = tag in _BLOCK_TAGS
        if is_block:
            out.append("\n")
        if child.text:
            out.append(child.text)
        stack.append((iter(child), is_block, child))
    return "".join(out)


def _is_collapsed(text: str) -> bool:
    # What " ".join(text.split()) would leave as it is: isprintable() is False for every
    # whitespace character but the space (and for every control character).
    return text.isprintable() and "  " not in text and not text.startswith(" ") and not text.endswith(" ")


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment, on one line.

    Scripts, styles, noscript and comments go; link text stays (Mastodon's
    `<span class="invisible">` parts included, so a shortened link reads whole); block
    elements and `<br>` separate words. Entities are decoded once more after the tags are
    stripped, because some feeds (Google Alerts) escape their HTML twice. A trailing
    "&nbsp;..." cut becomes "…". Whitespace runs collapse to one space.

    Text without markup never meets the HTML parser: its entities are decoded twice, as the
    parser and the second pass would. Markup is read by lxml's HTML parser (libxml2, as
    BeautifulSoup's lxml builder would, without building a soup).
    """
    # control characters (terminal escapes) go first: they are never text, and lxml refuses them
    printable = fragment.isprintable()  # no control character (nor surrogate, BOM or whitespace but " ")
    if not printable:
        fragment = _CONTROLS.sub("", fragment)
    if "<" not in fragment:
        if "&" not in fragment:
            if printable and _is_collapsed(fragment):
                return fragment
            return " ".join(fragment.split())
        text = html.unescape(html.unescape(fragment))
    else:
        if fragment.startswith("<?xml"):
            fragment = _XML_DECLARATION.sub("", fragment, count=1)
        root = etree.fromstring(fragment, _HTML_PARSER) if fragment.strip() else None
        text = html.unescape(_tree_text(root)) if root is not None else ""
    if "\xa0" in text:  # the cut's mark: without it the regex (a costly scan) cannot match
        text = _TRAILING_CUT.sub("…", text)
    if "&" in fragment:  # control characters left the fragment above; only references bring them back
        text = _CONTROLS.sub("", text)
    return " ".join(text.split())


def unwrap_redirect(url: str) -> str:
    """The real URL behind a Google redirect (`https://www.google.*/url?url=...` or `?q=...`).

    Any other URL, or a redirect that does not hold an http(s) URL, comes back unchanged.
    """
    if "google." not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    host = (parts.hostname or "").rstrip(".")
    if parts.path != "/url" or not _GOOGLE_HOST.match(host):
        return url
    params = parse_qs(parts.query)
    for name in ("url", "q"):
        for value in params.get(name, ()):
            if value.startswith(("http://", "https://")):
                return value
    return url


def _is_tracking(name: str) -> bool:
    key = unquote_plus(name).lower()
    return key in _TRACKING_PARAMS or key.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """The key under which two links to the same page meet.

    Unwraps a Google redirect; lower-cases scheme and host; drops the default port, the
    fragment and tracking parameters (utm_*, fbclid, gclid, mc_*, xtor, ...); keeps the other
    parameters as written and in their order; an empty path becomes "/". http and https stay
    distinct: whether a site serves both the same is not ours to guess.
    """
    url = unwrap_redirect(url.strip())
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    netloc = parts.netloc
    hostname = parts.hostname  # a property that parses the netloc anew on each read
    if hostname is not None:
        host = hostname.rstrip(".")  # already lower-cased by urlsplit
        if ":" in host:
            host = f"[{host}]"
        userinfo = netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{host}" if userinfo else host
        if port is not None and port != _DEFAULT_PORTS.get(scheme):
            netloc = f"{netloc}:{port}"
    path = parts.path or ("/" if netloc else "")
    query = parts.query
    if query:
        # Split by hand rather than parse and re-encode, so kept parameters stay byte for byte.
        query = "&".join(p for p in query.split("&") if p and not _is_tracking(p.partition("=")[0]))
    return urlunsplit((scheme, netloc, path, query, ""))


def _title_from_url(url: str) -> str:
    """A readable stand-in title: the host, and the last path segment's words when it has some."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    host = (parts.hostname or "").removeprefix("www.")
    segment = next((s for s in reversed(parts.path.split("/")) if s), "")
    slug = unquote(segment).rsplit(".", 1)[0] if "." in segment else unquote(segment)
    words = " ".join(re.split(r"[-_+\s]+", slug)).strip()
    if host and words:
        return f"{host}: {words}"
    return host or words or url


def _strip_controls(value: str | None) -> str | None:
    # A printable string holds no control character: the regex would find nothing to remove.
    return _CONTROLS.sub("", value) if value and not value.isprintable() else value


def _to_utc(moment: datetime) -> datetime:
    # A naive time is taken as UTC: feeds that omit the zone mostly mean it.
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def normalise(raw: RawItem, *, source: str, seen_at: datetime) -> Item:
    """The Item for one RawItem of the source named `source`, first seen at `seen_at`.

    `published` is in UTC: the source's date, or `seen_at` when it gives none or one that
    cannot be right (before 1970, more than a day after `seen_at`: see dates.plausible). An
    item with neither title nor text gets a title made from its URL.
    """
    seen = _to_utc(seen_at)
    title = html_to_text(raw.title)
    text = html_to_text(raw.content)
    # after unwrapping: a redirect's target is percent-decoded, and may decode to an escape
    url = _URL_CONTROLS.sub("", unwrap_redirect(raw.link.strip()))
    # a date that cannot be right (year 1, before 1970, tomorrow's news) is no date
    published = plausible(raw.published, seen) or seen
    if not title and not text:
        title = _title_from_url(url)
    return Item(
        source=source,
        key=raw.key,
        url=url,
        canonical_url=canonical_url(url),
        title=title,
        text=text,
        published=published,
        author=_strip_controls(raw.author),
        publisher=_strip_controls(raw.publisher),
        language=raw.language,
        engagement=dict(raw.engagement),
        no_reuse=raw.no_reuse,
        global_id=raw.global_id,
    )


def display_title(title: str, text: str, limit: int = 100) -> str:
    """What to show as the headline of an item: its title, or the start of a post's text.

    Social posts have no title; matching keeps it empty (so the post's words are not counted
    twice), and every output shows the first words of the text instead.
    """
    if title:
        return title
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + "…"
