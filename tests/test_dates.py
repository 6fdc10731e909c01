"""Dates a feed can write that Python cannot compute with: stored as unknown, never a crash.

Go and Hugo write an undated page as year 1 (tests/data/feeds/hugo_undated.xml is such a real
feed); others write year 9999, dates before 1970, or the far future. Each is served on
127.0.0.1 and polled through the command line and the daemon.
"""

from __future__ import annotations

import json
import signal
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import DATA
from tests.loopback import LoopbackServer, Response
from tests.test_daemon import Daemon, NotifySocket, cli, feeds_yaml
from watcher.store import MIGRATIONS, Store

HUGO = (DATA / "feeds" / "hugo_undated.xml").read_text(encoding="utf-8")
RSS = {"Content-Type": "application/rss+xml"}
ATOM = {"Content-Type": "application/atom+xml"}
# a title long enough to have cluster keys: the store looks for its story around its date
TITLE = "Un nouvel espace de coworking ouvre ses portes à Sceaux"

OUT_OF_RANGE = {
    "go-zero-time": "Mon, 01 Jan 0001 00:00:00 +0000",
    "year-9999": "Fri, 31 Dec 9999 23:59:59 +0000",
    "before-1970": "Wed, 31 Dec 1969 23:59:59 +0000",
    "unix-zero": "Thu, 01 Jan 1970 00:00:00 +0000",
    "far-future": "Mon, 01 Jan 3000 00:00:00 +0000",
    "year-1-east-of-utc": "Mon, 01 Jan 0001 00:30:00 +0100",
}


def atom_feed(date: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        "<id>urn:t</id><updated>2025-01-01T00:00:00Z</updated><entry><id>urn:e1</id>"
        f'<title>{TITLE}</title><link href="https://atom.example/e1"/><updated>{date}</updated>'
        "<summary>Un lieu partagé</summary></entry></feed>"
    ).encode()


def setup(folder: Path, server: LoopbackServer, keywords: str = "coworking\n") -> None:
    # the real feed is English ("About me", language en-US): read whatever the language, dates are the point
    any_language = feeds_yaml(server, "/feed").replace("settings:\n", "settings:\n  languages: any\n")
    (folder / "feeds.yaml").write_text(any_language)
    (folder / "keywords.txt").write_text(keywords)


def unknown_date(hit: dict[str, str]) -> bool:
    """Stored as unknown: the time the poll read it, which is when it was first seen (give or take the poll)."""
    published, first_seen = (datetime.fromisoformat(hit[k].replace("Z", "+00:00")) for k in ("published", "first_seen"))
    return abs(published - first_seen) < timedelta(minutes=1)


def stored(folder: Path) -> list[dict[str, str]]:
    result = cli(folder, "hits", "--json")
    assert result.returncode == 0, result.stderr
    hits: list[dict[str, str]] = json.loads(result.stdout)
    return hits


def test_out_of_range_dates_are_stored_as_unknown_and_every_command_goes_on(
    server: LoopbackServer, tmp_path: Path
) -> None:
    # one entry per date, each a story of its own (different titles), in the real Hugo feed's shape
    items = "".join(
        f"<item><title>{TITLE} ({name})</title><link>https://hugo.example/{name}/</link>"
        f"<pubDate>{date}</pubDate><guid>https://hugo.example/{name}/</guid><description>{name}</description></item>"
        for name, date in OUT_OF_RANGE.items()
    )
    server.route("/feed", Response(200, RSS, HUGO.replace("</channel>", items + "</channel>").encode()))
    setup(tmp_path, server)
    poll = cli(tmp_path, "poll", "--all")
    assert poll.returncode == 0, poll.stderr
    assert f"{len(OUT_OF_RANGE)} new hits" in poll.stdout
    hits = stored(tmp_path)
    assert len(hits) == len(OUT_OF_RANGE) and all(unknown_date(h) for h in hits)
    # matching stored items again (it clusters them too) and the digest read the same dates
    added = cli(tmp_path, "keywords", "add", "Sceaux")
    assert added.returncode == 0, added.stderr
    preview = cli(tmp_path, "digest", "--preview")
    assert preview.returncode == 0, preview.stderr
    assert TITLE in preview.stdout


@pytest.mark.parametrize("date", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:00:00-01:00", "0001-01-01T00:00:00Z"])
def test_an_atom_date_utc_cannot_hold_is_stored_as_unknown(server: LoopbackServer, tmp_path: Path, date: str) -> None:
    server.route("/feed", Response(200, ATOM, atom_feed(date)))
    setup(tmp_path, server)
    poll = cli(tmp_path, "poll", "--all")
    assert poll.returncode == 0, poll.stderr
    assert "1 new hit" in poll.stdout
    [hit] = stored(tmp_path)
    assert unknown_date(hit)


def test_the_real_hugo_feed_with_its_undated_page_is_read(server: LoopbackServer, tmp_path: Path) -> None:
    server.route("/feed", Response(200, RSS, HUGO.encode()))
    setup(tmp_path, server, "about\n")
    poll = cli(tmp_path, "poll", "--all")
    assert poll.returncode == 0, poll.stderr
    [hit] = stored(tmp_path)
    assert hit["title"] == "About" and unknown_date(hit)


def test_the_daemon_survives_a_feed_dated_year_1_poll_after_poll(server: LoopbackServer, tmp_path: Path) -> None:
    titles = [TITLE]

    def feed(_req: object) -> Response:
        items = "".join(
            f"<item><title>{t}</title><link>https://hugo.example/{i}/</link>"
            f"<pubDate>Mon, 01 Jan 0001 00:00:00 +0000</pubDate><guid>https://hugo.example/{i}/</guid></item>"
            for i, t in enumerate(titles)
        )
        return Response(200, RSS, HUGO.replace("</channel>", items + "</channel>").encode())

    server.route("/feed", feed)
    setup(tmp_path, server)
    notify = NotifySocket()
    daemon = Daemon(tmp_path, notify)
    try:
        notify.wait_for(lambda f: f.startswith("STATUS=cycle 1:"))
        titles.append("Le même coworking ouvre ses portes à Sceaux ce lundi")  # a second telling: clustering runs
        daemon.signal(signal.SIGUSR1)
        status = notify.wait_for(lambda f: f.startswith("STATUS=cycle 2:"))[0]
        assert "0 failed" in status
        assert daemon.proc.poll() is None, daemon.log()
        assert len(stored(tmp_path)) == 2
        assert daemon.stop()[0] == 0
    finally:
        daemon.close()
        notify.close()


def test_dates_stored_by_an_earlier_version_are_repaired_and_no_longer_crash(tmp_path: Path) -> None:
    db = tmp_path / "watch.db"
    conn = sqlite3.connect(db, isolation_level=None)
    for script in MIGRATIONS[:5]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 5")
    rows = [(1, "0001-01-01T00:00:00Z"), (2, "9999-12-31T23:59:59Z"), (3, "2026-01-05T10:00:00Z")]
    conn.executemany(
        "INSERT INTO items (id, canonical_url, url, title, text, published, first_seen) VALUES (?, ?, ?, ?, '', ?, ?)",
        [
            (i, f"https://old.example/{i}", f"https://old.example/{i}", TITLE, p, "2026-01-06T08:00:00Z")
            for i, p in rows
        ],
    )
    conn.execute("INSERT INTO cluster_keys (key, published, item_id) VALUES ('k', '0001-01-01T00:00:00Z', 1)")
    conn.close()
    with Store(db) as store:
        published = dict(store.db.execute("SELECT id, published FROM items").fetchall())
        assert published == {1: "2026-01-06T08:00:00Z", 2: "2026-01-06T08:00:00Z", 3: "2026-01-05T10:00:00Z"}
        assert store.db.execute("SELECT published FROM cluster_keys").fetchall() == [("2026-01-06T08:00:00Z",)]


def test_a_retry_after_beyond_any_date_waits_a_week_and_the_poll_goes_on(
    server: LoopbackServer, tmp_path: Path
) -> None:
    server.route("/feed", Response(503, {"Retry-After": "1e300"}, b"busy"))
    setup(tmp_path, server)
    poll = cli(tmp_path, "poll", "--all")
    assert poll.returncode == 0, poll.stderr
    status = cli(tmp_path, "status", "--json")
    [source] = json.loads(status.stdout)["sources"]
    next_poll = datetime.fromisoformat(source["next_poll"].replace("Z", "+00:00"))
    assert timedelta(days=6) < next_poll - datetime.now(UTC) <= timedelta(days=7)
