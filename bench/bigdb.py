"""A large database and the reads that must stay fast on it.

    python bench/bigdb.py [--items 1000000]

Builds (once, kept in bench/out/) a watcher database of `--items` stored items over the past
year, one in six a hit, through watcher's own schema (Store creates it) and direct SQL inserts,
then times `watcher hits --since 7d --json` (and `watcher digest --preview` where this watcher
has it) as child processes, and reports the database's size per stored item beyond its text.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import gen  # noqa: E402

from watcher.dedupe import cluster_keys  # noqa: E402
from watcher.store import Store, iso  # noqa: E402

KEYWORDS = ["tiers-lieux", "coworking", "télétravail", "fablab", "maker", "innovation", "participatif"]
BATCH = 20_000


def build(path: Path, count: int, seed: int = 1) -> int:
    """Fill a fresh database; returns the bytes of title and text stored."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    Store(path).close()  # watcher's schema, migrations and all
    rng = random.Random(seed)
    now = datetime.now(UTC)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    text_bytes = 0
    for start in range(0, count, BATCH):
        items, sources, keywords, clusters = [], [], [], []
        for item_id in range(start + 1, min(start + BATCH, count) + 1):
            title = gen._sentence(rng)
            text = " ".join(rng.choice(gen.FILLER) for _ in range(rng.randint(3, 6)))
            text_bytes += len(title.encode()) + len(text.encode())
            seen = now - timedelta(seconds=rng.randint(0, 365 * 86400))
            published = iso(seen - timedelta(minutes=rng.randint(0, 600)))
            url = f"https://site{item_id % 5000}.example.fr/actualites/{item_id}"
            hit = rng.random() < 1 / 6
            found = rng.sample(KEYWORDS, rng.randint(1, 2)) if hit else []
            score = rng.randint(10, 100) if hit else 0
            breakdown = json.dumps({"keywords": score * 0.6, "recency": score * 0.4}) if hit else None
            items.append(
                (item_id, url, url, title, text, "Rédaction", None, "fr", published, iso(seen), None, 0, None,
                 score, breakdown, json.dumps(found, ensure_ascii=False))
            )  # fmt: skip
            sources.append((f"feed{item_id % 500}", url, item_id, iso(seen)))
            keywords.extend((item_id, k) for k in found)
            if hit:
                clusters.extend((k, published, item_id) for k in cluster_keys(title))
        conn.executemany(
            "INSERT INTO items (id, canonical_url, url, title, text, author, publisher, language, published,"
            " first_seen, engagement, no_reuse, global_id, score, breakdown, keywords)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            items,
        )
        conn.executemany("INSERT INTO item_sources (source, key, item_id, first_seen) VALUES (?, ?, ?, ?)", sources)
        conn.executemany("INSERT INTO hit_keywords (item_id, query) VALUES (?, ?)", keywords)
        conn.executemany("INSERT OR IGNORE INTO cluster_keys (key, published, item_id) VALUES (?, ?, ?)", clusters)
        print(f"  {min(start + BATCH, count):,} items", file=sys.stderr, end="\r")
    conn.execute("COMMIT")
    with Store(path) as store:  # full-text index in one go, as a poll does at its end
        store.index_new()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    conn.close()
    print(file=sys.stderr)
    return text_bytes


def last_digest_a_week_ago(path: Path) -> None:
    """Record a digest whose window ended a week ago, as a watch running for a year has."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        if conn.execute("SELECT count(*) FROM digests").fetchone()[0] == 0:
            end = datetime.now(UTC) - timedelta(days=7)
            conn.execute(
                "INSERT INTO digests (window_start, window_end, created, manual) VALUES (?, ?, ?, 0)",
                (iso(end - timedelta(days=7)), iso(end), iso(end)),
            )
    finally:
        conn.close()


def timed(argv: list[str], runs: int = 3) -> tuple[float, int]:
    best, size, _ = timed_rss(argv, runs)
    return best, size


def timed_rss(argv: list[str], runs: int = 3) -> tuple[float, int, float]:
    """Best wall time, output size, and the child's peak resident memory in MB (the kernel's, wait4)."""
    best, size, peak = float("inf"), 0, 0.0
    for _ in range(runs):
        start = time.perf_counter()
        with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as child:
            out = child.stdout.read() if child.stdout else b""
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            raise subprocess.CalledProcessError(child.returncode, argv)
        best = min(best, time.perf_counter() - start)
        size, peak = len(out), max(peak, usage.ru_maxrss / 1024)
    return best, size, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument("--rebuild", action="store_true", help="build the database again even if it exists")
    parser.add_argument("--first-digest", action="store_true", help="also time the first digest (a year of hits)")
    args = parser.parse_args()
    compileall.compile_dir(ROOT / "watcher", quiet=1)  # as installed: see run.py
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"big-{args.items}.db"
    meta = path.with_suffix(".json")
    if args.rebuild or not path.exists() or not meta.exists():
        start = time.perf_counter()
        text_bytes = build(path, args.items)
        meta.write_text(json.dumps({"text_bytes": text_bytes, "seconds": time.perf_counter() - start}))
    info = json.loads(meta.read_text())
    size = os.path.getsize(path)
    watcher = str(Path(sys.executable).parent / "watcher")
    base = [watcher, "--feeds", str(ROOT / "feeds.yaml"), "--keywords", str(ROOT / "keywords.txt"), "--db", str(path)]
    hits_s, hits_bytes = timed([*base, "hits", "--since", "7d", "--json"])
    rows = len(json.loads(subprocess.run([*base, "hits", "--since", "7d", "--json"], capture_output=True).stdout))
    print(f"Large database: {args.items:,} stored items (built in {info['seconds']:.0f} s), one in six a hit:")
    print(
        f"- `watcher hits --since 7d --json`: **{hits_s:.2f} s** best of 3, {rows:,} hits,"
        f" {hits_bytes / 1e6:.1f} MB (target ≤ 1 s)"
    )
    has_digest = subprocess.run([*base, "digest", "--help"], capture_output=True).returncode == 0
    if has_digest:
        # A watch that has run for a year has sent its weekly digests: the next one covers the
        # week since the last. The first digest of a database covers everything since its first
        # hit: measured too, as the worst case.
        # (Since the first digest covers the last week only, it costs what a weekly one does.)
        first = timed_rss([*base, "digest", "--preview"]) if args.first_digest else None
        last_digest_a_week_ago(path)
        digest_s, _, digest_mb = timed_rss([*base, "digest", "--preview"])
        print(
            f"- `watcher digest --preview` (last digest a week ago): **{digest_s:.2f} s** best of 3,"
            f" {digest_mb:.0f} MB peak (target ≤ 1 s)"
        )
        if first is not None:
            print(f"- `watcher digest --preview` (no digest yet): {first[0]:.2f} s best of 3, {first[2]:.0f} MB peak")
    else:
        print("- `watcher digest --preview`: not in this watcher (no `digest` command): not measured")
    per_item = (size - info["text_bytes"]) / args.items
    print(
        f"- database: {size / 2**20:,.0f} MiB, {size / args.items:,.0f} bytes per item, of which "
        f"**{per_item:,.0f} bytes beyond its title and text** (target < 1,536)"
    )
    lookups = []
    conn = sqlite3.connect(path)
    for _ in range(5):
        start = time.perf_counter()
        conn.execute("SELECT count(*) FROM items_fts WHERE items_fts MATCH 'ressourcerie'").fetchone()
        lookups.append(time.perf_counter() - start)
    conn.close()
    print(f"- full-text count of one word: {statistics.median(lookups) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
