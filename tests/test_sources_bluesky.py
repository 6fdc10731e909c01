"""Bluesky: login, cached session, refresh, and forward search through a real poll, against a loopback PDS."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Response
from tests.social_fakes import FakeBluesky, answer, make_config, poll, stored_keys
from watcher.store import Store

HANDLE = "veille-tierslieu.bsky.social"
PASSWORD = "abcd-efgh-ijkl-mnop"
KEYWORDS = "coworking\n"
SEARCH = "/xrpc/app.bsky.feed.searchPosts"
LOGIN = "/xrpc/com.atproto.server.createSession"
REFRESH = "/xrpc/com.atproto.server.refreshSession"
ENV = {"BLUESKY_HANDLE": HANDLE, "BLUESKY_APP_PASSWORD": PASSWORD}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "watch.db") as s:
        yield s


def feed(server: LoopbackServer, name: str = "bsky") -> str:
    return (
        f"  - name: {name}\n    kind: bluesky\n    base_url: {server.base}\n"
        "    handle: ${BLUESKY_HANDLE}\n    app_password: ${BLUESKY_APP_PASSWORD}\n"
    )


def test_logs_in_once_then_searches_forward_across_three_polls(server: LoopbackServer, store: Store) -> None:
    fake = FakeBluesky(server, HANDLE, PASSWORD)
    fake.add(3)
    config = make_config(feed(server), KEYWORDS, ENV)
    one = poll(config, store)["bsky"]
    assert (one.status, one.items, one.new_hits) == ("ok", 3, 3)
    fake.add(150)  # more than one page of 100
    two = poll(config, store)["bsky"]
    assert (two.status, two.items, two.new_hits) == ("ok", 150, 150)
    fake.add(2)
    three = poll(config, store)["bsky"]
    assert (three.status, three.items, three.new_hits) == ("ok", 2, 2)

    keys = stored_keys(store, "bsky")
    assert sorted(keys) == sorted(p["uri"] for p in fake.posts) and len(set(keys)) == 155
    [login] = server.hits(LOGIN)  # the session is cached, not recreated at each poll
    assert json.loads(login.body) == {"identifier": HANDLE, "password": PASSWORD}
    searches = server.hits(SEARCH)
    [token] = fake.access
    assert all(r.headers["authorization"] == f"Bearer {token}" for r in searches)
    assert all(r.query["q"] == ["coworking"] and r.query["sort"] == ["latest"] for r in searches)
    assert all(r.query["lang"] == ["fr"] and r.query["limit"] == ["100"] for r in searches)
    assert "since" not in searches[0].query  # first poll: the newest page only
    # later polls ask from a little before the newest post seen, and follow the page cursor
    assert searches[1].query["since"][0] < fake.posts[2]["indexedAt"]
    assert "cursor" in searches[2].query and searches[2].query["since"] == searches[1].query["since"]
    cursor = store.states()["bsky"].cursor
    assert PASSWORD not in json.dumps(cursor) and cursor["session"]["accessJwt"] in fake.access


def test_post_fields_web_link_engagement_and_no_unauthenticated_label(server: LoopbackServer, store: Store) -> None:
    fake = FakeBluesky(server, HANDLE, PASSWORD)
    fake.add(2)
    poll(make_config(feed(server), KEYWORDS, ENV), store)
    hits = {h["author"]: h for h in store.hits()}
    first, second = hits["lafabrique.bsky.social"], hits["marie-l.bsky.social"]
    assert first["url"] == "https://bsky.app/profile/lafabrique.bsky.social/post/3lbv000000000"
    assert first["engagement"] == {"likes": 41, "reposts": 7, "replies": 3, "quotes": 1}
    assert first["language"] == "fr" and first["title"] == ""
    assert "Le coworking de La Fabrique" in first["text"]  # the link card is part of the post
    assert first["no_reuse"] is False and second["no_reuse"] is True


def test_an_expired_access_token_is_refreshed_not_a_new_login(server: LoopbackServer, store: Store) -> None:
    fake = FakeBluesky(server, HANDLE, PASSWORD)
    fake.add(1)
    config = make_config(feed(server), KEYWORDS, ENV)
    poll(config, store)
    fake.expire_access_tokens()
    fake.add(1)
    report = poll(config, store)["bsky"]
    assert (report.status, report.items) == ("ok", 1)
    assert len(server.hits(LOGIN)) == 1
    [refresh] = server.hits(REFRESH)
    assert refresh.headers["authorization"].endswith(".refresh-1")
    assert store.states()["bsky"].cursor["session"]["accessJwt"].endswith(".access-2")


def test_a_revoked_refresh_token_leads_to_one_new_login(server: LoopbackServer, store: Store) -> None:
    fake = FakeBluesky(server, HANDLE, PASSWORD)
    fake.add(1)
    config = make_config(feed(server), KEYWORDS, ENV)
    poll(config, store)
    fake.expire_access_tokens()
    fake.refresh.clear()
    report = poll(config, store)["bsky"]
    assert report.status == "ok"
    assert len(server.hits(LOGIN)) == 2 and len(server.hits(REFRESH)) == 1


def test_a_refused_login_is_a_clear_error_while_other_sources_go_on(server: LoopbackServer, store: Store) -> None:
    FakeBluesky(server, HANDLE, "the-right-password")
    server.route(
        "/feed",
        Response(200, {"Content-Type": "application/rss+xml"}, rss([Entry("Un coworking", "https://n.example/a")])),
    )
    feeds = feed(server) + f"  - name: news\n    kind: rss\n    url: {server.url('/feed')}\n"
    reports = poll(make_config(feeds, KEYWORDS, ENV), store)
    assert reports["news"].status == "ok" and reports["news"].new_hits == 1
    error = reports["bsky"].error or ""
    assert reports["bsky"].status == "error"
    # the handle came from ${BLUESKY_HANDLE}: a secret like every such value, shown as written
    assert error.startswith("Bluesky refused the login of ${BLUESKY_HANDLE}: check BLUESKY_APP_PASSWORD")
    assert HANDLE not in error
    assert "Invalid identifier or password" in error and PASSWORD not in error
    assert len(server.hits(LOGIN)) == 1  # no retry loop on a wrong password
    state = store.states()["bsky"]
    assert state.next_poll and state.last_poll and (state.next_poll - state.last_poll).total_seconds() >= 6 * 3600


def test_a_429_on_search_delays_the_next_poll_to_the_reset_and_keeps_the_session(
    server: LoopbackServer, store: Store
) -> None:
    fake = FakeBluesky(server, HANDLE, PASSWORD)
    fake.add(1)
    reset = int(time.time()) + 3 * 86400  # a Unix time, three days from now
    fake.search_answer = answer(
        {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
        429,
        {"ratelimit-limit": "3000", "ratelimit-remaining": "0", "ratelimit-reset": str(reset)},
    )
    config = make_config(feed(server), KEYWORDS, ENV)
    report = poll(config, store)["bsky"]
    assert report.status == "error" and "rate limit" in (report.error or "").lower()
    state = store.states()["bsky"]
    assert state.next_poll is not None and state.next_poll.timestamp() >= reset
    assert state.cursor["session"]["accessJwt"]  # the login is kept: no new createSession next time
    assert poll(config, store, everything=False) == {}
