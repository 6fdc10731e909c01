"""Feed text never notifies a whole chat room: mass mentions of every service are defused in every
format (HTML, Markdown, plain text), in digests and alerts, and in what a real Apprise sends to a
Mattermost endpoint on loopback (Apprise sends Mattermost plain text)."""

from __future__ import annotations

import json
import re
from datetime import UTC
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer, Request, Response
from tests.test_notify import SLOT, WED, make_config, make_hit, store_hits
from watcher import notify
from watcher.store import Store
from watcher.types import Config

# What a hostile or careless feed writes, as each service reads a mention of everyone.
MASS = "@everyone @here @channel @all @room @online @**all** @_**stream** @**topic** <!here> <!channel> <users/all>"
LIVE = re.compile(
    r"(?<![\w/.+-])@[\\*_~]*(?:everyone|here|channel|all|room|online|stream|topic)\b"
    r"|<\\?!(?:here|channel|everyone)\b|<users/all\b",
    re.IGNORECASE,
)
TOKEN = "abcdefghijklmnopqrstuvwxyz"


def stored(tmp_path: Path, settings: str = "") -> tuple[Store, Config]:
    config = make_config(tmp_path, settings)
    store = Store(tmp_path / "data" / "watch.db")
    hit = make_hit(
        config,
        1,
        90,
        title=f"Coworking {MASS}",
        text=f"Tout le monde : {MASS}",
        author="@all@mastodon.social",
        publisher="@channel infos",
    )
    store_hits(store, [hit], WED)
    return store, config


@pytest.mark.parametrize("fmt", ["html", "markdown", "text"])
def test_a_digest_defuses_every_mass_mention_in_each_format(tmp_path: Path, fmt: str) -> None:
    store, config = stored(tmp_path)
    with store:
        rendered, _ = notify.preview_digest(store, config, SLOT, fmt)
    assert "Coworking" in rendered and "everyone" in rendered  # still readable
    assert LIVE.findall(rendered) == []


def test_mattermost_gets_plain_text_with_no_live_mass_mention_in_digest_or_alert(
    tmp_path: Path, server: LoopbackServer
) -> None:
    bodies: list[str] = []

    def hook(req: Request) -> Response:
        bodies.append(json.loads(req.body)["text"])
        return Response(200, body=b"ok")

    server.route(f"/hooks/{TOKEN}", hook)
    store, config = stored(tmp_path, "  alerts:\n    min_score: 80\n")
    url = server.url(f"/{TOKEN}").replace("http://", "mmost://")
    target = notify.load_targets(config, env={"WATCHER_NOTIFY": url})
    with store:
        ids = [int(h["id"]) for h in store.hits()]
        alerts = notify.send_alerts(store, config, ids, WED, target)
        digest = notify.send_due_digest(store, config, SLOT, target)
    assert alerts.sent and [d.state for d in digest.deliveries] == ["sent"]
    assert len(bodies) == 2
    for body in bodies:
        assert "Coworking" in body and "everyone" in body
        assert LIVE.findall(body) == []


@pytest.mark.parametrize("fmt", ["html", "markdown", "text"])
def test_an_alert_defuses_every_mass_mention_in_each_format(tmp_path: Path, fmt: str) -> None:
    from watcher import digest as dg

    store, _ = stored(tmp_path)
    with store:
        [row] = store.hits()
    hit = dg.DigestHit(
        id=row["id"],
        title=row["title"],
        text=row["text"],
        url=row["url"],
        published=WED,
        keywords=("coworking",),
        score=90,
        publisher=row["publisher"],
        author=row["author"],
    )
    title, body = dg.render_alert(hit, "fr", UTC, fmt)
    assert "Coworking" in body
    assert LIVE.findall(title + body) == []


def test_an_address_or_a_link_holding_an_at_sign_is_left_as_it_is() -> None:
    from watcher.digest import defuse_mentions

    assert defuse_mentions("écrire à contact@here.example") == "écrire à contact@here.example"
    assert defuse_mentions("https://mastodon.social/@all/1") == "https://mastodon.social/@all/1"
    assert defuse_mentions("ping @all now") == "ping @\u200ball now"
