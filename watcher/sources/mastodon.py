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
            for q in social.searches(spec, queries, MASTODON):
                params = {"q": q, "type": "statuses", "limit": str(PAGE), "resolve": "false"}
                if seen_searches.get(q):
                    params["min_id"] = seen_searches[q]
                requests.append(
                    FetchRequest(
                        url=f"{base}/api/v2/search",
                        params=params,
                        headers=headers,
                        secret=True,
                        tag=social.tag("search", {"q": q}),
                    )
                )
        return requests

    def parse(self, spec: SourceSpec, fetched: Fetched, cursor: Mapping[str, Any]) -> Parsed:
        step, state = social.read_tag(fetched.request.tag)
        data = social.load_json(fetched, "Mastodon")
        if step == "search":
            statuses = data.get("statuses") if isinstance(data, Mapping) else None
            return self._forward(fetched, cursor, "search_min_id", str(state.get("q", "")), statuses, follow=False)
        return self._forward(fetched, cursor, "min_id", str(state.get("tag", "")), data, follow=True)

    def _forward(
        self, fetched: Fetched, cursor: Mapping[str, Any], field: str, name: str, data: Any, *, follow: bool
    ) -> Parsed:
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
        if follow and after:  # walking forward: ask for the page after this one, until one is empty
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
