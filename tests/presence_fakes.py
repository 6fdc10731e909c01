"""Loopback stand-ins for the APIs presence snapshots read, answering with the real captures of
tests/data/presence (see its README): a Mastodon instance (account lookup, an account's statuses
paged by `max_id` and the `Link` header) and a Bluesky AppView (getProfile, getAuthorFeed paged
by `cursor`). `fail_with` makes every request of a fake get one answer (429, 500, garbage).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.loopback import LoopbackServer, Request, Response

DATA = Path(__file__).parent / "data" / "presence"
JSON = {"Content-Type": "application/json; charset=utf-8"}
MASTODON_ID = "117020565966271181"
MASTODON_PAGE_2 = "117020580489281910"  # the max_id of the recorded second page
MASTODON_PAGE_3 = "117020580452511285"  # the max_id its Link header names next
BLUESKY_HANDLE = "chriskenny.bsky.social"


def data(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def raw(name: str) -> bytes:
    return (DATA / name).read_bytes()


class FakeMastodonAccount:
    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self.fail_with: Response | None = None
        server.route("/api/v1/accounts/lookup", self.lookup)
        server.route(f"/api/v1/accounts/{MASTODON_ID}/statuses", self.statuses)

    def lookup(self, req: Request) -> Response:
        if self.fail_with is not None:
            return self.fail_with
        acct = req.query.get("acct", [""])[0]
        if acct.split("@")[0] != "mastodonpy_test":
            return Response(404, JSON, b'{"error":"Record not found"}')  # the recorded answer
        return Response(200, JSON, raw("mastodon_lookup.json"))

    def _link(self, next_id: str, prev_id: str) -> str:
        base = self.server.url(f"/api/v1/accounts/{MASTODON_ID}/statuses")
        return f'<{base}?limit=5&max_id={next_id}>; rel="next", <{base}?limit=5&min_id={prev_id}>; rel="prev"'

    def statuses(self, req: Request) -> Response:
        if self.fail_with is not None:
            return self.fail_with
        max_id = req.query.get("max_id", [""])[0]
        if not max_id:
            link = self._link(MASTODON_PAGE_2, "117020580518794573")
            return Response(200, {**JSON, "Link": link}, raw("mastodon_statuses_1.json"))
        if max_id == MASTODON_PAGE_2:
            link = self._link(MASTODON_PAGE_3, "117020580481736214")
            return Response(200, {**JSON, "Link": link}, raw("mastodon_statuses_2.json"))
        return Response(200, JSON, b"[]")  # past the oldest status: an empty page, no Link


class FakeBlueskyAppView:
    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self.fail_with: Response | None = None
        self.profile = data("bluesky_get_profiles.json")["profiles"][0]
        recorded = data("bluesky_author_feed.json")
        self.feed = recorded["feed"]
        self.first_cursor = self.feed[24]["post"]["indexedAt"]
        self.last_cursor = recorded["cursor"]
        server.route("/xrpc/app.bsky.actor.getProfile", self.get_profile)
        server.route("/xrpc/app.bsky.feed.getAuthorFeed", self.get_author_feed)

    def get_profile(self, req: Request) -> Response:
        if self.fail_with is not None:
            return self.fail_with
        actor = req.query.get("actor", [""])[0]
        if actor not in (BLUESKY_HANDLE, self.profile["did"]):
            return Response(400, JSON, b'{"error":"InvalidRequest","message":"Profile not found"}')
        return Response(200, JSON, json.dumps(self.profile).encode())

    def get_author_feed(self, req: Request) -> Response:
        if self.fail_with is not None:
            return self.fail_with
        if req.query.get("actor", [""])[0] not in (BLUESKY_HANDLE, self.profile["did"]):
            return Response(400, JSON, b'{"error":"InvalidRequest","message":"Profile not found"}')
        cursor = req.query.get("cursor", [""])[0]
        if not cursor:
            page: dict[str, Any] = {"feed": self.feed[:25], "cursor": self.first_cursor}
        elif cursor == self.first_cursor:
            page = {"feed": self.feed[25:], "cursor": self.last_cursor}
        else:
            page = {"feed": []}
        return Response(200, JSON, json.dumps(page).encode())


class FakeMatomo:
    """A Matomo answering VisitsSummary.get with the recorded answer, to a POST with the right token."""

    def __init__(self, server: LoopbackServer, token: str) -> None:
        self.token = token
        server.route("/index.php", self.api)

    def api(self, req: Request) -> Response:
        from urllib.parse import parse_qs

        body = parse_qs(req.body.decode())
        if req.method != "POST" or body.get("token_auth") != [self.token]:
            return Response(
                200, JSON, b'{"result":"error","message":"You must be logged in to access this functionality."}'
            )
        if req.query.get("method") != ["VisitsSummary.get"]:
            return Response(200, JSON, b'{"result":"error","message":"The method does not exist."}')
        return Response(200, JSON, raw("matomo_visits_summary.json"))
