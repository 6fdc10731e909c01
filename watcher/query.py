"""Keyword queries: the Google Alerts syntax of one keywords.txt line, parsed into a small tree.

Also owns the word normalisation that the query side and the text side share (`words`,
`singular`, `singulars`, `joined_key`), so that both sides can never drift apart.

Syntax (DESIGN.md, "Matching rules"):

    word          a term; terms separated by spaces are ANDed
    "a phrase"    the words consecutively, in this order
    tiers-lieux   a hyphenated term is a phrase of its parts
    A OR B        either; OR binds tighter than AND
    -term         exclusion, also -"a phrase" and -term*
    term*         any word that starts with term

Tree: `Term` and `Phrase` are the leaves, `AnyOf` is an OR, `AllOf` an AND, `Not` an exclusion.
Leaves hold normalised words but keep the text as written (`text`, ignored by equality) so that
later stages can send the user's own spelling to a network's search.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from watcher.errors import QuerySyntaxError

__all__ = [
    "MAX_QUERY",
    "MAX_WORD",
    "AllOf",
    "AnyOf",
    "Leaf",
    "Node",
    "Not",
    "Phrase",
    "Term",
    "describe",
    "fold",
    "joined_key",
    "parse_query",
    "same_query_key",
    "singular",
    "singulars",
    "terms",
    "words",
]

# --- normalisation ------------------------------------------------------------
#
# Items are many and queries few, so these functions are built from whole-string operations
# (str.replace, bytes.translate, str.split) rather than per-character Python loops.

# Letters that NFKD does not decompose but that readers treat as their plain spelling, and the
# typographic apostrophes that elision accepts. Upper case is listed too: the fast path of
# `words` folds case last.
_LETTERS = (
    ("œ", "oe"), ("Œ", "oe"), ("æ", "ae"), ("Æ", "ae"), ("ø", "o"), ("Ø", "o"), ("ł", "l"), ("Ł", "l"),
    ("đ", "d"), ("Đ", "d"), ("’", "'"), ("‘", "'"), ("ʼ", "'"),
)  # fmt: skip
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
# The marks of French and its neighbours: when they are the only non-ASCII characters left after
# NFKD, dropping every non-ASCII character is the same as dropping the marks, and much faster.
_COMMON_MARKS = ("\u0301", "\u0300", "\u0302", "\u0308", "\u0327", "\u0303")
# Byte by byte: ASCII letters lower-cased, digits and the apostrophe kept, anything else a space.
_ASCII_WORD_BYTES = bytes(
    ord(chr(c).lower()) if c < 128 and chr(c).isalnum() else c if c == ord("'") else ord(" ") for c in range(256)
)
_SEPARATORS = re.compile(r"[^\w']|_")
_ELIDED = frozenset(("qu", "l", "d", "j", "m", "n", "s", "t", "c"))


def _replace_letters(text: str) -> str:
    for letter, plain in _LETTERS:
        if letter in text:
            text = text.replace(letter, plain)
    return text


def fold(text: str) -> str:
    """Casefold, fold accents and ligatures, unify apostrophes: the text that words are cut from."""
    folded = text.casefold()
    if folded.isascii():
        return folded
    return _MARKS.sub("", unicodedata.normalize("NFKD", _replace_letters(folded)))


def _ascii_bytes(text: str) -> bytes | None:
    """`text` as ASCII when folding it only drops accents (most Latin-script text), else None."""
    if text.isascii():
        return text.encode("ascii")
    decomposed = unicodedata.normalize("NFKD", _replace_letters(text))
    ascii_only = decomposed.encode("ascii", "ignore")
    if len(decomposed) - len(ascii_only) == sum(map(decomposed.count, _COMMON_MARKS)):
        return ascii_only
    return None


def _words_reference(text: str) -> list[str]:
    """`words` by the definition, one whole-string step at a time: the fallback of the fast path."""
    text = _split_camel(text)
    ascii_text = _ascii_bytes(text)
    if ascii_text is not None:
        # Same result as the general way below, in whole-buffer operations.
        spaced = ascii_text.translate(_ASCII_WORD_BYTES).decode("ascii")
    else:
        spaced = _SEPARATORS.sub(" ", fold(text))
    return _drop_elisions(spaced).split()


def _drop_elisions(spaced: str) -> str:
    if "'" in spaced:
        # Every apostrophe separates words; the word before it goes too when it is an article.
        parts = spaced.split("'")
        for i in range(len(parts) - 1):
            part = parts[i]
            cut = part.rfind(" ") + 1
            if part[cut:] in _ELIDED:
                parts[i] = part[:cut]
        spaced = " ".join(parts)
    return spaced


def _spaced_char(char: str) -> str:
    """What the definition turns one character into: "" (dropped), one or more characters, or " "."""
    return _SEPARATORS.sub(" ", fold(char))


# The fast path: a character's fold never depends on its neighbours (casefold and NFKD work per
# character, the marks they leave are dropped), so Latin-1 text is folded by one bytes.translate
# after encoding. Characters outside Latin-1 (’, œ, ‘, dashes...) are handed to an encoding error
# handler, one run at a time, which spells them out by the definition; a character whose fold is
# not one ASCII character (ß, µ, Greek, Cyrillic...) is marked with \x01 and the whole text takes
# the reference path.
_UNSURE = 1


def _latin1_table() -> bytes:
    table = bytearray()
    for code in range(256):
        spelled = _spaced_char(chr(code))
        safe = len(spelled) == 1 and spelled.isascii() and spelled == spelled.lower() and code != _UNSURE
        table.append(ord(spelled) if safe else _UNSURE)
    return bytes(table)


_LATIN1_WORD_BYTES = _latin1_table()
_SPELLED: dict[str, str] = {}


def _spell_out(error: UnicodeError) -> tuple[str, int]:
    assert isinstance(error, UnicodeEncodeError)
    out = []
    for char in error.object[error.start : error.end]:
        spelled = _SPELLED.get(char)
        if spelled is None:
            spelled = _spaced_char(char)
            # Only ASCII letters, digits, "'" and " " are safe to translate again; anything else
            # (a letter of another script, "\x01" itself, the capital that NFKD makes of "℃" after
            # casefolding) sends the text to the reference path.
            if not spelled.isascii() or spelled != spelled.lower() or "\x01" in spelled:
                spelled = chr(_UNSURE)
            _SPELLED[char] = spelled
        out.append(spelled)
    return "".join(out), error.end


codecs.register_error("watcher-fold", _spell_out)


# Where a lower-case letter meets a capital, a camel-case compound ("CoworkingLille",
# "#TiersLieuxIDF") is cut into its parts. The parts read joined again through the joined runs of
# matching (up to three words), so "FabLabs" still holds "fablab". Latin letters only: the other
# scripts have no such compounds in feeds we read. One search, then the substitution only in the
# rare text that has one.
_LOWER = "a-zß-öø-ÿœæ"
_UPPER = "A-ZÀ-ÖØ-ÞŒÆ"
_CAMEL = re.compile(f"[{_LOWER}][{_UPPER}]")
_CAMEL_SPLIT = re.compile(f"(?<=[{_LOWER}])(?=[{_UPPER}])")


def _split_camel(text: str) -> str:
    return _CAMEL_SPLIT.sub(" ", text) if _CAMEL.search(text) is not None else text


def words(text: str) -> list[str]:
    """The normalised words of `text`, in order, as written (no plural folding).

    Case, accents, ligatures and elided articles (l' d' j' m' n' s' t' c' qu' at the start of a
    word) are gone; every other character that is not a letter or a digit (spaces, hyphens, '#',
    apostrophes inside a word, punctuation) separates words, and so does the place where a
    lower-case letter meets a capital ("CoworkingLille" is "coworking lille").
    """
    text = _split_camel(text)
    folded = text.encode("latin-1", "watcher-fold").translate(_LATIN1_WORD_BYTES)
    if _UNSURE in folded:
        return _words_reference(text)
    return _drop_elisions(folded.decode("ascii")).split()


def singular(word: str) -> str:
    """The comparison key of one normalised word: a final s, then a final x, does not count.

    A word is never cut to nothing: "s" and "x" stay whole.
    """
    if len(word) > 1 and word[-1] == "s":
        word = word[:-1]
    if len(word) > 1 and word[-1] == "x":
        word = word[:-1]
    return word


def singulars(ws: list[str]) -> list[str]:
    """`[singular(w) for w in ws]`, computed with whole-string operations."""
    keys = (" ".join(ws) + " ").replace("s ", " ").replace("x ", " ").split()
    if len(keys) != len(ws):  # a word was cut to nothing: take the slow, exact way
        return [singular(w) for w in ws]
    return keys


def joined_key(ws: Sequence[str]) -> str:
    """The comparison key of consecutive words put end to end: only the last one loses its plural."""
    return "".join(ws[:-1]) + singular(ws[-1])


# --- the tree -----------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One normalised word; with `prefix`, any word that starts with it."""

    word: str
    prefix: bool = False
    text: str = field(default="", compare=False)  # as written in the query, without the "*"


@dataclass(frozen=True)
class Phrase:
    """Two or more normalised words, consecutively; with `prefix`, the last one is a prefix."""

    words: tuple[str, ...]
    prefix: bool = False
    text: str = field(default="", compare=False)  # as written in the query, without quotes


@dataclass(frozen=True)
class AnyOf:
    """OR: at least one option holds. Options are positive (Term, Phrase)."""

    options: tuple[Term | Phrase, ...]


@dataclass(frozen=True)
class Not:
    """An exclusion: the item must not hold `node`."""

    node: Term | Phrase


@dataclass(frozen=True)
class AllOf:
    """AND: every part holds. At least one part is positive (not a `Not`)."""

    parts: tuple[Term | Phrase | AnyOf | Not, ...]


Leaf: TypeAlias = Term | Phrase
Node: TypeAlias = Term | Phrase | AnyOf | AllOf | Not


# --- parsing ------------------------------------------------------------------

# Longer words and queries are refused: no name or phrase is that long, and compiling a word
# costs memory that grows with the square of its length (match.py indexes its prefixes).
MAX_WORD = 60  # characters of one normalised word: the longest German compounds in use are shorter
MAX_QUERY = 1000  # characters of a whole query, as written


@dataclass(frozen=True)
class _Token:
    kind: str  # "word", "phrase" or "or"
    text: str
    column: int  # 1-based, where the token starts (its '-' or '"' included)
    negated: bool = False


def _lex(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        if query[i].isspace():
            i += 1
            continue
        start = i
        negated = False
        if query[i] == "-":
            negated = True
            i += 1
            if i >= n or query[i].isspace():
                raise QuerySyntaxError(query, start + 1, "a '-' must be followed by a word or a phrase")
        if query[i] == '"':
            close = query.find('"', i + 1)
            if close < 0:
                raise QuerySyntaxError(query, i + 1, "this quote is never closed")
            tokens.append(_Token("phrase", query[i + 1 : close], start + 1, negated))
            i = close + 1
            continue
        j = i
        while j < n and not query[j].isspace() and query[j] != '"':
            j += 1
        text = query[i:j]
        kind = "or" if text == "OR" and not negated else "word"
        tokens.append(_Token(kind, text, start + 1, negated))
        i = j
    return tokens


def _leaf(query: str, token: _Token) -> Term | Phrase:
    text = token.text
    prefix = False
    if token.kind == "word" and text.endswith("*"):
        prefix = True
        text = text[:-1]
    star = text.find("*")
    if star >= 0:
        offset = 1 if token.kind == "phrase" else 0
        column = token.column + (1 if token.negated else 0) + offset + star
        raise QuerySyntaxError(query, column, "'*' is only allowed at the end of a word, outside quotes")
    # A query is read as the user typed it, capitals or not: "FabLab" is the word "fablab" (which
    # the text's "Fab Lab", "FabLab" and "fablab" all hold), not a phrase of two words.
    found = words(text.casefold())
    longest = max(found, key=len, default="")
    if len(longest) > MAX_WORD:
        raise QuerySyntaxError(
            query, token.column, f"a word of {len(longest)} characters: the longest a query may hold is {MAX_WORD}"
        )
    if not found:
        if token.kind == "phrase":
            problem = "empty phrase"
        elif prefix and not text:
            problem = "a '*' must follow a word"
        else:
            problem = f"{token.text!r} holds no word"
        raise QuerySyntaxError(query, token.column, problem)
    if len(found) == 1:
        return Term(found[0], prefix, text)
    return Phrase(tuple(found), prefix, text)


def _dedupe(items: list[Term | Phrase]) -> tuple[Term | Phrase, ...]:
    return tuple(dict.fromkeys(items))


def parse_query(text: str) -> Node:
    """Parse one keywords.txt query; raises QuerySyntaxError with a 1-based column."""
    tokens = _lex(text)
    if not tokens:
        raise QuerySyntaxError(text, 1, "empty query")
    parts: list[Term | Phrase | AnyOf | Not] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.kind == "or":
            raise QuerySyntaxError(text, token.column, "OR needs a term on each side")
        leaf = _leaf(text, token)
        if token.negated:
            if i + 1 < len(tokens) and tokens[i + 1].kind == "or":
                raise QuerySyntaxError(text, token.column, "an exclusion cannot be an option of OR")
            parts.append(Not(leaf))
            i += 1
            continue
        options = [leaf]
        i += 1
        while i < len(tokens) and tokens[i].kind == "or":
            if i + 1 >= len(tokens) or tokens[i + 1].kind == "or":
                raise QuerySyntaxError(text, tokens[i].column, "OR needs a term on each side")
            option = tokens[i + 1]
            if option.negated:
                raise QuerySyntaxError(text, option.column, "an exclusion cannot be an option of OR")
            options.append(_leaf(text, option))
            i += 2
        unique = _dedupe(options)
        parts.append(unique[0] if len(unique) == 1 else AnyOf(unique))
    if all(isinstance(p, Not) for p in parts):
        raise QuerySyntaxError(text, 1, "a query needs at least one term that is not excluded")
    if len(text) > MAX_QUERY:  # checked last: a word too long says more
        raise QuerySyntaxError(
            text, MAX_QUERY + 1, f"a query of {len(text)} characters: the longest accepted is {MAX_QUERY}"
        )
    kept = tuple(dict.fromkeys(parts))
    if len(kept) == 1:
        only = kept[0]
        assert not isinstance(only, Not)
        return only
    return AllOf(kept)


# --- rendering and inspection -------------------------------------------------


def _render_leaf(leaf: Term | Phrase) -> str:
    if isinstance(leaf, Term):
        return leaf.word + ("*" if leaf.prefix else "")
    if leaf.prefix:
        # A quoted phrase cannot carry '*': the hyphenated form parses back to the same leaf.
        return "-".join(leaf.words) + "*"
    return '"' + " ".join(leaf.words) + '"'


def describe(node: Node) -> str:
    """Canonical query text: normalised words, OR options sorted, duplicates gone.

    Two queries with the same description match exactly the same items, and
    `parse_query(describe(n)) == n` for every tree whose OR options are already sorted.
    Plural variants (`fablab`, `fablabs`) are not merged: joined forms depend on the words as
    written.
    """
    if isinstance(node, Term | Phrase):
        return _render_leaf(node)
    if isinstance(node, AnyOf):
        return " OR ".join(sorted(dict.fromkeys(_render_leaf(o) for o in node.options)))
    if isinstance(node, Not):
        return "-" + _render_leaf(node.node)
    return " ".join(dict.fromkeys(describe(p) for p in node.parts))


def same_query_key(node: Node) -> str:
    """What two queries that match exactly the same items have in common, for refusing repeats.

    `describe`, with the plural of whole single words folded (`Coworkings` repeats `coworking`:
    a final s or x never counts on a word alone). Phrases and prefixes keep their words as written.
    """
    return describe(_fold_plural(node))


def _fold_plural(node: Node) -> Node:
    if isinstance(node, Term):
        return node if node.prefix else Term(singular(node.word), False, node.text)
    if isinstance(node, Phrase):
        return node
    if isinstance(node, AnyOf):
        return AnyOf(tuple(_fold_plural(o) for o in node.options))  # type: ignore[misc]
    if isinstance(node, Not):
        return Not(_fold_plural(node.node))  # type: ignore[arg-type]
    return AllOf(tuple(_fold_plural(p) for p in node.parts))  # type: ignore[misc]


def terms(node: Node) -> tuple[Term | Phrase, ...]:
    """The positive leaves (what an item must or may contain), in query order, without exclusions."""
    if isinstance(node, Term | Phrase):
        return (node,)
    if isinstance(node, AnyOf):
        return node.options
    if isinstance(node, Not):
        return ()
    found: list[Term | Phrase] = []
    for part in node.parts:
        found.extend(terms(part))
    return _dedupe(found)
