"""Reddit: app-only OAuth search and the anonymous .rss route through a real poll, against loopback servers."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer, Response
from tests.social_fakes import USER_AGENT_FORM, FakeReddit, answer, make_config, poll, stored_keys
from watcher.store import Store

CLIENT_ID = "p-jcoLKBynTLew"
CLIENT_SECRET = "gko_LXELoV07ZBNUXrvWZfzE3aI"
KEYWORDS = "coworking\ntiers-lieux -emploi\n"
ENV = {"REDDIT_CLIENT_ID": CLIENT_ID, "REDDIT_CLIENT_SECRET": CLIENT_SECRET}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "watch.db") as s:
        yield s


def feed(server: LoopbackServer, oauth: bool = True, extra: str = "") -> str:
    text = f"  - name: reddit\n    kind: reddit\n    base_url: {server.base}\n    username: veille_tl\n"
    if oauth:
        text += f"    oauth_url: {server.base}\n"
        text += "    client_id: ${REDDIT_CLIENT_ID}\n    client_secret: ${REDDIT_CLIENT_SECRET}\n"
    return text + extra


def test_oauth_token_then_searches_forward_by_name_across_three_polls(server: LoopbackServer, store: Store) -> None:
    fake = FakeReddit(server, CLIENT_ID, CLIENT_SECRET)
    fake.add(3)
    config = make_config(feed(server, extra="    queries: [coworking]\n"), KEYWORDS, ENV)
    one = poll(config, store)["reddit"]
    assert (one.status, one.items) == ("ok", 3)
    fake.add(130)  # more than one page of 100
    two = poll(config, store)["reddit"]
    assert (two.status, two.items, two.new_hits) == ("ok", 130, 130)
    fake.add(2)
    three = poll(config, store)["reddit"]
    assert (three.status, three.items, three.new_hits) == ("ok", 2, 2)
    keys = stored_keys(store, "reddit")
    assert sorted(keys) == sorted(p["name"] for p in fake.posts) and len(set(keys)) == 135

    [token] = server.hits("/api/v1/access_token")  # the token is kept between polls
    pair = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert token.method == "POST" and token.headers["authorization"] == f"Basic {pair}"
    assert token.body == b"grant_type=client_credentials"
    searches = server.hits("/search")
    user_agents = {r.headers["user-agent"] for r in [token, *searches]}
    assert len(user_agents) == 1 and USER_AGENT_FORM.match(user_agents.pop() or "")
    assert all(r.headers["authorization"].startswith("bearer ") for r in searches)
    assert all(r.query["sort"] == ["new"] and r.query["q"] == ["coworking"] for r in searches)
    assert [r.query.get("after") for r in searches] == [None, None, [fake.posts[-3 - 99]["name"]], None]
    cursor = json.dumps(store.states()["reddit"].cursor)
    assert CLIENT_SECRET not in cursor


def test_subreddits_are_searched_together_with_each_query_translated(server: LoopbackServer, store: Store) -> None:
    fake = FakeReddit(server, CLIENT_ID, CLIENT_SECRET)
    fake.add(1)
    config = make_config(feed(server, extra="    subreddits: [france, r/coworking]\n"), KEYWORDS, ENV)
    assert poll(config, store)["reddit"].status == "ok"
    searches = server.hits("/r/france+coworking/search")
    assert [r.query["q"][0] for r in searches] == ["coworking", '("tiers lieux" OR tierslieux) NOT emploi']
    assert all(r.query["restrict_sr"] == ["1"] for r in searches)


def test_post_fields_link_posts_keep_the_article_self_posts_the_permalink(server: LoopbackServer, store: Store) -> None:
    fake = FakeReddit(server, CLIENT_ID, CLIENT_SECRET)
    fake.add(2)
    poll(make_config(feed(server), KEYWORDS, ENV), store)
    hits = {h["author"]: h for h in store.hits()}
    link, text = hits["u/Lutin_des_bois"], hits["u/freelance_92"]
    assert link["url"] == fake.posts[0]["url"] and link["url"].startswith("https://www.ouest-france.fr/")
    assert text["url"] == "https://www.reddit.com" + fake.posts[1]["permalink"]
    assert link["engagement"] == {"points": 187, "comments": 64}
    assert link["publisher"] == "r/france" and "Sceaux" in text["text"]


def test_an_expired_token_is_renewed_once(server: LoopbackServer, store: Store) -> None:
    fake = FakeReddit(server, CLIENT_ID, CLIENT_SECRET)
    fake.add(1)
    config = make_config(feed(server, extra="    queries: [coworking]\n"), KEYWORDS, ENV)
    poll(config, store)
    fake.tokens.clear()
    fake.add(1)
    report = poll(config, store)["reddit"]
    assert (report.status, report.items) == ("ok", 1)
    assert len(server.hits("/api/v1/access_token")) == 2


def test_wrong_app_credentials_say_what_to_check(server: LoopbackServer, store: Store) -> None:
    FakeReddit(server, CLIENT_ID, "another-secret")
    report = poll(make_config(feed(server), KEYWORDS, ENV), store)["reddit"]
    assert report.status == "error"
    assert (report.error or "").startswith("Reddit refused the app credentials: check REDDIT_CLIENT_ID")
    assert CLIENT_SECRET not in (report.error or "")


def test_a_429_delays_the_next_poll_by_the_reset_seconds(server: LoopbackServer, store: Store) -> None:
    fake = FakeReddit(server, CLIENT_ID, CLIENT_SECRET)
    fake.search_answer = answer({"message": "Too Many Requests", "error": 429}, 429, {"x-ratelimit-reset": "7200"})
    config = make_config(feed(server), KEYWORDS, ENV)
    report = poll(config, store)["reddit"]
    assert report.status == "error" and "rate limit" in (report.error or "").lower()
    state = store.states()["reddit"]
    assert state.next_poll and state.last_poll
    assert (state.next_poll - state.last_poll).total_seconds() >= 7199


def test_without_credentials_the_rss_route_is_read_with_the_required_user_agent(
    server: LoopbackServer, store: Store
) -> None:
    FakeReddit(server)
    config = make_config(feed(server, oauth=False), "coworking\n")
    report = poll(config, store)["reddit"]
    assert (report.status, report.items, report.new_hits) == ("ok", 2, 2)
    [request] = server.hits("/search.rss")
    assert USER_AGENT_FORM.match(request.headers["user-agent"]) and "(by /u/veille_tl)" in request.headers["user-agent"]
    assert request.query["q"] == ["coworking"] and request.query["sort"] == ["new"]
    hits = {h["author"]: h for h in store.hits()}
    assert set(hits) == {"u/freelance_92", "u/Lutin_des_bois"}
    again = poll(config, store)["reddit"]  # the same answer: nothing older than the newest seen comes back
    assert (again.status, again.items) == ("ok", 0)


def test_an_anonymous_block_says_oauth_is_required(server: LoopbackServer, store: Store) -> None:
    server.route("/search.rss", Response(403, {"Content-Type": "text/html"}, b"<html>whoa there, pardner!</html>"))
    report = poll(make_config(feed(server, oauth=False), "coworking\n"), store)["reddit"]
    assert report.status == "error"
    assert (report.error or "").startswith("blocked: Reddit requires OAuth")
    assert "client_id" in (report.error or "")
