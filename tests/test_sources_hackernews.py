"""Hacker News: Algolia search_by_date forward from the newest created_at_i, through a real poll."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer
from tests.social_fakes import FakeAlgolia, make_config, poll, stored_keys
from watcher.store import Store

PATH = "/api/v1/search_by_date"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "watch.db") as s:
        yield s


def feed(server: LoopbackServer) -> str:
    # Hacker News is in English: the source reads it, whatever the watch's own language
    return f"  - name: hn\n    kind: hackernews\n    base_url: {server.base}\n    languages: [en]\n"


def test_three_polls_go_forward_by_created_at_i_without_gaps_or_repeats(server: LoopbackServer, store: Store) -> None:
    fake = FakeAlgolia(server)
    fake.add(3)
    config = make_config(feed(server), "coworking\n")
    one = poll(config, store)["hn"]
    assert (one.status, one.items) == ("ok", 3)
    fake.add(230)  # three pages of 100
    two = poll(config, store)["hn"]
    assert (two.status, two.items, two.new_hits) == ("ok", 230, 230)
    fake.add(2, same_second=True)  # a story in the same second as the newest one seen
    three = poll(config, store)["hn"]
    assert (three.status, three.items, three.new_hits) == ("ok", 2, 2)
    keys = stored_keys(store, "hn")
    assert sorted(keys) == sorted(h["objectID"] for h in fake.hits) and len(set(keys)) == 235

    requests = server.hits(PATH)
    assert "numericFilters" not in requests[0].query  # a first poll reads the newest page only
    newest_first_poll = fake.hits[2]["created_at_i"]
    assert requests[1].query["numericFilters"] == [f"created_at_i>={newest_first_poll}"]
    assert f"numericFilters=created_at_i%3E%3D{newest_first_poll}" in requests[1].raw_query
    assert [r.query["page"] for r in requests[1:4]] == [["0"], ["1"], ["2"]]
    assert all(r.query["tags"] == ["story"] and r.query["query"] == ["coworking"] for r in requests)


def test_ask_hn_without_url_links_to_its_item_page_and_keeps_points(server: LoopbackServer, store: Store) -> None:
    fake = FakeAlgolia(server)
    ask, story = fake.add(2)
    poll(make_config(feed(server), "coworking\n"), store)
    hits = {h["url"]: h for h in store.hits()}
    ask_hit = hits[f"https://news.ycombinator.com/item?id={ask}"]
    assert ask_hit["author"] == "jdoe" and ask_hit["engagement"] == {"points": 5, "comments": 2}
    assert "what we learned" in ask_hit["text"] and "&#x27;" not in ask_hit["text"]
    story_hit = hits[f"https://example.com/coworking-story-{story}"]
    assert story_hit["engagement"] == {"points": 88, "comments": 31}


def test_or_queries_become_several_searches_and_exclusions_stay_local(server: LoopbackServer, store: Store) -> None:
    fake = FakeAlgolia(server)
    fake.add(1)
    poll(make_config(feed(server), "coworking OR fablab Sceaux\ncoworking -emploi\n"), store)
    asked = [r.query["query"][0] for r in server.hits(PATH)]
    assert asked == ["coworking Sceaux", "fablab Sceaux", "coworking"]
