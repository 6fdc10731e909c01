"""The `hackernews` source: Algolia's `search_by_date` for each query, forward in time.

feeds.yaml keys: `algolia_tags` (`story` by default; e.g. `(story,comment)`, `show_hn`),
`queries` (instead of keywords.txt's), `base_url` (https://hn.algolia.com). No credentials.

Forward polling: each query's cursor is the newest `created_at_i` seen and the ids seen in
that second. The next poll asks `numericFilters=created_at_i>=<that time>` (the same second
again, so a story posted in the second of the last one seen is not lost) and drops the ids
already seen. Pages are followed up to `MAX_PAGES`; the query's cursor moves when its last
page is read. The first poll of a query reads its newest page only. When more was posted
than `MAX_PAGES` hold, the stretch not read is kept in the cursor's `backlog` (from the time
the poll before had reached to the oldest time read, both included: a story seen twice is
stored once), and the next polls read it, `MAX_PAGES` at a time, after the newest stories.

Algolia has no OR and no reliable exclusion: a query with OR becomes several searches, and
exclusions are left to the local matching (see syntax.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from watcher.errors import HTTPStatusError, ParseError
from watcher.sources import social
from watcher.sources.syntax import HACKERNEWS
from watcher.types import Fetched, FetchRequest, Parsed, Query, RawItem, Settings, SourceSpec

PUBLIC_BASE = "https://hn.algolia.com"
ITEM_PAGE = "https://news.ycombinator.com/item?id="
PAGE = 100
MAX_PAGES = 5


class HackerNewsSource:
    def check(self, spec: SourceSpec) -> str | None:
        tags = spec.options.get("algolia_tags")
        if tags is not None and not isinstance(tags, str):
            return "`algolia_tags` must be one text, e.g. algolia_tags: story or algolia_tags: (story,comment)"
        return social.check_strings(spec, ("queries",))

    def plan(
        self, spec: SourceSpec, cursor: Mapping[str, Any], queries: Sequence[Query], settings: Settings
    ) -> list[FetchRequest]:
        known = cursor.get("queries") or {}
        tags = social.text(spec.options.get("algolia_tags")) or "story"
        backlog = cursor.get("backlog") or {}
        requests = []
        for q in social.searches(spec, queries, HACKERNEWS):
            params = {"query": q, "tags": tags, "hitsPerPage": str(PAGE), "page": "0"}
            since = (known.get(q) or {}).get("created_at_i")
            if isinstance(since, int):
                params["numericFilters"] = f"created_at_i>={since}"
            requests.append(self._request(spec, params, {"q": q}))
            for window in backlog.get(q) or []:  # what an earlier poll left past its page limit
                low, high = (window.get(k) if isinstance(window, Mapping) else None for k in ("since", "until"))
                if isinstance(low, int) and isinstance(high, int):
                    bounded = {**params, "numericFilters": f"created_at_i>={low},created_at_i<={high}"}
                    requests.append(self._request(spec, bounded, {"q": q, "window": [low, high]}))
        return requests

    def _request(self, spec: SourceSpec, params: Mapping[str, str], state: Mapping[str, Any]) -> FetchRequest:
        return FetchRequest(
            url=f"{spec.base_url or PUBLIC_BASE}/api/v1/search_by_date",
            params=dict(params),
            headers={"Accept": "application/json"},
            tag=social.tag("search", state),
        )

    def parse(self, spec: SourceSpec, fetched: Fetched, cursor: Mapping[str, Any]) -> Parsed:
        _step, state = social.read_tag(fetched.request.tag)
        data = social.load_json(fetched, "Hacker News search")
        hits = data.get("hits") if isinstance(data, Mapping) else None
        if not isinstance(hits, list):
            raise ParseError(f"Hacker News search answered no `hits` list from {social.shown_url(fetched.url)}")
        q = str(state.get("q", ""))
        queries: dict[str, Any] = {k: dict(v) for k, v in (cursor.get("queries") or {}).items()}
        known = queries.get(q, {})
        window = state.get("window")  # [since, until]: reading a backlog, not the newest stories
        seen_ids = set(known.get("ids") or []) if window is None else set()
        # the newest second of this poll so far, and the ids in it (earlier pages carry them in the tag)
        top = state.get("top", known.get("created_at_i"))
        top_ids = set(state.get("top_ids", known.get("ids") or []))
        low = state.get("low")  # the oldest time read so far in this chain of pages
        items = []
        for hit in hits:
            if not isinstance(hit, Mapping):
                continue
            object_id = social.text(str(hit.get("objectID") or ""))
            when = hit.get("created_at_i")
            if not object_id or not isinstance(when, int) or object_id in seen_ids:
                continue
            low = when if low is None else min(low, when)
            if top is None or when > top:
                top, top_ids = when, {object_id}
            elif when == top:
                top_ids.add(object_id)
            item = hit_item(hit)
            if item is not None:
                items.append(item)
        request = fetched.request
        page = int(request.params.get("page", "0") or 0)
        pages = data.get("nbPages") if isinstance(data.get("nbPages"), int) else 0
        forward = "numericFilters" in request.params  # a first poll reads the newest page only
        if forward and page + 1 < min(pages, MAX_PAGES):
            state = {"q": q, "top": top, "top_ids": sorted(top_ids), "low": low, "window": window}
            follow = replace(request, params={**request.params, "page": str(page + 1)}, tag=social.tag("search", state))
            return Parsed(items=tuple(items), next=(follow,))
        left = None
        if forward and pages > page + 1 and isinstance(low, int):  # the page limit: the rest waits for the next poll
            since = window[0] if window is not None else known.get("created_at_i")
            if isinstance(since, int):
                left = {"since": since, "until": low}
        if top is not None and window is None:
            queries[q] = {"created_at_i": top, "ids": sorted(top_ids)}
        read = None if window is None else lambda w: [w.get("since"), w.get("until")] == window
        return Parsed(items=tuple(items), cursor=social.with_backlog(cursor, q, read, left, queries=queries))

    def explain(self, spec: SourceSpec, error: HTTPStatusError) -> str:
        if error.status == 429:
            return f"Hacker News search (Algolia) rate limit reached; waiting before the next try; {error}"
        if error.status == 400:
            return f"Hacker News search (Algolia) refused the query: check `algolia_tags` and the queries; {error}"
        return str(error)


def hit_item(hit: Mapping[str, Any]) -> RawItem | None:
    """A story (or comment) as a RawItem: Ask/Show HN and comments link to their HN page."""
    object_id = social.text(str(hit.get("objectID") or ""))
    if not object_id:
        return None
    page = ITEM_PAGE + object_id
    title = social.text(hit.get("title"))
    body = social.text(hit.get("story_text")) or social.text(hit.get("comment_text"))
    return RawItem(
        key=object_id,
        link=social.text(hit.get("url")) or page,
        title=title,
        content=body,
        author=social.text(hit.get("author")) or None,
        published=social.from_epoch(hit.get("created_at_i")) or social.parse_time(hit.get("created_at")),
        language=None,
        engagement={"points": social.count(hit.get("points")), "comments": social.count(hit.get("num_comments"))},
        global_id=f"hackernews:{object_id}",
    )
