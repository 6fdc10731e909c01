"""Exclusions that would have kept the noise out: what `watcher keywords suggest` proposes.

From the labelled hits (noise marks against picked, exported and relayed hits), candidates of
four kinds, each checked exactly:

- `-word` or `-"a phrase"` added to one query of keywords.txt: the labelled hits are matched
  again with the query changed (the project's own matcher), and a hit is removed when no query
  matches it any more;
- a site (domain) or an author left out for one source (`exclude_domains`, `exclude_authors`
  in feeds.yaml): a hit is removed when every source it came from leaves it out.

A suggestion counts the noise-marked hits it would have removed and the relevant ones; only
those removing at least MIN_NOISE noise marks and at most a third as many relevant hits are
kept, best first (most noise removed, then fewest relevant). Pure: values in, values out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from watcher.errors import QuerySyntaxError
from watcher.match import compile_queries
from watcher.query import parse_query, singular, words
from watcher.types import Query

MIN_NOISE = 2  # a suggestion removes at least this many noise-marked hits
SHORTLIST = 12  # words (and phrases) per query checked exactly
TEXT_CHARS = 3000
COMMON_SHARE = 0.03  # a word in more than this share of the stored items is never proposed
COMMON_MIN = 3  # ... if they are this many at least
KINDS = ("word", "phrase", "domain", "author")


@dataclass(frozen=True)
class Labelled:
    """A labelled hit as the suggestions see it."""

    id: int
    title: str
    text: str
    sources: tuple[str, ...]
    domain: str
    author: str | None
    relevant: bool  # False: marked as noise


@dataclass(frozen=True)
class Suggestion:
    kind: str  # word, phrase, domain, author
    target: str  # the query as written (word, phrase) or the source's name (domain, author)
    value: str  # the word, the phrase, the domain or the author
    noise: int  # noise-marked hits it would have removed
    relevant: int  # relevant hits it would have removed
    new_query: str | None = None  # word, phrase: the query as it would read

    @property
    def exclusion(self) -> str:
        """As written in keywords.txt (`-word`, `-"a phrase"`) or in feeds.yaml (the value)."""
        if self.kind == "word":
            return f"-{self.value}"
        if self.kind == "phrase":
            return f'-"{self.value}"'
        return self.value


def common_words(texts: Iterable[str]) -> set[str]:
    """The words in more than COMMON_SHARE of these texts, and in COMMON_MIN of them at least (a
    sample of the stored items not marked as noise): "des", "the", "with"... Excluding one would
    remove far more than the noise it was meant for."""
    counts: Counter[str] = Counter()
    n = 0
    for text in texts:
        n += 1
        counts.update({singular(w) for w in words(text[:TEXT_CHARS])})
    return {w for w, c in counts.items() if c > COMMON_SHARE * n and c >= COMMON_MIN}


def suggest(
    labelled: Sequence[Labelled], queries: Sequence[Query], limit: int = 10, common: set[str] | None = None
) -> list[Suggestion]:
    """The best exclusions for these labels, at most `limit`; `common`: words never proposed."""
    matcher = compile_queries(queries)
    matched = {h.id: {m.query.text for m in matcher.match(h.title, h.text)} for h in labelled}
    hits = [h for h in labelled if matched[h.id]]  # hits of the queries as they are now
    found = [*_query_suggestions(hits, matched, queries, common or set()), *_source_suggestions(hits)]
    kept = [s for s in found if s.noise >= MIN_NOISE and 3 * s.relevant <= s.noise]
    kept.sort(key=lambda s: (-s.noise, s.relevant, KINDS.index(s.kind), len(s.value), s.target, s.value))
    out: list[Suggestion] = []
    seen: set[tuple[str, str, int, int]] = set()
    for s in kept:
        # a phrase that removes just what one of its words removes says the same in more words
        key = (s.target, s.kind if s.kind in ("domain", "author") else "query", s.noise, s.relevant)
        if s.kind == "phrase" and (s.target, "query", s.noise, s.relevant) in seen and _has_word_of(s, out):
            continue
        seen.add(key)
        out.append(s)
        if len(out) == limit:
            break
    return out


def _has_word_of(phrase: Suggestion, chosen: Iterable[Suggestion]) -> bool:
    parts = set(phrase.value.split())
    return any(c.kind == "word" and c.target == phrase.target and c.value in parts for c in chosen)


def _query_suggestions(
    hits: Sequence[Labelled], matched: dict[int, set[str]], queries: Sequence[Query], common: set[str]
) -> list[Suggestion]:
    out = []
    for q in queries:
        mine = [h for h in hits if q.text in matched[h.id]]
        noise = [h for h in mine if not h.relevant]
        if len(noise) < MIN_NOISE:
            continue
        own = {singular(w) for w in words(q.text)}  # excluding "liens" from `lien` would end it
        skip = own | common
        word_noise, word_rel, phrase_noise, phrase_rel = Counter[str](), Counter[str](), Counter[str](), Counter[str]()
        surface: defaultdict[str, Counter[str]] = defaultdict(Counter)  # a word's key -> its forms as written
        for h in mine:
            ws = words(f"{h.title} {h.text[:TEXT_CHARS]}")
            keys = [singular(w) for w in ws]
            single = set()
            for w, k in zip(ws, keys, strict=True):
                if len(w) >= 3 and not w.isdigit() and k not in skip:
                    single.add(k)  # "echange" and "echanges" are one exclusion: plurals do not count
                    surface[k][w] += 1
            # a phrase may hold the query's own word ("liens du jour" for `lien`), not only common ones
            grams = {" ".join(g) for g in _grams(ws) if {singular(w) for w in g} - skip}
            (word_noise if not h.relevant else word_rel).update(single)
            (phrase_noise if not h.relevant else phrase_rel).update(grams)
        for kind, noisy, good in (("word", word_noise, word_rel), ("phrase", phrase_noise, phrase_rel)):
            ranked = sorted(
                (w for w, n in noisy.items() if n >= MIN_NOISE), key=lambda w: (-(noisy[w] - 2 * good[w]), w)
            )
            for value in ranked[:SHORTLIST]:
                if kind == "word":
                    value = surface[value].most_common(1)[0][0]
                term = value if kind == "word" else f'"{value}"'
                text = f"{q.text} -{term}"
                removed = _removed_by(hits, matched, queries, q, text)
                if removed is None:
                    continue
                n_noise = sum(1 for h in removed if not h.relevant)
                out.append(Suggestion(kind, q.text, value, n_noise, len(removed) - n_noise, text))
    return out


def _grams(ws: Sequence[str]) -> Iterable[tuple[str, ...]]:
    """Runs of two and three words with one long word at least (no "de la", "in the")."""
    for pair in pairwise(ws):
        if max(map(len, pair)) >= 4:
            yield pair
    for i in range(len(ws) - 2):
        triple = (ws[i], ws[i + 1], ws[i + 2])
        if max(map(len, triple)) >= 4:
            yield triple


def _removed_by(
    hits: Sequence[Labelled], matched: dict[int, set[str]], queries: Sequence[Query], query: Query, text: str
) -> list[Labelled] | None:
    """The hits no query matches once `query` reads `text`; None when `text` does not parse."""
    try:
        changed = replace(query, text=text, tree=parse_query(text))
    except QuerySyntaxError:  # a word the query syntax cannot take: no suggestion
        return None
    others = [q for q in queries if q.text != query.text]
    alone = compile_queries([changed])
    removed = []
    for h in hits:
        if query.text not in matched[h.id]:
            continue
        if matched[h.id] - {query.text} & {q.text for q in others}:
            continue  # another query still matches it
        if not alone.match(h.title, h.text):
            removed.append(h)
    return removed


def _source_suggestions(hits: Sequence[Labelled]) -> list[Suggestion]:
    out = []
    for kind in ("domain", "author"):
        noise: Counter[tuple[str, str]] = Counter()
        for h in hits:
            value = h.domain if kind == "domain" else (h.author or "")
            if value and not h.relevant and len(h.sources) == 1:
                noise[(h.sources[0], value)] += 1
        for (source, value), n in noise.items():
            if n < MIN_NOISE:
                continue
            rel = sum(
                1
                for h in hits
                if h.relevant
                and h.sources == (source,)
                and (h.domain if kind == "domain" else (h.author or "")) == value
            )
            out.append(Suggestion(kind, source, value, n, rel))
    return out


WORDING = {  # what `keywords suggest` and the web page's keywords page say, by language
    "fr": {
        "from": "D'après {noise} résultat{ns} marqué{ns} hors sujet et {rel} retenu{rs} (retenus, exportés, relayés) :",
        "word": "ajouter {exclusion} à « {target} »",
        "phrase": "ajouter {exclusion} à « {target} »",
        "domain": "laisser de côté le site {value} pour la source {target}",
        "author": "laisser de côté l'auteur {value} pour la source {target}",
        "counts": " : écarte {noise} hors sujet, {rel} retenu{rs}",
        "apply": "Pour en appliquer une : `watcher keywords suggest --apply N`",
        "none": (
            "Aucune exclusion n'écarterait au moins {min} résultats marqués hors sujet sans écarter de résultats"
            " retenus ({noise} marqué{ns} hors sujet jusqu'ici : `watcher relay skip --noise ID`)."
        ),
        "no_such": "il n'y a que {n} suggestion{s} : choisissez un numéro de 1 à {n}",
        "kept": "Les résultats déjà enregistrés restent tels quels ; cela vaut à partir du prochain relevé.",
    },
    "en": {
        "from": "From {noise} result{ns} marked as noise and {rel} relevant one{rs} (picked, exported, relayed):",
        "word": "add {exclusion} to '{target}'",
        "phrase": "add {exclusion} to '{target}'",
        "domain": "leave out the site {value} for the source {target}",
        "author": "leave out the author {value} for the source {target}",
        "counts": ": removes {noise} noise, {rel} relevant",
        "apply": "To apply one: `watcher keywords suggest --apply N`",
        "none": (
            "No exclusion would remove {min} results marked as noise or more without removing relevant ones"
            " ({noise} marked as noise so far: `watcher relay skip --noise ID`)."
        ),
        "no_such": "there {are} only {n} suggestion{s}: choose a number from 1 to {n}",
        "kept": "Stored hits stay as they are; it applies from the next poll.",
    },
}


def plural(n: int, language: str) -> str:
    """The plural "s" of a count: French reads 0 and 1 as singular, English only 1."""
    return "s" if (n > 1 if language[:2] == "fr" else n != 1) else ""


def describe(suggestion: Suggestion, language: str) -> str:
    """A suggestion in words, with what it would have removed."""
    lab = WORDING["fr" if language[:2] == "fr" else "en"]
    what = lab[suggestion.kind].format(exclusion=suggestion.exclusion, target=suggestion.target, value=suggestion.value)
    rs = plural(suggestion.relevant, language)
    counts = lab["counts"].format(noise=suggestion.noise, rel=suggestion.relevant, rs=rs)
    return what + counts
