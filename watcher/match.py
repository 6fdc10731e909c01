"""Matching items against the queries of keywords.txt, fast enough for thousands of queries.

An item is cut once into normalised words, and every run of two or three consecutive words is
also put end to end, so "tiers lieux", "tiers-lieux", "tierslieux" and "#TiersLieux" all give
the key "tierslieu". Each compiled query has anchors: keys (or prefixes) of which at least one
must be present for the query to hold. Inverted indexes from anchor to queries give the few
candidate queries of an item, and only those are evaluated, field by field (title, body).
Prefix terms are found through a table keyed by their first characters, never by trying every
query. Finding candidates uses whole-list operations (set intersections, map) rather than a
Python loop over the words, since most items match no query at all.

Pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import compress
from operator import add, and_, itemgetter

from watcher.query import AnyOf, Node, Not, Phrase, Term, joined_key, singular, singulars, words
from watcher.types import Query, QueryMatch

__all__ = ["Matcher", "compile_queries"]

_MAX_JOIN = 3  # the longest compound whose spacing does not count


@dataclass(frozen=True)
class _Seen:
    """What a whole item holds of the keys and prefixes the queries use.

    Runs across the end of the title and the start of the body are included: this only decides
    which queries are worth evaluating, and a key or prefix outside it is absent from every
    field, which rejects most candidates without building anything.
    """

    keys: frozenset[str]
    joined_keys: frozenset[str]  # the keys held by two or three words put end to end
    prefixes: frozenset[str]
    joined_prefixes: frozenset[str]  # the prefixes that start two or three words put end to end


class _Field:
    """The words of one field of an item (title or body), read by candidate queries.

    Joined runs are built on first use: only the few items that have candidates get here.
    """

    def __init__(self, raw: list[str], one: list[str], seen: _Seen) -> None:
        self.raw = raw  # normalised words, as written
        self.one = one  # the key of each word alone
        self.seen = seen

    def has(self, key: str) -> bool:
        if key not in self.seen.keys:
            return False
        return key in self.one or (key in self.seen.joined_keys and key in self.joined)

    def starts_with(self, prefix: str) -> bool:
        if prefix not in self.seen.prefixes:
            return False
        if (" " + prefix) in self._spaced[0]:
            return True
        return prefix in self.seen.joined_prefixes and (" " + prefix) in self._spaced[1]

    @cached_property
    def keys(self) -> tuple[list[str], list[str], list[str]]:
        """keys[k][i]: the key of words i .. i+k put end to end (see query.joined_key)."""
        raw2 = self.rawjoins[1]
        return (self.one, list(map(add, self.raw, self.one[1:])), list(map(add, raw2, self.one[2:])))

    @cached_property
    def joined(self) -> set[str]:
        return set(self.keys[1]).union(self.keys[2])

    @cached_property
    def rawjoins(self) -> tuple[list[str], list[str], list[str]]:
        """rawjoins[k][i]: words i .. i+k put end to end, as written (what prefixes are compared with)."""
        raw2 = list(map(add, self.raw, self.raw[1:]))
        return (self.raw, raw2, list(map(add, raw2, self.raw[2:])))

    @cached_property
    def _spaced(self) -> tuple[str, str]:
        # " w1 w2 ... ": a prefix starts a word when " " + prefix occurs in it; the second
        # string does the same for the runs of two and three words.
        _, two, three = self.rawjoins
        return " " + " ".join(self.raw), " " + " ".join(two) + " " + " ".join(three)


@dataclass(frozen=True)
class _Anchors:
    exact: frozenset[str] = frozenset()
    prefixes: frozenset[str] = frozenset()

    def __or__(self, other: _Anchors) -> _Anchors:
        return _Anchors(self.exact | other.exact, self.prefixes | other.prefixes)

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
        return self.anchors() | _Anchors(self.end_keys, self.end_prefixes)

    def holds(self, fields: tuple[_Field, ...]) -> bool:
        seen = fields[0].seen
        if seen.keys.isdisjoint(self.end_keys) and seen.prefixes.isdisjoint(self.end_prefixes):
            return False
        for f in fields:
            n = len(f.raw)
            for a, key in self.groups[0]:
                prefix_run = self._is_prefix_run(0, a)
                if key not in (f.seen.prefixes if prefix_run else f.seen.keys):
                    continue
                for b in range(min(_MAX_JOIN, n)):
                    row = f.rawjoins[b] if prefix_run else f.keys[b]
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
                elif f.keys[b][pos] == key and self._walk(f, i + a, pos + b + 1):
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


class _Not(_Node):
    def __init__(self, node: _Node) -> None:
        self.node = node

    def holds(self, fields: tuple[_Field, ...]) -> bool:
        return not self.node.holds(fields)

    def anchors(self) -> _Anchors:  # pragma: no cover - an exclusion is never chosen as anchor
        raise AssertionError("an exclusion has no anchors")

    def positives(self) -> Iterable[_Node]:
        return ()


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


class Matcher:
    """Compiled queries; `match` gives the queries an item satisfies, in query order."""

    def __init__(self, queries: Sequence[Query]) -> None:
        self.queries = tuple(queries)
        self._nodes = [_compile(q.tree) for q in self.queries]
        self._positives = [tuple(n.positives()) for n in self._nodes]
        self._by_key: dict[str, list[int]] = {}
        self._by_prefix: dict[str, list[int]] = {}
        for index, node in enumerate(self._nodes):
            anchors = node.anchors()
            for key in anchors.exact:
                self._by_key.setdefault(key, []).append(index)
            for prefix in anchors.prefixes:
                self._by_prefix.setdefault(prefix, []).append(index)
        self._anchor_keys = frozenset(self._by_key)
        lookups = [a for n in self._nodes for a in _lookups(n)]
        self._known = frozenset().union(*(a.exact for a in lookups))
        self._short_of_key = frozenset(k[:i] for k in self._known for i in range(1, len(k)))
        self._tail_of_key = frozenset(k[i:] for k in self._known for i in range(1, len(k)))
        # Every prefix a query uses, bucketed by its first `_stem` characters, so that one set
        # operation tells whether any word may start with one of them.
        every_prefix = frozenset().union(*(a.prefixes for a in lookups))
        self._stem = min(map(len, every_prefix), default=0)
        self._cut = itemgetter(slice(0, self._stem))
        buckets: dict[str, list[str]] = {}
        for prefix in sorted(every_prefix):
            buckets.setdefault(prefix[: self._stem], []).append(prefix)
        self._buckets = {cut: tuple(bucket) for cut, bucket in buckets.items()}
        self._bucket_keys = frozenset(self._buckets)
        self._short_of_prefix = frozenset(p[:i] for p in every_prefix for i in range(1, len(p)))

    def _seen(self, raw: list[str], one: list[str]) -> _Seen:
        """The keys and prefixes of the queries that the words hold, alone or joined."""
        known = self._known
        last = len(raw) - 1
        # Two or three words joined give a key only where the first word falls short of it
        # and the last word's key ends it: build joined runs only there, not at every word.
        short, tails = self._short_of_key, self._tail_of_key
        starts = list(map(short.__contains__, raw))
        ends = list(map(tails.__contains__, one))
        joined: set[str] = set()
        for i in compress(range(last), map(and_, starts, ends[1:])):
            if raw[i] + one[i + 1] in known:
                joined.add(raw[i] + one[i + 1])
        for i in compress(range(last - 1), map(and_, starts, ends[2:])):
            run = raw[i] + raw[i + 1] + one[i + 2]
            if run in known:
                joined.add(run)
        keys = known.intersection(one).union(joined)
        if not self._buckets:
            return _Seen(keys, frozenset(joined), frozenset(), frozenset())
        buckets = self._buckets
        stem = self._stem
        cut = self._cut
        prefixes: set[str] = set()
        cuts = self._bucket_keys.intersection(map(cut, raw))
        if cuts:
            for w in compress(raw, map(cuts.__contains__, map(cut, raw))):
                bucket = buckets[w[:stem]]
                if w.startswith(bucket):
                    prefixes.update(p for p in bucket if w.startswith(p))
        # A joined run starts with a prefix that its first word alone does not only when that
        # word falls short of the prefix.
        joined_prefixes: set[str] = set()
        short = self._short_of_prefix
        if not short.isdisjoint(raw):
            for i in compress(range(len(raw) - 1), map(short.__contains__, raw)):
                for run in ("".join(raw[i : i + 2]), "".join(raw[i : i + 3])):
                    bucket = buckets.get(run[:stem], ())
                    if run.startswith(bucket):
                        joined_prefixes.update(p for p in bucket if run.startswith(p))
        return _Seen(keys, frozenset(joined), frozenset(prefixes | joined_prefixes), frozenset(joined_prefixes))

    def match(self, title: str, text: str) -> list[QueryMatch]:
        head_raw, body_raw = words(title), words(text)
        raw = head_raw + body_raw
        one = singulars(raw)
        seen = self._seen(raw, one)
        candidates: set[int] = set()
        by_key, by_prefix = self._by_key, self._by_prefix
        for key in seen.keys:
            candidates.update(by_key.get(key, ()))
        for prefix in seen.prefixes:
            candidates.update(by_prefix.get(prefix, ()))
        if not candidates:
            return []
        cut = len(head_raw)
        head, body = _Field(head_raw, one[:cut], seen), _Field(body_raw, one[cut:], seen)
        both = (head, body)
        matches = []
        for index in sorted(candidates):
            node = self._nodes[index]
            if not node.holds(both):
                continue
            in_title = node.holds((head,))
            in_body = any(p.holds((body,)) for p in self._positives[index])
            matches.append(QueryMatch(self.queries[index], in_title, in_body))
        return matches


def compile_queries(queries: Sequence[Query]) -> Matcher:
    """Compile the queries once; the Matcher is then used for every item."""
    return Matcher(queries)
