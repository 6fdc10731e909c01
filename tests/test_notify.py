"""Digest and alert delivery end to end: real Apprise, a real SMTP server and a real HTTP endpoint on
loopback, real SQLite files, and a clock the tests control (every call takes `now`)."""

from __future__ import annotations

import email
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import Message
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.loopback import LoopbackServer, Request, Response
from watcher import notify
from watcher.config import load_config
from watcher.store import Store
from watcher.types import Config, Hit, Item, QueryMatch, SourceResult, SourceSpec

KEYWORDS = "coworking\ntiers-lieux\nfablab\n"
WED = datetime(2025, 1, 8, 10, tzinfo=UTC)  # a Wednesday
SLOT = datetime(2025, 1, 13, 7, tzinfo=UTC)  # Monday 08:00 in Paris
WEEK = timedelta(days=7)

HOSTILE_TITLE = '<script>alert("pwned")</script>Coworking <img src=x onerror=alert(1)>'
HOSTILE_TEXT = 'Lire <img src="https://tracker.example/p.gif"> <a href="javascript:alert(2)">ici</a>'


def make_config(folder: Path, settings: str = "") -> Config:
    (folder / "feeds.yaml").write_text(
        "settings:\n  language: fr\n  timezone: Europe/Paris\n"
        + settings
        + "feeds:\n  - name: presse\n    kind: rss\n    url: http://127.0.0.1/feed\n",
        encoding="utf-8",
    )
    (folder / "keywords.txt").write_text(KEYWORDS, encoding="utf-8")
    return load_config(folder / "feeds.yaml", folder / "keywords.txt", env={})


def make_hit(config: Config, n: int, score: int, keywords: tuple[str, ...] = ("coworking",), **kw: Any) -> Hit:
    queries = {q.text: q for q in config.queries}
    values: dict[str, Any] = {
        "source": "presse",
        "key": f"k{n}",
        "url": f"https://news.example/article-{n}",
        "canonical_url": f"https://news.example/article-{n}",
        "title": f"Article {n} sur le coworking",
        "text": f"Le texte de l'article {n}.",
        "published": WED,
        "publisher": f"Journal {n}",
    }
    values.update(kw)
    matches = tuple(QueryMatch(queries[k], True, False) for k in keywords)
    return Hit(Item(**values), matches, score, {"title": 40.0, "freshness": 20.0})


def store_hits(store: Store, hits: list[Hit], now: datetime, source: str = "presse") -> list[int]:
    spec = SourceSpec(name=source, kind="rss", url="http://127.0.0.1/feed")
    result = SourceResult(spec, "ok", items=tuple(h.item for h in hits))
    return list(store.save_source(result, hits, now=now, next_poll=now + timedelta(hours=1), failures=0).hit_ids)


def targets(config: Config, *urls: str) -> list[notify.Target]:
    return notify.load_targets(config, env={"WATCHER_NOTIFY": " ".join(urls)})


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "watch.db"


class Hook:
    """An HTTP endpoint that records each JSON body; `fail_first` answers 500 that many times first."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.fail_first = fail_first
        self.lock = threading.Lock()

    def __call__(self, req: Request) -> Response:
        with self.lock:
            if self.fail_first > 0:
                self.fail_first -= 1
                return Response(500, body=b"try later")
            self.bodies.append(json.loads(req.body))
        return Response(200, {"Content-Type": "application/json"}, b"{}")


def json_url(server: LoopbackServer, path: str) -> str:
    return server.url(path).replace("http://", "json://")


# --- e-mail and HTTP ------------------------------------------------------------------------------


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_digest_by_email_reaches_a_real_smtp_server_with_html_and_text_parts_and_inert_feed_text(
    config: Config, db: Path, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    with Store(db) as store:
        store_hits(
            store,
            [
                make_hit(config, 1, 90, title=HOSTILE_TITLE, text=HOSTILE_TEXT, url="javascript:alert(3)"),
                make_hit(config, 2, 70, ("tiers-lieux",)),
                make_hit(config, 3, 60, ("coworking", "fablab"), title="", text="Un post sans titre sur le fablab"),
            ],
            WED,
        )
        mail = targets(config, f"mailto://127.0.0.1:{port}?from=veille@example.org&to=cm@example.org&mode=insecure")
        assert mail[0].fmt == "html"
        report = notify.send_due_digest(store, config, SLOT + timedelta(minutes=1), mail)
    assert [d.state for d in report.deliveries] == ["sent"]
    assert len(box.messages) == 1
    message = box.messages[0]
    subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
    assert subject == "Veille du 6 au 13 janv. 2025 : 3 résultats"
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in message.walk() if not p.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    page = Page()
    page.feed(parts["text/html"])
    assert not {t for t, _ in page.tags} & {"script", "img", "iframe", "style", "link"}
    assert all(not name.startswith("on") for _, attrs in page.tags for name in attrs)
    hrefs = [a["href"] for t, a in page.tags if t == "a"]
    # each item links its title and its address; the javascript: link is shown as text, never linked
    assert sorted(hrefs) == ["https://news.example/article-2"] * 2 + ["https://news.example/article-3"] * 2
    shown = "".join(page.text)
    assert HOSTILE_TITLE in shown  # the hostile title reads as text
    assert "Article 2 sur le coworking" in shown and "Journal 2" in shown
    assert "Un post sans titre sur le fablab" in shown
    assert "coworking" in shown and "tiers-lieux" in shown and "En bref" in shown
    assert "Article 2 sur le coworking" in parts["text/plain"]


def test_digest_to_a_json_endpoint_carries_the_markdown_digest(
    config: Config, db: Path, server: LoopbackServer
) -> None:
    hook = Hook()
    server.route("/hook", hook)
    with Store(db) as store:
        store_hits(store, [make_hit(config, 1, 80), make_hit(config, 2, 50, ("tiers-lieux",))], WED)
        report = notify.send_due_digest(store, config, SLOT, targets(config, json_url(server, "/hook")))
    assert [d.state for d in report.deliveries] == ["sent"]
    [body] = hook.bodies
    assert body["title"] == "Veille du 6 au 13 janv. 2025 : 2 résultats"
    assert "[Article 1 sur le coworking](https://news.example/article-1)" in body["message"]
    assert "**tiers\\-lieux**" in body["message"] or "**tiers-lieux**" in body["message"]


# --- the ledger, with a controlled clock ----------------------------------------------------------


def test_one_digest_per_window_and_none_repeated_after_a_restart(
    config: Config, db: Path, server: LoopbackServer
) -> None:
    hook = Hook()
    server.route("/hook", hook)
    url = json_url(server, "/hook")
    with Store(db) as store:
        store_hits(store, [make_hit(config, 1, 80)], WED)
        assert notify.send_due_digest(store, config, WED + timedelta(days=1), targets(config, url)).created is None
        assert notify.send_due_digest(store, config, SLOT, targets(config, url)).created == 1
        again = notify.send_due_digest(store, config, SLOT + timedelta(minutes=5), targets(config, url))
        assert again.created is None and again.deliveries == ()
    with Store(db) as store:  # a restart: a new process, the same file
        later = notify.send_due_digest(store, config, SLOT + timedelta(hours=3), targets(config, url))
        assert later.created is None and later.deliveries == ()
        assert later.next_due == SLOT + WEEK
        store_hits(store, [make_hit(config, 2, 60)], SLOT + timedelta(days=2))
        second = notify.send_due_digest(store, config, SLOT + WEEK, targets(config, url))
    assert second.created == 2
    assert len(hook.bodies) == 2
    assert "article-1" in hook.bodies[0]["message"] and "article-1" not in hook.bodies[1]["message"]
    assert "article-2" in hook.bodies[1]["message"]


def test_a_failed_target_is_retried_after_backoff_and_delivered_once_without_resending_to_the_others(
    config: Config, db: Path, server: LoopbackServer
) -> None:
    good, flaky = Hook(), Hook(fail_first=2)
    server.route("/good", good)
    server.route("/flaky", flaky)
    both = targets(config, json_url(server, "/good"), json_url(server, "/flaky"))
    with Store(db) as store:
        store_hits(store, [make_hit(config, 1, 80)], WED)
        first = notify.send_due_digest(store, config, SLOT, both)
        assert sorted(d.state for d in first.deliveries) == ["failed", "sent"]
        assert first.failed and first.next_due == SLOT + notify.RETRY_FIRST
        failed = next(d for d in first.deliveries if d.state == "failed")
        assert "500" in (failed.error or "") or "error" in (failed.error or "").lower()
        # within the backoff: nothing is tried
        assert notify.send_due_digest(store, config, SLOT + timedelta(minutes=1), both).deliveries == ()
        second = notify.send_due_digest(store, config, SLOT + timedelta(minutes=5), both)
        assert [d.state for d in second.deliveries] == ["failed"]  # second refusal: backoff doubles
        assert second.next_due == SLOT + timedelta(minutes=15)
    with Store(db) as store:
        third = notify.send_due_digest(store, config, SLOT + timedelta(minutes=15), both)
        assert [d.state for d in third.deliveries] == ["sent"]
        assert notify.send_due_digest(store, config, SLOT + timedelta(hours=2), both).deliveries == ()
        history = store.digest_history()
    assert len(good.bodies) == 1 and len(flaky.bodies) == 1
    assert len(server.hits("/flaky")) == 3 and len(server.hits("/good")) == 1
    assert good.bodies[0]["message"] == flaky.bodies[0]["message"]
    assert sorted((d["state"], d["attempts"]) for d in history[0]["deliveries"]) == [("sent", 1), ("sent", 3)]


def test_after_a_week_down_one_catch_up_digest_covers_the_whole_gap(
    config: Config, db: Path, server: LoopbackServer
) -> None:
    hook = Hook()
    server.route("/hook", hook)
    url = json_url(server, "/hook")
    with Store(db) as store:
        store_hits(store, [make_hit(config, 1, 80)], WED)
        notify.send_due_digest(store, config, SLOT, targets(config, url))
        store_hits(store, [make_hit(config, 2, 70, published=SLOT + timedelta(days=1))], SLOT + timedelta(days=1))
        store_hits(store, [make_hit(config, 3, 60, published=SLOT + timedelta(days=9))], SLOT + timedelta(days=9))
    # down from Tuesday 14th to Wednesday 29th: the slots of the 20th and 27th passed
    back = SLOT + timedelta(days=16, hours=2)
    with Store(db) as store:
        report = notify.send_due_digest(store, config, back, targets(config, url))
        assert report.window is not None
        assert (report.window.start, report.window.end) == (SLOT, SLOT + 2 * WEEK)
        assert notify.send_due_digest(store, config, back + timedelta(hours=1), targets(config, url)).created is None
    assert len(hook.bodies) == 2
    catch_up = hook.bodies[1]["message"]
    assert "article-2" in catch_up and "article-3" in catch_up and "article-1" not in catch_up
    assert hook.bodies[1]["title"] == "Veille du 13 au 27 janv. 2025 : 2 résultats"


def test_a_send_cut_short_by_a_crash_is_never_repeated_and_the_next_digest_says_so(
    config: Config, db: Path, server: LoopbackServer
) -> None:
    hook = Hook()
    server.route("/hook", hook)
    [target] = targets(config, json_url(server, "/hook"))
    with Store(db) as store:
        [hit_id] = store_hits(store, [make_hit(config, 1, 80)], WED)
        # what send_due_digest does up to the send, then the process dies before recording the outcome
        digest_id = store.create_digest(WED, SLOT, SLOT, [(target.id, target.label)])
        assert store.claim_delivery(digest_id, target.id, [hit_id], SLOT)
    with Store(db) as store:
        report = notify.send_due_digest(store, config, SLOT + timedelta(hours=1), [target])
        assert report.interrupted == (f"1:{target.label}",) and report.deliveries == ()
        assert hook.bodies == []
        [row] = store.digest_history()[0]["deliveries"]
        assert row["state"] == "uncertain"
        store_hits(store, [make_hit(config, 2, 60)], SLOT + timedelta(days=1))
        notify.send_due_digest(store, config, SLOT + WEEK, [target])
        notify.send_due_digest(store, config, SLOT + 2 * WEEK, [target])
    message = hook.bodies[0]["message"]
    assert "article-2" in message and "article-1" not in message
    assert "résumé n° 1" in message and "interrompu" in message
    # the week after: no hit, but the source went quiet, which is news; the note is not repeated
    [quiet] = hook.bodies[1:]
    assert "article-" not in quiet["message"] and "résumé n° 1" not in quiet["message"]
    assert "presse" in quiet["message"]


def test_a_high_score_is_alerted_at_once_within_the_hourly_limit_and_marked_in_the_digest(
    tmp_path: Path, db: Path, server: LoopbackServer
) -> None:
    config = make_config(tmp_path, "  alerts:\n    min_score: 80\n    max_per_hour: 1\n")
    hook = Hook()
    server.route("/hook", hook)
    chat = targets(config, json_url(server, "/hook"))
    with Store(db) as store:
        ids = store_hits(store, [make_hit(config, 1, 95), make_hit(config, 2, 85), make_hit(config, 3, 40)], WED)
        report = notify.send_alerts(store, config, ids, WED, chat)
        assert [i for i, _ in report.sent] == [ids[0]] and report.held == (ids[1],)
        assert hook.bodies[0]["title"] == "Article 1 sur le coworking"
        assert "article-1" in hook.bodies[0]["message"]
        # the same hits again (a second poll reports nothing new, but be safe): no second alert
        assert notify.send_alerts(store, config, ids, WED + timedelta(minutes=1), chat).sent == ()
        # an hour later there is room again
        later = store_hits(store, [make_hit(config, 4, 90)], WED + timedelta(hours=1, minutes=1))
        assert len(notify.send_alerts(store, config, later, WED + timedelta(hours=1, minutes=1), chat).sent) == 1
        notify.send_due_digest(store, config, SLOT, chat)
    digest = hook.bodies[-1]["message"]
    lines = digest.splitlines()
    marked = [lines[i - 1] for i, line in enumerate(lines) if "déjà signalé" in line]
    assert len(marked) == 2 and any("article-1" in m for m in marked) and any("article-4" in m for m in marked)
    assert "article-2" in digest and "article-3" in digest


def test_a_chat_service_with_a_size_limit_gets_a_digest_that_fits_and_the_full_one_attached(
    config: Config, db: Path, server: LoopbackServer
) -> None:
    hook = Hook()
    server.route("/hook", hook)
    [target] = targets(config, json_url(server, "/hook"))
    small = replace(target, max_chars=2000)  # the size of a Discord message
    with Store(db) as store:
        store_hits(store, [make_hit(config, n, 90 - n, text="mot " * 80) for n in range(1, 26)], WED)
        report = notify.send_due_digest(store, config, SLOT, [small])
    assert report.deliveries[0].state == "sent" and report.deliveries[0].items == 25
    [body] = hook.bodies
    assert len(body["title"]) + len(body["message"]) <= 2000
    assert "dans le résumé complet (en pièce jointe)" in body["message"]
    [attachment] = body["attachments"]
    assert attachment["filename"].endswith(".html")


def test_with_no_target_the_digest_is_written_beside_the_database(
    config: Config, db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Store(db) as store:
        store_hits(store, [make_hit(config, 1, 80)], WED)
        report = notify.send_due_digest(store, config, SLOT, [])
    [delivery] = report.deliveries
    assert delivery.state == "sent" and delivery.path is not None
    path = Path(delivery.path)
    assert path.parent == db.parent / "digests" and "Article 1 sur le coworking" in path.read_text()
    assert str(path) in caplog.text


def test_target_urls_are_never_shown_and_a_bad_one_is_named_by_position(config: Config) -> None:
    [target] = targets(config, "json://user:s3cretpassword@127.0.0.1:9/hook")
    assert "s3cret" not in target.label and "s3cret" not in repr(target)
    with pytest.raises(notify.ConfigError, match=r"URL 2 \(nope://…\)") as info:
        targets(config, "json://127.0.0.1/x", "nope://s3cretpassword@host")
    assert "s3cret" not in str(info.value)


def test_an_apprise_config_file_routes_the_digest_and_alerts_by_tag(
    tmp_path: Path, db: Path, server: LoopbackServer
) -> None:
    mail, chat = Hook(), Hook()
    server.route("/mail", mail)
    server.route("/chat", chat)
    (tmp_path / "apprise.yml").write_text(
        f"urls:\n  - {json_url(server, '/mail')}:\n      tag: email\n"
        f"  - {json_url(server, '/chat')}:\n      - tag: chat\n",
        encoding="utf-8",
    )
    config = make_config(
        tmp_path,
        "  digest:\n    tag: email\n  alerts:\n    min_score: 80\n    tag: chat\n  notify:\n    config: apprise.yml\n",
    )
    routed = notify.load_targets(config, env={})
    assert sorted(sorted(t.tags) for t in routed) == [["chat"], ["email"]]
    with Store(db) as store:
        ids = store_hits(store, [make_hit(config, 1, 90), make_hit(config, 2, 50)], WED)
        assert len(notify.send_alerts(store, config, ids, WED, routed).sent) == 1
        notify.send_due_digest(store, config, SLOT, routed)
    assert [b["title"] for b in chat.bodies] == ["Article 1 sur le coworking"]
    assert [b["title"] for b in mail.bodies] == ["Veille du 6 au 13 janv. 2025 : 2 résultats"]
