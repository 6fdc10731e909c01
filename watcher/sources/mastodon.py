"""The `mastodon` source: hashtag timelines of one instance, polled forward; status search with a token.

feeds.yaml keys: `base_url` (the instance, https://mastodon.social by default), `hashtags`
(a list; by default one per term of the queries: `tiers-lieux` -> #tierslieux),
`access_token` (optional: for instances that hide timelines from anonymous readers, and to
search statuses for each query as well), `queries` (instead of keywords.txt's).

Forward polling: each hashtag's cursor is the newest status id seen. The next poll asks
`min_id=<that id>`, which gives the page just after it, and repeats with the page's newest
id until a page is empty, so nothing posted between two polls is missed. Ids are compared
as numbers (they are snowflakes; Pleroma-style ids of letters are compared as text).
The first poll of a hashtag reads only its newest page: history is not fetched.

Status search (with a token) answers newest first, within `min_id` < id < `max_id`. Each
query's cursor is the newest id seen; the next poll asks `min_id=<that id>` and, while pages
come full, the page below the oldest id read (`max_id`), up to `MAX_PAGES`; the query's cursor
moves when its last page is read. When more was posted than `MAX_PAGES` hold, the stretch not
read is kept in the cursor's `backlog` (from the id the poll before had reached to the oldest
id read), and the next polls read it, `MAX_PAGES` at a time, after the newest posts.

Reuse signals: an account with `#nobot` in its bio, or that set itself not `indexable`, not
`discoverable` or `noindex`, marks its posts `no_reuse`. Statuses carry their `uri` (the
ActivityPub id) as `global_id`, so one post seen through two instances is one hit.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote, urlsplit

from watcher.errors import HTTPStatusError, ParseError
from watcher.sources import social
from watcher.sources.syntax import MASTODON, hashtags, query_trees
from watcher.types import Fetched, FetchRequest, Parsed, Query, RawItem, Settings, SourceSpec

PUBLIC_BASE = "https://mastodon.social"
PAGE = 40  # the API's maximum
MAX_PAGES = 5  # per search and poll
_NOBOT = re.compile(r"#nobot\b", re.IGNORECASE)
_TAG_CHARS = re.compile(r"[^\w]", re.UNICODE)


def id_key(status_id: str) -> tuple[int, str]:
    """Order of status ids: numerically for snowflakes (no leading zeros: length first), else as text."""
    return (len(status_id), status_id) if status_id.isdigit() else (0, status_id)


def newest(ids: Sequence[str]) -> str:
    return max(ids, key=id_key)


def source_hashtags(spec: SourceSpec, queries: Sequence[Query]) -> list[str]:
    own = spec.options.get("hashtags")
    if isinstance(own, list) and own:
        tags = [_TAG_CHARS.sub("", str(t).lstrip("#")).lower() for t in own]
        return list(dict.fromkeys(t for t in tags if t))
    return hashtags(query_trees(spec.options.get("queries"), queries))


class MastodonSource:
    def check(self, spec: SourceSpec) -> str | None:
        if "access_token" in spec.options and not social.text(spec.options.get("access_token")):
            return social.missing(spec, "access_token", "MASTODON_TOKEN")
        return social.check_strings(spec, ("hashtags", "queries"))

    def plan(
        self, spec: SourceSpec, cursor: Mapping[str, Any], queries: Sequence[Query], settings: Settings
    ) -> list[FetchRequest]:
        base = spec.base_url or PUBLIC_BASE
        headers, secret = _auth(spec)
        requests = []
        seen_tags: Mapping[str, str] = cursor.get("min_id") or {}
        for name in source_hashtags(spec, queries):
            params = {"limit": str(PAGE)}
            if seen_tags.get(name):
                params["min_id"] = seen_tags[name]
            url = f"{base}/api/v1/timelines/tag/{quote(name, safe='')}"
            requests.append(
                FetchRequest(
                    url=url, params=params, headers=headers, secret=secret, tag=social.tag("tag", {"tag": name})
                )
            )
        if secret and spec.options.get("search", True) is not False:
            seen_searches: Mapping[str, str] = cursor.get("search_min_id") or {}
            backlog: Mapping[str, Any] = cursor.get("backlog") or {}
            for q in social.searches(spec, queries, MASTODON):
                params = {"q": q, "type": "statuses", "limit": str(PAGE), "resolve": "false"}
                if seen_searches.get(q):
                    params["min_id"] = seen_searches[q]
                search = FetchRequest(
                    url=f"{base}/api/v2/search",
                    params=params,
                    headers=headers,
                    secret=True,
                    tag=social.tag("search", {"q": q}),
                )
                requests.append(search)
                for window in backlog.get(q) or []:  # what an earlier poll left past its page limit
                    low, high = (window.get(k) if isinstance(window, Mapping) else None for k in ("since", "until"))
                    if isinstance(low, str) and isinstance(high, str) and low and high:
                        bounded = {**params, "min_id": low, "max_id": high}
                        state = {"q": q, "window": [low, high]}
                        requests.append(replace(search, params=bounded, tag=social.tag("search", state)))
        return requests

    def parse(self, spec: SourceSpec, fetched: Fetched, cursor: Mapping[str, Any]) -> Parsed:
        step, state = social.read_tag(fetched.request.tag)
        data = social.load_json(fetched, "Mastodon")
        if step == "search":
            statuses = data.get("statuses") if isinstance(data, Mapping) else None
            return self._search(fetched, cursor, state, statuses)
        return self._forward(fetched, cursor, "min_id", str(state.get("tag", "")), data)

    def _search(self, fetched: Fetched, cursor: Mapping[str, Any], state: Mapping[str, Any], data: Any) -> Parsed:
        """One page of a status search, newest first: the page below it while pages come full."""
        if not isinstance(data, list):
            raise ParseError(f"Mastodon search answered no list of statuses from {social.shown_url(fetched.url)}")
        request = fetched.request
        q = str(state.get("q", ""))
        window = state.get("window")  # [since, until]: reading a backlog, not the newest posts
        since = str(request.params.get("min_id") or "")
        below = str(request.params.get("max_id") or "")
        statuses = [s for s in data if isinstance(s, Mapping) and social.text(s.get("id"))]
        if since:
            statuses = [s for s in statuses if id_key(str(s["id"])) > id_key(since)]
        if below:
            statuses = [s for s in statuses if id_key(str(s["id"])) < id_key(below)]
        items = tuple(item for s in statuses if (item := status_item(s)) is not None)
        ids = [str(s["id"]) for s in statuses]
        top, low = state.get("top"), state.get("low")  # over this chain of pages so far
        if ids:
            top = newest([*ids, top] if isinstance(top, str) else ids)
            low = min([*ids, low] if isinstance(low, str) else ids, key=id_key)
        page = int(state.get("page", 1))
        more_below = len(data) >= PAGE and bool(ids) and isinstance(low, str)
        if since and more_below and page < MAX_PAGES:  # a first poll reads the newest page only
            follow_state = {"q": q, "window": window, "top": top, "low": low, "page": page + 1}
            follow = replace(
                request, params={**request.params, "max_id": str(low)}, tag=social.tag("search", follow_state)
            )
            return Parsed(items=items, next=(follow,))
        left = None
        if since and more_below and isinstance(low, str):  # the page limit: the rest waits for the next poll
            left = {"since": since, "until": low}
        known: dict[str, str] = dict(cursor.get("search_min_id") or {})
        if isinstance(top, str) and window is None and (q not in known or id_key(top) > id_key(known[q])):
            known[q] = top
        read = None if window is None else lambda w: [w.get("since"), w.get("until")] == window
        return Parsed(items=items, cursor=social.with_backlog(cursor, q, read, left, search_min_id=known))

    def _forward(self, fetched: Fetched, cursor: Mapping[str, Any], field: str, name: str, data: Any) -> Parsed:
        if not isinstance(data, list):
            raise ParseError(
                f"Mastodon answered something else than a list of statuses from {social.shown_url(fetched.url)}"
            )
        after = str(fetched.request.params.get("min_id") or "")
        statuses = [s for s in data if isinstance(s, Mapping) and social.text(s.get("id"))]
        if after:  # the page after `after`: anything not newer is a repeat
            statuses = [s for s in statuses if id_key(str(s["id"])) > id_key(after)]
        if not statuses:
            return Parsed()
        items = tuple(item for s in statuses if (item := status_item(s)) is not None)
        top = newest([str(s["id"]) for s in statuses])
        known: dict[str, str] = dict(cursor.get(field) or {})
        if name not in known or id_key(top) > id_key(known[name]):
            known[name] = top
        new_cursor = {**cursor, field: known}
        more: tuple[FetchRequest, ...] = ()
        if after:  # walking forward: ask for the page after this one, until one is empty
            request = fetched.request
            more = (replace(request, params={**request.params, "min_id": top}),)
        return Parsed(items=items, cursor=new_cursor, next=more)

    def explain(self, spec: SourceSpec, error: HTTPStatusError) -> str:
        host = urlsplit(spec.base_url or PUBLIC_BASE).netloc
        if error.status in (401, 403):
            if social.text(spec.options.get("access_token")):
                return (
                    f"{host} refused the access token: check MASTODON_TOKEN (Preferences > Development >"
                    f" your application, with the read scope) ({error})"
                )
            return (
                f"{host} does not show hashtag timelines without login: set access_token: ${{MASTODON_TOKEN}}"
                f" (Preferences > Development > New application, read scope) or use another instance ({error})"
            )
        if error.status == 429:
            return f"{host} rate limit reached (300 requests per 5 minutes); waiting for its reset ({error})"
        return str(error)


def _auth(spec: SourceSpec) -> tuple[dict[str, str], bool]:
    token = social.text(spec.options.get("access_token"))
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers, bool(token)


def author_handle(account: Mapping[str, Any]) -> str | None:
    """`@user@instance`: remote accounts' `acct` has the domain, local ones take it from their URL."""
    acct = social.text(account.get("acct"))
    if not acct:
        return None
    if "@" not in acct:
        host = urlsplit(social.text(account.get("url"))).netloc
        acct = f"{acct}@{host}" if host else acct
    return "@" + acct


def no_reuse(account: Mapping[str, Any]) -> bool:
    """The author asked not to be reused: #nobot in the bio, or opted out of indexing or discovery."""
    note = html.unescape(re.sub(r"<[^>]+>", " ", social.text(account.get("note"))))
    return (
        bool(_NOBOT.search(note))
        or account.get("indexable") is False
        or account.get("discoverable") is False
        or account.get("noindex") is True
    )


def status_item(status: Mapping[str, Any]) -> RawItem | None:
    """One status as a RawItem (a boost stands for the status it boosts); None if it has no uri."""
    reblog = status.get("reblog")
    if isinstance(reblog, Mapping):
        status = reblog
    uri = social.text(status.get("uri"))
    if not uri:
        return None
    found = status.get("account")
    account: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    content = social.text(status.get("content"))
    warning = social.text(status.get("spoiler_text"))
    if warning:  # a content warning is part of what was said
        content = f"<p>{html.escape(warning)}</p>{content}"
    engagement = {
        "likes": social.count(status.get("favourites_count")),
        "reposts": social.count(status.get("reblogs_count")),
        "replies": social.count(status.get("replies_count")),
    }
    if "quotes_count" in status:
        engagement["quotes"] = social.count(status.get("quotes_count"))
    return RawItem(
        key=uri,
        link=social.text(status.get("url")) or uri,
        title="",
        content=content,
        author=author_handle(account),
        published=social.parse_time(status.get("created_at")),
        language=social.text(status.get("language")) or None,
        engagement=engagement,
        no_reuse=no_reuse(account),
        global_id=uri,
    )
