"""The fast path's expectations per entry (_shape) are what its earlier version found, on every feed at hand.

The reference below is the earlier _shape, kept verbatim on purpose (three reads per entry:
find, findtext and a scan for dates); the current one reads the children once.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests.conftest import DATA
from watcher.sources.rss import _ATOM_NS, _DATE_NAMES, _STRICT_XML, _XML_LANG, _Expect, _shape, _text

ROOT = Path(__file__).resolve().parent.parent


def _ref_local(tag: Any) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def reference_shape(root: Any, headers: Mapping[str, str]) -> list[_Expect] | None:
    default = next((v.strip() for k, v in headers.items() if k.lower() == "content-language"), "")
    rss = root.tag == "rss"
    if rss:
        if root.get("version") not in ("2.0", "0.92", "0.91"):
            return None
        channel = root.find("channel")
        if channel is None:
            return None
        entries = channel.findall("item")
        feed_language = _text(channel.findtext("language")) or channel.get(_XML_LANG) or root.get(_XML_LANG) or default
    elif root.tag == _ATOM_NS + "feed":
        entries = root.findall(_ATOM_NS + "entry")
        feed_language = root.get(_XML_LANG) or default
    else:
        return None
    found = []
    for entry in entries:
        if rss:
            title = entry.find("title")
            link = _text(entry.findtext("link"))
            plain = True
        else:
            title = entry.find(_ATOM_NS + "title")
            alternate = next(
                (e for e in entry.iterchildren(_ATOM_NS + "link") if e.get("rel", "alternate") == "alternate"), None
            )
            link = _text(alternate.get("href")) if alternate is not None else ""
            plain = title is None or title.get("type", "text") == "text"
        language = (title.get(_XML_LANG) if title is not None else None) or entry.get(_XML_LANG)
        found.append(
            _Expect(
                dated=any(_ref_local(child.tag) in _DATE_NAMES for child in entry),
                link=link,
                plain_title=plain,
                language=language or feed_language or None,
            )
        )
    return found


def _bench_documents() -> list[bytes]:
    spec = importlib.util.spec_from_file_location("bench_gen", ROOT / "bench" / "gen.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    documents: list[bytes] = module.generate(10, 20, 7)
    return documents


ATOM = '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/" xml:lang="fr">'
HAND_MADE = [
    # comments and processing instructions among the children, a second title and link, namespaced dates
    '<rss version="2.0"><channel><language>fr</language><item><!-- c --><?pi x?><title xml:lang="en">a</title>'
    "<title>b</title><link> https://a.example/1 </link><link>https://a.example/2</link>"
    '<dc:date xmlns:dc="http://purl.org/dc/elements/1.1/">2025-01-01</dc:date></item>'
    "<item><link/><title/></item><item><pubDate>x</pubDate></item><item xml:lang='de'><x:pubDate xmlns:x='u'/>"
    "</item></channel></rss>",
    '<rss version="0.91"><channel><item><atom:link xmlns:atom="http://www.w3.org/2005/Atom" href="h"/></item>'
    "</channel></rss>",
    ATOM + '<entry><link rel="self" href="https://s"/><link href="https://first"/><link rel="alternate" href="x"/>'
    '<title type="html">t</title><dc:date>2025</dc:date></entry>'
    '<entry xml:lang="en"><link rel="enclosure" href="e"/><title type="text" xml:lang="it">t</title></entry>'
    "<entry><title>no link</title><link rel='alternate'/><published>p</published></entry>"
    "<entry><!-- only a comment --></entry></feed>",
    '<rss version="1.0"><channel><item><title>t</title></item></channel></rss>',
    "<rss><channel/></rss>",
    '<rss version="2.0"/>',
    "<other/>",
]


def documents() -> list[tuple[str, bytes]]:
    found = [(str(p.relative_to(DATA)), p.read_bytes()) for p in sorted(DATA.rglob("*.xml"))]
    found += [(f"bench{n}", body) for n, body in enumerate(_bench_documents())]
    found += [(f"hand{n}", body.encode()) for n, body in enumerate(HAND_MADE)]
    return found


@pytest.mark.parametrize("headers", [{}, {"Content-Language": " en-GB "}], ids=["no-header", "content-language"])
def test_shape_reads_every_feed_at_hand_as_before(headers: dict[str, str]) -> None:
    compared = 0
    for name, body in documents():
        try:
            root = etree.fromstring(body, _STRICT_XML)
        except (etree.XMLSyntaxError, ValueError):
            continue
        assert _shape(root, headers) == reference_shape(root, headers), name
        compared += 1
    assert compared > 500
