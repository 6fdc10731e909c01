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


def test_measures_on_a_few_items_agree_with_the_hits_the_watch_stored(rel: ModuleType, tmp_path: Path) -> None:
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
    _, groups, digest, related = rel.run_plain(items, ROOT / "keywords.txt", tmp_path)
    hit_ids = [i for g in groups for i in g]
    by = {i.id: i for i in items}
    # the two items that name the theme are hits whatever the scoring does
    assert {i.id for i in items if "coworking" in i.link or "tiers-lieu" in i.link} <= set(hit_ids)
    assert set(digest) <= set(hit_ids) and len(set(hit_ids)) == len(hit_ids)
    assert related <= set(hit_ids)
    m = rel.measure(items, groups, digest, related)
    assert m.related_hits == len(related)
    relevant = [i for i in items if i.label == "relevant"]
    assert m.hits == len(hit_ids) and m.noise_hits == sum(by[i].label == "noise" for i in hit_ids)
    assert m.recall_relevant == sum(i.id in hit_ids for i in relevant) / len(relevant)
    assert m.p_at_10 == pytest.approx((m.hits - m.noise_hits) / m.hits)  # fewer than 10 hits
    assert m.digest_noise == sum(by[i].label == "noise" for i in digest)
    assert all(by[w["id"]].label == "noise" for w in m.worst if w["problem"] != "relevant, not a hit")
    assert {w["id"] for w in m.worst if w["problem"] == "relevant, not a hit"} == {
        i.id for i in relevant if i.id not in hit_ids
    }


def test_the_whole_evaluation_reports_feedback_measured_or_why_not(rel: ModuleType) -> None:
    items = [i for i in rel.load_corpus(rel.DEFAULT_CORPUS) if "greenlab-coworking" in i.feed][:4]
    result = rel.evaluate(items, ROOT / "keywords.txt")
    assert result["no_feedback"]["items"] == len(items)
    feedback = result["feedback"]
    assert feedback["status"] in ("n/a", "measured")
    if feedback["status"] == "measured":
        assert feedback["half_b"]["items"] == len(rel.halves(items)[1])
    else:
        assert "relay skip --noise" in feedback["why"]
    assert "digest noise" in rel.table(result)
