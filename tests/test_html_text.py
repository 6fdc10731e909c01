"""html_to_text reads HTML with lxml directly as it did through BeautifulSoup (its lxml builder).

The reference below is the BeautifulSoup walk html_to_text used before; both must give the same
text for the contents and titles of feedparser's test corpus (tests/data/feedparser_corpus,
rich in odd markup: the sanitize tests) and for hand-picked edge cases.
"""

from __future__ import annotations

import html
import re
import warnings
from collections.abc import Iterator

import feedparser
import pytest
from bs4 import BeautifulSoup, CData, MarkupResemblesLocatorWarning, Tag
from bs4.element import NavigableString, PageElement, PreformattedString

from tests.conftest import DATA
from watcher.normalise import _BLOCK_TAGS, _DROPPED_TAGS, html_to_text

_TRAILING_CUT = re.compile(r"\s*\xa0(?:\.\.\.|…)\s*$")


def reference(fragment: str) -> str:
    if "<" not in fragment and "&" not in fragment:
        return " ".join(fragment.split())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(fragment, "lxml")
    out: list[str] = []
    stack: list[tuple[Iterator[PageElement], bool]] = [(iter(soup.contents), False)]
    while stack:
        children, block = stack[-1]
        node = next(children, None)
        if node is None:
            stack.pop()
            if block:
                out.append("\n")
        elif isinstance(node, Tag):
            if node.name in _DROPPED_TAGS:
                continue
            block = node.name in _BLOCK_TAGS
            if block:
                out.append("\n")
            stack.append((iter(node.contents), block))
        elif isinstance(node, NavigableString) and (
            not isinstance(node, PreformattedString) or isinstance(node, CData)
        ):
            out.append(node)
    text = _TRAILING_CUT.sub("…", html.unescape("".join(out)))
    return " ".join(text.split())


def corpus_fragments() -> list[str]:
    found: set[str] = set()
    for path in sorted((DATA / "feedparser_corpus").rglob("*.xml")):
        doc = feedparser.parse(path.read_bytes(), sanitize_html=False)
        for entry in doc.entries:
            for value in (entry.get("title"), entry.get("summary")):
                if isinstance(value, str):
                    found.add(value)
            for content in entry.get("content") or []:
                found.add(content.get("value") or "")
    return sorted(found)


EDGE_CASES = [
    "<p>un</p>deux<p>trois",
    "<div><p>un<br/>deux</p></div>queue",
    "<!-- a --> after <?pi x?> and <![CDATA[cdata text]]> end",
    "<table><tr><td>a</td><td>b</td></tr></table>",
    "<b>gras <i>italique</b> fin</i>",
    "AT&T &amp; R&D &copy 2024 &#233;t&eacute;",
    "&lt;b&gt;échappé&lt;/b&gt;",
    "<html><head><title>titre</title></head><body>corps</body></html>",
    "   <p>   </p>   ",
    "<",
    "a < b > c",
    "<script>x</script>visible<style>y</style>",
]


def test_html_to_text_reads_the_corpus_as_the_beautifulsoup_walk_did() -> None:
    fragments = corpus_fragments()
    assert len(fragments) > 150
    differences = [(f, html_to_text(f), reference(f)) for f in fragments if html_to_text(f) != reference(f)]
    assert differences == []


@pytest.mark.parametrize("fragment", EDGE_CASES)
def test_html_to_text_reads_edge_cases_as_the_beautifulsoup_walk_did(fragment: str) -> None:
    assert html_to_text(fragment) == reference(fragment)
