"""Google News search: one RSS search per query, in the configured language and region.

By default every query of keywords.txt becomes one search (`q`), so a new keyword is searched
without touching feeds.yaml; a `queries:` list in the feed's entry overrides that. Google News
understands the Google Alerts syntax of keywords.txt ("phrases", OR, -exclusions) except the
`*` prefix, which is dropped; the local matching rules still decide what is a hit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from watcher.sources.rss import conditional_headers, parse_feed, remember_validators
from watcher.types import Fetched, FetchRequest, Parsed, Query, Settings, SourceSpec

PUBLIC_BASE = "https://news.google.com"
_WHEN = re.compile(r"^[1-9]\d{0,3}[hd]$")  # when:1h ... when:30d (docs/sources.md); up to 9999


def search_terms(spec: SourceSpec, queries: Sequence[Query]) -> list[str]:
    own = spec.options.get("queries")
    texts = [str(q) for q in own] if isinstance(own, list) else [q.text for q in queries]
    return [t.replace("*", "") for t in texts if t.strip()]


def search_url(spec: SourceSpec, q: str, settings: Settings) -> str:
    lang = str(spec.options.get("language", settings.language))
    region = str(spec.options.get("region", settings.region)).upper()
    when = spec.options.get("when")  # e.g. 7d: only recent articles
    params = {"q": f"{q} when:{when}" if when else q, "hl": lang, "gl": region, "ceid": f"{region}:{lang}"}
    return f"{spec.base_url or PUBLIC_BASE}/rss/search?{urlencode(params, safe=':')}"


class GoogleNewsSource:
    def check(self, spec: SourceSpec) -> str | None:
        when = spec.options.get("when")
        if when is not None and not (isinstance(when, str) and _WHEN.match(when)):
            return f"`when` must be hours or days as Google News reads them (1h, 7d, 30d), not {when!r}"
        own = spec.options.get("queries")
        if own is not None and not (isinstance(own, list) and all(isinstance(q, str) for q in own)):
            return "`queries` must be a list of queries, one per line starting with `- `"
        for key in ("language", "region"):
            if key in spec.options and not isinstance(spec.options[key], str):
                return f"`{key}` must be text, e.g. fr or FR"
        return None

    def plan(
        self, spec: SourceSpec, cursor: Mapping[str, Any], queries: Sequence[Query], settings: Settings
    ) -> list[FetchRequest]:
        requests = []
        for q in search_terms(spec, queries):
            url = search_url(spec, q, settings)
            requests.append(FetchRequest(url=url, headers=conditional_headers(cursor, url), tag=q))
        return requests

    def parse(self, spec: SourceSpec, fetched: Fetched, cursor: Mapping[str, Any]) -> Parsed:
        new_cursor = remember_validators(cursor, fetched)
        if fetched.status == 304:
            return Parsed(cursor=new_cursor)
        items, title = parse_feed(fetched.body, fetched.headers, fetched.url)
        return Parsed(items=tuple(items), cursor=new_cursor, title=title)
