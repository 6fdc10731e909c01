"""`settings: web:` of feeds.yaml: whether `watcher run` serves the page, where it listens, and the
public address that the digest's action links point to.

    settings:
      web:
        enabled: true                          # `watcher run` serves the page too (default: false)
        listen: 127.0.0.1:8321                 # host:port; 127.0.0.1 unless a proxy or VPN is in front
        public_url: https://veille.example.org # as reached through the HTTPS proxy: digest links, Secure cookie
        link_days: 14                          # how long a digest's action link works
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8321
_KEYS = {"enabled", "listen", "public_url", "link_days"}


@dataclass(frozen=True)
class WebSettings:
    enabled: bool = False
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    public_url: str | None = None  # without a trailing slash
    link_days: int = 14

    @property
    def https(self) -> bool:
        return bool(self.public_url and self.public_url.startswith("https://"))


def web_settings(data: Any) -> WebSettings:
    """Read `settings: web:` (a mapping, or None); raises ValueError naming the setting."""
    if data is None:
        return WebSettings()
    if not isinstance(data, Mapping):
        raise ValueError("settings.web must be a mapping (enabled, listen, public_url, link_days)")
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise ValueError(f"settings.web: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    enabled = data.get("enabled", False)
    if not isinstance(enabled, bool):
        raise ValueError("settings.web.enabled must be true or false")
    host, port = parse_listen(data.get("listen", f"{DEFAULT_HOST}:{DEFAULT_PORT}"))
    public_url = data.get("public_url")
    if public_url is not None:
        parts = urlsplit(str(public_url))
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(
                f"settings.web.public_url: {public_url!r} is not an http(s) address like https://veille.example.org"
            )
        public_url = str(public_url).rstrip("/")
    days = data.get("link_days", 14)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 90:
        raise ValueError("settings.web.link_days must be a whole number of days from 1 to 90")
    return WebSettings(enabled, host, port, public_url, days)


def parse_listen(value: Any) -> tuple[str, int]:
    """'127.0.0.1:8321', '[::1]:8321' or '8321' -> (host, port); raises ValueError."""
    text = str(value).strip()
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = DEFAULT_HOST, text
    host = host.strip("[]") or DEFAULT_HOST
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"settings.web.listen: {value!r} is not host:port, like 127.0.0.1:8321")
    return host, int(port)
