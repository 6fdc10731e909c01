"""Loopback stand-ins for the social networks' APIs, for tests.

Each fake serves answers built from the real captures in tests/data/social (a post of the
capture is the template; only ids, times and text change), follows the network's paging
rules (Mastodon `min_id`, Bluesky `since`/`until`/`cursor`, Reddit `sort=new`, Algolia
`numericFilters`, comma-separated conditions), and checks what the adapter sent: a request the
real service would refuse (no token, a wrong User-Agent form, an unencoded filter) gets the
real service's refusal.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.loopback import LoopbackServer, Request, Response
from watcher.config import parse_feeds, parse_keywords
from watcher.fetch import Fetcher
from watcher.poll import PollReport, run_poll
from watcher.store import Store
from watcher.types import Config

SOCIAL = Path(__file__).parent / "data" / "social"
JSON = {"Content-Type": "application/json; charset=utf-8"}
BASE_TIME = datetime(2024, 11, 26, 20, 0, tzinfo=UTC)


def make_config(feeds: str, keywords: str, env: dict[str, str] | None = None) -> Config:
    """A Config from the `feeds:` entries given (indented two spaces) and a keywords.txt text."""
    specs, settings = parse_feeds(f"settings:\n  timeout: 5\nfeeds:\n{feeds}", "feeds.yaml", env=env or {})
    return Config(specs, parse_keywords(keywords), settings)


def poll(config: Config, store: Store, everything: bool = True) -> dict[str, PollReport]:
    with Fetcher(user_agent="watcher-test", timeout=config.settings.timeout, max_body_bytes=1_000_000) as f:
        return {r.name: r for r in run_poll(config, store, f, everything=everything)}


def stored_keys(store: Store, source: str) -> list[str]:
    rows = store.db.execute(
        "SELECT key FROM item_sources WHERE source = ? ORDER BY first_seen, key", (source,)
    ).fetchall()
    return [row[0] for row in rows]


def fixture(name: str) -> Any:
    return json.loads((SOCIAL / name).read_text(encoding="utf-8"))


def answer(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, {**JSON, **(headers or {})}, json.dumps(data).encode())


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def bearer(req: Request) -> str:
    value = req.headers.get("authorization", "")
    return value.split(" ", 1)[1] if value.lower().startswith("bearer ") else ""


# --- Mastodon -------------------------------------------------------------------------------------


class FakeMastodon:
    """One instance's hashtag timelines, with Mastodon's id paging (newest first in every page), and
    its status search (`/api/v2/search`: a token needed, every word of `q` in the status, newest
    first within `min_id` < id < `max_id`, then `offset` and `limit`, as Mastodon's search does)."""

    def __init__(self, server: LoopbackServer, tag: str = "tierslieux", token: str | None = None) -> None:
        self.server = server
        self.tag = tag
        self.token = token
        self.template = fixture("mastodon_tag_timeline.json")
        self.statuses: list[dict[str, Any]] = []  # oldest first
        self.next_id = 113637285862132341
        self.status: Response | None = None  # when set, every request gets this answer
        server.route(f"/api/v1/timelines/tag/{tag}", self.timeline)
        server.route("/api/v2/search", self.search)

    def add(self, count: int, text: str = "Journée portes ouvertes au #TiersLieux, coworking compris") -> list[str]:
        ids = []
        for _ in range(count):
            self.next_id += 1 + len(self.statuses) * 7919  # snowflakes grow, with gaps
            n = len(self.statuses)
            status = copy.deepcopy(self.template[n % len(self.template)])
            sid = str(self.next_id)
            status["id"] = sid
            status["uri"] = f"https://mastodon.social/users/camille_tl/statuses/{sid}"
            status["url"] = f"https://mastodon.social/@camille_tl/{sid}"
            status["created_at"] = _iso(BASE_TIME + timedelta(minutes=n))
            status["content"] = f"<p>{text} (n°{n})</p>"
            self.statuses.append(status)
            ids.append(sid)
        return ids

    def timeline(self, req: Request) -> Response:
        if self.status is not None:
            return self.status
        if self.token and bearer(req) != self.token:
            return answer({"error": "This API requires an authenticated user"}, 401)
        limit = min(int(req.query.get("limit", ["20"])[0]), 40)
        newest_first = sorted(self.statuses, key=lambda s: int(s["id"]), reverse=True)
        if "min_id" in req.query:  # the page just after min_id, newest first
            floor = int(req.query["min_id"][0])
            after = sorted((s for s in self.statuses if int(s["id"]) > floor), key=lambda s: int(s["id"]))
            page = list(reversed(after[:limit]))
        else:
            page = newest_first[:limit]
        headers = {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "299",
            "X-RateLimit-Reset": "2024-11-26T21:00:00.609574Z",
        }
        if page:
            base = self.server.url(f"/api/v1/timelines/tag/{self.tag}")
            headers["Link"] = (
                f'<{base}?max_id={page[-1]["id"]}>; rel="next", <{base}?min_id={page[0]["id"]}>; rel="prev"'
            )
        return answer(page, headers=headers)

    def search(self, req: Request) -> Response:
        if self.status is not None:
            return self.status
        found: list[dict[str, Any]] = []
        if bearer(req) and (not self.token or bearer(req) == self.token):  # anonymous: no statuses
            words = re.findall(r"\w+", req.query.get("q", [""])[0].lower())
            found = [s for s in self.statuses if all(w in s["content"].lower() for w in words)]
        if "min_id" in req.query:
            found = [s for s in found if int(s["id"]) > int(req.query["min_id"][0])]
        if "max_id" in req.query:
            found = [s for s in found if int(s["id"]) < int(req.query["max_id"][0])]
        found.sort(key=lambda s: int(s["id"]), reverse=True)
        offset = int(req.query.get("offset", ["0"])[0])
        limit = min(int(req.query.get("limit", ["20"])[0]), 40)
        return answer({"accounts": [], "statuses": found[offset : offset + limit], "hashtags": []})


# --- Bluesky --------------------------------------------------------------------------------------


class FakeBluesky:
    """A PDS: createSession / refreshSession, and searchPosts that needs a live access token."""

    def __init__(self, server: LoopbackServer, handle: str, password: str) -> None:
        self.server = server
        self.handle = handle
        self.password = password
        self.session = fixture("bluesky_create_session.json")
        self.templates = fixture("bluesky_search_posts.json")["posts"]
        self.posts: list[dict[str, Any]] = []
        self.access: set[str] = set()
        self.refresh: set[str] = set()
        self.issued = 0
        self.search_answer: Response | None = None
        server.route("/xrpc/com.atproto.server.createSession", self.create_session)
        server.route("/xrpc/com.atproto.server.refreshSession", self.refresh_session)
        server.route("/xrpc/app.bsky.feed.searchPosts", self.search)

    def _tokens(self) -> dict[str, Any]:
        self.issued += 1
        session = dict(self.session)
        session["accessJwt"] = self.session["accessJwt"].rsplit(".", 1)[0] + f".access-{self.issued}"
        session["refreshJwt"] = self.session["refreshJwt"].rsplit(".", 1)[0] + f".refresh-{self.issued}"
        self.access.add(session["accessJwt"])
        self.refresh.add(session["refreshJwt"])
        return session

    def expire_access_tokens(self) -> None:
        self.access.clear()

    def create_session(self, req: Request) -> Response:
        body = json.loads(req.body or b"{}")
        if body.get("identifier") != self.handle or body.get("password") != self.password:
            return answer({"error": "AuthenticationRequired", "message": "Invalid identifier or password"}, 401)
        return answer(self._tokens())

    def refresh_session(self, req: Request) -> Response:
        token = bearer(req)
        if token not in self.refresh:
            return answer({"error": "ExpiredToken", "message": "Token has been revoked"}, 400)
        self.refresh.discard(token)
        return answer(self._tokens())

    def add(self, count: int, text: str = "Un nouveau coworking ouvre dans notre tiers-lieu") -> list[str]:
        uris = []
        for _ in range(count):
            n = len(self.posts)
            post = copy.deepcopy(self.templates[n % len(self.templates)])
            rkey = f"3lbv{n:09d}"
            did = post["author"]["did"]
            post["uri"] = f"at://{did}/app.bsky.feed.post/{rkey}"
            post["record"]["text"] = f"{text} (n°{n})"
            when = BASE_TIME + timedelta(minutes=n)
            post["record"]["createdAt"] = _iso(when)
            post["indexedAt"] = _iso(when + timedelta(seconds=1))
            self.posts.append(post)
            uris.append(post["uri"])
        return uris

    def search(self, req: Request) -> Response:
        if not bearer(req):
            return answer({"error": "AuthMissing", "message": "Authentication Required"}, 401)
        if bearer(req) not in self.access:
            return answer({"error": "ExpiredToken", "message": "Token has expired"}, 400)
        if self.search_answer is not None:
            return self.search_answer
        if not req.query.get("q"):
            return answer({"error": "InvalidRequest", "message": 'Error: Params must have the property "q"'}, 400)
        limit = int(req.query.get("limit", ["25"])[0])
        found = sorted(self.posts, key=lambda p: p["indexedAt"], reverse=True)
        if "since" in req.query:  # against sortAt: the earlier of createdAt and indexedAt
            since = req.query["since"][0]
            found = [p for p in found if min(p["record"]["createdAt"], p["indexedAt"]) >= since]
        if "until" in req.query:  # before it, not inclusive
            until = req.query["until"][0].replace("+00:00", "Z")
            found = [p for p in found if min(p["record"]["createdAt"], p["indexedAt"]) < until]
        start = int(base64.b64decode(req.query["cursor"][0])) if "cursor" in req.query else 0
        page = found[start : start + limit]
        data: dict[str, Any] = {"posts": page, "hitsTotal": len(found)}
        if start + limit < len(found):
            data["cursor"] = base64.b64encode(str(start + limit).encode()).decode()
        return answer(data)


# --- Reddit ---------------------------------------------------------------------------------------

USER_AGENT_FORM = re.compile(r"^[a-z0-9]+:[\w.-]+:v?[\w.-]+ \(by /u/[\w-]+\)$")


class FakeReddit:
    """www.reddit.com (token, .rss) and oauth.reddit.com (search) on one loopback server."""

    def __init__(self, server: LoopbackServer, client_id: str = "", client_secret: str = "") -> None:
        self.server = server
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens: set[str] = set()
        self.issued = 0
        self.templates = [c["data"] for c in fixture("reddit_search.json")["data"]["children"]]
        self.posts: list[dict[str, Any]] = []
        self.next_id = int("1h0q2zb", 36)
        self.search_answer: Response | None = None
        for path in ("/search", "/r/france+coworking/search"):
            server.route(path, self.search)
        server.route("/api/v1/access_token", self.access_token)
        server.route("/search.rss", self.rss)

    def add(self, count: int, title: str = "Un coworking dans une ancienne gare") -> list[str]:
        names = []
        for _ in range(count):
            n = len(self.posts)
            self.next_id += 1 + n * 13
            post = copy.deepcopy(self.templates[n % len(self.templates)])
            rid = _base36(self.next_id)
            post.update(id=rid, name=f"t3_{rid}", title=f"{title} (n°{n})")
            post["permalink"] = f"/r/{post['subreddit']}/comments/{rid}/un_coworking/"
            if post["is_self"]:
                post["url"] = "https://www.reddit.com" + post["permalink"]
            else:
                post["url"] = f"https://www.ouest-france.fr/coworking-{rid}.html"
            post["created_utc"] = post["created"] = (BASE_TIME + timedelta(minutes=n)).timestamp()
            self.posts.append(post)
            names.append(post["name"])
        return names

    def _refuse_user_agent(self, req: Request) -> Response | None:
        if not USER_AGENT_FORM.match(req.headers.get("user-agent", "")):
            return Response(429, {"Content-Type": "text/html"}, b"<html><body>Too Many Requests</body></html>")
        return None

    def access_token(self, req: Request) -> Response:
        if refused := self._refuse_user_agent(req):
            return refused
        pair = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if req.method != "POST" or req.headers.get("authorization") != f"Basic {pair}":
            return answer({"message": "Unauthorized", "error": 401}, 401)
        if req.body != b"grant_type=client_credentials":
            return answer({"error": "unsupported_grant_type"}, 400)
        self.issued += 1
        token = fixture("reddit_access_token.json")
        token["access_token"] = token["access_token"].rsplit(".", 1)[0] + f".app-token-{self.issued}"
        self.tokens.add(token["access_token"])
        return answer(token)

    def _newest_first(self) -> list[dict[str, Any]]:
        return sorted(self.posts, key=lambda p: int(p["id"], 36), reverse=True)

    def search(self, req: Request) -> Response:
        if refused := self._refuse_user_agent(req):
            return refused
        if bearer(req) not in self.tokens:
            return answer({"message": "Unauthorized", "error": 401}, 401)
        if self.search_answer is not None:
            return self.search_answer
        limit = int(req.query.get("limit", ["25"])[0])
        found = self._newest_first()
        if "after" in req.query:
            names = [p["name"] for p in found]
            found = found[names.index(req.query["after"][0]) + 1 :]
        page = found[:limit]
        listing = {
            "kind": "Listing",
            "data": {
                "after": page[-1]["name"] if len(found) > limit else None,
                "dist": len(page),
                "modhash": None,
                "geo_filter": "",
                "facets": {},
                "children": [{"kind": "t3", "data": p} for p in page],
                "before": None,
            },
        }
        headers = {"x-ratelimit-remaining": "99.0", "x-ratelimit-reset": "554", "x-ratelimit-used": "1"}
        return answer(listing, headers=headers)

    def rss(self, req: Request) -> Response:
        if refused := self._refuse_user_agent(req):
            return refused
        return Response(
            200, {"Content-Type": "application/atom+xml; charset=UTF-8"}, (SOCIAL / "reddit_search.rss").read_bytes()
        )


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out or "0"


# --- Hacker News (Algolia) ------------------------------------------------------------------------

_FILTER = re.compile(r"^created_at_i(>=|>|<=|<)(\d+)$")
_COMPARE = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
}


class FakeAlgolia:
    """hn.algolia.com's search_by_date: newest first, numericFilters on created_at_i, pages."""

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self.capture = fixture("hn_search_by_date.json")
        self.hits: list[dict[str, Any]] = []
        self.next_id = 42266312
        server.route("/api/v1/search_by_date", self.search)

    def add(
        self, count: int, title: str = "Show HN: A booking tool for coworking spaces", same_second: bool = False
    ) -> list[str]:
        ids = []
        for _ in range(count):
            n = len(self.hits)
            hit = copy.deepcopy(self.capture["hits"][n % len(self.capture["hits"])])
            self.next_id += 1
            when = int(BASE_TIME.timestamp()) + (n * 60 if not same_second or n == 0 else (n - 1) * 60)
            hit.update(objectID=str(self.next_id), story_id=self.next_id, created_at_i=when, title=f"{title} (n°{n})")
            hit["created_at"] = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if hit.get("url"):  # each story links its own article
                hit["url"] = f"https://example.com/coworking-story-{self.next_id}"
            self.hits.append(hit)
            ids.append(hit["objectID"])
        return ids

    def search(self, req: Request) -> Response:
        if ">" in req.raw_query or "<" in req.raw_query:  # Algolia answers a literal one with an HTML 400 page
            return Response(400, {"Content-Type": "text/html"}, b"<html><body>Bad Request</body></html>")
        per_page = int(req.query.get("hitsPerPage", ["20"])[0])
        page = int(req.query.get("page", ["0"])[0])
        found = sorted(self.hits, key=lambda h: (h["created_at_i"], h["objectID"]), reverse=True)
        for value in req.query.get("numericFilters", []):
            for condition in value.split(","):  # several conditions, all to hold
                m = _FILTER.match(condition)
                if not m:
                    return answer({"message": f"invalid numericFilters {value!r}", "status": 400}, 400)
                compare, bound = _COMPARE[m.group(1)], int(m.group(2))
                found = [h for h in found if compare(h["created_at_i"], bound)]
        chunk = found[page * per_page : (page + 1) * per_page]
        data = {k: v for k, v in self.capture.items() if k != "hits"}
        data.update(
            hits=chunk,
            nbHits=len(found),
            nbPages=(len(found) + per_page - 1) // per_page,
            page=page,
            hitsPerPage=per_page,
            query=req.query.get("query", [""])[0],
        )
        return answer(data)
