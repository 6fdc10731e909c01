"""The `bluesky` source: `app.bsky.feed.searchPosts` for each query, logged in with an app password.

feeds.yaml keys: `handle` and `app_password` (write `${BLUESKY_APP_PASSWORD}`; make one in
Settings > Privacy and security > App passwords), `base_url` (the account's PDS,
https://bsky.social by default), `language` (the `lang` filter; the settings' language by
default, `any` for none), `queries` (instead of keywords.txt's).

Session: the first poll logs in (`createSession`); the session tokens (never the password)
are kept in the cursor and reused. An expired access token is renewed with
`refreshSession`, and a refused refresh token leads to a new login, each at most once a poll.

A poll is a chain: login if needed, then one search after another, each answer bringing the
next request, so a renewed token serves every later search. The chain's state rides in the
request tag (see social.py).

Forward polling: each query's cursor is the newest `indexedAt` seen and the posts seen in the
last minutes before it. The next search asks `since=` that time minus `OVERLAP` (posts are
sorted by a time that can be earlier than `indexedAt`), and the posts already seen are
dropped. A full page is followed (`cursor=`) up to `MAX_PAGES`; the query's cursor moves
only when its last page is read, so a failure in between loses nothing. When more was posted
than `MAX_PAGES` hold, the stretch not read is kept in the cursor's `backlog` (`since=` the
poll before's time, `until=` just after the oldest post read), and the next polls read it,
`MAX_PAGES` at a time, after the newest posts.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from watcher.dates import shift
from watcher.errors import HTTPStatusError, ParseError
from watcher.sources import social
from watcher.sources.syntax import BLUESKY
from watcher.types import Fetched, FetchRequest, Parsed, Query, RawItem, Settings, SourceSpec

PUBLIC_BASE = "https://bsky.social"
PAGE = 100  # the API's maximum
MAX_PAGES = 5  # per query and poll
OVERLAP = timedelta(minutes=5)
NO_REUSE_LABEL = "!no-unauthenticated"  # the author asked apps to show their posts only to logged-in users
_SESSION_ERRORS = ("ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing")


def _time(value: str) -> str:
    moment = social.parse_time(value)
    return moment.isoformat().replace("+00:00", "Z") if moment else value


class BlueskySource:
    def check(self, spec: SourceSpec) -> str | None:
        return (
            social.missing(spec, "handle", "BLUESKY_HANDLE")
            or social.missing(spec, "app_password", "BLUESKY_APP_PASSWORD")
            or social.check_strings(spec, ("queries",))
        )

    def plan(
        self, spec: SourceSpec, cursor: Mapping[str, Any], queries: Sequence[Query], settings: Settings
    ) -> list[FetchRequest]:
        known = cursor.get("queries") or {}
        language = social.text(spec.options.get("language", settings.language))
        backlog = cursor.get("backlog") or {}
        todo = []
        for q in social.searches(spec, queries, BLUESKY):
            since = ""
            newest = social.parse_time((known.get(q) or {}).get("newest"))
            if newest is not None:
                since = _time(shift(newest, -OVERLAP).isoformat())
            todo.append({"q": q, "since": since, "page": "", "pages": 0})
            for window in backlog.get(q) or []:  # what an earlier poll left past its page limit
                bounds = window if isinstance(window, Mapping) else {}
                low, high = social.text(bounds.get("since")), social.text(bounds.get("until"))
                if low and high:
                    todo.append({"q": q, "since": low, "until": high, "page": "", "pages": 0, "window": [low, high]})
        if not todo:
            return []
        state = {"todo": todo, "lang": "" if language.lower() in ("", "any", "all") else language}
        session = cursor.get("session") or {}
        if not session.get("accessJwt") or session.get("login") != social.text(spec.options.get("handle")):
            return [self._login(spec, state)]
        return [self._search(spec, session, {**state, "renewed": False})]

    # --- requests ------------------------------------------------------------------------------

    def _base(self, spec: SourceSpec) -> str:
        return spec.base_url or PUBLIC_BASE

    def _login(self, spec: SourceSpec, state: Mapping[str, Any]) -> FetchRequest:
        return FetchRequest(
            url=f"{self._base(spec)}/xrpc/com.atproto.server.createSession",
            method="POST",
            json={
                "identifier": social.text(spec.options.get("handle")),
                "password": social.text(spec.options.get("app_password")),
            },
            secret=True,
            tag=social.tag("login", state),
        )

    def _refresh(self, spec: SourceSpec, session: Mapping[str, Any], state: Mapping[str, Any]) -> FetchRequest:
        return FetchRequest(
            url=f"{self._base(spec)}/xrpc/com.atproto.server.refreshSession",
            method="POST",
            headers={"Authorization": f"Bearer {session.get('refreshJwt', '')}"},
            secret=True,
            tag=social.tag("refresh", state),
        )

    def _search(self, spec: SourceSpec, session: Mapping[str, Any], state: Mapping[str, Any]) -> FetchRequest:
        first = state["todo"][0]
        params = {"q": first["q"], "sort": "latest", "limit": str(PAGE)}
        if state.get("lang"):
            params["lang"] = state["lang"]
        if first.get("since"):
            params["since"] = first["since"]
        if first.get("until"):
            params["until"] = first["until"]
        if first.get("page"):
            params["cursor"] = first["page"]
        return FetchRequest(
            url=f"{self._base(spec)}/xrpc/app.bsky.feed.searchPosts",
            headers={"Authorization": f"Bearer {session.get('accessJwt', '')}", "Accept": "application/json"},
            params=params,
            secret=True,
            tag=social.tag("search", state),
        )

    # --- answers -------------------------------------------------------------------------------

    def parse(self, spec: SourceSpec, fetched: Fetched, cursor: Mapping[str, Any]) -> Parsed:
        step, state = social.read_tag(fetched.request.tag)
        data = social.load_json(fetched, "Bluesky")
        if not isinstance(data, Mapping):
            raise ParseError(f"Bluesky answered something else than an object from {social.shown_url(fetched.url)}")
        if step in ("login", "refresh"):
            if not social.text(data.get("accessJwt")) or not social.text(data.get("refreshJwt")):
                raise ParseError(f"Bluesky's {step} answer holds no session tokens")
            session = {
                "did": social.text(data.get("did")),
                "handle": social.text(data.get("handle")),
                "login": social.text(spec.options.get("handle")),
                "accessJwt": data["accessJwt"],
                "refreshJwt": data["refreshJwt"],
            }
            new_cursor = {**cursor, "session": session}
            return Parsed(cursor=new_cursor, next=(self._search(spec, session, {**state, "renewed": True}),))
        return self._results(spec, data, state, cursor)

    def _results(
        self, spec: SourceSpec, data: Mapping[str, Any], state: dict[str, Any], cursor: Mapping[str, Any]
    ) -> Parsed:
        posts = data.get("posts")
        if not isinstance(posts, list):
            raise ParseError("Bluesky's search answer has no `posts` list")
        todo = list(state.get("todo") or [])
        if not todo:
            return Parsed()
        current = dict(todo[0])
        q = current["q"]
        queries: dict[str, Any] = {k: dict(v) for k, v in (cursor.get("queries") or {}).items()}
        known = queries.get(q, {})
        window = current.get("window")  # [since, until]: reading a backlog, not the newest posts
        seen: dict[str, str] = dict(known.get("seen") or {}) if window is None else {}
        # this poll's posts of this query so far (earlier pages), kept in the chain until the last page
        found: dict[str, str] = dict(current.get("found") or {})
        low = social.parse_time(current.get("low"))  # the oldest post read so far in this chain
        items = []
        overlap_reached = False
        for post in posts:
            if not isinstance(post, Mapping):
                continue
            uri = social.text(post.get("uri"))
            indexed = social.text(post.get("indexedAt"))
            if not uri:
                continue
            if uri in seen:
                overlap_reached = True
                continue
            found[uri] = indexed
            when = _sort_at(post)
            if when is not None and (low is None or when < low):
                low = when.astimezone(UTC)
            item = post_item(post)
            if item is not None:
                items.append(item)
        current["pages"] = int(current.get("pages", 0)) + 1
        page = social.text(data.get("cursor"))
        more_pages = (
            bool(current.get("since"))  # a first poll reads the newest page only
            and page
            and len(posts) >= PAGE
            and not overlap_reached
            and current["pages"] < MAX_PAGES
        )
        if more_pages:
            current["page"] = page
            current["found"] = _recent(found)
            current["low"] = _iso(low) if low else ""
            todo[0] = current
        else:  # this query is done: move its cursor
            left = None
            cut_short = bool(current.get("since")) and page and len(posts) >= PAGE and not overlap_reached
            if cut_short and low is not None:  # the page limit: the rest waits for the next poll
                # `until` excludes its own time: a second later, so posts of the oldest second are not lost
                left = {"since": current["since"], "until": _iso(shift(low, timedelta(seconds=1)))}
            if window is None:
                queries[q] = _advance(seen, found)
            read = None if window is None else lambda w: [w.get("since"), w.get("until")] == window
            cursor = social.with_backlog(cursor, q, read, left, queries=queries)
            todo = todo[1:]
        follow: tuple[FetchRequest, ...] = ()
        if todo:
            follow = (self._search(spec, cursor.get("session") or {}, {**state, "todo": todo}),)
        return Parsed(items=tuple(items), cursor=cursor if not more_pages else None, next=follow)

    # --- errors --------------------------------------------------------------------------------

    def recover(
        self, spec: SourceSpec, request: FetchRequest, error: HTTPStatusError, cursor: Mapping[str, Any]
    ) -> Parsed | None:
        step, state = social.read_tag(request.tag)
        code = social.text(social.error_json(error).get("error"))
        session_problem = error.status == 401 or (error.status == 400 and code in _SESSION_ERRORS)
        if not session_problem or state.get("renewed"):
            return None
        session = cursor.get("session") or {}
        if step == "search" and session.get("refreshJwt"):
            return Parsed(next=(self._refresh(spec, session, state),))
        if step in ("search", "refresh"):
            rest = {k: v for k, v in cursor.items() if k != "session"}
            return Parsed(cursor=rest, next=(self._login(spec, state),))
        return None

    def explain(self, spec: SourceSpec, error: HTTPStatusError) -> str:
        detail = social.error_json(error)
        said = social.text(detail.get("message")) or social.text(detail.get("error"))
        said = f" (Bluesky says: {said})" if said else ""
        path = urlsplit(getattr(error, "url", "")).path
        if "createSession" in path and error.status in (400, 401):
            handle = social.text(spec.options.get("handle"))
            return (
                f"Bluesky refused the login of {handle}: check BLUESKY_APP_PASSWORD (an app password from"
                f" Settings > Privacy and security > App passwords) and the handle{said}; {error}"
            )
        if error.status in (401, 403):
            return (
                f"Bluesky refused the search{said}: searches need a logged-in session and are refused to some"
                f" addresses; keep base_url on your PDS (https://bsky.social) or https://api.bsky.app,"
                f" not public.api.bsky.app; {error}"
            )
        if error.status == 429:
            return f"Bluesky rate limit reached{said}; waiting for its reset; {error}"
        return f"{error}{said}"


def _recent(found: Mapping[str, str]) -> dict[str, str]:
    """The posts within OVERLAP of the newest one: the only ones a later search can repeat."""
    times = {uri: social.parse_time(t) for uri, t in found.items()}
    valid = [t for t in times.values() if t is not None]
    if not valid:
        return dict(found)
    horizon = shift(max(valid), -OVERLAP)
    return {uri: found[uri] for uri, t in times.items() if t is not None and t >= horizon}


def _advance(seen: Mapping[str, str], found: Mapping[str, str]) -> dict[str, Any]:
    recent = _recent({**seen, **found})
    valid = [t for t in (social.parse_time(v) for v in recent.values()) if t is not None]
    newest = max(valid) if valid else None
    return {"newest": _iso(newest) if newest else "", "seen": recent}


def _sort_at(post: Mapping[str, Any]) -> datetime | None:
    """The time Bluesky sorts and filters a post by: the earlier of when it was written and indexed."""
    record = post.get("record")
    written = social.parse_time(record.get("createdAt")) if isinstance(record, Mapping) else None
    indexed = social.parse_time(post.get("indexedAt"))
    times = [t for t in (written, indexed) if t is not None]
    return min(times) if times else None


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def web_url(handle: str, did: str, uri: str) -> str:
    """https://bsky.app/profile/<handle>/post/<rkey> (the DID when the handle is not valid)."""
    rkey = uri.rstrip("/").rsplit("/", 1)[-1]
    who = handle if handle and handle != "handle.invalid" else did
    return f"https://bsky.app/profile/{who}/post/{rkey}"


def post_item(post: Mapping[str, Any]) -> RawItem | None:
    uri = social.text(post.get("uri"))
    author = post.get("author") if isinstance(post.get("author"), Mapping) else None
    record = post.get("record") if isinstance(post.get("record"), Mapping) else None
    if not uri or author is None or record is None:
        return None
    handle = social.text(author.get("handle"))
    did = social.text(author.get("did"))
    parts = [html.escape(social.text(record.get("text")), quote=False).replace("\n", "<br>")]
    embed = post.get("embed")
    external = embed.get("external") if isinstance(embed, Mapping) else None
    if isinstance(external, Mapping):  # a link card: its title and description are part of the post
        card = " — ".join(
            html.escape(t, quote=False)
            for t in (social.text(external.get("title")), social.text(external.get("description")))
            if t
        )
        if card:
            parts.append(f"<blockquote>{card}</blockquote>")
    langs = record.get("langs")
    labels = author.get("labels") if isinstance(author.get("labels"), list) else []
    return RawItem(
        key=uri,
        link=web_url(handle, did, uri),
        title="",
        content="".join(parts),
        author=handle or did or None,
        published=_published(record.get("createdAt"), post.get("indexedAt")),
        language=social.text(langs[0]) if isinstance(langs, list) and langs else None,
        engagement={
            "likes": social.count(post.get("likeCount")),
            "reposts": social.count(post.get("repostCount")),
            "replies": social.count(post.get("replyCount")),
            "quotes": social.count(post.get("quoteCount")),
        },
        no_reuse=any(isinstance(label, Mapping) and label.get("val") == NO_REUSE_LABEL for label in labels),
        global_id=uri,
    )


def _published(created: Any, indexed: Any) -> datetime | None:
    """The post's own time, unless it is a day or more away from when Bluesky indexed it (clients can lie)."""
    written = social.parse_time(created)
    seen = social.parse_time(indexed)
    if written is None or (seen is not None and abs(written - seen) >= timedelta(days=1)):
        return seen
    return written
