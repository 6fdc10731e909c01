"""The web page's week on a large database: how long the home page takes to answer.

    python bench/web.py [--items 1000000] [--runs 10]

Uses the database of bigdb.py (built once in bench/out/, one in six items a hit over a year,
the last digest a week ago, so the week holds the hits of seven days), serves the web page on
127.0.0.1 with watcher's own server, logs in with a one-time link, and times `GET /` (the
hits of the current digest window, grouped as the digest groups them, up to 1,000 stories) over
HTTP, as a browser would ask for it. Target: under 200 ms with 1,000 hits on a million items.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bigdb  # noqa: E402

from watcher.store import Store  # noqa: E402
from watcher.web import auth  # noqa: E402
from watcher.web.app import Site, create_app  # noqa: E402
from watcher.web.server import WebServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"big-{args.items}.db"
    meta = path.with_suffix(".json")
    if not path.exists() or not meta.exists():
        start = time.perf_counter()
        text_bytes = bigdb.build(path, args.items)
        meta.write_text(json.dumps({"text_bytes": text_bytes, "seconds": time.perf_counter() - start}))
    bigdb.last_digest_a_week_ago(path)
    with tempfile.TemporaryDirectory() as folder:
        feeds, keywords = Path(folder) / "feeds.yaml", Path(folder) / "keywords.txt"
        keywords.write_text("\n".join(bigdb.KEYWORDS) + "\n", encoding="utf-8")
        feeds.write_text(
            "settings:\n  language: fr\nfeeds:\n"
            + "".join(f"  - name: feed{i}\n    kind: rss\n    url: https://feed{i}.example/rss\n" for i in range(500)),
            encoding="utf-8",
        )
        with Store(path) as store:
            token = auth.new_login_link(store, datetime.now(UTC))
        site = Site(feeds, keywords, path)
        server = WebServer(create_app(site), "127.0.0.1", 0)
        server.start()
        try:
            client = httpx.Client(base_url=server.url, timeout=60)
            assert client.post("/login", data={"token": token}).status_code == 303
            times, cpu, page = [], [], ""
            for run in range(args.runs + 1):
                start, start_cpu = time.perf_counter(), time.process_time()
                answer = client.get("/")
                elapsed, used = time.perf_counter() - start, time.process_time() - start_cpu
                assert answer.status_code == 200, answer.status_code
                page = answer.text
                if run:  # the first one opens the server thread's connection and loads the configuration
                    times.append(elapsed)
                    cpu.append(used)
        finally:
            server.stop()
    stories = len(re.findall(r'<article class="story', page))
    week = re.search(r"\((\d+) sujets\)", page)
    times.sort()
    print(
        f"Web page, the week (`GET /`) on {args.items:,} stored items: {week.group(1) if week else '?'} stories"
        f" in the window, grouped and ordered as the digest, {stories:,} shown on the first page:"
    )
    print(
        f"- median **{statistics.median(times) * 1000:.0f} ms**, best {times[0] * 1000:.0f} ms,"
        f" worst {times[-1] * 1000:.0f} ms over {len(times)} runs (target < 200 ms);"
        f" CPU {statistics.median(cpu) * 1000:.0f} ms per request (server and client);"
        f" {len(page) / 1e3:.0f} kB of HTML; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
