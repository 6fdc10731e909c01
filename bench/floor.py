"""The floor: nothing but fetching the feeds concurrently and parsing them with lxml.

    python bench/floor.py URLS.json --concurrency 32 [--no-parse]

A minimal HTTP/1.1 client on asyncio streams (one kept-alive connection per host, at most
`--concurrency` requests in flight) and lxml.etree.fromstring on each body, in one thread. What
any feed poller must at least spend on the same bytes. Prints {"entries": ..., "bytes": ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

ENTRY_TAGS = ("item", "{http://www.w3.org/2005/Atom}entry")


async def fetch(url: str, gate: asyncio.Semaphore) -> bytes:
    parts = urlsplit(url)
    async with gate:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            writer.write(f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            return await reader.readexactly(length)
        finally:
            writer.close()


async def main(urls: list[str], concurrency: int, parse: bool) -> dict[str, int]:
    gate = asyncio.Semaphore(concurrency)
    entries = total = 0
    for next_body in asyncio.as_completed([fetch(u, gate) for u in urls]):
        body = await next_body
        total += len(body)
        if parse:
            root = etree.fromstring(body)
            entries += sum(1 for _ in root.iter(*ENTRY_TAGS))
    return {"entries": entries, "bytes": total}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls", type=Path)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--no-parse", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(main(json.loads(args.urls.read_text()), args.concurrency, not args.no_parse))
    print(json.dumps(result))
