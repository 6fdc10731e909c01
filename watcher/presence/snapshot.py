"""Snapshots: each account read through its public API, with no login, once a day.

One adapter per network asks its API through the Fetcher (per-host limits, deadlines, sizes
caps and error messages are its) and hands the answers to networks.py. Each account's
snapshot is stored in its own transaction; an account that fails (an error status, a timeout,
an answer of another shape) keeps its error and leaves the others' snapshots as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from watcher.errors import StoreError, WatcherError
from watcher.fetch import Fetcher
from watcher.presence import networks
from watcher.presence.accounts import accounts_of, base_url
from watcher.presence.networks import Post, Profile, ShapeError
from watcher.presence.storage import save_error, save_snapshot, snapshot_states
from watcher.sources.rss import parse_feed
from watcher.sources.social import load_json
from watcher.store import Store
from watcher.types import Config, FetchRequest, PresenceAccount

log = logging.getLogger("watcher.presence")
LOOKBACK = timedelta(days=100)  # posts read back: a quarter and then some, for the report
MAX_PAGES = 10  # per account and snapshot: 400 Mastodon statuses, 1,000 Bluesky posts
JSON = {"Accept": "application/json"}


@dataclass(frozen=True)
class AccountResult:
    account: str  # Organisation/network
    status: str  # ok, error
    followers: int | None = None
    posts_read: int = 0
    error: str = ""


def read_account(
    fetcher: Fetcher, account: PresenceAccount, now: datetime, lookback: timedelta = LOOKBACK
) -> tuple[Profile | None, list[Post]]:
    """The account's figures and its posts of the last `lookback`. Raises WatcherError or ShapeError."""
    oldest = now - lookback
    if account.network == "mastodon":
        return _mastodon(fetcher, account, oldest)
    if account.network == "bluesky":
        return _bluesky(fetcher, account, oldest)
    if account.network == "website":
        posts = _website(fetcher, account, oldest)
        if account.matomo:
            return Profile(None, None, None, visits=_matomo(fetcher, account.matomo, now)), posts
        return None, posts
    raise ShapeError(f"{account.network} has no API to read")  # manual accounts are never read


def _get(fetcher: Fetcher, url: str, params: dict[str, str] | None = None) -> Any:
    fetched = fetcher.fetch(FetchRequest(url, headers=JSON, params=params or {}))
    return fetched, load_json(fetched, "the API")


def _mastodon(fetcher: Fetcher, account: PresenceAccount, oldest: datetime) -> tuple[Profile, list[Post]]:
    base = base_url(account)
    _, data = _get(fetcher, f"{base}/api/v1/accounts/lookup", {"acct": account.handle})
    profile = networks.mastodon_account(data)
    posts: list[Post] = []
    url: str | None = f"{base}/api/v1/accounts/{profile.account_id}/statuses"
    params: dict[str, str] | None = {"limit": "40", "exclude_reblogs": "true"}
    for _page in range(MAX_PAGES):
        if url is None:
            break
        fetched, data = _get(fetcher, url, params)
        page = networks.mastodon_statuses(data)
        posts += page
        if not data or any(p.published < oldest for p in page):
            break
        url, params = networks.next_link(fetched.headers.get("link"), base), None
    return profile, [p for p in networks.unique(posts) if p.published >= oldest]


def _bluesky(fetcher: Fetcher, account: PresenceAccount, oldest: datetime) -> tuple[Profile, list[Post]]:
    base = base_url(account)
    _, data = _get(fetcher, f"{base}/xrpc/app.bsky.actor.getProfile", {"actor": account.handle})
    profile = networks.bluesky_profile(data)
    posts: list[Post] = []
    cursor: str | None = None
    for _page in range(MAX_PAGES):
        params = {"actor": profile.account_id, "limit": "100"}
        if cursor:
            params["cursor"] = cursor
        _, data = _get(fetcher, f"{base}/xrpc/app.bsky.feed.getAuthorFeed", params)
        page, cursor = networks.bluesky_feed(data, profile.account_id)
        posts += page
        entries = data.get("feed") if isinstance(data, dict) else None
        if not cursor or not entries or any(p.published < oldest for p in page):
            break
    return profile, [p for p in networks.unique(posts) if p.published >= oldest]


def _website(fetcher: Fetcher, account: PresenceAccount, oldest: datetime) -> list[Post]:
    fetched = fetcher.fetch(FetchRequest(base_url(account)))
    items, _title = parse_feed(fetched.body, fetched.headers, fetched.url)
    posts = [
        Post(
            post_id=i.link or i.key,
            published=i.published,
            link=i.link,
            text=i.title,
            shared=(i.link,) if i.link else (),
        )
        for i in items
        if i.published is not None and i.published >= oldest
    ]
    return networks.unique(posts)


def _matomo(fetcher: Fetcher, matomo: Mapping[str, str], now: datetime) -> tuple[tuple[date, int], ...]:
    """The last four months' visits, the token sent in the body (never in a URL that is logged)."""
    fetched = fetcher.fetch(
        FetchRequest(
            f"{matomo['url']}/index.php",
            method="POST",
            params={
                "module": "API",
                "method": "VisitsSummary.get",
                "idSite": matomo["site_id"],
                "period": "month",
                "date": "last4",
                "format": "JSON",
            },
            data={"token_auth": matomo["token"]},
            headers=JSON,
            secret=True,
        )
    )
    return networks.matomo_visits(load_json(fetched, "Matomo"), now.date())


def due(config: Config, store: Store, now: datetime) -> list[PresenceAccount]:
    """The accounts with an API not yet tried today (the daemon's once a day)."""
    states = snapshot_states(store)
    today = now.date().isoformat()
    return [
        a
        for a in accounts_of(config.presence)
        if not a.manual and not str((states.get(a.key) or {}).get("last_try") or "").startswith(today)
    ]


def run_snapshot(
    config: Config,
    store: Store,
    fetcher: Fetcher,
    now: datetime,
    *,
    only: list[PresenceAccount] | None = None,
    lookback: timedelta = LOOKBACK,
    progress: Callable[[AccountResult], None] | None = None,
) -> list[AccountResult]:
    """Read every account with an API (or `only` these) and store each one's snapshot."""
    results = []
    for account in _accounts(config, only):
        try:
            profile, posts = read_account(fetcher, account, now, lookback)
        except (WatcherError, ShapeError, ValueError, TypeError, KeyError, AttributeError) as exc:
            message = str(exc) if isinstance(exc, WatcherError | ShapeError) else f"unexpected answer ({exc})"
            result = AccountResult(account.key, "error", error=f"{account.network} {account.handle}: {message}")
            try:
                save_error(store, account.key, now, result.error)
            except StoreError as store_exc:
                log.error("presence: %s", store_exc)
        else:
            save_snapshot(store, account.key, now.date(), profile, posts, now)
            result = AccountResult(account.key, "ok", profile.followers if profile else None, len(posts))
        results.append(result)
        if progress:
            progress(result)
    return results


def _accounts(config: Config, only: list[PresenceAccount] | None) -> Iterator[PresenceAccount]:
    for account in only if only is not None else accounts_of(config.presence):
        if not account.manual:
            yield account
