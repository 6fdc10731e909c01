"""The language benchmark's data and watcher's detector on it: every corpus item labelled, and the
filter leaves out almost no item of a language that the watch reads."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from watcher.language import detect

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_language", ROOT / "bench" / "language.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_language"] = module
    spec.loader.exec_module(module)
    return module


def test_every_item_of_the_relevance_corpus_has_its_language(bench: ModuleType) -> None:
    items = bench.load(ROOT / "bench" / "relevance", ROOT / "bench" / "language" / "labels.tsv")
    assert len(items) == 470
    assert {lang for _, lang, _, _ in items} == {"fr", "en"}
    assert all(title for _, _, title, _ in items)


def test_watcher_gives_hardly_any_real_item_another_language_than_its_own(bench: ModuleType) -> None:
    items = bench.load(ROOT / "bench" / "relevance", ROOT / "bench" / "language" / "labels.tsv")
    answers = [(lang, detect(title, text, None)) for _, lang, title, text in items]
    misread = [(lang, found) for lang, found in answers if found is not None and found != lang]
    unknown = [lang for lang, found in answers if found is None]
    # an unknown language is read (not left out); another language than its own is left out
    assert len(misread) <= len(items) // 100, misread
    assert len(unknown) <= len(items) // 20
    english = [found for lang, found in answers if lang == "en"]
    assert english.count("en") >= len(english) - 1, "the English items are told apart"
