"""A burst larger than a poll's page limit is read whole over the next polls: where the reading
stopped is kept (the source's backlog) and the next polls go on from there down to where the poll
before had stopped, while the newest posts are still read first. Against the loopback fakes of
tests/social_fakes.py, built on the networks' real answers."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer
from tests.social_fakes import (
    FakeAlgolia,
    FakeBluesky,
    FakeMastodon,
    FakeReddit,
    answer,
    make_config,
    poll,
    stored_keys,
)
from watcher import status
from watcher.sources import bluesky, hackernews, mastodon, reddit
from watcher.store import Store

KEYWORDS = "coworking\n"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "watch.db") as s:
        yield s


def backlog(store: Store, name: str) -> object:
    return store.states()[name].cursor.get("backlog")


def test_reddit_reads_a_burst_beyond_its_page_limit_over_the_next_polls(server: LoopbackServer, store: Store) -> None:
    fake = FakeReddit(server, "client", "secret")
    env = {"REDDIT_CLIENT_ID": "client", "REDDIT_CLIENT_SECRET": "secret"}
    feed = (
        f"  - name: reddit\n    kind: reddit\n    base_url: {server.base}\n    oauth_url: {server.base}\n"
        "    username: veille_tl\n    client_id: ${REDDIT_CLIENT_ID}\n    client_secret: ${REDDIT_CLIENT_SECRET}\n"
    )
    config = make_config(feed, KEYWORDS, env)
    fake.add(2)
    poll(config, store)
    burst = reddit.PAGE * reddit.MAX_PAGES * 2 + 40  # two polls' worth and more
    fake.add(burst)
    polls = 0
    while backlog(store, "reddit") or polls == 0:
        report = poll(config, store)["reddit"]
        assert report.status == "ok", report.error
        polls += 1
        if polls == 1:
            assert backlog(store, "reddit")  # the limit was reached: the rest is kept for later
        fake.add(1)  # and a new post each time, read first
        assert polls < 10
    poll(config, store)
    assert polls == 3
    keys = stored_keys(store, "reddit")
    assert len(keys) == len(set(keys)) == len(fake.posts)  # every post, none twice


def test_hacker_news_reads_a_burst_beyond_its_page_limit_over_the_next_polls(
    server: LoopbackServer, store: Store
) -> None:
    fake = FakeAlgolia(server)
    config = make_config(f"  - name: hn\n    kind: hackernews\n    base_url: {server.base}\n", KEYWORDS)
    fake.add(2)
    poll(config, store)
    fake.add(hackernews.PAGE * hackernews.MAX_PAGES * 2 + 30)  # two polls' worth and more
    polls = 0
    while backlog(store, "hn") or polls == 0:
        report = poll(config, store)["hn"]
        assert report.status == "ok", report.error
        polls += 1
        if polls == 1:
            assert backlog(store, "hn")
        fake.add(1)
        assert polls < 10
    poll(config, store)
    assert polls == 3
    keys = stored_keys(store, "hn")
    assert len(keys) == len(set(keys)) == len(fake.hits)


def test_bluesky_reads_a_burst_beyond_its_page_limit_over_the_next_polls(server: LoopbackServer, store: Store) -> None:
    handle, password = "veille-tierslieu.bsky.social", "abcd-efgh-ijkl-mnop"
    fake = FakeBluesky(server, handle, password)
    feed = (
        f"  - name: bsky\n    kind: bluesky\n    base_url: {server.base}\n"
        "    handle: ${BLUESKY_HANDLE}\n    app_password: ${BLUESKY_APP_PASSWORD}\n"
    )
    config = make_config(feed, KEYWORDS, {"BLUESKY_HANDLE": handle, "BLUESKY_APP_PASSWORD": password})
    fake.add(2)
    poll(config, store)
    fake.add(bluesky.PAGE * bluesky.MAX_PAGES * 2 + 30)  # two polls' worth and more
    polls = 0
    while backlog(store, "bsky") or polls == 0:
        report = poll(config, store)["bsky"]
        assert report.status == "ok", report.error
        polls += 1
        if polls == 1:
            assert backlog(store, "bsky")
        fake.add(1)
        assert polls < 10
    poll(config, store)
    assert polls == 3
    keys = stored_keys(store, "bsky")
    assert len(keys) == len(set(keys)) == len(fake.posts)


def test_mastodon_search_reads_a_burst_beyond_its_page_limit_over_the_next_polls(
    server: LoopbackServer, store: Store
) -> None:
    fake = FakeMastodon(server, token="tok-123")
    server.route("/api/v1/timelines/tag/calme", answer([]))  # a quiet hashtag: the posts come by search only
    feed = (
        f"  - name: masto\n    kind: mastodon\n    base_url: {server.base}\n    hashtags: [calme]\n"
        "    access_token: ${MASTODON_TOKEN}\n"
    )
    config = make_config(feed, KEYWORDS, {"MASTODON_TOKEN": "tok-123"})
    fake.add(2)
    poll(config, store)
    fake.add(mastodon.PAGE * mastodon.MAX_PAGES * 2 + 25)  # two polls' worth and more
    polls = 0
    while backlog(store, "masto") or polls == 0:
        report = poll(config, store)["masto"]
        assert report.status == "ok", report.error
        polls += 1
        if polls == 1:  # the limit was reached: the rest is kept for later, and status counts it
            assert status.backlog(json.dumps(store.states()["masto"].cursor)) == 1
            assert report.items == mastodon.PAGE * mastodon.MAX_PAGES
        fake.add(1)  # and a new post each time, read first
        assert polls < 10
    poll(config, store)
    assert polls == 3
    keys = stored_keys(store, "masto")
    assert len(keys) == len(set(keys)) == len(fake.statuses)  # every post, none twice
    searches = server.hits("/api/v2/search")
    assert all(r.headers["authorization"] == "Bearer tok-123" for r in searches)
    assert all(int(r.query["limit"][0]) <= 40 for r in searches)


def test_status_reports_the_searches_still_catching_up(server: LoopbackServer, tmp_path: Path) -> None:
    fake = FakeAlgolia(server)
    (tmp_path / "feeds.yaml").write_text(
        f"feeds:\n  - name: hn\n    kind: hackernews\n    base_url: {server.base}\n", encoding="utf-8"
    )
    (tmp_path / "keywords.txt").write_text(KEYWORDS, encoding="utf-8")
    args = ["--feeds", str(tmp_path / "feeds.yaml"), "--keywords", str(tmp_path / "keywords.txt")]
    args += ["--db", str(tmp_path / "watch.db")]

    def watcher(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "watcher", *args, *command], capture_output=True, text=True, timeout=120
        )

    fake.add(2)
    assert watcher("poll", "--all").returncode == 0
    fake.add(hackernews.PAGE * hackernews.MAX_PAGES + 10)
    assert watcher("poll", "--all").returncode == 0
    status = watcher("status", "--json")
    assert status.returncode == 0, status.stderr
    [source] = json.loads(status.stdout)["sources"]
    assert source["backlog"] == 1
    human = watcher("status")
    assert "catching up on 1 search" in human.stdout
    assert watcher("poll", "--all").returncode == 0
    [source] = json.loads(watcher("status", "--json").stdout)["sources"]
    assert source["backlog"] == 0
