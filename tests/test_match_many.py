"""Many queries compiled together match exactly as each query compiled alone.

The shared structures (anchor index, needed keys, joined runs kept only where a known key may
start, prefix buckets) only skip work; this checks they never skip a match, on generated French
text full of compounds, plurals, hashtags and near-misses.
"""

from __future__ import annotations

import random

from watcher.match import compile_queries
from watcher.query import parse_query
from watcher.types import Query

WORDS = """tiers lieux lieu tiers-lieux #TiersLieux tierslieux coworking co-working coworkings fablab fab lab
labs maker makers télétravail teletravailleurs télétravailleuse projet projets de la le du des un une
équilibre equilibre vie vies innovation innovations participatif participative budget atelier ateliers
sceaux lyon jardin jardins partagé partagés bienveillance authenticité lien liens co-construction
coconstruction construction""".split()  # noqa: SIM905

QUERIES = [
    "tiers-lieux",
    "tierslieux",
    "coworking",
    "fablab",
    "maker",
    "télétravail*",
    '"équilibre de vie"',
    '"tiers lieux"',
    "coworking OR fablab",
    "coworking Sceaux",
    "coworking -lyon",
    "atelier* partagé",
    '"jardin partagé"',
    "co-construction",
    "lien",
    "budget participatif",
    '"de la vie"',
    "lab*",
    "tiers lieu",
    "projet-atelier",
]


def test_queries_compiled_together_match_as_each_alone() -> None:
    rng = random.Random(5)
    queries = [Query(text=t, line=n + 1, tree=parse_query(t)) for n, t in enumerate(QUERIES)]
    together = compile_queries(queries)
    alone = [compile_queries([q]) for q in queries]
    found = 0
    for _ in range(600):
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 8)))
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 40)))
        expected = [m for single in alone for m in single.match(title, text)]
        assert together.match(title, text) == expected, (title, text)
        found += len(expected)
    assert found > 100  # the texts do match: the comparison is not between empty lists


SYLLABLES = "ba de la le lo ma mo se si ta to".split()  # noqa: SIM905
COMMON = "de la le les des projet atelier jardin".split()  # noqa: SIM905


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))


def test_many_queries_sharing_common_words_match_as_each_alone() -> None:
    # Names made of syllables that are also common words ("de", "la", "le") can be written as
    # two or three words almost anywhere, and common words beside many names: the anchors and
    # the runs found by both ends must never lose a match that each query alone finds.
    rng = random.Random(8)
    texts: list[str] = []
    for _ in range(120):
        name, other, common = _name(rng), _name(rng), rng.choice(COMMON)
        texts.append(
            rng.choice(
                [name, f"{name}-{other}", f"{common}-{name}", f'"{name} de {other}"', f"{common} {name}",
                 f"{name} OR {other}", f"{name} -{common}", f"{name[:4]}*", f"{common}-{name[:3]}*"]
            )
        )  # fmt: skip
    queries = [Query(text=t, line=n + 1, tree=parse_query(t)) for n, t in enumerate(dict.fromkeys(texts))]
    together = compile_queries(queries)
    alone = [compile_queries([q]) for q in queries]
    pieces = SYLLABLES + COMMON + ["tiers", "#DeLaMo", "la-mo", "lamos"]
    found = 0
    for _ in range(300):
        title = " ".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(0, 30)))
        expected = [m for single in alone for m in single.match(title, text)]
        assert together.match(title, text) == expected, (title, text)
        found += len(expected)
    assert found > 300


def test_joined_runs_are_found_whatever_their_last_word() -> None:
    # Words of a, b, s and x only: plurals and the short last words that `singular` keeps whole
    # ("s", "x", "xs") put end to end, checked against the definition (query.joined_key).
    from watcher.query import joined_key, singular, words

    rng = random.Random(11)
    letters = "absx"
    for _ in range(200):
        text = " ".join("".join(rng.choice(letters) for _ in range(rng.randint(1, 3))) for _ in range(8))
        raw = words(text)
        expected = {singular(w) for w in raw}
        for size in (2, 3):
            expected |= {joined_key(raw[i : i + size]) for i in range(len(raw) - size + 1)}
        candidates = sorted({"".join(rng.choice(letters) for _ in range(rng.randint(1, 6))) for _ in range(40)})
        keys = [k for k in candidates if singular(k) == k]
        queries = [Query(text=k, line=n + 1, tree=parse_query(k)) for n, k in enumerate(keys)]
        found = {m.query.text for m in compile_queries(queries).match("", text)}
        assert found == {k for k in keys if k in expected}, text


def test_the_same_queries_are_compiled_once_until_they_change() -> None:
    first = [Query(text=t, line=n + 1, tree=parse_query(t)) for n, t in enumerate(QUERIES)]
    matcher = compile_queries(first)
    assert compile_queries(tuple(first)) is matcher  # a poll with the same configuration
    changed = compile_queries(first[:-1])  # a reload that removed a line
    assert changed is not matcher and changed.queries == tuple(first[:-1])
