"""Editing keywords.txt in place: add, remove or rewrite one query, keeping everything else as it was.

Comments, blank lines, groups and the order of the lines are kept byte for byte; only the
added or removed line changes. A query that does not parse, or that repeats another one after
normalisation, is refused before anything is written, and the file is replaced atomically.
"""

from __future__ import annotations

import difflib
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from watcher.config import parse_keywords, split_weight
from watcher.errors import ConfigError, QuerySyntaxError
from watcher.files import atomic_write_text, editing
from watcher.query import AnyOf, Leaf, Node, Not, Phrase, Term, parse_query, same_query_key, singular
from watcher.types import Query

_GROUP = re.compile(r"^\s*\[([^\]]+)\]\s*$")


@dataclass(frozen=True)
class Edit:
    """What an edit did: the query (as it now reads, or as it read), its line and its group."""

    query: Query
    line: int
    group: str | None
    warning: str | None = None  # written, but it overlaps a query of another group


def read_queries(path: Path) -> tuple[Query, ...]:
    return parse_keywords(_read(path), str(path))


def parse_new_query(line: str, path: Path) -> Query:
    """One query as a user typed it (a weight suffix `^2` allowed); raises ConfigError with the column."""
    text = line.strip()
    if not text:
        raise ConfigError(path, None, "an empty query cannot be added")
    if "\n" in text or "\r" in text:
        raise ConfigError(path, None, "a query is one line")
    if text.startswith("#") or _GROUP.match(text):
        raise ConfigError(path, None, f"{text!r} would be read as a comment or a group, not a query")
    text, weight = split_weight(text)
    try:
        tree = parse_query(text)
    except QuerySyntaxError as exc:
        raise ConfigError(path, None, f"cannot add {text!r}: column {exc.column}: {exc.problem}") from None
    return Query(text=text, line=0, tree=tree, weight=weight)


def add_query(path: Path, line: str, group: str | None = None, replace: str | None = None) -> Edit:
    """Add one query, under `[group]` when given (the group is created at the end if new).

    Without a group the line goes with the queries of no group: after the last of them, or
    before the first `[group]` line, never silently into the last group. With `replace`, the
    query it names is replaced by the new one in place (its line, its group, its weight unless
    the new one has its own). Raises ConfigError (nothing written) on a query that does not
    parse, repeats one, or overlaps one of the same group: a query that another covers (every
    item it matches, the other matches too) would only count its hits twice; the message says
    how to replace it. A query put in a group may overlap a query of another group (each group
    has its share of voice): it is written, and the overlap returned as the Edit's warning.
    FileWriteError when the file cannot be written.
    """
    with editing(path):  # two edits at once would each write over the other's
        return _add_query(path, line, group, replace)


def _add_query(path: Path, line: str, group: str | None, replace: str | None) -> Edit:
    original = _read(path)
    queries = parse_keywords(original, str(path))
    new = parse_new_query(line, path)
    replaced = find_query(queries, replace, path) if replace is not None else None
    others = [q for q in queries if q is not replaced]
    canonical = same_query_key(new.tree)
    for q in others:
        if same_query_key(q.tree) == canonical:
            raise ConfigError(
                path, q.line, f"{new.text!r} is already watched as {q.text!r} (the same query after normalisation)"
            )
    warning = None
    wanted_group = group.strip() if group is not None else replaced.group if replaced is not None else None
    for q in others:
        overlap = _overlap(q, new)
        if overlap:
            fix = f"replace {q.text!r} by {new.text!r}? add it with --replace {_quoted(q.text)}"
            if wanted_group is None or q.group == wanted_group:
                raise ConfigError(path, q.line, f"{overlap}: {fix}")
            # into a group of its own it may be wanted (share of voice): written, with the warning
            warning = f"{path}:{q.line}: {overlap}; {fix}"
    newline = "\r\n" if "\r\n" in original else "\n"
    lines = original.splitlines()
    entry = line.strip()
    if replaced is not None:
        if split_weight(entry)[1] == 1.0 and replaced.weight != 1.0:
            entry = f"{entry} ^{replaced.weight:g}"  # the replaced query's weight stays
        lines[replaced.line - 1] = entry
        at = replaced.line
    elif group is not None:
        group = group.strip()
        if not group or any(c in group for c in "[]") or not group.isprintable():
            raise ConfigError(path, None, f"{group!r} cannot be a group name: a word or words, without [ or ]")
        header = _find_group(lines, group)
        if header is None:
            while lines and not lines[-1].strip():
                lines.pop()
            lines += ["", f"[{group}]", entry] if lines else [f"[{group}]", entry]
            at = len(lines)
        else:
            at = _end_of_section(lines, header)
            lines.insert(at, entry)
            at += 1
    else:
        place = _ungrouped_place(lines)
        if place is None:
            while lines and not lines[-1].strip():
                lines.pop()
            lines.append(entry)
            at = len(lines)
        else:
            lines[place:place] = [entry, ""] if _GROUP.match(lines[place]) else [entry]
            at = place + 1
    text = newline.join(lines) + newline
    updated = parse_keywords(text, str(path))  # the whole file must still be valid
    query = next(q for q in updated if q.line == at)
    atomic_write_text(path, text)
    return Edit(query, at, query.group, warning)


def _ungrouped_place(lines: list[str]) -> int | None:
    """Where a query of no group goes (0-based): after the last query before the first `[group]`
    line, or just before that line; None when the file has no group (then: at its end)."""
    header = next((i for i, raw in enumerate(lines) if _GROUP.match(raw)), None)
    if header is None:
        return None
    last = None
    for index in range(header):
        stripped = lines[index].strip()
        if stripped and not stripped.startswith("#"):
            last = index
    return header if last is None else last + 1


def _quoted(text: str) -> str:
    """The query as one shell word, to paste."""
    return shlex.quote(text)


def _overlap(old: Query, new: Query) -> str | None:
    """Why `new` beside `old` would count the same items twice, or None."""
    if covers(old.tree, new.tree):
        return f"{old.text!r} already matches everything {new.text!r} would match (each would count twice)"
    if covers(new.tree, old.tree):
        return f"{new.text!r} would match everything {old.text!r} matches (each would count twice)"
    return None


def covers(a: Node, b: Node) -> bool:
    """Whether every item that query `b` matches is matched by query `a` too.

    Read on the trees, without any item: each OR-group that `a` requires must be implied by
    one that `b` requires (every option of b's group implies an option of a's), and each
    exclusion of `a` must be one of `b`'s. A sufficient test: it never claims a cover that is
    not one, and finds the everyday cases (`coworking` covers `coworking -recrutement`,
    `coworking Sceaux`, `"coworking rural"`; `télétravail*` covers `télétravailleurs`).
    """
    a_all, a_not = _clauses(a)
    b_all, b_not = _clauses(b)
    if not a_not <= b_not:
        return False
    return all(any(all(any(_implies(x, y) for y in need) for x in have) for have in b_all) for need in a_all)


def _clauses(node: Node) -> tuple[list[tuple[Leaf, ...]], set[str]]:
    """The OR-groups a query requires (each a tuple of leaves) and the keys of its exclusions."""
    if isinstance(node, Term | Phrase):
        return [(node,)], set()
    if isinstance(node, AnyOf):
        return [node.options], set()
    if isinstance(node, Not):
        return [], {same_query_key(node.node)}
    required: list[tuple[Leaf, ...]] = []
    excluded: set[str] = set()
    for part in node.parts:
        more, less = _clauses(part)
        required += more
        excluded |= less
    return required, excluded


def _implies(x: Leaf, y: Leaf) -> bool:
    """Whether an item holding leaf `x` always holds leaf `y`."""
    if same_query_key(x) == same_query_key(y):
        return True
    if isinstance(y, Term):
        word = singular(y.word) if not y.prefix else y.word
        if isinstance(x, Term):
            return y.prefix and x.word.startswith(y.word)
        return not y.prefix and word in (singular(w) for w in x.words)
    return False


def remove_query(path: Path, text: str) -> Edit:
    """Remove the one line holding this query (as written, or the same after normalisation)."""
    with editing(path):
        return _remove_query(path, text)


def _remove_query(path: Path, text: str) -> Edit:
    original = _read(path)
    queries = parse_keywords(original, str(path))
    target = find_query(queries, text, path)
    newline = "\r\n" if "\r\n" in original else "\n"
    lines = original.splitlines()
    del lines[target.line - 1]
    atomic_write_text(path, newline.join(lines) + (newline if lines else ""))
    return Edit(target, target.line, target.group)


def replace_query(path: Path, old: str, new: str) -> Edit:
    """Rewrite the line of the query `old` as `new` (its weight suffix kept), in place: same line,
    same group. Raises ConfigError (nothing written) when `old` is not there or the file would
    not be valid; returns the query as it now reads."""
    with editing(path):
        original = _read(path)
        queries = parse_keywords(original, str(path))
        target = find_query(queries, old, path)
        replacement = parse_new_query(new, path)
        newline = "\r\n" if "\r\n" in original else "\n"
        lines = original.splitlines()
        raw = lines[target.line - 1]
        indent = raw[: len(raw) - len(raw.lstrip())]
        weight = f" ^{target.weight:g}" if target.weight != 1 and replacement.weight == 1 else ""
        lines[target.line - 1] = f"{indent}{new.strip()}{weight}"
        text = newline.join(lines) + newline
        updated = parse_keywords(text, str(path))  # the whole file must still be valid
        query = next(q for q in updated if q.line == target.line)
        atomic_write_text(path, text)
        return Edit(query, target.line, query.group)


def find_query(queries: tuple[Query, ...], text: str, path: Path) -> Query:
    """The query of keywords.txt that `text` names; a near miss is suggested in the error."""
    wanted, _ = split_weight(text.strip())
    for q in queries:
        if q.text == wanted:
            return q
    try:
        canonical = same_query_key(parse_query(wanted))
    except QuerySyntaxError:
        canonical = None
    for q in queries:
        if canonical is not None and same_query_key(q.tree) == canonical:
            return q
    close = difflib.get_close_matches(wanted, [q.text for q in queries], n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else " (see `watcher keywords list`)"
    raise ConfigError(path, None, f"no query {wanted!r} in this file{hint}")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, None, "file not found (use --keywords to name it)") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:  # a folder, no permission
        raise ConfigError(path, None, f"cannot read it: {exc.strerror or exc}") from None


def _find_group(lines: list[str], group: str) -> int | None:
    """The index of the `[group]` line (case and accents as written do count; spaces do not)."""
    for index, raw in enumerate(lines):
        if (m := _GROUP.match(raw)) and m.group(1).strip() == group:
            return index
    return None


def _end_of_section(lines: list[str], header: int) -> int:
    """Where a new line of the section starting at `header` goes: after its last query line."""
    last = header
    for index in range(header + 1, len(lines)):
        stripped = lines[index].strip()
        if _GROUP.match(stripped):
            break
        if stripped and not stripped.startswith("#"):
            last = index
    return last + 1
