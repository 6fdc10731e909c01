"""The benchmark's feed server: the documents of a folder over HTTP/1.1 on 127.0.0.1, after a delay.

    python bench/server.py FOLDER --latency 0.1 --ports 500

Serves FOLDER/<n>.xml at /feed/<n>.xml on each of `--ports` ports (each port stands for another
site: clients limit their connections per host, and real feeds live on many hosts). Every answer
waits `--latency` seconds first, as a distant server would; an If-None-Match equal to the
document's ETag gets a 304. One asyncio process: waiting costs no CPU, so the server is never
the bottleneck (`run.py` measures it alone to show it). Prints one JSON line
{"ports": [...]} once listening, and stops when its standard input closes.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
from pathlib import Path


class Feeds:
    def __init__(self, folder: Path) -> None:
        self.bodies: dict[str, bytes] = {}
        self.etags: dict[str, bytes] = {}
        for path in folder.glob("*.xml"):
            body = path.read_bytes()
            key = f"/feed/{path.name}"
            self.bodies[key] = body
            self.etags[key] = b'"' + hashlib.sha1(body).hexdigest()[:16].encode() + b'"'


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, feeds: Feeds, latency: float) -> None:
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            lines = head.split(b"\r\n")
            parts = lines[0].split(b" ")
            path = parts[1].decode("latin-1").split("?")[0] if len(parts) > 1 else "/"
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(b":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            if latency:
                await asyncio.sleep(latency)
            body = feeds.bodies.get(path)
            close = headers.get(b"connection", b"").lower() == b"close"
            if body is None:
                answer = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
            elif headers.get(b"if-none-match") == feeds.etags[path]:
                answer = b"HTTP/1.1 304 Not Modified\r\nETag: " + feeds.etags[path] + b"\r\n\r\n"
            else:
                answer = (
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/xml; charset=utf-8\r\nETag: "
                    + feeds.etags[path]
                    + b"\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
            writer.write(answer)
            await writer.drain()
            if close:
                return
    finally:
        writer.close()


async def main(folder: Path, latency: float, ports: int) -> None:
    feeds = Feeds(folder)
    servers = []
    for _ in range(ports):
        server = await asyncio.start_server(
            lambda r, w: serve(r, w, feeds, latency), "127.0.0.1", 0, backlog=1024, reuse_address=True
        )
        servers.append(server)
    numbers = [s.sockets[0].getsockname()[1] for s in servers]
    print(json.dumps({"ports": numbers}), flush=True)
    loop = asyncio.get_running_loop()
    # Runs until the parent closes our standard input (or dies).
    await loop.run_in_executor(None, sys.stdin.read)
    for s in servers:
        s.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--ports", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.folder, args.latency, args.ports))
