"""A watch with stored hits and its web page served on 127.0.0.1, for the web tests (HTTP and browser)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from click.testing import CliRunner

from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Response
from watcher.cli import main
from watcher.store import Store
from watcher.web import auth
from watcher.web.app import Site, create_app
from watcher.web.server import WebServer

KEYWORDS = """\
[thèmes]
coworking
tiers-lieux ^2
fablab
"""

# `languages: any`: the hostile title is code more than words, in no language to tell
FEEDS = """\
settings:
  language: {language}
  languages: any
  timezone: Europe/Paris
  export:
    network: x
    hours: "09:00-18:00"
  web:
    public_url: {public}
feeds:
  - name: news
    kind: rss
    url: {news}
"""

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> coworking'
NEWS = [
    Entry("Un coworking ouvre à Sceaux", "https://news.example/coworking-sceaux", body="Le coworking ouvre lundi."),
    Entry("La Fabrique lance son tiers-lieu", "https://news.example/fabrique", body="Un tiers-lieu de plus."),
    Entry("Le fablab de la ville s'agrandit", "https://news.example/fablab", body="Des machines.", hours_ago=3),
    Entry("Un deuxième fablab à Antony", "https://news.example/fablab-2", body="Encore un fablab.", hours_ago=4),
    Entry(HOSTILE, "https://news.example/hostile", body="<b>gras</b> coworking", hours_ago=5),
    Entry("Météo du jour", "https://news.example/meteo", body="Du soleil."),
]


@dataclass
class WebWatch:
    folder: Path
    args: list[str]
    base: str
    site: Site

    @property
    def db(self) -> Path:
        return self.folder / "watch.db"

    def cli(self, *command: str, input: str | None = None) -> tuple[int, str]:
        result = CliRunner().invoke(main, [*self.args, *command], input=input)
        assert "Traceback" not in result.output, result.output
        return result.exit_code, result.output

    def states(self) -> dict[str, str]:
        """URL -> triage state of every hit, read from the database."""
        with Store(self.db) as store:
            return {h["url"]: h["state"] for h in store.hits()}

    def hit_id(self, url: str) -> int:
        with Store(self.db) as store:
            return next(int(h["id"]) for h in store.hits() if h["url"] == url)

    def login_link(self) -> str:
        with Store(self.db) as store:
            return auth.new_login_link(store, datetime.now(UTC))

    def client(self, login: bool = True) -> httpx.Client:
        client = httpx.Client(base_url=self.base, follow_redirects=False, timeout=30)
        if login:
            answer = client.post("/login", data={"token": self.login_link(), "next": "/"})
            assert answer.status_code == 303, answer.text
        return client


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


@contextmanager
def web_watch(
    tmp_path: Path, server: LoopbackServer, language: str = "fr", public: str = "https://veille.example.org"
) -> Iterator[WebWatch]:
    server.route("/news", Response(200, {"Content-Type": "application/rss+xml"}, rss(NEWS)))
    (tmp_path / "keywords.txt").write_text(KEYWORDS, encoding="utf-8")
    (tmp_path / "feeds.yaml").write_text(
        FEEDS.format(news=server.url("/news"), language=language, public=public), encoding="utf-8"
    )
    args = ["--feeds", str(tmp_path / "feeds.yaml"), "--keywords", str(tmp_path / "keywords.txt")]
    args += ["--db", str(tmp_path / "watch.db")]
    result = CliRunner().invoke(main, [*args, "poll", "--all"])
    assert result.exit_code == 0, result.output
    site = Site(tmp_path / "feeds.yaml", tmp_path / "keywords.txt", tmp_path / "watch.db")
    web = WebServer(create_app(site), "127.0.0.1", 0)
    web.start()
    try:
        yield WebWatch(tmp_path, args, web.url, site)
    finally:
        web.stop()
        site.close()
