"""Matching items against the queries of keywords.txt, fast enough for thousands of queries.

An item is cut once into normalised words; a run of two or three consecutive words also counts
put end to end, so "tiers lieux", "tiers-lieux", "tierslieux" and "#TiersLieux" all give the key
"tierslieu". Each field (title, body) gets the exact set of the queries' keys that it holds,
alone or joined (a joined run is looked for only where a word starts one of the keys), and of
the prefixes that start a word or a joined run (one regular
expression, a trie of the prefixes). Each query carries its clauses (sets of keys or prefixes
of which the item must hold one) and is indexed by the clause the fewest queries share: an
item has few candidates, each evaluated only when every clause is met, field by field.
Everything before evaluation is whole-list operations (set intersections, map, compress), not
a Python loop over the words, since most items match no query at all.

Pure: values in, values out (the last set compiled is kept, see `compile_queries`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import compress
from operator import add
from typing import Any

from watcher.query import AnyOf, Node, Not, Phrase, Term, joined_key, singular, singulars, words
from watcher.types import Query, QueryMatch

__all__ = ["Matcher", "compilations", "compile_queries"]

_MAX_JOIN = 3  # the longest compound whose spacing does not count
_KEPT = frozenset(("s", "x", "xs"))  # the last words that `singular` does not cut as it cuts them joined


class _Field:
    """One field of an item (title or body): the keys and prefixes of the queries that it holds.

    `keys` and `prefixes` are exact (alone or over two or three words put end to end), so most
    queries are evaluated by set lookups. The positional views that phrases walk are built on
    first use: only the few items with a phrase candidate get there.
    """

    def __init__(self, raw: list[str], keys: frozenset[str], prefixes: frozenset[str]) -> None:
        self.raw = raw  # normalised words, as written
        self.keys = keys
        self.prefixes = prefixes

    def has(self, key: str) -> bool:
        return key in self.keys

    def starts_with(self, prefix: str) -> bool:
        return prefix in self.prefixes

    @cached_property
    def one(self) -> list[str]:
        """The key of each word alone."""
        return singulars(self.raw)

    @cached_property
    def rows(self) -> tuple[list[str], list[str], list[str]]:
        """rows[k][i]: the key of words i .. i+k put end to end (see query.joined_key)."""
        raw2 = self.rawjoins[1]
        return (self.one, list(map(add, self.raw, self.one[1:])), list(map(add, raw2, self.one[2:])))

    @cached_property
    def rawjoins(self) -> tuple[list[str], list[str], list[str]]:
        """rawjoins[k][i]: words i .. i+k put end to end, as written (what prefixes are compared with)."""
        raw2 = list(map(add, self.raw, self.raw[1:]))
        return (self.raw, raw2, list(map(add, raw2, self.raw[2:])))


@dataclass(frozen=True)
class _Anchors:
    exact: frozenset[str] = frozenset()
    prefixes: frozenset[str] = frozenset()

    def __or__(self, other: _Anchors) -> _Anchors:
        return _Anchors(self.exact | other.exact, self.prefixes | other.prefixes)

    def union(self, others: Iterable[_Anchors]) -> _Anchors:
        # Into two sets, not `|` one by one: that copies the growing sets each time, quadratic
        # over the thousands of anchors of a long keywords.txt.
        exact, prefixes = set(self.exact), set(self.prefixes)
        for other in others:
            exact |= other.exact
            prefixes |= other.prefixes
        return _Anchors(frozenset(exact), frozenset(prefixes))

    def cost(self) -> tuple[int, int, int]:
        # Prefer anchors without prefixes, then few keys, then long (rarer) keys.
        keys = self.exact | self.prefixes
        return (len(self.prefixes), len(keys), -min(map(len, keys), default=0))


class _Node:
    """A compiled query node; `holds` reads the fields of one item."""

    def holds(self, fields: tuple[_Field, ...]) -> bool:
        raise NotImplementedError

    def anchors(self) -> _Anchors:
        raise NotImplementedError

    def positives(self) -> Iterable[_Node]:
        """The positive leaves (and joined windows), for `in_body`."""
        raise NotImplementedError

    def clauses(self) -> list[_Anchors]:
        """Sets of keys and prefixes of which the item holds at least one, each, when the node holds."""
        return [self.anchors()]


class _Key(_Node):
    """A word or joined form that must appear as one key (a single word, or a window of ANDed words)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def holds(self, fields: tuple[_Field, ...]) -> bool:
        return any(f.has(self.key) for f in fields)

    def anchors(self) -> _Anchors:
        return _Anchors(exact=frozenset((self.key,)))

    def positives(self) -> Iterable[_Node]:
        return (self,)


class _Prefix(_Node):
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def holds(self, fields: tuple[_Field, ...]) -> bool:
        return any(f.starts_with(self.prefix) for f in fields)

    def anchors(self) -> _Anchors:
        return _Anchors(prefixes=frozenset((self.prefix,)))

    def positives(self) -> Iterable[_Node]:
        return (self,)


class _Phrase(_Node):
    """Words consecutively; each run of 1..3 query words may meet a run of 1..3 text words joined."""

    def __init__(self, phrase: Phrase) -> None:
        ws = phrase.words
        self.size = len(ws)
        self.prefix = phrase.prefix
        # groups[i]: (number of query words, key or raw prefix) for the runs starting at word i.
        self.groups: list[list[tuple[int, str]]] = []
        for i in range(self.size):
            runs = []
            for a in range(1, min(_MAX_JOIN, self.size - i) + 1):
                run = ws[i : i + a]
                is_prefix = self.prefix and i + a == self.size
                runs.append((a, "".join(run) if is_prefix else joined_key(run)))
            self.groups.append(runs)

        # The runs that end the phrase: one of them must be in the item too.
        ends = [(i, a, key) for i, runs in enumerate(self.groups) for a, key in runs if i + a == self.size]
        self.end_keys = frozenset(key for i, a, key in ends if not self._is_prefix_run(i, a))
        self.end_prefixes = frozenset(key for i, a, key in ends if self._is_prefix_run(i, a))

    def _is_prefix_run(self, i: int, a: int) -> bool:
        return self.prefix and i + a == self.size

    def lookups(self) -> _Anchors:
        return _Anchors().union(self.clauses())

    def clauses(self) -> list[_Anchors]:
        return self._clauses

    @cached_property
    def _clauses(self) -> list[_Anchors]:
        # Every word of the phrase is covered by one run that the item holds.
        found = []
        for i in range(self.size):
            exact: set[str] = set()
            prefixes: set[str] = set()
            for j in range(max(0, i - _MAX_JOIN + 1), i + 1):
                for a, key in self.groups[j]:
                    if j + a > i:
                        (prefixes if self._is_prefix_run(j, a) else exact).add(key)
            found.append(_Anchors(frozenset(exact), frozenset(prefixes)))
        return found

    def holds(self, fields: tuple[_Field, ...]) -> bool:
        for f in fields:
            if f.keys.isdisjoint(self.end_keys) and f.prefixes.isdisjoint(self.end_prefixes):
                continue
            n = len(f.raw)
            for a, key in self.groups[0]:
                prefix_run = self._is_prefix_run(0, a)
                if key not in (f.prefixes if prefix_run else f.keys):
                    continue
                for b in range(min(_MAX_JOIN, n)):
                    row = f.rawjoins[b] if prefix_run else f.rows[b]
                    if not prefix_run and key not in row:
                        continue
                    for start, text_key in enumerate(row):
                        if prefix_run:
                            if text_key.startswith(key):
                                return True
                        elif text_key == key and self._walk(f, a, start + b + 1):
                            return True
        return False

    def _walk(self, f: _Field, i: int, pos: int) -> bool:
        if i == self.size:
            return True
        n = len(f.raw)
        for a, key in self.groups[i]:
            prefix_run = self._is_prefix_run(i, a)
            for b in range(min(_MAX_JOIN, n - pos)):
                if prefix_run:
                    if f.rawjoins[b][pos].startswith(key):
                        return True
                elif f.rows[b][pos] == key and self._walk(f, i + a, pos + b + 1):
                    return True
        return False

    def anchors(self) -> _Anchors:
        exact: set[str] = set()
        prefixes: set[str] = set()
        for a, key in self.groups[0]:
            (prefixes if self._is_prefix_run(0, a) else exact).add(key)
        return _Anchors(frozenset(exact), frozenset(prefixes))

    def positives(self) -> Iterable[_Node]:
        return (self,)


class _Any(_Node):
    def __init__(self, options: list[_Node]) -> None:
        self.options = options

    def holds(self, fields: tuple[_Field, ...]) -> bool:
        return any(o.holds(fields) for o in self.options)

    def anchors(self) -> _Anchors:
        found = _Anchors()
        for o in self.options:
            found = found | o.anchors()
        return found

    def positives(self) -> Iterable[_Node]:
        return self.options

    def clauses(self) -> list[_Anchors]:
        return [_Anchors().union(min(o.clauses(), key=_Anchors.cost) for o in self.options)]


class _Not(_Node):
    def __init__(self, node: _Node) -> None:
        self.node = node

    def holds(self, fields: tuple[_Field, ...]) -> bool:
        return not self.node.holds(fields)

    def anchors(self) -> _Anchors:  # pragma: no cover - an exclusion is never chosen as anchor
        raise AssertionError("an exclusion has no anchors")

    def positives(self) -> Iterable[_Node]:
        return ()

    def clauses(self) -> list[_Anchors]:
        return []


class _All(_Node):
    """AND. Adjacent plain words also hold when their joined form is present, as in a phrase:
    `tiers lieux` is satisfied by "#TiersLieux"."""

    def __init__(self, parts: list[_Node], windows: list[tuple[int, int, _Key]]) -> None:
        self.parts = parts
        self.windows = windows  # (first part, last part + 1, joined key)

    def holds(self, fields: tuple[_Field, ...]) -> bool:
        if not self.windows:
            return all(p.holds(fields) for p in self.parts)
        ok = [p.holds(fields) for p in self.parts]
        if all(ok):
            return True
        for start, end, key in self.windows:
            if not all(ok[start:end]) and key.holds(fields):
                ok[start:end] = [True] * (end - start)
        return all(ok)

    def anchors(self) -> _Anchors:
        best: _Anchors | None = None
        for index, part in enumerate(self.parts):
            if isinstance(part, _Not):
                continue
            found = part.anchors()
            for start, end, key in self.windows:
                if start <= index < end:
                    found = found | key.anchors()
            if best is None or found.cost() < best.cost():
                best = found
        assert best is not None  # the parser guarantees a positive part
        return best

    def clauses(self) -> list[_Anchors]:
        # A part may also be satisfied by a window's joined key ("tiers lieux" by "#TiersLieux").
        found: list[_Anchors] = []
        for index, part in enumerate(self.parts):
            around = _Anchors().union(key.anchors() for start, end, key in self.windows if start <= index < end)
            found.extend(clause | around for clause in part.clauses())
        return found

    def positives(self) -> Iterable[_Node]:
        for part in self.parts:
            yield from part.positives()
        for _, _, key in self.windows:
            yield key


def _lookups(node: _Node) -> Iterable[_Anchors]:
    """Every key and prefix that evaluating the node may look up first."""
    if isinstance(node, _Phrase):
        yield node.lookups()
    elif isinstance(node, _Key | _Prefix):
        yield node.anchors()
    elif isinstance(node, _Not):
        yield from _lookups(node.node)
    elif isinstance(node, _Any):
        for option in node.options:
            yield from _lookups(option)
    elif isinstance(node, _All):
        for part in node.parts:
            yield from _lookups(part)
        for _, _, window in node.windows:
            yield window.anchors()


def _compile_leaf(leaf: Term | Phrase) -> _Node:
    if isinstance(leaf, Term):
        return _Prefix(leaf.word) if leaf.prefix else _Key(singular(leaf.word))
    return _Phrase(leaf)


def _compile(node: Node) -> _Node:
    if isinstance(node, Term | Phrase):
        return _compile_leaf(node)
    if isinstance(node, AnyOf):
        return _Any([_compile_leaf(o) for o in node.options])
    if isinstance(node, Not):
        return _Not(_compile_leaf(node.node))
    parts = [_compile(p) for p in node.parts]
    windows: list[tuple[int, int, _Key]] = []
    for start in range(len(node.parts)):
        for end in range(start + 2, min(start + _MAX_JOIN, len(node.parts)) + 1):
            run = node.parts[start:end]
            if not all(isinstance(p, Term) and not p.prefix for p in run):
                break
            windows.append((start, end, _Key(joined_key([p.word for p in run if isinstance(p, Term)]))))
    return _All(parts, windows)


def _forms(key: str) -> list[str]:
    """The words whose key (`singular`) is `key`: it, plus a final s, x or xs."""
    return [w for w in (key, key + "s", key + "x", key + "xs") if singular(w) == key]


def _trie_pattern(prefixes: Iterable[str]) -> str:
    """A regular expression for " " followed by any of `prefixes`, with a space allowed between
    any two of its characters (the prefix may start a run of joined words)."""
    trie: dict[str, Any] = {}
    for prefix in prefixes:
        node = trie
        for char in prefix:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        if "" in node:  # a shorter prefix ends here: enough to flag the place
            return ""
        options = [re.escape(char) + (" ?" + emit(node[char]) if "" not in node[char] else "") for char in sorted(node)]
        return options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"

    return " (?=" + emit(trie) + ")"


class Matcher:
    """Compiled queries; `match` gives the queries an item satisfies, in query order."""

    def __init__(self, queries: Sequence[Query]) -> None:
        self.queries = tuple(queries)
        self._nodes = [_compile(q.tree) for q in self.queries]
        self._positives = [tuple(n.positives()) for n in self._nodes]
        # Each query is indexed by its cheapest clause, and carries the ids of all its clauses:
        # a candidate is evaluated only when the item holds something of every one of them.
        every_clauses = [node.clauses() for node in self._nodes]
        # A key that many queries use is a common word of their subject ("coworking" beside many
        # place names): a clause made of such keys is met by many items, so it is a poor anchor.
        used_by: dict[str, int] = {}
        for clauses in every_clauses:
            for key in {k for c in clauses for k in c.exact | c.prefixes}:
                used_by[key] = used_by.get(key, 0) + 1

        def cost(clause: _Anchors) -> tuple[int, int, int, int]:
            common = sum(used_by[k] for k in clause.exact | clause.prefixes)
            return (len(clause.prefixes), common, *clause.cost()[1:])

        # A clause is met by any of its tokens: keys, and prefixes written with a final "*" (a
        # key is never written with one).
        self._clauses = [
            tuple(frozenset(c.exact | {prefix + "*" for prefix in c.prefixes}) for c in set(clauses))
            for clauses in every_clauses
        ]
        self._by_key: dict[str, list[int]] = {}
        self._by_prefix: dict[str, list[int]] = {}
        for index, clauses in enumerate(every_clauses):
            anchors = min(clauses, key=cost)
            for key in anchors.exact:
                self._by_key.setdefault(key, []).append(index)
            for prefix in anchors.prefixes:
                self._by_prefix.setdefault(prefix, []).append(index)
        # Sets, so that intersecting with the few keys of an item costs what the item holds.
        self._indexed_keys = frozenset(self._by_key)
        self._indexed_prefixes = frozenset(self._by_prefix)

        lookups = _Anchors().union(a for n in self._nodes for a in _lookups(n))
        known = lookups.exact.union(*(c.exact for clauses in every_clauses for c in clauses))
        # Every word form that may make a known key alone (the key, with its plural)...
        self._key_of_form = {form: key for key in known for form in _forms(key)}
        # ... and joined runs of two or three words: a run starts with a word that is one of a
        # known key's heads and ends with one whose key is one of its tails. The text is read
        # only where such a tail follows such a head. Memory is the keys' heads and tails: a key
        # of n characters gives n - 1 of each (and the words' length is bounded, see MAX_WORD).
        self._known = frozenset(known)
        heads: set[str] = set()
        for key in known:
            cuts = range(1, len(key))
            heads.update(map(key.__getitem__, map(slice, cuts)))  # key[:j]
        self._heads = frozenset(heads)
        # A text word ends a run when its own key is a tail: the tails with every ending that
        # `singular` drops (a few that it would not drop too: they only cost a look).
        self._interest = frozenset(self._key_of_form.keys() | heads)
        del heads

        every_prefix = lookups.prefixes.union(*(c.prefixes for clauses in every_clauses for c in clauses))
        self._prefix_places = re.compile(_trie_pattern(every_prefix)) if every_prefix else None
        self._longest_prefix = max(map(len, every_prefix), default=0)
        self._stem = min(map(len, every_prefix), default=0)
        buckets: dict[str, list[str]] = {}
        for prefix in sorted(every_prefix):
            buckets.setdefault(prefix[: self._stem], []).append(prefix)
        self._buckets = {cut: tuple(bucket) for cut, bucket in buckets.items()}

    def _keys(self, raw: list[str]) -> frozenset[str]:
        """The keys of the queries that the words hold, alone or joined: exact.

        Whole-list operations (set intersections, map, compress) rather than a Python loop over
        the words: Python looks only at the few places where a run may end.
        """
        present = self._interest.intersection(raw)
        if not present:
            return frozenset()
        keys = set(filter(None, map(self._key_of_form.get, present)))
        known = self._known
        heads = self._heads.intersection(present)
        if heads:
            # One pass in C over the words for the places of a head, then a look at the word or
            # two after each. The key of words put end to end is that of the joined word (its
            # plural dropped), but for a last word "s", "x" or "xs", which `singular` keeps whole.
            form_of, every_head, n = self._key_of_form, self._heads, len(raw)
            for i in compress(range(n - 1), map(heads.__contains__, raw)):
                two = raw[i] + raw[i + 1]
                key = raw[i] + singular(raw[i + 1]) if raw[i + 1] in _KEPT else form_of.get(two)
                if key in known:
                    keys.add(key)
                if i + 2 < n and two in every_head:
                    three = two + raw[i + 2]
                    key = two + singular(raw[i + 2]) if raw[i + 2] in _KEPT else form_of.get(three)
                    if key in known:
                        keys.add(key)
        return frozenset(keys)

    def _prefixes(self, head: list[str], body: list[str]) -> tuple[frozenset[str], frozenset[str]]:
        """The prefixes that start a word, or two or three words put end to end, in each field.

        One scan of both fields: the expression allows one space between two characters of a
        prefix, never the line break between the fields.
        """
        if self._prefix_places is None:
            return frozenset(), frozenset()
        title = " ".join(head)
        spaced = " " + title + " \n " + " ".join(body) + " "
        border = len(title) + 1  # where a word starts in the body: after it
        found: tuple[set[str], set[str]] = (set(), set())
        longest, stem, buckets = self._longest_prefix, self._stem, self._buckets
        for place in self._prefix_places.finditer(spaced):
            at = place.start() + 1
            run = "".join(spaced[at : at + longest + 2].split(" ", 3)[:3])
            for prefix in buckets.get(run[:stem], ()):
                if run.startswith(prefix):
                    found[at > border].add(prefix)
        return frozenset(found[0]), frozenset(found[1])

    def match(self, title: str, text: str) -> list[QueryMatch]:
        head_raw, body_raw = words(title), words(text)
        head_prefixes, body_prefixes = self._prefixes(head_raw, body_raw)
        head = _Field(head_raw, self._keys(head_raw), head_prefixes)
        body = _Field(body_raw, self._keys(body_raw), body_prefixes)
        keys = head.keys | body.keys
        prefixes = head.prefixes | body.prefixes
        candidates: set[int] = set()
        candidates.update(*map(self._by_key.__getitem__, keys.intersection(self._indexed_keys)))
        if prefixes:
            candidates.update(*map(self._by_prefix.__getitem__, prefixes.intersection(self._indexed_prefixes)))
        if not candidates:
            return []
        if prefixes:
            keys = keys.union([prefix + "*" for prefix in prefixes])
        # Evaluated only when the item holds something of every clause of the query.
        clauses = self._clauses
        kept = [index for index in sorted(candidates) if not any(map(keys.isdisjoint, clauses[index]))]
        if not kept:
            return []
        both = (head, body)
        matches = []
        for index in kept:
            node = self._nodes[index]
            if not node.holds(both):
                continue
            in_title = node.holds((head,))
            in_body = any(p.holds((body,)) for p in self._positives[index])
            matches.append(QueryMatch(self.queries[index], in_title, in_body))
        return matches


# The last set of queries compiled, and its Matcher.
_last: tuple[tuple[Query, ...], Matcher] | None = None
_last_lock = threading.Lock()
_compiled = 0  # how many sets this process has compiled (see `compilations`)


def compile_queries(queries: Sequence[Query]) -> Matcher:
    """Compile the queries once; the Matcher is then used for every item.

    The last set compiled is kept: the daemon's polls, made with one configuration until it is
    reloaded, compile it once (comparing with the tuple that configuration holds is a pass of
    identity checks). A Matcher never changes once built, so threads may share it.
    """
    global _last, _compiled
    wanted = tuple(queries)
    with _last_lock:
        if _last is None or _last[0] != wanted:
            _last = (wanted, Matcher(wanted))
            _compiled += 1
        return _last[1]


def compilations() -> int:
    """How many sets of queries this process has compiled (a reading process reports it through
    read.compilations): the proof that a configuration is compiled once, not at each poll."""
    return _compiled
