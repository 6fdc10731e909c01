"""A real HTTP server on 127.0.0.1 for tests: routes map a path to a handler, every request is logged."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    raw_query: str = ""  # the query string as sent, before decoding (to check how it was encoded)


@dataclass
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterator[bytes] = b""  # an iterator is sent chunk by chunk (drip, huge bodies)
    delay: float = 0.0  # seconds before the status line


Handler = Callable[[Request], Response]


class LoopbackServer:
    """`with LoopbackServer() as srv: srv.route("/feed", handler); srv.url("/feed")`."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                req = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                    raw_query=parts.query,
                )
                with outer._lock:
                    outer.requests.append(req)
                    handler = outer.routes.get(parts.path)
                resp = handler(req) if handler else Response(404, body=b"not found")
                if resp.delay:
                    time.sleep(resp.delay)
                try:
                    self.send_response(resp.status)
                    for name, value in resp.headers.items():
                        self.send_header(name, value)
                    if isinstance(resp.body, bytes):
                        self.send_header("Content-Length", str(len(resp.body)))
                        self.end_headers()
                        if self.command != "HEAD":
                            self.wfile.write(resp.body)
                    else:
                        self.send_header("Connection", "close")
                        self.end_headers()
                        for chunk in resp.body:
                            self.wfile.write(chunk)
                            self.wfile.flush()
                        self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            do_GET = do_POST = do_HEAD = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def route(self, path: str, handler: Handler | Response) -> None:
        """Serve `path` with a handler, or always the same Response."""
        fixed = handler
        with self._lock:
            self.routes[path] = handler if callable(handler) else (lambda _req: fixed)  # type: ignore[assignment,return-value]

    def hits(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
