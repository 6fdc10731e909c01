"""Mastodon: hashtag timelines polled forward through a real poll, against a loopback instance."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer, Response
from tests.social_fakes import FakeMastodon, make_config, poll, stored_keys
from watcher.fetch import rate_limit_reset
from watcher.store import Store

KEYWORDS = "tiers-lieux\ncoworking\n"
PATH = "/api/v1/timelines/tag/tierslieux"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "watch.db") as s:
        yield s


def feed(server: LoopbackServer, extra: str = "") -> str:
    return f"  - name: masto\n    kind: mastodon\n    base_url: {server.base}\n    queries: [tiers-lieux]\n{extra}"


def test_three_polls_walk_forward_with_min_id_without_gaps_or_repeats(server: LoopbackServer, store: Store) -> None:
    fake = FakeMastodon(server)
    first = fake.add(3)
    config = make_config(feed(server), KEYWORDS)

    one = poll(config, store)["masto"]
    assert (one.status, one.items) == ("ok", 3)
    second = fake.add(45)  # more than one page of 40
    two = poll(config, store)["masto"]
    assert (two.status, two.items, two.new_hits) == ("ok", 45, 45)
    third = fake.add(2)
    three = poll(config, store)["masto"]
    assert (three.status, three.items, three.new_hits) == ("ok", 2, 2)

    every = [s["uri"] for s in fake.statuses]
    keys = stored_keys(store, "masto")
    assert sorted(keys) == sorted(every) and len(keys) == len(set(keys)) == 50
    sent = [r.query.get("min_id", [None])[0] for r in server.hits(PATH)]
    # first poll: the newest page only; then from the newest id seen, page after page, until an
    # empty page; the third poll starts where the second ended
    assert sent == [None, first[-1], second[39], second[-1], second[-1], third[-1]]
    assert all(r.query["limit"] == ["40"] for r in server.hits(PATH))


def test_status_fields_author_engagement_reuse_signals_and_global_id(server: LoopbackServer, store: Store) -> None:
    fake = FakeMastodon(server)
    fake.add(2)
    poll(make_config(feed(server), KEYWORDS), store)
    hits = {h["author"]: h for h in store.hits()}
    local, remote = hits["@camille_tl@mastodon.social"], hits["@dominique@piaille.fr"]
    assert local["engagement"] == {"likes": 12, "reposts": 5, "replies": 2, "quotes": 0}
    assert local["no_reuse"] is False
    assert remote["no_reuse"] is True  # #nobot in the bio (and not indexable)
    assert local["title"] == "" and "TiersLieux" in local["text"]
    assert local["url"] == fake.statuses[0]["url"]
    row = store.db.execute("SELECT global_id FROM items WHERE id = ?", (local["id"],)).fetchone()
    assert row[0] == fake.statuses[0]["uri"]


def test_the_same_status_through_two_instances_is_one_hit(server: LoopbackServer, store: Store) -> None:
    fake = FakeMastodon(server)
    fake.add(1)
    feeds = feed(server) + feed(server).replace("name: masto", "name: other")
    poll(make_config(feeds, KEYWORDS), store)
    [hit] = store.hits()
    assert sorted(hit["sources"]) == ["masto", "other"]


def test_hashtags_are_derived_from_the_queries(server: LoopbackServer, store: Store) -> None:
    for tag in ("tierslieux", "equilibredevie", "coworking"):
        server.route(f"/api/v1/timelines/tag/{tag}", Response(200, {"Content-Type": "application/json"}, b"[]"))
    config = make_config(
        f"  - name: masto\n    kind: mastodon\n    base_url: {server.base}\n",
        'tiers-lieux\n"équilibre de vie"\ncoworking -recrutement\n',
    )
    assert poll(config, store)["masto"].status == "ok"
    asked = [r.path.rsplit("/", 1)[1] for r in server.requests]
    assert asked == ["tierslieux", "equilibredevie", "coworking"]


def test_an_access_token_is_sent_and_enables_status_search(server: LoopbackServer, store: Store) -> None:
    fake = FakeMastodon(server, token="tok-123")
    fake.add(1)
    server.route(
        "/api/v2/search",
        Response(200, {"Content-Type": "application/json"}, b'{"accounts":[],"statuses":[],"hashtags":[]}'),
    )
    config = make_config(
        feed(server, "    access_token: ${MASTODON_TOKEN}\n"), KEYWORDS, env={"MASTODON_TOKEN": "tok-123"}
    )
    report = poll(config, store)["masto"]
    assert report.status == "ok" and report.items == 1
    [search] = server.hits("/api/v2/search")
    assert search.headers["authorization"] == "Bearer tok-123"
    assert search.query["q"] == ['"tiers lieux"'] and search.query["type"] == ["statuses"]
    assert server.hits(PATH)[0].headers["authorization"] == "Bearer tok-123"


def test_a_timeline_that_needs_login_says_what_to_do(server: LoopbackServer, store: Store) -> None:
    fake = FakeMastodon(server, token="secret-token")
    fake.add(1)
    report = poll(make_config(feed(server), KEYWORDS), store)["masto"]
    assert report.status == "error"
    assert "access_token" in (report.error or "") and "401" in (report.error or "")
    state = store.states()["masto"]
    assert state.next_poll and state.last_poll
    assert (state.next_poll - state.last_poll).total_seconds() >= 6 * 3600  # a person must act


def test_a_429_delays_the_next_poll_until_the_iso_reset(server: LoopbackServer, store: Store) -> None:
    fake = FakeMastodon(server)
    fake.add(1)
    config = make_config(feed(server), KEYWORDS)
    poll(config, store)
    reset = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    stamp = reset.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    fake.status = Response(
        429, {"Content-Type": "application/json", "X-RateLimit-Reset": stamp}, b'{"error":"Too many requests"}'
    )
    report = poll(config, store)["masto"]
    assert report.status == "error" and "rate limit" in (report.error or "")
    state = store.states()["masto"]
    assert state.next_poll is not None and state.next_poll >= reset
    assert poll(config, store, everything=False) == {}  # not due before the reset
    assert rate_limit_reset({"x-ratelimit-reset": stamp}, state.next_poll) == 0
