"""score: points per part, their sum, clamping, and the breakdown in words."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from watcher.score import explain, score
from watcher.types import Item, Query, QueryMatch

NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)


def _item(age: timedelta = timedelta(hours=2), engagement: Mapping[str, int] | None = None) -> Item:
    return Item(
        source="feed",
        key="k",
        url="https://exemple.fr/a",
        canonical_url="https://exemple.fr/a",
        title="Un tiers-lieu ouvre",
        text="Texte",
        published=NOW - age,
        engagement=dict(engagement or {}),
    )


def _match(text: str = "tiers-lieu", *, title: bool = True, body: bool = False, weight: float = 1.0) -> QueryMatch:
    return QueryMatch(query=Query(text=text, line=1, tree=None, weight=weight), in_title=title, in_body=body)


def _parts(breakdown: Mapping[str, float]) -> float:
    return sum(v for k, v in breakdown.items() if not k.startswith("_"))


def test_no_match_scores_zero_with_empty_breakdown() -> None:
    assert score(_item(), [], source_weight=1.0, now=NOW) == (0, {})


def test_title_match_scores_more_than_body_only_match() -> None:
    in_title, bt = score(_item(), [_match(title=True)], source_weight=1.0, now=NOW)
    in_body, bb = score(_item(), [_match(title=False, body=True)], source_weight=1.0, now=NOW)
    assert in_title > in_body
    assert bt["title"] > bb["body"]
    assert "body" not in bt and "title" not in bb


@pytest.mark.parametrize(
    ("queries", "points"),
    [
        pytest.param(["a"], None, id="one-query-no-bonus"),
        pytest.param(["a", "a"], None, id="same-query-twice-counts-once"),
        pytest.param(["a", "b"], 10.0, id="two-queries"),
        pytest.param(["a", "b", "c"], 20.0, id="three-queries"),
        pytest.param(["a", "b", "c", "d", "e"], 20.0, id="capped-at-20"),
    ],
)
def test_extra_distinct_queries_add_ten_each_up_to_twenty(queries: list[str], points: float | None) -> None:
    _, breakdown = score(_item(), [_match(q) for q in queries], source_weight=1.0, now=NOW)
    assert breakdown.get("queries") == points


AGES = [
    timedelta(hours=-3),
    timedelta(0),
    timedelta(hours=12),
    timedelta(hours=23),
    timedelta(days=2),
    timedelta(days=3),
    timedelta(days=7),
    timedelta(days=14),
    timedelta(days=60),
    timedelta(days=365),
    timedelta(days=365 * 14),
]


def test_freshness_decays_with_age_full_under_a_day_half_at_three_zero_at_fourteen_then_negative() -> None:
    fresh = {age: score(_item(age), [_match()], source_weight=1.0, now=NOW)[1]["freshness"] for age in AGES}
    values = [fresh[a] for a in AGES]
    assert values == sorted(values, reverse=True)
    assert fresh[timedelta(hours=-3)] == fresh[timedelta(hours=23)] == 20
    assert fresh[timedelta(days=3)] == pytest.approx(10, abs=0.5)
    assert fresh[timedelta(days=14)] == 0
    assert fresh[timedelta(days=60)] == pytest.approx(-8.9, abs=0.1)
    assert fresh[timedelta(days=365)] == fresh[timedelta(days=365 * 14)] == -20


def test_a_post_of_years_ago_scores_below_the_same_post_of_today() -> None:
    today = score(_item(timedelta(hours=2)), [_match()], source_weight=1.0, now=NOW)[0]
    archive = score(_item(timedelta(days=365 * 13)), [_match()], source_weight=1.0, now=NOW)
    assert archive[0] == today - 40 and "old: 13 years old (-20)" in explain(archive[1])


ENGAGEMENTS = [
    {},
    {"likes": 1},
    {"likes": 9},
    {"likes": 20, "reposts": 5, "replies": 5},
    {"points": 150, "comments": 80},
    {"likes": 5000},
    {"likes": 1_000_000, "reposts": 1_000_000},
]


def test_engagement_is_log_scaled_monotonic_and_capped_at_fifteen() -> None:
    pts = [score(_item(engagement=e), [_match()], source_weight=1.0, now=NOW)[1]["engagement"] for e in ENGAGEMENTS]
    assert pts == sorted(pts)
    assert pts[0] == 0
    assert 0 < pts[1] < 5 <= pts[2] < 10
    assert pts[-1] <= 15
    # log scale: ten times the likes does not give ten times the points
    ten, hundred = (score(_item(engagement={"likes": n}), [_match()], source_weight=1.0, now=NOW) for n in (10, 100))
    assert hundred[1]["engagement"] < 2 * ten[1]["engagement"]


def test_reposts_count_double() -> None:
    _, likes = score(_item(engagement={"likes": 10}), [_match()], source_weight=1.0, now=NOW)
    _, reposts = score(_item(engagement={"reposts": 5}), [_match()], source_weight=1.0, now=NOW)
    assert likes["engagement"] == reposts["engagement"]
    assert likes["_interactions"] == reposts["_interactions"] == 10


SUM_CASES = [
    pytest.param(timedelta(hours=1), {}, ["a"], 1.0, 1.0, id="plain"),
    pytest.param(timedelta(days=4), {"likes": 35}, ["a", "b"], 1.0, 1.0, id="older-with-likes"),
    pytest.param(timedelta(hours=5), {"points": 300}, ["a", "b", "c"], 1.0, 1.5, id="source-weight-up"),
    pytest.param(timedelta(days=1, hours=5), {}, ["a"], 0.5, 1.0, id="query-weight-down"),
    pytest.param(timedelta(days=30), {"likes": 2}, ["a"], 2.0, 0.8, id="both-weights"),
]


@pytest.mark.parametrize(("age", "engagement", "queries", "qweight", "sweight"), SUM_CASES)
def test_breakdown_parts_add_up_to_score(
    age: timedelta, engagement: dict[str, int], queries: list[str], qweight: float, sweight: float
) -> None:
    matches = [_match(q, weight=qweight) for q in queries]
    value, breakdown = score(_item(age, engagement), matches, source_weight=sweight, now=NOW)
    total = _parts(breakdown)
    assert 0 <= value <= 100
    assert abs(value - min(100.0, max(0.0, total))) <= 0.5
    weighted = total - breakdown.get("weight", 0.0)
    assert total == pytest.approx(weighted * qweight * sweight, abs=0.11)


def test_weight_is_largest_matched_query_weight_times_source_weight() -> None:
    matches = [_match("a", weight=0.5), _match("b", weight=2.0)]
    boosted, up = score(_item(), matches, source_weight=1.5, now=NOW)
    assert up["_query_weight"] == 2.0 and up["_source_weight"] == 1.5
    subtotal = _parts(up) - up["weight"]
    assert up["weight"] == pytest.approx(subtotal * 2.0, abs=0.1)  # x3 adds twice the subtotal
    assert _parts(up) > 100
    assert boosted == 100  # clamped


def test_weight_below_one_removes_points_and_weight_one_adds_no_key() -> None:
    same, neutral = score(_item(), [_match()], source_weight=1.0, now=NOW)
    lower, reduced = score(_item(), [_match()], source_weight=0.5, now=NOW)
    assert "weight" not in neutral
    assert reduced["weight"] < 0
    assert lower < same


def test_informational_keys_start_with_underscore_and_add_nothing() -> None:
    value, breakdown = score(_item(engagement={"likes": 35}), [_match()], source_weight=1.0, now=NOW)
    info = {k for k in breakdown if k.startswith("_")}
    assert {"_age_hours", "_interactions", "_queries", "_query_weight", "_source_weight"} <= info
    assert abs(value - _parts(breakdown)) <= 0.5


# --------------------------------------------------------------------- explain


def test_explain_words_each_part() -> None:
    matches = [_match("a"), _match("b"), _match("c")]
    _, breakdown = score(_item(engagement={"likes": 35}), matches, source_weight=1.5, now=NOW)
    text = explain(breakdown)
    clauses = text.split("; ")
    assert clauses[0] == "matched in the title (+40)"
    assert clauses[1] == "2 more queries (+20)"
    assert clauses[2] == "fresh: 2 hours old (+20)"
    assert clauses[3].startswith("35 likes, reposts and replies (+7.")
    assert clauses[4].startswith("source weight 1.5 (x1.5, +")
    assert len(clauses) == len([k for k in breakdown if not k.startswith("_")])


@pytest.mark.parametrize(
    ("breakdown", "expected"),
    [
        pytest.param({}, "no query matched", id="empty"),
        pytest.param(
            {"body": 20.0, "freshness": 10.0, "engagement": 0.0, "_age_hours": 72.0, "_interactions": 0.0},
            "matched in the text (+20); 3 days old (+10); 0 likes, reposts and replies (+0)",
            id="body-older",
        ),
        pytest.param(
            {"title": 40.0, "queries": 10.0, "_queries": 2.0, "weight": -25.0, "_query_weight": 0.5},
            "matched in the title (+40); 1 more query (+10); query weight 0.5 (x0.5, -25)",
            id="one-more-query-and-lower-weight",
        ),
        pytest.param(
            {"title": 40.0, "freshness": 20.0, "_age_hours": 0.25},
            "matched in the title (+40); fresh: 15 minutes old (+20)",
            id="minutes",
        ),
        pytest.param({"bonus": 5.0}, "bonus (+5)", id="unknown-part-named"),
    ],
)
def test_explain(breakdown: dict[str, float], expected: str) -> None:
    assert explain(breakdown) == expected
