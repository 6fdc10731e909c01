"""Presence: the `presence:` configuration, snapshots against loopback APIs answering with real
captures, figures by hand and by file, and the comparative table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests import conftest
from tests.loopback import LoopbackServer, Response
from tests.presence_fakes import BLUESKY_HANDLE, FakeBlueskyAppView, FakeMastodonAccount, data
from watcher.cli import main
from watcher.config import load_config
from watcher.errors import ConfigError
from watcher.fetch import Fetcher
from watcher.presence import storage
from watcher.presence.accounts import accounts_of
from watcher.presence.snapshot import run_snapshot
from watcher.presence.table import rows_for
from watcher.store import Store
from watcher.types import Config

NOW = datetime(2026, 8, 2, 9, 0, tzinfo=UTC)  # the day after the Mastodon capture
LONG = timedelta(days=1000)  # reads back over every recorded post (both captures)


def presence_yaml(mastodon: str, bluesky: str, extra: str = "") -> str:
    return f"""feeds: []
settings:
  timeout: 5
presence:
  - name: Nous
    role: self
    accounts:
      mastodon: {{handle: mastodonpy_test, base_url: {mastodon}}}
      linkedin: manual
  - name: Le modèle
    role: model
    accounts:
      bluesky: {{handle: {BLUESKY_HANDLE}, base_url: {bluesky}}}
{extra}"""


def config_in(folder: Path, text: str) -> Config:
    (folder / "feeds.yaml").write_text(text, encoding="utf-8")
    (folder / "keywords.txt").write_text("coworking\n", encoding="utf-8")
    return load_config(folder / "feeds.yaml", folder / "keywords.txt", env={})


@pytest.fixture
def apis() -> Iterator[tuple[LoopbackServer, LoopbackServer]]:
    with LoopbackServer() as mastodon, LoopbackServer() as bluesky:
        yield mastodon, bluesky


def snapshot(config: Config, store: Store, now: datetime = NOW) -> dict[str, Any]:
    with Fetcher(user_agent="watcher-test", timeout=5, max_body_bytes=2_000_000) as fetcher:
        return {r.account: r for r in run_snapshot(config, store, fetcher, now, lookback=LONG)}


def dump(store: Store) -> list[list[Any]]:
    tables = ("presence_figures", "presence_posts")
    return [sorted(map(list, store.db.execute(f"SELECT * FROM {t}").fetchall())) for t in tables]


# --- configuration ----------------------------------------------------------------------------


def test_presence_list_is_read_with_roles_handles_and_api_addresses(tmp_path: Path) -> None:
    config = config_in(tmp_path, presence_yaml("http://127.0.0.1:1", "http://127.0.0.1:2"))
    accounts = {a.key: a for a in accounts_of(config.presence)}
    assert [o.role for o in config.presence] == ["self", "model"]
    assert accounts["Nous/mastodon"].base_url == "http://127.0.0.1:1"
    assert accounts["Nous/linkedin"].manual
    assert accounts["Le modèle/bluesky"].handle == BLUESKY_HANDLE


@pytest.mark.parametrize(
    ("accounts", "line", "message"),
    [
        ("      myspace: foo", 7, "unknown network 'myspace'"),
        ("      mastodon: not a handle", 7, "is not user@instance"),
        ("      mastodon: someone", 7, "needs its instance"),
        ("      bluesky: under_score.bsky.social", 7, "is not a handle"),
        ("      website: example.org/feed", 7, "is not an http(s) URL"),
        ("      linkedin: https://www.linkedin.com/company/x", 7, "has no free API"),
        ("      bluesky: {handle: x.bsky.social, base_url: ftp://x}", 7, "base_url 'ftp://x'"),
    ],
)
def test_a_bad_account_is_named_with_its_line(tmp_path: Path, accounts: str, line: int, message: str) -> None:
    text = f"feeds: []\npresence:\n  - name: Nous\n    role: self\n    accounts:\n      x: manual\n{accounts}\n"
    with pytest.raises(ConfigError) as caught:
        config_in(tmp_path, text)
    assert caught.value.line == line and message in caught.value.problem


def test_the_same_account_twice_is_refused_naming_the_first_line(tmp_path: Path) -> None:
    text = (
        "feeds: []\npresence:\n  - name: A\n    role: self\n    accounts:\n      mastodon: Foo@Mastodon.social\n"
        "  - name: B\n    role: competitor\n    accounts:\n      mastodon: '@foo@mastodon.social'\n"
    )
    with pytest.raises(ConfigError) as caught:
        config_in(tmp_path, text)
    assert caught.value.line == 10 and "already listed on line 6" in caught.value.problem


def test_check_names_file_and_line_of_a_bad_role_and_exits_2(tmp_path: Path) -> None:
    args = conftest.write_config(
        tmp_path, "feeds: []\npresence:\n  - name: A\n    role: boss\n    accounts:\n      x: manual\n", "a\n"
    )
    result = CliRunner().invoke(main, [*args, "check"])
    assert result.exit_code == 2
    assert "feeds.yaml:4: role 'boss'" in result.output and "Traceback" not in result.output


# --- snapshots and the table ------------------------------------------------------------------


def expected_bluesky(start: datetime) -> dict[str, Any]:
    """What the table must say, computed here from the recorded answers themselves."""
    profile = data("bluesky_get_profiles.json")["profiles"][0]
    own = [e["post"] for e in data("bluesky_author_feed.json")["feed"] if "reason" not in e]
    own = [p for p in own if datetime.fromisoformat(p["record"]["createdAt"].replace("Z", "+00:00")) >= start]
    engagement = [p["likeCount"] + p["repostCount"] + p["replyCount"] + p["quoteCount"] for p in own]
    best = own[engagement.index(max(engagement))]
    return {
        "followers": profile["followersCount"],
        "posts": len(own),
        "per_post": sum(engagement) / len(own),
        "best": f"https://bsky.app/profile/{BLUESKY_HANDLE}/post/{best['uri'].rsplit('/', 1)[1]}",
        "best_engagement": max(engagement),
    }


def test_table_figures_equal_those_of_the_recorded_answers(apis: Any, tmp_path: Path) -> None:
    mastodon, bluesky = apis
    FakeMastodonAccount(mastodon)
    FakeBlueskyAppView(bluesky)
    config = config_in(tmp_path, presence_yaml(mastodon.base, bluesky.base))
    with Store(tmp_path / "w.db") as store:
        results = snapshot(config, store)
        assert {k: r.status for k, r in results.items()} == {"Nous/mastodon": "ok", "Le modèle/bluesky": "ok"}
        keys = [a.key for a in accounts_of(config.presence)]
        start, end = datetime(2024, 1, 1, tzinfo=UTC), NOW
        table = rows_for(
            config.presence, storage.figures(store, keys), storage.posts(store, keys, start, end), start, end
        )
    # Bluesky: three pages asked (two recorded, the empty end), each with the previous cursor
    pages = bluesky.hits("/xrpc/app.bsky.feed.getAuthorFeed")
    assert [r.query.get("cursor", [""])[0] for r in pages][1:] == [
        data("bluesky_author_feed.json")["feed"][24]["post"]["indexedAt"],
        data("bluesky_author_feed.json")["cursor"],
    ]
    row = table["bluesky"][0]
    want = expected_bluesky(start)
    assert (row.organisation, row.followers, row.posts) == ("Le modèle", want["followers"], want["posts"])
    assert row.engagement_per_post == pytest.approx(want["per_post"])
    assert row.engagement_per_1000 == pytest.approx(want["per_post"] / want["followers"] * 1000)
    assert row.best_post is not None and row.best_post.link == want["best"]
    assert row.best_post.engagement == want["best_engagement"]
    assert row.change is None  # one reading: no change can be told, and none is made up
    # Mastodon: the two recorded pages followed by their Link header, then the empty page
    statuses = mastodon.hits("/api/v1/accounts/117020565966271181/statuses")
    assert [r.query.get("max_id", [""])[0] for r in statuses] == ["", "117020580489281910", "117020580452511285"]
    lookup = data("mastodon_lookup.json")
    ours = table["mastodon"][0]
    assert (ours.followers, ours.posts) == (lookup["followers_count"], 10)
    assert ours.engagement_per_post == 0 and ours.engagement_per_1000 is None  # 0 followers: no ratio
    # LinkedIn, read by hand and never recorded: every figure unknown
    linkedin = table["linkedin"][0]
    assert (linkedin.followers, linkedin.posts_per_week, linkedin.engagement_per_post) == (None, None, None)


def test_a_second_snapshot_the_same_day_changes_nothing(apis: Any, tmp_path: Path) -> None:
    mastodon, bluesky = apis
    FakeMastodonAccount(mastodon)
    FakeBlueskyAppView(bluesky)
    config = config_in(tmp_path, presence_yaml(mastodon.base, bluesky.base))
    with Store(tmp_path / "w.db") as store:
        snapshot(config, store)
        first = dump(store)
        snapshot(config, store, NOW + timedelta(hours=3))
        assert dump(store) == first
        assert len(first[0]) == 6 and len(first[1]) == 10 + expected_bluesky(datetime(2000, 1, 1, tzinfo=UTC))["posts"]


@pytest.mark.parametrize(
    "answer",
    [
        Response(429, {"Retry-After": "120", "Content-Type": "application/json"}, b'{"error":"RateLimitExceeded"}'),
        Response(500, {"Content-Type": "text/plain"}, b"Internal Server Error"),
        Response(200, {"Content-Type": "text/html"}, b"<!DOCTYPE html><html><body>Maintenance</body></html>"),
        Response(200, {"Content-Type": "application/json"}, b'{"feed": "nope", "followersCount": "many"}'),
        Response(200, {"Content-Type": "application/json"}, b"[1, 2, 3]"),
    ],
    ids=["429", "500", "html", "other-shape", "a-list"],
)
def test_a_failing_network_leaves_the_other_snapshots_and_its_own_past_intact(
    apis: Any, tmp_path: Path, answer: Response
) -> None:
    mastodon, bluesky = apis
    FakeMastodonAccount(mastodon)
    fake = FakeBlueskyAppView(bluesky)
    config = config_in(tmp_path, presence_yaml(mastodon.base, bluesky.base))
    with Store(tmp_path / "w.db") as store:
        snapshot(config, store, NOW - timedelta(days=1))  # yesterday: both fine
        before = dump(store)
        fake.fail_with = answer
        results = snapshot(config, store)
        assert results["Nous/mastodon"].status == "ok"
        assert results["Le modèle/bluesky"].status == "error"
        error = results["Le modèle/bluesky"].error
        assert error.startswith(f"bluesky {BLUESKY_HANDLE}:") and "\n" not in error
        figures, posts = dump(store)
        assert [r for r in before[0] if r[0] == "Le modèle/bluesky"] == [
            r for r in figures if r[0] == "Le modèle/bluesky"
        ]
        assert {r[1] for r in figures if r[0] == "Nous/mastodon"} == {"2026-08-01", "2026-08-02"}
        assert len(posts) == len(before[1])
        state = storage.snapshot_states(store)["Le modèle/bluesky"]
        assert state["last_error"] == error and state["last_success"] is not None


# --- figures by hand and by file ----------------------------------------------------------------


def test_record_and_import_feed_the_table_and_a_bad_line_stores_nothing(tmp_path: Path) -> None:
    args = conftest.write_config(tmp_path, presence_yaml("http://127.0.0.1:9", "http://127.0.0.1:9"), "a\n")
    runner = CliRunner()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "date,account,metric,value\n2026-07-01,Nous/linkedin,followers,120\n2026-07-02,Nous/facebook,followers,3\n"
    )
    result = runner.invoke(main, [*args, "presence", "import", str(bad)])
    assert result.exit_code == 2 and "bad.csv:3: no account 'Nous/facebook'" in result.output
    good = tmp_path / "good.csv"
    today = datetime.now(UTC).date()
    good.write_text(
        f"date,account,metric,value\n{today - timedelta(days=80)},Nous/linkedin,followers,120\n"
        f"{today - timedelta(days=80)},Nous/linkedin,posts,40\n{today},Nous/linkedin,posts,52\n"
    )
    result = runner.invoke(main, [*args, "presence", "import", str(good)])
    assert result.exit_code == 0 and "3 figures recorded" in result.output
    result = runner.invoke(main, [*args, "presence", "record", "Nous/linkedin", "followers", "150"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, [*args, "presence", "record", "Nous/linkedin", "likes", "3"])
    assert result.exit_code == 2 and "unknown metric 'likes'" in result.output
    result = runner.invoke(main, [*args, "presence", "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)["networks"]["linkedin"][0]
    assert (row["followers"], row["followers_change"]) == (150, 30)
    assert row["posts_per_week"] == pytest.approx(12 / (90 / 7), abs=0.01)
    assert row["engagement_per_post"] is None and row["best_post"] is None
    text = runner.invoke(main, [*args, "presence"]).output
    assert "* Nous" in text.splitlines()[text.splitlines().index("linkedin") + 2] and "–" in text
    csv_out = runner.invoke(main, [*args, "presence", "--csv"]).output
    assert csv_out.splitlines()[0].startswith("organisation,role,network")


def test_the_daemon_reads_each_account_once_a_day(apis: Any, tmp_path: Path) -> None:
    from watcher.daemon import Daemon

    mastodon, bluesky = apis
    FakeMastodonAccount(mastodon)
    FakeBlueskyAppView(bluesky)
    config = config_in(tmp_path, presence_yaml(mastodon.base, bluesky.base))
    clock = [NOW]
    daemon = Daemon(tmp_path / "feeds.yaml", tmp_path / "keywords.txt", tmp_path / "w.db", clock=lambda: clock[0])
    with Store(tmp_path / "w.db") as store, Fetcher(user_agent="t", timeout=5, max_body_bytes=2_000_000) as fetcher:
        for hours in (0, 1, 5):  # three cycles the same day: one reading
            clock[0] = NOW + timedelta(hours=hours)
            daemon.cycle(store, fetcher, config)
        assert len(bluesky.hits("/xrpc/app.bsky.actor.getProfile")) == 1
        assert len(mastodon.hits("/api/v1/accounts/lookup")) == 1
        clock[0] = NOW + timedelta(days=1)  # the next day: read again
        daemon.cycle(store, fetcher, config)
        assert len(bluesky.hits("/xrpc/app.bsky.actor.getProfile")) == 2
        days = store.db.execute("SELECT DISTINCT day FROM presence_figures ORDER BY day").fetchall()
        assert [d[0] for d in days] == ["2026-08-02", "2026-08-03"]


def test_a_link_header_leading_to_another_host_is_not_followed() -> None:
    from watcher.presence.networks import next_link

    base = "https://mastodon.example"
    page = f"{base}/api/v1/accounts/1/statuses"
    own = f'<{page}?max_id=5>; rel="next", <{page}?min_id=9>; rel="prev"'
    assert next_link(own, base) == f"{page}?max_id=5"
    assert next_link('<https://elsewhere.example/x?max_id=5>; rel="next"', base) is None
    assert next_link(f'<{base}/x?min_id=9>; rel="prev"', base) is None and next_link(None, base) is None


def test_a_websites_visits_come_from_its_matomo_with_the_token_in_the_body_only(tmp_path: Path) -> None:
    from tests.feedgen import Entry, rss
    from tests.presence_fakes import FakeMatomo

    with LoopbackServer() as site:
        site.route(
            "/feed", Response(200, {"Content-Type": "application/rss+xml"}, rss([Entry("Hello", site.url("/a"))]))
        )
        FakeMatomo(site, "s3cret-token")
        text = (
            "feeds: []\npresence:\n  - name: Nous\n    role: self\n    accounts:\n      website:\n"
            f"        handle: {site.url('/feed')}\n        matomo:\n          url: {site.base}\n"
            "          site_id: 1\n          token: ${MATOMO_TOKEN}\n"
        )
        (tmp_path / "feeds.yaml").write_text(text, encoding="utf-8")
        (tmp_path / "keywords.txt").write_text("a\n", encoding="utf-8")
        config = load_config(tmp_path / "feeds.yaml", tmp_path / "keywords.txt", env={"MATOMO_TOKEN": "s3cret-token"})
        with Store(tmp_path / "w.db") as store:
            results = snapshot(config, store, datetime(2010, 3, 8, tzinfo=UTC))
            assert results["Nous/website"].status == "ok"
            rows = store.db.execute("SELECT day, metric, value, origin FROM presence_figures").fetchall()
        assert [tuple(r) for r in rows] == [("2010-03-06", "visits", 2, "matomo")]  # the empty period: no figure
        calls = site.hits("/index.php")
        assert calls and all("s3cret" not in r.raw_query for r in calls)
        with pytest.raises(ConfigError) as caught:  # a token written in clear is refused
            config_in(tmp_path, text.replace("${MATOMO_TOKEN}", "s3cret-token"))
        assert "token must be ${A_VARIABLE}" in caught.value.problem
