"""Matching items against the queries of keywords.txt, fast enough for thousands of queries.

An item is cut once into normalised words per field (title, body), and every run of one to
three consecutive words is also kept joined end to end, so "tiers lieux", "tiers-lieux",
"tierslieux" and "#TiersLieux" all yield the key "tierslieu". Each compiled query has anchors:
keys of which at least one must be present for the query to hold. An inverted index from
anchor to queries gives the few candidates of an item, and only those are evaluated; prefix
terms are found through a table keyed by their first characters, never by a scan of all queries.

Pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import compress
from operator import add, itemgetter

from watcher.query import AnyOf, Node, Not, Phrase, Term, joined_key, singular, singulars, words
from watcher.types import Query, QueryMatch

__all__ = ["Matcher", "compile_queries"]

_MAX_JOIN = 3  # the longest compound whose spacing does not count


class _Field:
    """The words of one field of an item.

    Only what finding candidates needs is built up front: each word's key, and the joined keys
    that some query asks for (`joined`, filled in by the Matcher). The rows of every joined key,
    which phrases walk, are built on first use: most items match no query at all.
    """

    def __init__(self, text: str) -> None:
        self.raw = words(text)
        self.one = singulars(self.raw)  # the key of each word alone
        self.one_set = set(self.one)
        self.joined: frozenset[str] = frozenset()  # keys of 2 or 3 words joined that some query uses
        self.prefix_hits: set[str] = set()  # the query prefixes that some word or joined run starts with

    def has(self, key: str) -> bool:
        return key in self.one_set or key in self.joined

    @cached_property
    def keys(self) -> tuple[list[str], list[str], list[str]]:
        """keys[k][i]: the key of words i .. i+k put end to end (see query.joined_key)."""
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
        return any(self.prefix in f.prefix_hits for f in fields)

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
        # needs[i]: the keys of which one must be in the text for word i to be matched (every run
        # of query words that covers word i, joined); None where a prefix run covers it.
        self.needs: list[frozenset[str] | None] = []
        for i in range(self.size):
            keys: set[str] | None = set()
            for start in range(max(0, i - _MAX_JOIN + 1), i + 1):
                for a, key in self.groups[start]:
                    if start + a > i and keys is not None:
                        if self._is_prefix_run(start, a):
                            keys = None
                        else:
                            keys.add(key)
            self.needs.append(frozenset(keys) if keys is not None else None)

    def _is_prefix_run(self, i: int, a: int) -> bool:
        return self.prefix and i + a == self.size

    def _may_hold(self, f: _Field) -> bool:
        """Whether every word of the phrase is there, alone or joined: most candidates stop here."""
        for keys in self.needs:
            if keys is not None and keys.isdisjoint(f.one_set) and keys.isdisjoint(f.joined):
                return False
        return True

    def holds(self, fields: tuple[_Field, ...]) -> bool:
        for f in fields:
            if not self._may_hold(f):
                continue
            n = len(f.raw)
            for a, key in self.groups[0]:
                prefix_run = self._is_prefix_run(0, a)
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
        # Keys of which one must be present, per condition, for a query to hold at all: a
        # candidate found through one common word ("projet") is most often dropped here, with a
        # few set operations, before its tree is walked.
        self._needs = [tuple(_needs(n)) for n in self._nodes]
        # Every key a query may look up, anchor or not: the joined keys worth keeping.
        self._known = frozenset(self._anchor_keys.union(*(_keys_of(n) for n in self._nodes)))
        self._starts = frozenset(k[:j] for k in self._known for j in range(1, len(k)))
        # Every prefix a query uses, bucketed by its first `_stem` characters, so that one set
        # operation tells whether any word of a field may start with one of them.
        every_prefix = {p for n in self._nodes for p in _prefixes_of(n)}
        self._stem = min(map(len, every_prefix), default=0)
        self._cut = itemgetter(slice(0, self._stem))
        self._buckets: dict[str, list[str]] = {}
        for prefix in sorted(every_prefix):
            self._buckets.setdefault(prefix[: self._stem], []).append(prefix)
        self._bucket_keys = frozenset(self._buckets)
        self._short_of_prefix = frozenset(p[:i] for p in every_prefix for i in range(1, len(p)))

    def _field(self, text: str) -> _Field:
        f = _Field(text)
        raw, one = f.raw, f.one
        n = len(raw)
        if n > 1:
            # Only words that begin some known key can begin a joined run worth keeping: join
            # there alone rather than every pair and triple of the text.
            starts, known = self._starts, self._known
            joined = set()
            for i in compress(range(n - 1), map(starts.__contains__, raw)):
                first = raw[i]
                if (key := first + one[i + 1]) in known:
                    joined.add(key)
                if i + 2 < n and (two := first + raw[i + 1]) in starts and (key := two + one[i + 2]) in known:
                    joined.add(key)
            f.joined = frozenset(joined)
        if self._buckets:
            self._find_prefixes(f)
        return f

    def _find_prefixes(self, f: _Field) -> None:
        buckets = self._buckets
        stem = self._stem
        cut = self._cut
        hits = f.prefix_hits
        raw = f.raw
        n = len(raw)
        cuts = self._bucket_keys.intersection(map(cut, raw))
        if cuts:
            for w in compress(raw, map(cuts.__contains__, map(cut, raw))):
                hits.update(p for p in buckets[w[:stem]] if w.startswith(p))
        # Two or three words joined can start with a prefix only where the first falls short of
        # it (a first word as long as the prefix starts with it alone, or never will).
        short = self._short_of_prefix
        for i in compress(range(n - 1), map(short.__contains__, raw)):
            two = raw[i] + raw[i + 1]
            hits.update(p for p in buckets.get(two[:stem], ()) if two.startswith(p))
            if i + 2 < n and two in short:
                three = two + raw[i + 2]
                hits.update(p for p in buckets.get(three[:stem], ()) if three.startswith(p))

    def match(self, title: str, text: str) -> list[QueryMatch]:
        head, body = self._field(title), self._field(text)
        anchors = self._anchor_keys
        found = {
            *anchors.intersection(head.one_set),
            *anchors.intersection(body.one_set),
            *anchors.intersection(head.joined),
            *anchors.intersection(body.joined),
        }
        candidates: set[int] = set()
        for key in found:
            candidates.update(self._by_key[key])
        for prefix in head.prefix_hits | body.prefix_hits:
            candidates.update(self._by_prefix.get(prefix, ()))
        if not candidates:
            return []
        both = (head, body)
        present = head.one_set | head.joined | body.one_set | body.joined
        needs = self._needs
        matches: list[QueryMatch] = []
        for index in sorted(candidates):
            for keys in needs[index]:
                if keys.isdisjoint(present):
                    break
            else:
                self._evaluate(index, head, body, both, matches)
        return matches

    def _evaluate(
        self, index: int, head: _Field, body: _Field, both: tuple[_Field, _Field], matches: list[QueryMatch]
    ) -> None:
        """Append the match of query `index` if it holds, saying where."""
        node = self._nodes[index]
        if not node.holds(both):
            return
        in_title = node.holds((head,))
        in_body = any(p.holds((body,)) for p in self._positives[index])
        matches.append(QueryMatch(self.queries[index], in_title, in_body))


def _keys_of(node: _Node) -> Iterable[str]:
    """The keys a node looks up as a whole (words, joined windows), anchors or not."""
    if isinstance(node, _Key):
        yield node.key
    elif isinstance(node, _Phrase):  # what _may_hold looks for
        for keys in node.needs:
            yield from keys or ()
    elif isinstance(node, _Any | _All):
        for child in node.options if isinstance(node, _Any) else node.parts:
            yield from _keys_of(child)
        if isinstance(node, _All):
            for _, _, window in node.windows:
                yield window.key
    elif isinstance(node, _Not):
        yield from _keys_of(node.node)


def _needs(node: _Node) -> Iterable[frozenset[str]]:
    """Sets of keys such that the node can only hold if each set meets the item's keys."""
    if isinstance(node, _Key):
        yield frozenset((node.key,))
    elif isinstance(node, _Phrase):
        yield from (keys for keys in node.needs if keys is not None)
    elif isinstance(node, _All):
        for index, part in enumerate(node.parts):
            if isinstance(part, _Key):  # a window of adjacent words may stand in for it
                yield frozenset((part.key, *(key.key for start, end, key in node.windows if start <= index < end)))
            else:
                yield from _needs(part)
    # _Any, _Not and _Prefix: no set of whole keys is needed


def _prefixes_of(node: _Node) -> Iterable[str]:
    if isinstance(node, _Prefix):
        yield node.prefix
    elif isinstance(node, _Phrase):
        yield from node.anchors().prefixes
    elif isinstance(node, _Any | _All):
        children = node.options if isinstance(node, _Any) else node.parts
        for child in children:
            yield from _prefixes_of(child)
    elif isinstance(node, _Not):
        yield from _prefixes_of(node.node)


def compile_queries(queries: Sequence[Query]) -> Matcher:
    """Compile the queries once; the Matcher is then used for every item."""
    return Matcher(queries)
