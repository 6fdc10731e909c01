"""The HTTP server of the web page: waitress, in its own threads, beside the daemon or alone.

waitress reads each request whole (up to the size caps below) in its event loop before a worker
thread sees it, so a client that sends slowly holds a socket, never a worker, and is dropped
after `channel_timeout` of silence; the daemon's poll and digest run in other threads and never
wait on the web page. The one third-party HTTP server import is here.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from waitress.server import create_server

log = logging.getLogger("watcher.web")

MAX_BODY = 256 * 1024  # the largest form: the relay page's drafts
MAX_HEADERS = 16 * 1024
THREADS = 4
IDLE_TIMEOUT = 30  # seconds of silence before a connection is closed
MAX_CONNECTIONS = 64


class WebServer:
    """A started-on-demand waitress server: `start()`, `port`, `stop()`."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        self._server: Any = create_server(
            app,
            host=host,
            port=port,
            threads=THREADS,
            channel_timeout=IDLE_TIMEOUT,
            max_request_body_size=MAX_BODY,
            max_request_header_size=MAX_HEADERS,
            connection_limit=MAX_CONNECTIONS,
            cleanup_interval=5,
            ident="watcher",
            expose_tracebacks=False,
            asyncore_use_poll=True,
        )
        self.host = host
        self.port = int(self._server.effective_port)
        self._thread = threading.Thread(target=self._server.run, name="watcher-web", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listening socket and the connections (from the server's own loop), then its workers."""
        from waitress import wasyncore

        server = self._server
        if self._thread.is_alive():
            try:
                server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
            except OSError:  # its wake-up pipe is gone: close from here, the loop ends within its 1 s poll
                wasyncore.close_all(server._map, ignore_all=True)
            self._thread.join(timeout)
        else:
            wasyncore.close_all(server._map, ignore_all=True)
        server.task_dispatcher.shutdown(timeout=timeout)


def start_for_daemon(feeds: Path, keywords: Path, db: Path, web: Any) -> WebServer | None:
    """The daemon's web page when `settings.web` asks for it (`web` is the `settings: web:` mapping)."""
    from watcher.web.app import Site, create_app
    from watcher.web.settings import web_settings

    try:
        settings = web_settings(web)
    except ValueError as exc:
        log.error("web page not started: %s", exc)
        return None
    if not settings.enabled:
        return None
    try:
        server = WebServer(create_app(Site(feeds, keywords, db)), settings.host, settings.port)
    except OSError as exc:
        log.error("web page not started: cannot listen on %s:%d: %s", settings.host, settings.port, exc.strerror)
        return None
    server.start()
    log.info("web page at %s/ (log in: `watcher web link` or the password of `watcher web password`)", server.url)
    return server
