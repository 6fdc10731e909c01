"""The relevance benchmark's measures, on a few labelled items of its corpus, through the real watcher."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rel() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_relevance", ROOT / "bench" / "relevance.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_relevance"] = module
    spec.loader.exec_module(module)
    return module


def test_precision_and_average_precision_follow_their_definitions(rel: ModuleType) -> None:
    ranking = ["relevant", "noise", "partly", "noise"]
    assert rel.precision_at(ranking, 2) == 0.5
    assert rel.precision_at(ranking, 30) == 0.5  # fewer hits than 30: over the hits there are
    assert rel.average_precision(ranking) == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert rel.precision_at([], 10) is None
    assert rel.average_precision(["noise"]) is None


def test_every_corpus_item_has_a_label_and_provenance(rel: ModuleType) -> None:
    items = rel.load_corpus(rel.DEFAULT_CORPUS)
    assert len(items) >= 300
    assert {i.label for i in items} == {"relevant", "partly", "noise"}
    assert len({i.link for i in items}) == len(items)  # hits are matched to items by their link
    a, b = rel.halves(items)
    assert not {i.id for i in a} & {i.id for i in b} and len(a) + len(b) == len(items)


def test_measures_on_a_few_items_match_their_labels(rel: ModuleType) -> None:
    wanted = (
        "un-tiers-lieu-pour-developper-le-lien-social",  # relevant, holds "tiers-lieu"
        "la-maison-du-coworking",  # relevant, holds "coworking"
        "kheoos-recompensee",  # noise, holds "innovation"
        "mediatheque-municipale-balma",  # relevant, no query word
        "tesla-stock-price-nvidia",  # noise, English "chip maker"
        "precarite-energetique",  # noise, no query word
    )
    items = [i for i in rel.load_corpus(rel.DEFAULT_CORPUS) if any(w in i.link for w in wanted)]
    assert len(items) == len(wanted)
    result = rel.evaluate(items, ROOT / "keywords.txt")
    m = result["no_feedback"]
    by = {i.id: i for i in items}
    coworking = next(i for i in items if "maison-du-coworking" in i.link)
    no_word = next(i for i in items if "precarite-energetique" in i.link)
    assert m["items"] == len(items) and m["relevant_items"] == 3
    assert 2 <= m["hits"] <= len(items) - 1  # the items holding "coworking"/"tiers-lieu" are hits; one holds no word
    assert m["digest_stories"] <= m["hits"]
    assert m["recall_relevant"] is not None and m["recall_relevant"] >= 2 / 3
    assert m["p_at_10"] == pytest.approx((m["hits"] - m["noise_hits"]) / m["hits"])
    assert coworking.id not in {w["id"] for w in m["worst"]}
    assert no_word.id not in {w["id"] for w in m["worst"]}
    assert all(by[w["id"]].label == "noise" for w in m["worst"] if w["problem"] == "noise ranked high")
    feedback = result["feedback"]
    assert feedback["status"] in ("n/a", "measured")
    if feedback["status"] == "measured":
        assert feedback["half_b"]["items"] == len(rel.halves(items)[1])
    assert "digest noise" in rel.table(result)
