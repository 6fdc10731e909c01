"""What compiling the queries costs: time and peak memory for many queries of each shape.

    python bench/compile.py [--queries 10000] [--shapes plain,or,phrase,mixed,long]

Each shape is compiled in a child process of its own, timed there (wall and CPU) and measured by
the kernel (`wait4`: peak resident memory, the interpreter and watcher's imports included; the
row "imports only" shows what that floor is). Shapes, over made-up words of 4 to 8 letters:

- plain: one word (`bavoli`);
- or: `A OR B C`;
- phrase: a quoted phrase of three words (`"bavoli de tosami"`);
- mixed: the generated queries of micro.py (words, compounds, phrases, OR, exclusions, prefixes);
- long: at most 1,000 phrases of three words of MAX_WORD (60) letters each, the longest words
  that `check` accepts (a longer one is refused); memory grows with the square of a word's
  length, so 10,000 of these would take about 1 GB.

Targets (issue: hardening): 10,000 queries of any shape in at most 2 s and 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

SYLLABLES = "ba be bi bo ca co da de di do fa fe ga go la le li lo ma me mi mo na ne no pa pe po ra re ri ro sa se so ta te ti to va ve vi vo".split()  # noqa: E501, SIM905


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))


def texts(shape: str, count: int, seed: int = 5) -> list[str]:
    """`count` distinct query texts of one shape."""
    if shape == "mixed":
        import micro

        return [q.text for q in micro.generated_queries(count, seed)]
    if shape == "long":
        count = min(count, 1000)  # at the limits: a thousand is already more than any real list
    rng = random.Random(seed)
    found: dict[str, None] = {}
    while len(found) < count:
        if shape == "plain":
            text = _word(rng)
        elif shape == "or":
            text = f"{_word(rng)} OR {_word(rng)} {_word(rng)}"
        elif shape == "phrase":
            words = [_word(rng), "de", _word(rng)] if rng.random() < 0.3 else [_word(rng) for _ in range(3)]
            text = '"' + " ".join(words) + '"'
        elif shape == "long":
            from watcher.query import MAX_WORD

            letters = "abcdefghijklmnopqrstuvwxyz"
            text = '"' + " ".join("".join(rng.choice(letters) for _ in range(MAX_WORD)) for _ in range(3)) + '"'
        else:
            raise SystemExit(f"unknown shape {shape!r}")
        found[text] = None
    return list(found)


def child(shape: str, count: int) -> None:
    """In the child: build the queries, then time their compiling alone."""
    from watcher.match import compile_queries
    from watcher.query import parse_query
    from watcher.types import Query

    if shape == "none":
        print(json.dumps({"wall": 0.0, "cpu": 0.0, "queries": 0}))
        return
    queries = [Query(text=t, line=n + 1, tree=parse_query(t)) for n, t in enumerate(texts(shape, count))]
    wall, cpu = time.perf_counter(), time.process_time()
    matcher = compile_queries(queries)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    matcher.match("rien", "rien")  # the matcher is whole and usable
    print(json.dumps({"wall": wall, "cpu": cpu, "queries": len(queries)}))


def measure(shape: str, count: int) -> dict[str, float]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", shape, "--queries", str(count)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"compiling {shape} failed (status {status})")
    row = json.loads(out)
    row["peak_mb"] = usage.ru_maxrss / 1024
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--shapes", default="plain,or,phrase,mixed,long")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.queries)
        return
    rows = [("imports only", measure("none", 0))]
    rows += [(shape, measure(shape, args.queries)) for shape in args.shapes.split(",")]
    print(f"{'shape':<14} {'queries':>8} {'wall s':>8} {'CPU s':>8} {'peak MB':>8}")
    for name, row in rows:
        print(f"{name:<14} {row['queries']:>8} {row['wall']:>8.2f} {row['cpu']:>8.2f} {row['peak_mb']:>8.0f}")


if __name__ == "__main__":
    main()
