"""Queries in each network's search syntax, and the hashtags they suggest (pure)."""

from __future__ import annotations

import pytest

from watcher.query import parse_query
from watcher.sources.syntax import BLUESKY, HACKERNEWS, MASTODON, REDDIT, Dialect, hashtags, translate

CASES = [
    # query, Bluesky (Lucene), Reddit, Hacker News (no OR, no exclusion), Mastodon (no OR)
    ("coworking", ["coworking"], ["coworking"], ["coworking"], ["coworking"]),
    (
        "tiers-lieux",
        ['("tiers lieux" OR tierslieux)'],
        ['("tiers lieux" OR tierslieux)'],
        ['"tiers lieux"'],
        ['"tiers lieux"'],
    ),
    (
        '"équilibre de vie"',
        ['("équilibre de vie" OR équilibredevie)'],
        ['("équilibre de vie" OR équilibredevie)'],
        ['"équilibre de vie"'],
        ['"équilibre de vie"'],
    ),
    (
        "coworking OR fablab Sceaux",
        ["(coworking OR fablab) Sceaux"],
        ["(coworking OR fablab) Sceaux"],
        ["coworking Sceaux", "fablab Sceaux"],
        ["coworking Sceaux", "fablab Sceaux"],
    ),
    (
        "coworking -recrutement",
        ["coworking -recrutement"],
        ["coworking NOT recrutement"],
        ["coworking"],
        ["coworking -recrutement"],
    ),
    (
        'coworking -"offre d\'emploi"',
        ['coworking -"offre d\'emploi"'],
        ['coworking NOT "offre d\'emploi"'],
        ["coworking"],
        ['coworking -"offre d\'emploi"'],
    ),
    ("télétravail*", ["télétravail"], ["télétravail"], ["télétravail"], ["télétravail"]),
]


@pytest.mark.parametrize(("query", "bluesky", "reddit", "hackernews", "mastodon"), CASES, ids=[c[0] for c in CASES])
def test_each_network_gets_the_query_in_its_own_syntax(
    query: str, bluesky: list[str], reddit: list[str], hackernews: list[str], mastodon: list[str]
) -> None:
    tree = parse_query(query)
    assert translate(tree, BLUESKY) == bluesky
    assert translate(tree, REDDIT) == reddit
    assert translate(tree, HACKERNEWS) == hackernews
    assert translate(tree, MASTODON) == mastodon


def test_too_many_or_combinations_widen_the_search_instead_of_multiplying_it() -> None:
    tree = parse_query("a1 OR b1 c2 OR d2 e3 OR f3 Sceaux")
    assert translate(tree, HACKERNEWS) == ["Sceaux"]
    assert len(translate(parse_query("a1 OR b1 OR c1 OR d1 OR e1"), Dialect(None, None, max_searches=3))) == 3


@pytest.mark.parametrize(
    ("queries", "tags"),
    [
        (["tiers-lieux"], ["tierslieux"]),
        (['"équilibre de vie"'], ["equilibredevie"]),
        (["coworking OR fablab Sceaux"], ["coworking", "fablab", "sceaux"]),
        (["coworking -recrutement", "Coworking"], ["coworking"]),
        (["télétravail*"], ["teletravail"]),
        (["2024 x tiers-lieu"], ["tierslieu"]),
    ],
)
def test_hashtags_join_compounds_fold_accents_and_skip_exclusions(queries: list[str], tags: list[str]) -> None:
    assert hashtags(parse_query(q) for q in queries) == tags
