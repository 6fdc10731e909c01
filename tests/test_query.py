"""Query language: the trees parse_query builds, its errors, the shared normalisation, describe, terms."""

from __future__ import annotations

import pytest

from watcher.errors import QuerySyntaxError
from watcher.query import (
    AllOf,
    AnyOf,
    Node,
    Not,
    Phrase,
    Term,
    describe,
    fold,
    parse_query,
    singular,
    singulars,
    terms,
    words,
)

# --- normalisation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Le TÉLÉTRAVAIL", ["le", "teletravail"]),
        ("l'équilibre d’une vie", ["equilibre", "une", "vie"]),
        (
            "J'aime, m'a dit qu'il, n'est, s'il, t'as, c'est",
            ["aime", "a", "dit", "il", "est", "il", "as", "est"],
        ),
        ("Aujourd'hui quelqu’un", ["aujourd", "hui", "quelqu", "un"]),
        ("cœur, Æther", ["coeur", "aether"]),
        ("tiers-lieux #tierslieux", ["tiers", "lieux", "tierslieux"]),
        ("tiers-lieux #TiersLieuxIDF", ["tiers", "lieux", "tiers", "lieux", "idf"]),
        (
            "CoworkingLille, McDonald's, ÉcoLieu, ŒuvreCommune",
            ["coworking", "lille", "mc", "donald", "s", "eco", "lieu", "oeuvre", "commune"],
        ),
        ("snake_case x2 ﬁne", ["snake", "case", "x2", "fine"]),
        ("Straße", ["strasse"]),
        ("", []),
        ("... — !", []),
    ],
)
def test_words_normalises_case_accents_elision_and_separators(text: str, expected: list[str]) -> None:
    assert words(text) == expected


@pytest.mark.parametrize(
    "latin",
    ["L'Été du Tiers-Lieu", "Œuvre d’art, cœur", "aujourd'hui QU'IL vient", "Ça coûte 12 € — ﬁn", "l' x"],
)
def test_words_gives_the_same_words_whatever_else_the_text_holds(latin: str) -> None:
    # Text with letters outside Latin scripts takes the general path; the rest the fast one.
    assert words(latin + " Москва") == [*words(latin), "москва"]


def test_words_fast_path_agrees_with_the_definition_on_every_character() -> None:
    # The fast path folds Latin-1 by a byte table and spells out other characters one by one;
    # the reference folds whole strings. Each character alone, between letters, after an
    # article and before an apostrophe.
    from watcher.query import _words_reference

    differ = []
    for code in range(0x3000):
        char = chr(code)
        if 0xD800 <= code < 0xE000:
            continue
        for text in (char, f"a{char}b", f"l'{char}s x", f"{char}'a", f"É{char}œ’"):
            if words(text) != _words_reference(text):
                differ.append(text)
    assert differ == []


def test_fold_keeps_non_latin_letters() -> None:
    assert fold("Москва ÉTÉ") == "москва ete"


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("fablabs", "fablab"),
        ("lieux", "lieu"),
        ("lieu", "lieu"),
        ("as", "a"),
        ("x", "x"),
        ("s", "s"),
        ("sceaux", "sceau"),
    ],
)
def test_singular_drops_a_final_s_or_x_but_never_the_whole_word(word: str, expected: str) -> None:
    assert singular(word) == expected


@pytest.mark.parametrize(
    "ws",
    [[], ["tiers", "lieux"], ["s", "lieux"], ["x"], ["xs", "fablabs"], ["ss", "ax", "de", "sx"]],
)
def test_singulars_agrees_with_singular_word_by_word(ws: list[str]) -> None:
    assert singulars(ws) == [singular(w) for w in ws]


# --- trees --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("coworking", Term("coworking")),
        ("Télétravail", Term("teletravail")),
        ('"Lieu de vie"', Phrase(("lieu", "de", "vie"))),
        ('"fablab"', Term("fablab")),
        ("tiers-lieux", Phrase(("tiers", "lieux"))),
        ("l'équilibre", Term("equilibre")),
        ("télétravail*", Term("teletravail", prefix=True)),
        ("tiers-lieu*", Phrase(("tiers", "lieu"), prefix=True)),
        ("coworking Sceaux", AllOf((Term("coworking"), Term("sceaux")))),
        ("fablab OR makerspace", AnyOf((Term("fablab"), Term("makerspace")))),
        (
            "coworking OR fablab Sceaux",
            AllOf((AnyOf((Term("coworking"), Term("fablab"))), Term("sceaux"))),
        ),
        (
            'a OR "b c" OR d* e',
            AllOf((AnyOf((Term("a"), Phrase(("b", "c")), Term("d", prefix=True))), Term("e"))),
        ),
        ("coworking -recrutement", AllOf((Term("coworking"), Not(Term("recrutement"))))),
        (
            'coworking -"offre d\'emploi" -stag*',
            AllOf((Term("coworking"), Not(Phrase(("offre", "emploi"))), Not(Term("stag", prefix=True)))),
        ),
        ('"a OR b"', Phrase(("a", "or", "b"))),
        ("a or b", AllOf((Term("a"), Term("or"), Term("b")))),
        ("fablab FabLab", Term("fablab")),
        ("x OR X y", AllOf((Term("x"), Term("y")))),
        ('  spaced   "out"  ', AllOf((Term("spaced"), Term("out")))),
        ('word"phrase here"', AllOf((Term("word"), Phrase(("phrase", "here"))))),
    ],
)
def test_parse_query_builds_the_tree(query: str, tree: Node) -> None:
    assert parse_query(query) == tree


def test_leaves_keep_the_text_as_written() -> None:
    tree = parse_query('Télétravail* "Lieu de Vie"')
    assert isinstance(tree, AllOf)
    assert [leaf.text for leaf in terms(tree)] == ["Télétravail", "Lieu de Vie"]


@pytest.mark.parametrize(
    ("query", "column", "problem"),
    [
        ("", 1, "empty query"),
        ("   ", 1, "empty query"),
        ('coworking "tiers lieux', 11, "never closed"),
        ('coworking -"tiers', 12, "never closed"),
        ("OR fablab", 1, "OR needs"),
        ("fablab OR", 8, "OR needs"),
        ("fablab OR OR x", 8, "OR needs"),
        ("-recrutement", 1, "not excluded"),
        ('-a -"b c" -d*', 1, "not excluded"),
        ("coworking - Sceaux", 11, "'-' must be followed"),
        ("coworking -", 11, "'-' must be followed"),
        ("coworking *", 11, "'*' must follow"),
        ("coworking -*", 11, "'*' must follow"),
        ('coworking ""', 11, "empty phrase"),
        ('coworking "  !  "', 11, "empty phrase"),
        ("coworking !!!", 11, "holds no word"),
        ("tele*travail", 5, "'*' is only allowed"),
        ('x "tiers lieu*"', 14, "'*' is only allowed"),
        ("a OR -b", 6, "exclusion cannot be an option"),
        ("-a OR b", 1, "exclusion cannot be an option"),
    ],
)
def test_parse_query_rejects_with_column(query: str, column: int, problem: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    assert caught.value.column == column
    assert problem in caught.value.problem
    assert caught.value.query == query
    assert str(column) in str(caught.value)


# --- describe and terms -------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Télétravail", "teletravail"),
        ("tiers-lieux", '"tiers lieux"'),
        ('"Tiers  Lieux"', '"tiers lieux"'),
        ("tiers-lieu*", "tiers-lieu*"),
        ("Makerspace OR fablab Sceaux", "fablab OR makerspace sceaux"),
        ('coworking -"offre d\'emploi" -stag*', 'coworking -"offre emploi" -stag*'),
        ("l’équilibre", "equilibre"),
    ],
)
def test_describe_renders_canonical_text(query: str, expected: str) -> None:
    assert describe(parse_query(query)) == expected


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("fablab OR makerspace Sceaux", "Makerspace OR FabLab sceaux"),
        ("tiers-lieux", '"tiers lieux"'),
        ("l'équilibre", "EQUILIBRE"),
        ("coworking  -recrutement", "coworking -Recrutement"),
    ],
)
def test_describe_makes_equivalent_queries_equal(first: str, second: str) -> None:
    assert describe(parse_query(first)) == describe(parse_query(second))


@pytest.mark.parametrize(
    "query",
    ["coworking OR fablab Sceaux", 'a -"b c" d*', "tiers-lieu* x", '"a OR b"', "a OR b OR c"],
)
def test_describe_parses_back_to_the_same_tree(query: str) -> None:
    tree = parse_query(query)
    assert parse_query(describe(tree)) == tree


def test_terms_lists_positive_leaves_in_order_without_exclusions() -> None:
    tree = parse_query('coworking OR fablab -Lyon "tiers lieu" coworking* -x')
    assert terms(tree) == (
        Term("coworking"),
        Term("fablab"),
        Phrase(("tiers", "lieu")),
        Term("coworking", prefix=True),
    )
