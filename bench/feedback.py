"""What the triage teaches the score: how many labels it needs, and what learning costs.

    python bench/feedback.py [--corpus bench/relevance] [--draws 40] [--labels 10000]

1. Labels needed. The labelled corpus of bench/relevance (real feed items, each labelled
   relevant, partly or noise) is read through watcher's own stages (RSS parse, normalise, match,
   score) with the project's keywords.txt; its hits are what a user would triage. For each
   number n of labels, `--draws` times: n hits drawn at random among those labelled relevant
   (a pick) or noise (a noise mark), the model learned from them, and the other hits ranked by
   their score with the learned part. Reported: the average precision of that ranking (useful =
   relevant or partly) against the score alone, and how often the part made it worse. The
   smallest n from which it helps in most draws and hurts in few is feedback.MIN_LABELS.
2. Cost. A database of `--labels` labelled hits (the corpus's hits again and again under
   distinct addresses, so each has real text), and the time to learn from it as a triage
   command does (read the labelled hits, cut their features, train with its cross-validation),
   best of three; and feedback.train alone.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from relevance import average_precision, feed_documents, load_corpus  # noqa: E402

from watcher import feedback, labels  # noqa: E402
from watcher.config import parse_keywords  # noqa: E402
from watcher.match import compile_queries  # noqa: E402
from watcher.read import hits_of  # noqa: E402
from watcher.sources import adapter  # noqa: E402
from watcher.store import Store  # noqa: E402
from watcher.types import Fetched, FetchRequest, Hit, SourceResult, SourceSpec  # noqa: E402

SIZES = (4, 6, 8, 10, 14, 20, 26, 32, 40, 50)
USEFUL = ("relevant", "partly")


def corpus_hits(corpus: Path, keywords: Path, now: datetime) -> list[tuple[Hit, str]]:
    """(hit, label) for each corpus item that matches a query of `keywords`."""
    items = load_corpus(corpus)
    by_key = {i.id: i.label for i in items}
    by_link = {i.link: i.label for i in items}
    matcher = compile_queries(parse_keywords(keywords.read_text(encoding="utf-8")))
    out = []
    for name, body in feed_documents(items).items():
        spec = SourceSpec(name=name[:-4], kind="rss", url=f"https://{name[:-4]}.example/feed")
        fetched = Fetched(FetchRequest(url=spec.url or ""), spec.url or "", 200, {}, body)
        parsed = adapter("rss").parse(spec, fetched, {})
        for hit in hits_of(matcher, parsed.items, spec, now):
            label = by_key.get(hit.item.key) or by_link.get(hit.item.url)
            if hit.score > 0 and label:
                out.append((hit, label))
    return out


def learning_curve(hits: list[tuple[Hit, str]], draws: int, seed: int = 1) -> None:
    feats = [feedback.features(labels.example_of_item(h.item)) for h, _ in hits]
    pool = [k for k, (_, lab) in enumerate(hits) if lab in ("relevant", "noise")]
    print(
        f"{len(hits)} hits of the corpus; {sum(1 for _, lab in hits if lab == 'relevant')} relevant,"
        f" {sum(1 for _, lab in hits if lab == 'partly')} partly, {sum(1 for _, lab in hits if lab == 'noise')} noise"
    )
    print(f"{'labels':>6}  {'AP, score alone':>15}  {'AP, with part':>13}  {'better':>6}  {'worse':>6}  {'CV AUC':>6}")
    rng = random.Random(seed)
    for n in SIZES:
        if n >= len(pool):
            break
        base_aps, part_aps, cv = [], [], []
        better = worse = 0
        for _ in range(draws):
            chosen = rng.sample(pool, n)
            taught = [(feats[k], hits[k][1] == "relevant") for k in chosen]
            if all(t[1] for t in taught) or not any(t[1] for t in taught):
                continue
            model = feedback.train(taught)
            if model.quality is not None:
                cv.append(model.quality.auc)
            rest = [k for k in range(len(hits)) if k not in set(chosen)]
            scored = []
            for k in rest:
                hit, lab = hits[k]
                learned = feedback.part(model, feats[k], force=True)
                adjusted, _ = feedback.adjust(hit.score, hit.breakdown, learned)
                scored.append((hit.score, adjusted, lab))
            base = average_precision([lab for *_, lab in sorted(scored, key=lambda s: -s[0])])
            with_part = average_precision([lab for *_, lab in sorted(scored, key=lambda s: -s[1])])
            if base is None or with_part is None:
                continue
            base_aps.append(base)
            part_aps.append(with_part)
            better += with_part > base + 0.005
            worse += with_part < base - 0.005
        done = len(base_aps)
        if not done:
            continue
        auc = f"{statistics.mean(cv):.2f}" if cv else "n/a"
        print(
            f"{n:>6}  {statistics.mean(base_aps):>15.3f}  {statistics.mean(part_aps):>13.3f}"
            f"  {100 * better / done:>5.0f}%  {100 * worse / done:>5.0f}%  {auc:>6}"
        )


def learning_cost(hits: list[tuple[Hit, str]], total: int, now: datetime) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "watch.db"
        spec = SourceSpec(name="bench", kind="rss", url="https://bench.example/feed")
        picked, noise = [], []
        with Store(db) as store:
            batch: list[Hit] = []
            for n in range(total):
                hit, lab = hits[n % len(hits)]
                url = f"{hit.item.url}#copy-{n}" if "?" in hit.item.url else f"{hit.item.url}?copy={n}"
                item = replace(hit.item, source="bench", key=url, url=url, canonical_url=url)
                batch.append(replace(hit, item=item))
                (noise if lab == "noise" else picked).append(n + 1)
                if len(batch) == 1000:
                    store.save_source(SourceResult(spec, "ok"), batch, now=now, next_poll=now, failures=0)
                    batch = []
            if batch:
                store.save_source(SourceResult(spec, "ok"), batch, now=now, next_poll=now, failures=0)
            store.set_state(picked, "picked", allowed_from=["new"], now=now)
            store.set_state(noise, "noise", allowed_from=["new"], now=now)
            started = time.perf_counter()
            refreshed = labels.refresh(store, now)  # the first time: every labelled hit's features cut and kept
            first_time = time.perf_counter() - started
            assert refreshed is not None
            learn_times, train_times = [], []
            for _ in range(3):
                started = time.perf_counter()
                model, cut = labels.learn(store)  # what a triage command does next: read, train
                learn_times.append(time.perf_counter() - started)
                assert not cut
            labelled = [
                (set(r["features"].split("\n")), r["state"] != "noise")
                for r in store.labelled_hits(["picked", "noise"], feedback.FEATURES_VERSION)
            ]
            for _ in range(3):
                started = time.perf_counter()
                feedback.train(labelled)
                train_times.append(time.perf_counter() - started)
        print(
            f"learning from {model.labels} labels ({model.positives} relevant, {model.negatives} noise;"
            f" {len(model.counts)} features kept): {min(learn_times):.2f} s as a triage command does"
            f" (read the kept features, train with leave-one-out), {min(train_times):.2f} s of it to train;"
            f" the first time, cutting every labelled hit's features too and storing: {first_time:.2f} s"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / "bench" / "relevance")
    ap.add_argument("--keywords", type=Path, default=ROOT / "keywords.txt")
    ap.add_argument("--draws", type=int, default=40)
    ap.add_argument("--labels", type=int, default=10_000)
    args = ap.parse_args()
    now = datetime.now(UTC)
    hits = corpus_hits(args.corpus, args.keywords, now)
    settings = f"MIN_LABELS={feedback.MIN_LABELS}, MIN_EACH={feedback.MIN_EACH}, MAX_POINTS={feedback.MAX_POINTS:g}"
    print(f"feedback: {settings}")
    learning_curve(hits, args.draws)
    learning_cost(hits, args.labels, now)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
