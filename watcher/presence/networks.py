"""What each network's public API answers, turned into figures: pure, no I/O, no clock.

Mastodon: `/api/v1/accounts/lookup?acct=` gives the Account (followers_count, following_count,
statuses_count, id); `/api/v1/accounts/:id/statuses` gives Statuses (favourites_count,
reblogs_count, replies_count, quotes_count since 4.5), pages linked by the `Link` header.
Bluesky (public AppView): `app.bsky.actor.getProfile` gives followersCount, followsCount,
postsCount; `app.bsky.feed.getAuthorFeed` gives FeedViewPosts (likeCount, repostCount,
replyCount, quoteCount) and a `cursor` for the next page. A website's feed gives its posts'
dates and links (no engagement: a feed has none).

An answer of another shape raises ShapeError naming what was missing: the account's error,
never a crash. A count the answer lacks is None (unknown), never a made-up zero.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

from watcher.normalise import html_to_text
from watcher.sources.social import parse_time

_LINK = re.compile(r"<([^>]*)>\s*;\s*([^,<]*)")
_HREF = re.compile(r'href="(https?://[^"]+)"')


class ShapeError(ValueError):
    """An answer that is not what the API documents."""


@dataclass(frozen=True)
class Profile:
    followers: int | None
    following: int | None
    posts: int | None
    account_id: str = ""  # Mastodon's account id (for its statuses), Bluesky's did
    visits: tuple[tuple[date, int], ...] = ()  # a website's visits per month (Matomo), on the month's last day


@dataclass(frozen=True)
class Post:
    post_id: str  # the network's global id (ActivityPub uri, at:// uri, the feed entry's link)
    published: datetime
    link: str  # the page a person opens
    text: str  # plain text, not escaped: escaped where it is shown
    likes: int | None = None
    reposts: int | None = None
    replies: int | None = None
    quotes: int | None = None
    shared: tuple[str, ...] = ()  # the links the post shares (for the relay loop)

    @property
    def engagement(self) -> int | None:
        known = [n for n in (self.likes, self.reposts, self.replies, self.quotes) if n is not None]
        return sum(known) if known else None


def _count(data: Mapping[str, Any], key: str, required: bool = False) -> int | None:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        if required:
            raise ShapeError(f"no whole number `{key}` in the answer")
        return None
    return max(value, 0)


def _mapping(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ShapeError(f"the {what} is not a JSON object")
    return data


def _list(data: Any, what: str) -> Sequence[Any]:
    if not isinstance(data, list):
        raise ShapeError(f"the {what} is not a JSON list")
    return data


# --- Mastodon ----------------------------------------------------------------------------------


def mastodon_account(data: Any) -> Profile:
    account = _mapping(data, "account")
    account_id = account.get("id")
    if not isinstance(account_id, str) or not account_id:
        raise ShapeError("no `id` in the account")
    return Profile(
        followers=_count(account, "followers_count", required=True),
        following=_count(account, "following_count"),
        posts=_count(account, "statuses_count"),
        account_id=account_id,
    )


def mastodon_statuses(data: Any) -> list[Post]:
    """The account's own statuses of a page (its boosts of others are not its posts)."""
    posts = []
    for status in _list(data, "statuses page"):
        status = _mapping(status, "status")
        if status.get("reblog"):
            continue
        uri, created = status.get("uri"), parse_time(status.get("created_at"))
        if not isinstance(uri, str) or not uri or created is None:
            raise ShapeError("a status without `uri` or a readable `created_at`")
        url = status.get("url")
        content = status.get("content")
        html = content if isinstance(content, str) else ""
        card = status.get("card")
        shared = list(dict.fromkeys(_HREF.findall(html)))
        if isinstance(card, Mapping) and isinstance(card.get("url"), str):
            shared.append(card["url"])
        posts.append(
            Post(
                post_id=uri,
                published=created,
                link=url if isinstance(url, str) and url else uri,
                text=html_to_text(html) if html else "",
                likes=_count(status, "favourites_count"),
                reposts=_count(status, "reblogs_count"),
                replies=_count(status, "replies_count"),
                quotes=_count(status, "quotes_count"),
                shared=tuple(dict.fromkeys(shared)),
            )
        )
    return posts


def next_link(header: str | None, base: str) -> str | None:
    """The `rel="next"` URL of a Link header, if it stays on the API's own host (else None)."""
    if not header:
        return None
    for url, params in _LINK.findall(header):
        if re.search(r'rel\s*=\s*"?next"?', params):
            if urlsplit(url).netloc.lower() != urlsplit(base).netloc.lower():
                return None  # a page elsewhere is no page of this account's
            return str(url)
    return None


# --- Bluesky -----------------------------------------------------------------------------------


def bluesky_profile(data: Any) -> Profile:
    profile = _mapping(data, "profile")
    did = profile.get("did")
    if not isinstance(did, str) or not did.startswith("did:"):
        raise ShapeError("no `did` in the profile")
    return Profile(
        followers=_count(profile, "followersCount", required=True),
        following=_count(profile, "followsCount"),
        posts=_count(profile, "postsCount"),
        account_id=did,
    )


def bluesky_feed(data: Any, did: str) -> tuple[list[Post], str | None]:
    """The account's own posts of a getAuthorFeed page (not its reposts of others, a pinned post
    once), and the cursor of the next page."""
    page = _mapping(data, "author feed")
    posts = []
    for entry in _list(page.get("feed"), "`feed`"):
        entry = _mapping(entry, "feed entry")
        reason = entry.get("reason")
        if isinstance(reason, Mapping) and reason.get("$type") != "app.bsky.feed.defs#reasonPin":
            continue  # a repost
        post = _mapping(entry.get("post"), "post")
        author = _mapping(post.get("author"), "post's author")
        uri = post.get("uri")
        record = _mapping(post.get("record"), "post's record")
        if not isinstance(uri, str) or not uri.startswith("at://"):
            raise ShapeError("a post without an at:// `uri`")
        if author.get("did") != did:
            continue
        created = parse_time(record.get("createdAt")) or parse_time(post.get("indexedAt"))
        if created is None:
            raise ShapeError("a post without a readable `createdAt`")
        handle = author.get("handle") if isinstance(author.get("handle"), str) else did
        text = str(record.get("text") or "")
        posts.append(
            Post(
                post_id=uri,
                published=created,
                link=f"https://bsky.app/profile/{handle}/post/{uri.rsplit('/', 1)[-1]}",
                text=text,
                likes=_count(post, "likeCount"),
                reposts=_count(post, "repostCount"),
                replies=_count(post, "replyCount"),
                quotes=_count(post, "quoteCount"),
                shared=_bluesky_links(record),
            )
        )
    cursor = page.get("cursor")
    return posts, cursor if isinstance(cursor, str) and cursor else None


def _bluesky_links(record: Mapping[str, Any]) -> tuple[str, ...]:
    links: list[str] = []
    for facet in record.get("facets") or []:
        for feature in facet.get("features") or [] if isinstance(facet, Mapping) else []:
            if isinstance(feature, Mapping) and isinstance(feature.get("uri"), str):
                links.append(feature["uri"])
    embed = record.get("embed")
    if isinstance(embed, Mapping):
        external = embed.get("external")
        if isinstance(external, Mapping) and isinstance(external.get("uri"), str):
            links.append(external["uri"])
    return tuple(dict.fromkeys(u for u in links if u.startswith(("http://", "https://"))))


# --- Matomo ------------------------------------------------------------------------------------


def matomo_visits(data: Any, today: date) -> tuple[tuple[date, int], ...]:
    """VisitsSummary.get over several periods: {"2026-10": {"nb_visits": 812, ...}, "2026-11": []}
    (a period without data is an empty list: no figure, not a zero). A month's figure is dated
    its last day (today for the current month)."""
    if isinstance(data, Mapping) and data.get("result") == "error":
        raise ShapeError(f"Matomo refused: {str(data.get('message') or '')[:200]}")
    answer = _mapping(data, "Matomo answer")
    found = []
    for key, value in answer.items():
        try:
            if len(str(key)) == 7:
                year, month = map(int, str(key).split("-"))
                day = date(year, month, calendar.monthrange(year, month)[1])
            else:
                day = date.fromisoformat(str(key))
        except ValueError:
            raise ShapeError(f"Matomo period {str(key)[:20]!r} is not a month or a day") from None
        if isinstance(value, list) and not value:
            continue
        visits = _count(_mapping(value, "Matomo period"), "nb_visits", required=True)
        found.append((min(day, today), visits or 0))
    return tuple(sorted(found))


def unique(posts: Sequence[Post]) -> list[Post]:
    """One post per id (a pinned post comes back in its place too), newest first."""
    seen: dict[str, Post] = {}
    for post in posts:
        seen.setdefault(post.post_id, post)
    return sorted(seen.values(), key=lambda p: p.published, reverse=True)
