"""Matching: the worked cases of tests/data/matching_cases.yaml, our own cases, and where a match is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from watcher.match import compile_queries
from watcher.query import describe, parse_query
from watcher.types import Query

CASES_FILE = Path(__file__).parent / "data" / "matching_cases.yaml"


def _load_cases() -> list[Any]:
    cases = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
    return [pytest.param(c["query"], c["title"], c["body"], c["match"], id=f"{c['why']}: {c['query']}") for c in cases]


def _query(text: str, line: int = 1) -> Query:
    return Query(text=text, line=line, tree=parse_query(text))


def _matches(query: str, title: str, body: str = "") -> bool:
    return bool(compile_queries([_query(query)]).match(title, body))


@pytest.mark.parametrize(("query", "title", "body", "expected"), _load_cases())
def test_worked_case(query: str, title: str, body: str, expected: bool) -> None:
    assert _matches(query, title, body) is expected


@pytest.mark.parametrize(("query", "title", "body", "expected"), _load_cases())
def test_worked_case_holds_for_the_canonical_form_too(query: str, title: str, body: str, expected: bool) -> None:
    assert _matches(describe(parse_query(query)), title, body) is expected


OWN_CASES = [
    # elision, both apostrophes, every article
    ("équilibre", "Trouver l’équilibre", "", True, "elision with typographic apostrophe"),
    ("équilibre", "Trouver l'équilibre", "", True, "elision with straight apostrophe"),
    ("emploi", "Pas d’emploi sans formation", "", True, "d’ elided"),
    ("installe", "Il s'installe", "", True, "s' elided"),
    ("il", "Qu’il vienne", "", True, "qu’ elided"),
    ("importe", "N'importe quoi", "", True, "n' elided"),
    ("hui", "Aujourd'hui au tiers-lieu", "", True, "apostrophe inside a word separates words"),
    ("aujourd'hui", "aujourd’hui, ouverture", "", True, "query with inner apostrophe is a phrase"),
    ("l", "L'atelier", "", False, "an elided article is not a word"),
    # ligatures
    ("oeuvre", "La main-d’œuvre manque", "", True, "œ folds to oe"),
    ("œuvre", "Main d'oeuvre", "", True, "œ in the query folds too"),
    ("ex aequo", "Classés ex æquo", "", True, "æ folds to ae"),
    ("curriculum", "Ton CURRÍCULUM", "", True, "accents of other languages fold too"),
    # prefixes
    ("cowork*", "Les co-workers du lundi", "", True, "prefix on a hyphen-joined form"),
    ("tierslieu*", "Les tiers-lieux ruraux", "", True, "prefix on a joined form"),
    ("tiers-lieu*", "Les tiers-lieux ruraux", "", True, "hyphenated prefix is a phrase with prefix last"),
    ("tiers-lieu*", "Les tiers lieuxfoo", "", True, "phrase prefix on the last word"),
    ("tiers-lieu*", "Les lieux tiers", "", False, "phrase prefix keeps the order"),
    ("art*", "Un article", "", True, "prefix matches a longer word"),
    ("art*", "Le smart contract", "", False, "prefix anchors at the start of a word"),
    ("-art* coworking", "Un coworking", "Un article", False, "excluded prefix"),
    # OR next to phrases
    ('"tiers lieu" OR fablab Sceaux', "Un fablab", "à Sceaux", True, "OR after a phrase"),
    ('"tiers lieu" OR fablab Sceaux', "Un tiers lieu", "à Sceaux", True, "phrase option of OR"),
    ('"tiers lieu" OR fablab Sceaux', "Un tiers lieu", "à Antony", False, "OR group still ANDed"),
    ('fablab OR "lieu de vie"', "#LieuDeVie", "", True, "joined phrase as an OR option"),
    ('"vous OR nous"', "Vous ou nous", "", False, "OR inside quotes is a plain word"),
    ('"vous OR nous"', "Entre vous or nous", "", True, "OR inside quotes matches the word or"),
    # exclusions
    ('coworking -"offre d’emploi" -stage', "Coworking", "Un stage d'été", False, "second exclusion"),
    ('coworking -"offre d’emploi" -stage', "Coworking", "Les offres d'emploi", False, "plural in excl."),
    ('coworking -"offre d’emploi" -stage', "Coworking", "Une offre de café", True, "no exclusion present"),
    ("coworking -tiers-lieux", "Coworking", "#TiersLieux", False, "excluded hyphenated form, joined"),
    # joined compounds of three words and their limits
    ("lieudevie", "Un lieu de vie", "", True, "three words joined on the text side"),
    ('"lieu de vie"', "Un lieu-de-vie", "", True, "hyphens in text, phrase in query"),
    ("lieu-de-vie", "#LieuDeVie", "", True, "hyphenated three-word query vs hashtag"),
    ('"un lieu de vie"', "#unlieudevie", "", False, "four words are not joined"),
    ('"un lieu de vie"', "#UnLieuDeVie", "", True, "a camel-case compound of four words holds them all"),
    ('"un lieu de vie"', "Un #LieuDeVie", "", True, "part of a phrase meets a joined hashtag"),
    ('"espace de coworking"', "Un espace de co-working", "", True, "part of a phrase meets split text"),
    # hashtags and unquoted adjacent words
    ("tiers lieux", "Ouverture", "#TiersLieux", True, "adjacent plain words, joined in the text"),
    ("lieux tiers", "Ouverture", "#tierslieux", False, "joined form keeps the written order"),
    ("lieux tiers", "Ouverture", "#TiersLieux", True, "a camel-case compound holds its parts as words"),
    ("fab lab Sceaux", "#FabLab à Sceaux", "", True, "adjacent words joined, then ANDed"),
    ("#coworking", "Le coworking du coin", "", True, "a hashtag in the query is its word"),
    ("coworking", "#Coworking", "", True, "a hashtag in the text is its word"),
    # plural on both sides and whole words
    ("fablabs", "Le fablab", "", True, "plural query matches singular text"),
    ("Sceaux", "Vivre à Sceau", "", True, "final x does not count"),
    ("ma", "Les maths", "", False, "plural folding never cuts more than the final letter"),
    ("lieu", "Milieu rural", "", False, "not the end of a word either"),
    # title and body
    ("coworking", "", "", False, "empty item matches nothing"),
    ('"espace partagé"', "Un espace", "partagé", False, "a phrase does not span title and body"),
]


@pytest.mark.parametrize(
    ("query", "title", "body", "expected"),
    [pytest.param(q, t, b, e, id=f"{why}: {q}") for q, t, b, e, why in OWN_CASES],
)
def test_own_case(query: str, title: str, body: str, expected: bool) -> None:
    assert _matches(query, title, body) is expected


def test_matches_come_in_query_order_with_their_query() -> None:
    queries = [_query("fablab", 3), _query("coworking", 7), _query("Sceaux", 9), _query("lyon", 12)]
    found = compile_queries(queries).match("Un coworking et un fablab", "à Sceaux")
    assert [m.query.line for m in found] == [3, 7, 9]
    assert [m.query for m in found] == queries[:3]


def test_in_title_means_the_title_alone_satisfies_the_query() -> None:
    matcher = compile_queries([_query("coworking Sceaux"), _query("coworking"), _query("Sceaux")])
    found = matcher.match("Un coworking", "à Sceaux")
    assert [(m.in_title, m.in_body) for m in found] == [(False, True), (True, False), (False, True)]


def test_in_body_counts_any_positive_term_but_not_exclusions() -> None:
    matcher = compile_queries([_query("coworking -Lyon"), _query("coworking OR fablab")])
    found = matcher.match("Coworking à Sceaux", "Un fablab, pas à Paris")
    assert [(m.in_title, m.in_body) for m in found] == [(True, False), (True, True)]


def test_in_body_sees_a_joined_window_of_adjacent_words() -> None:
    found = compile_queries([_query("tiers lieux")]).match("Ouverture", "#TiersLieux")
    assert [(m.in_title, m.in_body) for m in found] == [(False, True)]


def test_exclusion_in_body_removes_a_title_match() -> None:
    assert compile_queries([_query("coworking -recrutement")]).match("Coworking", "recrutement") == []


def test_many_queries_sharing_words_are_all_found() -> None:
    # Queries that share an anchor word, a prefix bucket or an OR must each be evaluated.
    texts = [
        "coworking",
        "coworking Sceaux",
        "cowork*",
        "co*",
        "fablab OR coworking",
        "coworking -Lyon",
        "Lyon",
    ]
    matcher = compile_queries([_query(t, i) for i, t in enumerate(texts)])
    found = matcher.match("Un co-working à Sceaux", "")
    assert [m.query.text for m in found] == texts[:6]


def test_joined_forms_do_not_run_from_the_title_into_the_body() -> None:
    matcher = compile_queries([_query("tierslieux"), _query("cowork*"), _query('"fab lab"')])
    assert matcher.match("Un tiers", "lieux ouvre") == []
    assert matcher.match("Les co", "workers") == []
    assert matcher.match("Un fab", "lab") == []


def test_one_matcher_for_all_queries_agrees_with_one_matcher_per_query() -> None:
    # The inverted index only narrows which queries are evaluated; it must never lose or add one.
    raw_cases = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
    cases = [(c["query"], c["title"], c["body"]) for c in raw_cases] + [(q, t, b) for q, t, b, _, _ in OWN_CASES]
    texts = list(dict.fromkeys(q for q, _, _ in cases))
    queries = [_query(t, line) for line, t in enumerate(texts, start=1)]
    everything = compile_queries(queries)
    alone = [compile_queries([q]) for q in queries]
    compared = 0
    for _, title, body in cases:
        together = [(m.query.text, m.in_title, m.in_body) for m in everything.match(title, body)]
        one_by_one = [(m.query.text, m.in_title, m.in_body) for a in alone for m in a.match(title, body)]
        assert together == one_by_one, (title, body)
        compared += len(together)
    # Each item matches at least its own query when its case expects a match, often more.
    assert compared >= sum(1 for c in raw_cases if c["match"]) + sum(1 for *_, e, _ in OWN_CASES if e)


def test_a_prefix_is_placed_in_the_field_that_holds_it_never_across_the_two() -> None:
    matcher = compile_queries([_query("lamob*")])
    found = [matcher.match(title, body) for title, body in [
        ("Vers la mobilité", "rien"), ("rien", "Vers la mobilité"), ("Vers la", "mobilité douce"),
    ]]  # fmt: skip
    assert [[(m.in_title, m.in_body) for m in f] for f in found] == [[(True, False)], [(False, True)], []]
