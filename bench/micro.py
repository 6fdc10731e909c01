"""Micro-benchmarks of the hot stages: matching (queries x items), html_to_text, and `watcher --help`.

    python bench/micro.py [--items 25000] [--queries 1000] [--repeat 3]

Matching runs on one core in this process: 10, 13 (the project's keywords.txt) and 1,000
queries over the same items of generated French text. The 1,000 queries are generated from a
seed too: single words, compounds, phrases, OR, exclusions and prefixes, over a vocabulary of
common words of the text and rarer made-up names, the way a network watching many places would
write them.
"""

from __future__ import annotations

import argparse
import compileall
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import gen  # noqa: E402

from watcher.config import parse_keywords  # noqa: E402
from watcher.match import compile_queries  # noqa: E402
from watcher.normalise import html_to_text  # noqa: E402
from watcher.query import parse_query  # noqa: E402
from watcher.types import Query  # noqa: E402

COMMON = """projet atelier mairie conseil quartier habitants entreprise coopérative artisans université
médiathèque festival formation numérique rénovation énergétique mobilité jardin ressourcerie marché
producteurs subventions bénévoles réunion publique transition écologique programme inscription
édition budget partenaires collectivité travaux calendrier accueil permanence résidence artistes""".split()  # noqa: SIM905
SYLLABLES = "ba be bi bo ca co da de di do fa fe ga go la le li lo ma me mi mo na ne no pa pe po ra re ri ro sa se so ta te ti to va ve vi vo".split()  # noqa: E501, SIM905


def made_up(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def generated_queries(count: int, seed: int = 3) -> list[Query]:
    """Queries the way a network watching many places writes them: mostly names of its own (rare in
    the text), with common words only beside them, so that few queries hold for any one item but
    many are worth looking at (their common word is there)."""
    rng = random.Random(seed)
    texts: list[str] = []
    seen: set[str] = set()
    while len(texts) < count:
        name, other, common = made_up(rng), made_up(rng), rng.choice(COMMON)
        shape = rng.random()
        if shape < 0.35:
            text = name
        elif shape < 0.5:
            text = f"{name}-{other}" if rng.random() < 0.5 else f"{common}-{name}"
        elif shape < 0.65:
            text = f'"{common} {name}"' if rng.random() < 0.5 else f'"{name} de {other}"'
        elif shape < 0.75:
            text = f"{common} {name}"
        elif shape < 0.85:
            text = f"{name} OR {other}"
        elif shape < 0.93:
            text = f"{name} -{common}"
        else:
            text = f"{name[:5]}*"
        if text not in seen:
            seen.add(text)
            texts.append(text)
    return [Query(text=t, line=n + 1, tree=parse_query(t)) for n, t in enumerate(texts)]


def time_matching(
    sets: list[list[Query]], items: list[tuple[str, str]], repeat: int = 1
) -> list[tuple[float, int]]:
    """Best CPU time of `repeat` runs of each query set, and its matches.

    The sets take turns, one run each per round, so that each sees the same spells of a shared
    machine; the best run of each is the least disturbed.
    """
    matchers = [compile_queries(queries) for queries in sets]
    best = [float("inf")] * len(sets)
    found = [0] * len(sets)
    for _ in range(repeat):
        for n, matcher in enumerate(matchers):
            start = time.process_time()
            count = 0
            for title, text in items:
                count += len(matcher.match(title, text))
            best[n] = min(best[n], time.process_time() - start)
            found[n] = count
    return list(zip(best, found, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=25_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3, help="matching runs per query set; the best CPU time counts")
    args = parser.parse_args()
    compileall.compile_dir(ROOT / "watcher", quiet=1)  # as installed: see run.py

    items = gen.stories_text(args.items)
    many = generated_queries(args.queries)
    project = list(parse_keywords((ROOT / "keywords.txt").read_text()))
    sets = {"10 queries": many[:10], "keywords.txt": project, f"{len(many)} queries": many}
    timed = time_matching(list(sets.values()), items, args.repeat)
    rows = [
        (label, len(queries), seconds, found)
        for (label, queries), (seconds, found) in zip(sets.items(), timed, strict=True)
    ]
    size = statistics.mean(len(t) for _, t in items)
    print(f"Matching, {len(items):,} items of ~{size:.0f} characters, one core, best of {args.repeat} (in turns):")
    print("| queries | count | CPU s | µs per item | matches |")
    print("|---|---:|---:|---:|---:|")
    for label, n, seconds, found in rows:
        print(f"| {label} | {n} | {seconds:.2f} | {seconds / len(items) * 1e6:.0f} | {found:,} |")
    ratio = rows[2][2] / rows[0][2]
    print(f"- {rows[2][1]} queries x {len(items):,} items: **{rows[2][2]:.2f} s** (target ≤ 3 s)")
    print(f"- {rows[2][1]} queries cost **{ratio:.2f}x** what 10 cost (target ≤ 2x)")

    fragments = [f"<p>{t}</p><p>{t[:200]}</p>" for _, t in items[:5000]]
    plain = [t for _, t in items[:5000]]
    for label, texts in (("HTML fragments", fragments), ("plain text", plain)):
        start = time.process_time()
        for t in texts:
            html_to_text(t)
        spent = time.process_time() - start
        print(f"- html_to_text on {label}: {spent / len(texts) * 1e6:.0f} µs each")

    watcher = Path(sys.executable).parent / "watcher"
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([str(watcher), "--help"], check=True, capture_output=True)
        runs.append(time.perf_counter() - start)
    print(
        f"- `watcher --help`: **{min(runs):.3f} s** best of 5, median {statistics.median(runs):.3f} s (target ≤ 0.3 s)"
    )


if __name__ == "__main__":
    main()
