"""A keywords.txt query in each network's own search syntax, and the hashtags it suggests.

Pure. A network search is only a first filter: the local matching rules decide what is a hit,
so a translation may ask for more than the query (never for less). Where a network lacks an
operator the translation widens: an exclusion it cannot express is dropped, an OR it cannot
express becomes several searches, a `*` prefix becomes the bare stem.

    Lucene-like (Bluesky, Reddit):  ("tiers lieux" OR tierslieux) coworking -recrutement
    plain (Hacker News, Mastodon):  "tiers lieux" coworking   (one search per OR option)

A compound of two or three words is searched both as a phrase and joined (`tiers-lieux` also
finds `tierslieux` and `#TiersLieux`) where the network has OR.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from watcher.query import AllOf, AnyOf, Node, Not, Phrase, Term, parse_query, terms, words
from watcher.types import Query

__all__ = ["BLUESKY", "HACKERNEWS", "MASTODON", "REDDIT", "Dialect", "hashtag", "hashtags", "query_trees", "translate"]

MAX_JOINED_WORDS = 3  # the joined form of a compound counts up to three words (matching rules)


@dataclass(frozen=True)
class Dialect:
    """What a network's search understands."""

    or_word: str | None  # "OR" where the network has it; None: one search per combination
    exclude: str | None  # "-" or "NOT "; None: exclusions are dropped (the search gets wider)
    group: bool = True  # parentheses around an OR group
    joined: bool = True  # add the joined form of a compound as an OR option
    max_searches: int = 4  # without OR: at most this many combinations, else the OR is dropped


BLUESKY = Dialect(or_word="OR", exclude="-")
REDDIT = Dialect(or_word="OR", exclude="NOT ")
# Algolia (Hacker News) ANDs every word and has no OR; "-term" is only understood with its
# advanced syntax, which the public index does not promise: exclusions are left to local matching.
HACKERNEWS = Dialect(or_word=None, exclude=None, joined=False)
MASTODON = Dialect(or_word=None, exclude="-", joined=False)


def _leaf_words(leaf: Term | Phrase) -> list[str]:
    """The leaf's words as written (accents kept), without quotes, hyphens or the `*`."""
    if leaf.text:
        found = leaf.text.replace("*", " ").replace("-", " ").split()
        if found:
            return found
    return [leaf.word] if isinstance(leaf, Term) else list(leaf.words)


def _render(leaf: Term | Phrase, dialect: Dialect) -> str:
    found = _leaf_words(leaf)
    if len(found) == 1:
        return found[0]
    phrase = '"' + " ".join(found) + '"'
    if dialect.joined and dialect.or_word and len(found) <= MAX_JOINED_WORDS:
        return f"({phrase} {dialect.or_word} {''.join(found)})" if dialect.group else phrase
    return phrase


def _render_or(options: Sequence[Term | Phrase], dialect: Dialect) -> str:
    rendered = [_render(o, dialect).removeprefix("(").removesuffix(")") for o in options]
    inner = f" {dialect.or_word} ".join(rendered)
    return f"({inner})" if dialect.group else inner


def translate(tree: Node, dialect: Dialect) -> list[str]:
    """The searches that together cover `tree` in `dialect` (usually one; never none)."""
    parts = tree.parts if isinstance(tree, AllOf) else (tree,)
    positives: list[list[str]] = []  # each part: its alternatives
    negatives: list[str] = []
    for part in parts:
        if isinstance(part, Not):
            if dialect.exclude:
                negatives.append(dialect.exclude + _render(part.node, Dialect(None, None, joined=False)))
        elif isinstance(part, AnyOf):
            if dialect.or_word:
                positives.append([_render_or(part.options, dialect)])
            else:
                positives.append([_render(o, dialect) for o in part.options])
        else:
            positives.append([_render(part, dialect)])
    combinations = 1
    for alternatives in positives:
        combinations *= len(alternatives)
    if combinations > dialect.max_searches:
        # Too many searches: keep the OR groups out of the search and let local matching decide;
        # a query that is only OR groups is searched by its first group's options.
        fixed = [a for a in positives if len(a) == 1]
        positives = fixed or [positives[0][: dialect.max_searches]]
    searches = [" ".join([*combo, *negatives]) for combo in itertools.product(*positives)]
    return list(dict.fromkeys(searches))


def hashtag(leaf: Term | Phrase) -> str:
    """The hashtag of one term, as networks normalise them: `tiers-lieux` -> `tierslieux`."""
    return "".join(words(" ".join(_leaf_words(leaf))))


def hashtags(trees: Iterable[Node]) -> list[str]:
    """The hashtags of every positive term of the queries, in order, without repeats.

    Words that are only digits or a single letter make no useful hashtag and are left out.
    """
    found: list[str] = []
    for tree in trees:
        for leaf in terms(tree):
            tag = hashtag(leaf)
            if len(tag) > 1 and not tag.isdigit():
                found.append(tag)
    return list(dict.fromkeys(found))


def query_trees(own: object, queries: Iterable[Query]) -> list[Node]:
    """The queries a source searches: its own `queries:` list when it has one, else keywords.txt's.

    `own` is the option as read from feeds.yaml (a list of strings, checked by the adapter's
    `check`). Raises QuerySyntaxError for a bad own query.
    """
    if isinstance(own, list) and own:
        return [parse_query(str(text)) for text in own]
    return [q.tree for q in queries]
