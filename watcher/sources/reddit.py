"""The `reddit` source: search, whole-site or in some subreddits, newest first.

feeds.yaml keys: `username` (your Reddit user name: Reddit requires it in the User-Agent,
`<platform>:<app id>:<version> (by /u/<username>)`; `app_id`, `platform` and `version` may
be set too, or the whole `user_agent`), `subreddits` (a list; whole-site search without it),
`client_id` and `client_secret` (write `${REDDIT_CLIENT_ID}` and `${REDDIT_CLIENT_SECRET}`: an
app of type "script" made at https://www.reddit.com/prefs/apps), `queries` (instead of
keywords.txt's), `base_url` (https://www.reddit.com), `oauth_url` (https://oauth.reddit.com).

With a client id and secret the search uses app-only OAuth (`client_credentials`): the token
request is part of the poll, the token (never the secret) is kept in the cursor until Reddit
refuses it, then renewed once. Without them the anonymous `.rss` route is used, which Reddit
throttles hard (and blocks from some addresses).

Forward polling: results come `sort=new`; each search's cursor is the newest post `name`
seen (t3_ + a base-36 number that grows with time); older or equal posts are dropped. With
OAuth, a page of only new posts is followed (`after=`) up to `MAX_PAGES`; the cursor moves
when the search's last page is read. When more was posted than `MAX_PAGES` hold, where the
reading stopped is kept in the cursor's `backlog` (the `after=` to go on from, and the floor:
the newest post of the poll before), and the next polls read on from there down to the floor.
"""

from __future__ import annotations

import base64
import functools
import importlib.metadata
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from watcher.errors import HTTPStatusError, ParseError
from watcher.sources import social
from watcher.sources.syntax import REDDIT
from watcher.types import Fetched, FetchRequest, Parsed, Query, RawItem, Settings, SourceSpec

PUBLIC_BASE = "https://www.reddit.com"
OAUTH_BASE = "https://oauth.reddit.com"
PAGE = 100
MAX_PAGES = 3
APPS_PAGE = "https://www.reddit.com/prefs/apps"


@functools.cache
def _version() -> str:
    try:
        return importlib.metadata.version("watcher")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def user_agent(spec: SourceSpec) -> str:
    """The User-Agent in the form Reddit requires: `<platform>:<app id>:<version> (by /u/<user>)`."""
    own = social.text(spec.options.get("user_agent"))
    if own:
        return own
    platform = social.text(spec.options.get("platform")) or "linux"
    app_id = social.text(spec.options.get("app_id")) or "watcher"
    version = social.text(str(spec.options.get("version") or "")) or _version()
    user = social.text(spec.options.get("username")).removeprefix("/u/").removeprefix("u/")
    return f"{platform}:{app_id}:v{version.removeprefix('v')} (by /u/{user})"


def fullname_key(name: str) -> int:
    """The order of posts by `name` (t3_<base 36>): newer posts have larger numbers."""
    try:
        return int(name.rpartition("_")[2], 36)
    except ValueError:
        return -1


def _oauth(spec: SourceSpec) -> bool:
    return bool(social.text(spec.options.get("client_id")) and social.text(spec.options.get("client_secret")))


def _subreddits(spec: SourceSpec) -> str:
    subs = spec.options.get("subreddits")
    if not isinstance(subs, list):
        return ""
    names = [str(s).strip().removeprefix("/").removeprefix("r/") for s in subs]
    return "+".join(n for n in names if n)


class RedditSource:
    def check(self, spec: SourceSpec) -> str | None:
        if not social.text(spec.options.get("user_agent")) and not social.text(spec.options.get("username")):
            return (
                "`username` is missing: Reddit requires your user name in the User-Agent"
                " (`<platform>:<app id>:<version> (by /u/<username>)`)"
            )
        has_id = "client_id" in spec.options
        has_secret = "client_secret" in spec.options
        if has_id or has_secret:
            problem = social.missing(spec, "client_id", "REDDIT_CLIENT_ID") or social.missing(
                spec, "client_secret", "REDDIT_CLIENT_SECRET"
            )
            if problem:
                return problem
        return social.check_strings(spec, ("subreddits", "queries"))

    def plan(
        self, spec: SourceSpec, cursor: Mapping[str, Any], queries: Sequence[Query], settings: Settings
    ) -> list[FetchRequest]:
        subs = _subreddits(spec)
        backlog = cursor.get("backlog") or {}
        todo: list[dict[str, Any]] = []
        for q in social.searches(spec, queries, REDDIT):
            todo.append({"q": q, "after": "", "pages": 0})
            # what an earlier poll left unread past its page limit: from where it stopped, down to its floor
            for window in backlog.get(_cursor_key(subs, q)) or []:
                if isinstance(window, Mapping) and social.text(window.get("after")):
                    start = social.text(window.get("after"))
                    todo.append({"q": q, "after": start, "pages": 0, "start": start, "floor": window.get("floor", "")})
        if not todo:
            return []
        if not _oauth(spec):
            return [self._rss(spec, subs, item["q"]) for item in todo]
        state = {"subs": subs, "todo": todo, "renewed": False}
        token = social.text((cursor.get("token") or {}).get("access_token"))
        if not token or (cursor.get("token") or {}).get("client") != social.text(spec.options.get("client_id")):
            return [self._token(spec, state)]
        return [self._search(spec, token, cursor, state)]

    # --- requests ------------------------------------------------------------------------------

    def _token(self, spec: SourceSpec, state: Mapping[str, Any]) -> FetchRequest:
        pair = f"{social.text(spec.options.get('client_id'))}:{social.text(spec.options.get('client_secret'))}"
        return FetchRequest(
            url=f"{spec.base_url or PUBLIC_BASE}/api/v1/access_token",
            method="POST",
            headers={
                "Authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii"),
                "User-Agent": user_agent(spec),
            },
            data={"grant_type": "client_credentials"},
            secret=True,
            tag=social.tag("token", state),
        )

    def _search(
        self, spec: SourceSpec, token: str, cursor: Mapping[str, Any], state: Mapping[str, Any]
    ) -> FetchRequest:
        first = state["todo"][0]
        subs = state.get("subs") or ""
        base = social.text(spec.options.get("oauth_url")).rstrip("/") or OAUTH_BASE
        path = f"/r/{quote(subs, safe='+')}/search" if subs else "/search"
        params = {"q": first["q"], "sort": "new", "limit": str(PAGE), "type": "link", "raw_json": "1"}
        if subs:
            params["restrict_sr"] = "1"
        if first.get("after"):
            params["after"] = first["after"]
        return FetchRequest(
            url=base + path,
            params=params,
            headers={"Authorization": f"bearer {token}", "User-Agent": user_agent(spec)},
            secret=True,
            tag=social.tag("search", state),
        )

    def _rss(self, spec: SourceSpec, subs: str, q: str) -> FetchRequest:
        path = f"/r/{quote(subs, safe='+')}/search.rss" if subs else "/search.rss"
        params = {"q": q, "sort": "new", "limit": str(PAGE)}
        if subs:
            params["restrict_sr"] = "1"
        return FetchRequest(
            url=(spec.base_url or PUBLIC_BASE) + path,
            params=params,
            headers={"User-Agent": user_agent(spec), "Accept": "application/atom+xml"},
            tag=social.tag("rss", {"subs": subs, "q": q}),
        )

    # --- answers -------------------------------------------------------------------------------

    def parse(self, spec: SourceSpec, fetched: Fetched, cursor: Mapping[str, Any]) -> Parsed:
        step, state = social.read_tag(fetched.request.tag)
        if step == "rss":
            return self._parse_rss(fetched, state, cursor)
        data = social.load_json(fetched, "Reddit")
        if not isinstance(data, Mapping):
            raise ParseError(f"Reddit answered something else than an object from {social.shown_url(fetched.url)}")
        if step == "token":
            token = social.text(data.get("access_token"))
            if not token:
                raise ParseError("Reddit's token answer holds no access_token")
            new_cursor = {
                **cursor,
                "token": {"access_token": token, "client": social.text(spec.options.get("client_id"))},
            }
            return Parsed(cursor=new_cursor, next=(self._search(spec, token, new_cursor, {**state, "renewed": True}),))
        return self._results(spec, data, state, cursor)

    def _results(
        self, spec: SourceSpec, data: Mapping[str, Any], state: dict[str, Any], cursor: Mapping[str, Any]
    ) -> Parsed:
        listing = data.get("data")
        children = listing.get("children") if isinstance(listing, Mapping) else None
        if not isinstance(listing, Mapping) or not isinstance(children, list):
            raise ParseError("Reddit's search answer is not a Listing")
        todo = list(state.get("todo") or [])
        if not todo:
            return Parsed()
        current = dict(todo[0])
        key = _cursor_key(state.get("subs") or "", current["q"])
        newest: dict[str, str] = dict(cursor.get("newest") or {})
        catching_up = "start" in current  # reading a backlog down to its floor, not the newest posts
        floor_name = social.text(current.get("floor")) if catching_up else newest.get(key, "")
        floor = fullname_key(floor_name)
        posts = [c["data"] for c in children if isinstance(c, Mapping) and isinstance(c.get("data"), Mapping)]
        fresh = [p for p in posts if fullname_key(social.text(p.get("name"))) > floor]
        items = tuple(item for p in fresh if (item := post_item(p)) is not None)
        top = max([social.text(p.get("name")) for p in fresh] + [current.get("top") or ""], key=fullname_key)
        current["pages"] = int(current.get("pages", 0)) + 1
        after = social.text(listing.get("after"))
        # more posts above the floor (a first poll, with no floor, reads the newest page only)
        more = bool(after) and len(fresh) == len(posts) > 0 and (catching_up or floor >= 0)
        new_cursor: dict[str, Any] | None = None
        if more and current["pages"] < MAX_PAGES:
            current.update(after=after, top=top)
            todo[0] = current
        else:
            # the page limit: the rest is read from here at the next poll, down to the same floor
            left = {"after": after, "floor": floor_name} if more else None
            if top and not catching_up:
                newest[key] = top
            start = current.get("start")
            read = (lambda w: w.get("after") == start) if catching_up else None
            new_cursor = social.with_backlog(cursor, key, read, left, newest=newest)
            todo = todo[1:]
        follow: tuple[FetchRequest, ...] = ()
        if todo:
            token = social.text((cursor.get("token") or {}).get("access_token"))
            follow = (self._search(spec, token, cursor, {**state, "todo": todo}),)
        return Parsed(items=items, cursor=new_cursor, next=follow)

    def _parse_rss(self, fetched: Fetched, state: Mapping[str, Any], cursor: Mapping[str, Any]) -> Parsed:
        from watcher.sources.rss import parse_feed  # feedparser: only for this route

        entries, _title = parse_feed(fetched.body, fetched.headers, fetched.url)
        key = _cursor_key(social.text(state.get("subs")), social.text(state.get("q")))
        newest: dict[str, str] = dict(cursor.get("newest") or {})
        floor = fullname_key(newest.get(key, ""))
        items = []
        for entry in entries:
            if fullname_key(entry.key) <= floor:
                continue
            author = (entry.author or "").strip().removeprefix("/")
            items.append(
                RawItem(
                    key=entry.key,
                    link=entry.link,
                    title=entry.title,
                    content=entry.content,
                    author=author or None,
                    published=entry.published,
                    language=None,  # the feed's language is the reader's locale, not the post's
                    global_id=f"reddit:{entry.key}" if entry.key.startswith("t3_") else None,
                )
            )
        if items:
            newest[key] = max((i.key for i in items), key=fullname_key)
        return Parsed(items=tuple(items), cursor={**cursor, "newest": newest})

    # --- errors --------------------------------------------------------------------------------

    def recover(
        self, spec: SourceSpec, request: FetchRequest, error: HTTPStatusError, cursor: Mapping[str, Any]
    ) -> Parsed | None:
        step, state = social.read_tag(request.tag)
        if step == "search" and error.status == 401 and not state.get("renewed"):
            rest = {k: v for k, v in cursor.items() if k != "token"}  # Reddit no longer takes it
            return Parsed(cursor=rest, next=(self._token(spec, state),))
        return None

    def explain(self, spec: SourceSpec, error: HTTPStatusError) -> str:
        path = urlsplit(getattr(error, "url", "")).path
        if path.endswith("/access_token") and error.status in (400, 401, 403):
            return (
                f"Reddit refused the app credentials: check REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET"
                f" (the app, of type script, is listed at {APPS_PAGE}); {error}"
            )
        if error.status in (401, 403):
            if _oauth(spec):
                return f"Reddit refused the search with the app's token (the app may be suspended); {error}"
            return (
                f"blocked: Reddit requires OAuth for searches from most addresses; create an app of type"
                f" script at {APPS_PAGE} and set client_id: ${{REDDIT_CLIENT_ID}} and"
                f" client_secret: ${{REDDIT_CLIENT_SECRET}}; {error}"
            )
        if error.status == 429:
            hint = "" if _oauth(spec) else " (without OAuth Reddit allows about 10 requests a minute)"
            return f"Reddit rate limit reached{hint}; waiting for its reset; {error}"
        return str(error)


def _cursor_key(subs: str, q: str) -> str:
    return f"{subs}|{q}"


def post_item(post: Mapping[str, Any]) -> RawItem | None:
    name = social.text(post.get("name"))
    if not name:
        return None
    permalink = social.text(post.get("permalink"))
    page = f"https://www.reddit.com{permalink}" if permalink.startswith("/") else permalink
    url = social.text(post.get("url"))
    is_self = post.get("is_self") is True or not url or url.startswith("/")  # crossposts link relatively
    body = social.text(post.get("selftext_html")) or social.text(post.get("selftext"))
    author = social.text(post.get("author"))
    subreddit = social.text(post.get("subreddit"))
    return RawItem(
        key=name,
        link=page if is_self or not url else url,
        title=social.text(post.get("title")),
        content=body,
        author=f"u/{author}" if author and author != "[deleted]" else None,
        publisher=f"r/{subreddit}" if subreddit else None,
        published=social.from_epoch(post.get("created_utc")),
        engagement={"points": social.count(post.get("score")), "comments": social.count(post.get("num_comments"))},
        global_id=f"reddit:{name}",
    )
