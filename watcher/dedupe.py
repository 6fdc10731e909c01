"""Story clustering: the same news told by several outlets, found by headline.

URL dedupe is equality of `normalise.canonical_url`, done by the store. Here: the significant
words of a headline, the keys under which near-identical headlines meet (so the store finds
candidates by index lookup instead of comparing every pair), and the check that confirms a
candidate. The store keeps (key, item_id, published) rows and looks new keys up within
`cluster_days`. Pure: values in, values out.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

MIN_WORDS = 4  # shorter headlines ("Coworking news") say too little to tie two items together
MAX_WORDS = 12  # the longest words are kept, bounding the number of keys per title
SAME_STORY_JACCARD = 0.6

# Stored accent-folded, as they are compared after folding ("à" is "a", "où" is "ou").
# Single letters cover elisions: "l'équilibre" splits into "l" and "equilibre".
_STOP_WORDS = frozenset(
    """
    a b c d e f g h i j k l m n o p q r s t u v w x y z qu
    le la les un une des du de au aux et ou ni mais donc or car en dans par pour sur sous avec sans
    chez vers entre ce cet cette ces son sa ses leur leurs mon ma mes ton ta tes notre nos votre vos
    qui que quoi dont il elle ils elles on nous vous je tu se ne pas plus est sont etre ete avoir ont
    fait comme tout tous toute toutes tres aussi apres avant depuis pendant lors selon
    the an of to in on for and or but nor is are was were be been being by with at from as into onto
    about over it its this that these those than then so not no yes his her their our your my we you
    they he she i me us them has have had do does did will would can could should may might
    """.split()  # noqa: SIM905
)

# A trailing " - Le Monde" or " | actu.fr" names the outlet, not the story.
_PUBLISHER_SUFFIX = re.compile(r"^(?P<head>.*\S)\s+[-|–—]\s+(?P<tail>.+)$", re.DOTALL)
_MAX_PUBLISHER_WORDS = 4

_WORD = re.compile(r"[^\W_]+")

# Letters NFKD does not split into base + accent.
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ø": "o", "ł": "l", "đ": "d", "ħ": "h"})


class _Marks(dict[int, int | None]):
    """For str.translate: combining marks map to None (dropped), anything else to itself; learnt once per character."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        self[code] = kept
        return kept


_MARKS = _Marks()


def _fold(text: str) -> str:
    text = text.casefold().translate(_LIGATURES)
    if text.isascii():  # NFKD leaves ASCII as it is and it has no combining mark
        return text
    return unicodedata.normalize("NFKD", text).translate(_MARKS)


def title_words(title: str) -> list[str]:
    """The significant words of a headline, in order, each once.

    Case-folded and accent-folded; punctuation, French and English stop words and a short
    trailing " - Publisher" / " | Publisher" (at most four words) dropped.
    """
    match = _PUBLISHER_SUFFIX.match(title.strip())
    if match and len(match.group("tail").split()) <= _MAX_PUBLISHER_WORDS:
        title = match.group("head")
    words: list[str] = []
    for word in _WORD.findall(_fold(title)):
        if word not in _STOP_WORDS and word not in words:
            words.append(word)
    return words


def _digest(words: list[str]) -> str:
    return hashlib.blake2b("\x1f".join(words).encode(), digest_size=8).hexdigest()


def cluster_keys(title: str) -> tuple[str, ...]:
    """The keys under which near-identical headlines meet; () for a headline under four words.

    With S the set of significant words (capped to the 12 longest), the keys are a hash of
    sorted(S) and, for each word w of S, a hash of sorted(S - {w}). Two headlines that differ
    by one word replaced, added or removed therefore share at least one key. Hashes are
    8-byte BLAKE2b in hex, stable across runs and machines.
    """
    words = set(title_words(title))
    if len(words) < MIN_WORDS:
        return ()
    if len(words) > MAX_WORDS:
        words = set(sorted(words, key=lambda w: (-len(w), w))[:MAX_WORDS])
    ordered = sorted(words)
    keys = [_digest(ordered)]
    keys.extend(_digest([w for w in ordered if w != dropped]) for dropped in ordered)
    return tuple(keys)


def same_story(a: str, b: str) -> bool:
    """Whether two headlines tell the same story: both have four significant words or more and
    the Jaccard index of their word sets is at least 0.6. Confirms a `cluster_keys` match."""
    wa, wb = set(title_words(a)), set(title_words(b))
    if len(wa) < MIN_WORDS or len(wb) < MIN_WORDS:
        return False
    return len(wa & wb) / len(wa | wb) >= SAME_STORY_JACCARD
