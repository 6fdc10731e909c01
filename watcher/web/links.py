"""The digest's action links: "Relayer · Hors sujet" under each story, signed for one hit and one
action, pointing at the web page's public address (`settings.web.public_url`).

Called by notify.build_digest when it builds a digest; no web framework is imported here. The
links expire `link_days` after the digest's window ends, so a digest built again for another
target or a retry carries the same links.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from watcher.errors import StoreError
from watcher.store import Store
from watcher.types import Config
from watcher.web import auth
from watcher.web.settings import web_settings

log = logging.getLogger("watcher.web")

DIGEST_ACTIONS = ("pick", "noise")


def action_links(
    store: Store, config: Config, hit_ids: Iterable[int], signed_at: datetime
) -> dict[int, tuple[tuple[str, str], ...]]:
    """hit id -> ((action, link), ...); empty when the page has no public address."""
    try:
        settings = web_settings(config.settings.extra.get("web"))
    except ValueError:
        return {}  # `watcher check` names the mistake
    if not settings.public_url:
        return {}
    try:
        key = auth.link_key(store)
    except StoreError as exc:
        log.warning("the digest goes without its action links: %s", exc)
        return {}
    expires = signed_at + timedelta(days=settings.link_days)
    base = f"{settings.public_url}/a/"
    return {
        hit_id: tuple((action, base + auth.sign_action(key, hit_id, action, expires)) for action in DIGEST_ACTIONS)
        for hit_id in hit_ids
    }
