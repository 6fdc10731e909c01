"""The peer: the `reader` library (lemon24/reader) updating the same feeds into its own SQLite file.

    python bench/peer.py URLS.json DB --workers 16

Adds every URL (first run), then `update_feeds(workers=N, scheduled=False)`: each feed is
fetched with its stored ETag, parsed by feedparser and its entries stored. Run it twice on the
same DB for the warm (all 304) pass. Prints {"entries": ...}: the entries stored after the run.
"""

from __future__ import annotations

import argparse
import json
from contextlib import suppress
from pathlib import Path

from reader import FeedExistsError, make_reader

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls", type=Path)
    parser.add_argument("db", type=Path)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    with make_reader(str(args.db)) as reader:
        for url in json.loads(args.urls.read_text()):
            with suppress(FeedExistsError):
                reader.add_feed(url)
        reader.update_feeds(workers=args.workers, scheduled=False)
        print(json.dumps({"entries": reader.get_entry_counts().total}))
