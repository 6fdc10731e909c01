"""The values that flow between stages, each named after the stage that makes it.

    feeds.yaml + keywords.txt -> Config (SourceSpec, Query, Settings)   config
    Config + SourceState      -> FetchRequest                           sources/*
    FetchRequest              -> Fetched                                fetch
    Fetched                   -> Parsed (RawItem, new cursor)           sources/*
    RawItem                   -> Item                                   normalise
    Item + compiled queries   -> Hit                                    match, score
    Hit                       -> SQLite                                 store

All are frozen: a stage returns new values, it never edits what it was given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

SOURCE_KINDS = ("rss", "google_news", "mastodon", "bluesky", "reddit", "hackernews")


@dataclass(frozen=True)
class SourceSpec:
    """One entry of feeds.yaml."""

    name: str
    kind: str
    url: str | None = None  # rss only
    base_url: str | None = None  # the other kinds; None means the public service
    interval: int = 1800  # seconds between polls
    weight: float = 1.0
    tags: tuple[str, ...] = ()
    enabled: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)  # the adapter's own keys
    line: int = 0  # where it starts in feeds.yaml, for messages
    exclude_domains: tuple[str, ...] = ()  # items from these sites (or their subdomains) are no hits
    exclude_authors: tuple[str, ...] = ()  # nor items by these authors (as the source gives them)
    # the languages whose items are hits (ISO 639-1 codes); None reads every language. feeds.yaml
    # gives `languages` per source, else settings.languages, else [settings.language].
    languages: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Query:
    """One line of keywords.txt, parsed."""

    text: str  # the query as written, without its weight suffix
    line: int
    tree: Any  # a query.Node; typed Any here so that types.py imports nothing
    weight: float = 1.0
    group: str | None = None  # the `[group]` section it sits under, if any


@dataclass(frozen=True)
class Settings:
    """The `settings:` mapping of feeds.yaml, with defaults."""

    language: str = "fr"  # digest labels, Google News hl
    region: str = "FR"  # Google News gl
    timezone: str = "Europe/Paris"
    default_interval: int = 1800
    timeout: float = 20.0  # total deadline of one HTTP request, seconds
    max_body_bytes: int = 10 * 1024 * 1024  # cap on the decoded body
    max_workers: int = 32  # requests at once (threads)
    processes: int | None = None  # matching processes: None is auto (one per core for a large poll), 0 none
    per_host: int = 2  # concurrent requests to one host
    contact: str = ""  # appended to the User-Agent, e.g. an e-mail or a URL
    cluster_days: int = 3
    languages: tuple[str, ...] = ()  # the languages read (codes, or ("any",)); () is [language]
    credentials_file: str | None = None
    place: str | None = None  # a commune (place.py): items naming it, its neighbours or its département score higher
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys later stages own
    # the line in feeds.yaml of each of them and of their keys ("digest", "digest.time"), for messages
    extra_lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PresenceAccount:
    """One account of an organisation in feeds.yaml's `presence:` list (watcher.presence)."""

    organisation: str
    network: str  # mastodon, bluesky, website, or a network without a free API (linkedin, ...)
    handle: str  # user@instance, a Bluesky handle, a feed URL; "" for `manual`
    base_url: str | None = None  # the API asked (None: the network's public one)
    line: int = 0
    # a website's Matomo, for its visits: {"url", "site_id", "token"} (the token a secret)
    matomo: Mapping[str, str] | None = None

    @property
    def key(self) -> str:
        """How figures are stored and named on the command line: `Organisation/network`."""
        return f"{self.organisation}/{self.network}"

    @property
    def manual(self) -> bool:
        return not self.handle


@dataclass(frozen=True)
class Organisation:
    name: str
    role: str  # self, competitor or model
    accounts: tuple[PresenceAccount, ...]
    line: int = 0


@dataclass(frozen=True)
class Config:
    feeds: tuple[SourceSpec, ...]
    queries: tuple[Query, ...]
    settings: Settings
    feeds_path: Path | None = None
    keywords_path: Path | None = None
    presence: tuple[Organisation, ...] = ()

    def feed(self, name: str) -> SourceSpec | None:
        return next((f for f in self.feeds if f.name == name), None)


@dataclass(frozen=True)
class SourceState:
    """What the store remembers about a source between polls."""

    name: str
    cursor: Mapping[str, Any] = field(default_factory=dict)  # adapter-owned (ids, validators, session)
    last_poll: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    failures: int = 0  # consecutive
    next_poll: datetime | None = None
    disabled_reason: str | None = None  # set on 410 Gone and the like


@dataclass(frozen=True)
class FetchRequest:
    """One HTTP request a source wants made."""

    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, str] | None = None  # form body (POST)
    json: Any = None  # JSON body (POST)
    secret: bool = False  # the request carries credentials: never log its headers or body
    tag: str = ""  # adapter's own label, handed back in Fetched (e.g. "login", "search:coworking")


@dataclass(frozen=True)
class Fetched:
    """The answer to a FetchRequest (any status; transport failures raise FetchError)."""

    request: FetchRequest
    url: str  # after redirects
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes  # decoded (gzip undone), capped
    permanent_url: str | None = None  # set when a 301/308 moved it
    elapsed: float = 0.0


@dataclass(frozen=True)
class RawItem:
    """One entry as a source gave it: text may still hold HTML."""

    key: str  # stable id within the source: guid/id, else link, else content hash
    link: str
    title: str
    content: str  # HTML or text
    author: str | None = None  # handle where the network has one
    publisher: str | None = None
    published: datetime | None = None  # aware, any zone
    language: str | None = None
    engagement: Mapping[str, int] = field(default_factory=dict)  # likes, reposts, replies, points, comments
    no_reuse: bool = False  # the author asked not to be reused (e.g. #nobot)
    global_id: str | None = None  # a network-wide id (Mastodon status uri) for cross-instance dedupe


@dataclass(frozen=True)
class Parsed:
    """What a source adapter made of one Fetched."""

    items: tuple[RawItem, ...] = ()
    cursor: Mapping[str, Any] | None = None  # the new cursor, or None to keep the old one
    next: tuple[FetchRequest, ...] = ()  # more requests to make (pagination, login then search)
    title: str | None = None  # the feed's own title


@dataclass(frozen=True)
class Item:
    """A normalised entry: plain text, canonical URL, UTC time."""

    source: str
    key: str
    url: str
    canonical_url: str
    title: str
    text: str
    published: datetime  # UTC; the time it was first seen when the source gives none
    author: str | None = None
    publisher: str | None = None
    language: str | None = None
    engagement: Mapping[str, int] = field(default_factory=dict)
    no_reuse: bool = False
    global_id: str | None = None


@dataclass(frozen=True)
class QueryMatch:
    """One query that matched one item, and where."""

    query: Query
    in_title: bool
    in_body: bool


@dataclass(frozen=True)
class ScoreComponent:
    """A bounded part of the score beyond where the words matched (how close the item is to the
    watch's theme, what feedback taught, the place), made by its own module, explained in words.

    Its points are added after the weight multiplier; its maker bounds them. In the breakdown it
    is the key `name` (its points) and `_<name>_<fact>` for each fact (numbers its wording needs).
    """

    name: str  # "theme", "feedback", "place"...
    points: float
    facts: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    """An item with the queries it matched and its score."""

    item: Item
    matches: tuple[QueryMatch, ...]
    score: int  # 0..100
    breakdown: Mapping[str, float]
    cluster_keys: tuple[str, ...] | None = None  # the title's (dedupe.cluster_keys), when computed
    # the queries it would have matched, set aside because the source does not read its language
    # (item.language): it is then no hit (score 0, no matches), but a check can say why
    held_back: tuple[QueryMatch, ...] = ()

    @property
    def keywords(self) -> tuple[str, ...]:
        return tuple(m.query.text for m in self.matches)


@dataclass(frozen=True)
class SourceResult:
    """The outcome of polling one source: values, so one failure never stops the others."""

    spec: SourceSpec
    status: str  # "ok", "not_modified" or "error"
    items: tuple[Item, ...] = ()
    cursor: Mapping[str, Any] | None = None
    error: str | None = None
    retry_after: float | None = None  # seconds, from Retry-After or a rate-limit reset
    permanent_url: str | None = None
    gone: bool = False  # 410: disable the source
    auth_problem: bool = False  # 401/403: back off for hours, tell the user
