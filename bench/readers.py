"""What keeping the reading processes from one poll to the next saves: CPU of a daemon's polls.

    python bench/readers.py [--queries 10000] [--shape phrase] [--polls 3] [--feeds 40] [--processes 2]

A daemon-like driver reads `--polls` polls of `--feeds` generated feeds (gen.py, 50 entries
each) with `--queries` queries of one shape (compile.py's shapes), through a pool of
`--processes` reading processes, in two ways:

- per poll: a new pool for each poll, as `watcher poll` does (and the daemon did): each
  process compiles the queries at its start, at every poll;
- kept: one pool for all the polls (poll.Readers, what the daemon now does): each process
  compiles them once.

Only the reading stage is driven (parse -> normalise -> match -> score, in the pool), from
as many threads as processes: no fetching, so the difference is the compiling alone. Each way
runs in a command of its own under spawn.py, which sums the CPU time of the command and of
every process it started (the pool's server and its workers): CPU time, not wall time, so a
busy machine does not change the figure much. Each process also reports how many times it
compiled (match.compilations), which is the count the difference comes from.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def child(way: str, queries: int, shape: str, polls: int, feeds: int, processes: int) -> None:
    import compile as compile_bench
    import gen

    from watcher.config import parse_feeds, parse_keywords
    from watcher.poll import Readers
    from watcher.read import compilations, read_in_process
    from watcher.types import Config, Fetched, FetchRequest

    documents = gen.generate(feeds, 50)
    lines = "".join(f"  - name: f{n}\n    kind: rss\n    url: https://f{n}.example/feed.xml\n" for n in range(feeds))
    specs, settings = parse_feeds(f"settings:\n  processes: {processes}\nfeeds:\n{lines}", "feeds.yaml", env={})
    keywords = "\n".join(compile_bench.texts(shape, queries)) + "\n"
    config = Config(specs, parse_keywords(keywords), settings)
    now = datetime.now(UTC)
    answers = [
        (spec, Fetched(FetchRequest(spec.url or ""), spec.url or "", 200, {}, body))
        for spec, body in zip(specs, documents, strict=True)
    ]
    kept = Readers()
    compiled: dict[int, int] = {}
    items = 0
    for _ in range(polls):
        readers = kept if way == "kept" else Readers()
        pool = readers.pool(config, processes)
        assert pool is not None
        with ThreadPoolExecutor(processes) as threads:
            done = threads.map(lambda a, p=pool: p.run(read_in_process, a[0], a[1], {}, now), answers)
            items += sum(len(hits) for _, hits in done)
        # each process says how often it compiled (asked more often than there are processes,
        # from as many threads, so that every one of them answers at least once in practice)
        with ThreadPoolExecutor(processes) as threads:
            for pid, count in threads.map(lambda _, p=pool: p.run(compilations), range(processes * 20)):
                compiled[pid] = max(compiled.get(pid, 0), count)
        if way != "kept":
            readers.close()
    kept.close()
    print(json.dumps({"items": items, "processes": len(compiled), "compilations": sum(compiled.values())}))


def measure(way: str, args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        usage_file = Path(folder) / "usage.json"
        argv = [sys.executable, str(Path(__file__).resolve()), "--child", way]
        argv += ["--queries", str(args.queries), "--shape", args.shape, "--polls", str(args.polls)]
        argv += ["--feeds", str(args.feeds), "--processes", str(args.processes)]
        out = subprocess.run(
            [sys.executable, "-I", "-S", str(HERE / "spawn.py"), str(usage_file), *argv],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(HERE.parent)},
        ).stdout
        usage = json.loads(usage_file.read_text())
    return {**json.loads(out.strip().splitlines()[-1]), "cpu": usage["cpu"], "peak_mb": usage["maxrss_kb"] / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--shape", default="phrase")
    parser.add_argument("--polls", type=int, default=3)
    parser.add_argument("--feeds", type=int, default=40)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each way, taking turns; the best is kept")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.queries, args.shape, args.polls, args.feeds, args.processes)
        return
    best: dict[str, dict[str, float]] = {}
    for _ in range(args.rounds):
        for way in ("per poll", "kept"):
            row = measure(way.replace(" ", "-"), args)
            if way not in best or row["cpu"] < best[way]["cpu"]:
                best[way] = row
    print(f"{args.queries} {args.shape} queries, {args.polls} polls of {args.feeds} feeds, {args.processes} processes")
    print("| pool | CPU s | compilations | items read | peak MB (sum of the processes) |")
    print("|---|---:|---:|---:|---:|")
    for way, row in best.items():
        print(f"| {way} | {row['cpu']:.2f} | {row['compilations']:.0f} | {row['items']:.0f} | {row['peak_mb']:.0f} |")


if __name__ == "__main__":
    main()
