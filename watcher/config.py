"""Load and validate feeds.yaml and keywords.txt into a Config; every error names file and line.

keywords.txt: one query a line (syntax in query.py); `#` at the start of a line is a comment;
a trailing ` ^2` gives the query a weight; a `[name]` line starts a group of queries (share of
voice: the organisation's own name against its competitors).

feeds.yaml: a `feeds:` list, an optional `settings:` mapping and an optional `presence:` list
(the organisation's accounts and its competitors', read by watcher.presence.accounts). String
values may refer to `${ENV_VAR}`, read from the environment or from the credentials file named in the settings.
Secrets are read only by the commands that use them (`secrets=True`: check, poll, run, a feed's
check); the others keep `${ENV_VAR}` as written and never open the credentials file, so they work
where only the service may read it. Every value read for a `${ENV_VAR}` is recorded as a secret
(redact.py) as it is read.

Every number has a sane range: a value outside it (`.inf`, `99999999999d`) is a mistake named
with its line, never a failure later.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from watcher.errors import ConfigError, QuerySyntaxError
from watcher.redact import SECRETS
from watcher.types import SOURCE_KINDS, Config, Organisation, Query, Settings, SourceSpec

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_WEIGHT = re.compile(r"\s\^(\d+(?:\.\d+)?)\s*$")
_BAD_WEIGHT = re.compile(r"\s\^\S*\s*$")
_GROUP = re.compile(r"^\[([^\]]+)\]$")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_FEED_KEYS = {
    "name",
    "kind",
    "url",
    "base_url",
    "interval",
    "weight",
    "tags",
    "enabled",
    "exclude_domains",
    "exclude_authors",
    "languages",
}
# Each kind's own keys (read by its adapter in sources/): any other is refused with a suggestion.
KIND_KEYS: dict[str, frozenset[str]] = {
    "rss": frozenset(),
    "google_news": frozenset({"queries", "when", "language", "region"}),
    "mastodon": frozenset({"queries", "hashtags", "access_token", "search"}),
    "bluesky": frozenset({"queries", "handle", "app_password", "language"}),
    "reddit": frozenset(
        {"queries", "username", "subreddits", "oauth_url", "client_id", "client_secret", "user_agent", "app_id"}
        | {"platform", "version"}
    ),
    "hackernews": frozenset({"queries", "algolia_tags"}),
}
_SETTINGS = {
    "language", "region", "timezone", "default_interval", "timeout", "max_body_bytes", "max_workers",
    "per_host", "contact", "cluster_days", "credentials_file", "processes", "languages", "place",
}  # fmt: skip
# Sections of `settings` that later stages read (Settings.extra): the digest and alerts, the targets,
# export, the web page.
EXTRA_SETTINGS = {"digest", "alerts", "notify", "export", "web", "report"}
MIN_INTERVAL = 60  # seconds; polling faster than this gets throttled or banned
MAX_INTERVAL = 30 * 86400  # a source polled less than monthly is a typo (and would overflow dates)
MAX_DURATION = 3650 * 86400  # ten years: the longest duration anything takes (--since included)
MAX_WEIGHT = 100.0  # a source's or a query's weight
# settings: (lowest, highest) of each whole number
_RANGES = {
    "max_body_bytes": (1024, 2**31),
    "max_workers": (1, 512),
    "per_host": (1, 64),
    "cluster_days": (1, 365),
}
MAX_TIMEOUT = 3600.0
MAX_PROCESSES = 64  # settings.processes: more than this is a typo, not a machine


class DurationTooLong(ValueError):
    """A duration above MAX_DURATION: a setting with a shorter range of its own says that range."""


def parse_duration(text: str | int | float) -> int:
    """'90', '30m', '2h', '7d', '1w' -> seconds, at most MAX_DURATION. Raises ValueError with a readable message."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 30m, 2h, 7d, 1w)")
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        m = _DURATION.match(text)
        if not m:
            raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 30m, 2h, 7d, 1w)")
        seconds = float(m.group(1)) * _UNITS[(m.group(2) or "s").lower()]
    if not math.isfinite(seconds) or seconds > MAX_DURATION:
        raise DurationTooLong(f"{text!r} is too long: at most {MAX_DURATION // 86400}d")
    return int(seconds)


def _suggest(word: str, known: set[str]) -> str:
    close = difflib.get_close_matches(str(word), sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- keywords.txt -------------------------------------------------------------------------------


def split_weight(line: str) -> tuple[str, float]:
    """'tiers-lieux ^2' -> ('tiers-lieux', 2.0); a line without a weight suffix weighs 1."""
    if w := _WEIGHT.search(line):
        return line[: w.start()].rstrip(), float(w.group(1))
    return line, 1.0


def is_group(line: str) -> str | None:
    """The name of a `[group]` line, else None."""
    g = _GROUP.match(line.strip())
    return (g.group(1).strip() or None) if g else None


def parse_keywords(text: str, path: str = "keywords.txt") -> tuple[Query, ...]:
    """Parse the text of keywords.txt. Raises ConfigError naming the line and column."""
    from watcher.query import parse_query, same_query_key

    queries: list[Query] = []
    seen: dict[str, int] = {}
    group: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if _GROUP.match(line):
            group = is_group(line)
            continue
        if line.startswith("[") and "]" not in line:
            raise ConfigError(path, number, f"a group line is written [name], with its closing bracket: {line!r}")
        if not _WEIGHT.search(line) and (b := _BAD_WEIGHT.search(line)):
            raise ConfigError(path, number, f"{b.group(0).strip()!r} is not a weight: write ^ and a number, e.g. ^2")
        line, weight = split_weight(line)
        if not weight <= MAX_WEIGHT:
            raise ConfigError(path, number, f"weight ^{weight:g} is too large: at most ^{MAX_WEIGHT:g}")
        try:
            tree = parse_query(line)
        except QuerySyntaxError as exc:
            column = exc.column + (len(raw) - len(raw.lstrip()))
            raise ConfigError(path, number, f"column {column}: {exc.problem} in {line!r}") from None
        canonical = same_query_key(tree)
        if canonical in seen:
            raise ConfigError(
                path, number, f"{line!r} repeats the query of line {seen[canonical]} (same after normalisation)"
            )
        seen[canonical] = number
        queries.append(Query(text=line, line=number, tree=tree, weight=weight, group=group))
    return tuple(queries)


# --- feeds.yaml ---------------------------------------------------------------------------------


class _Doc:
    """A YAML document with the line of every mapping value, for messages."""

    def __init__(self, text: str, path: str) -> None:
        self.path = path
        try:
            # libyaml when PyYAML has it: the same documents and marks, ten times faster on a
            # feeds.yaml of hundreds of sources, read at every poll.
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            self.node = yaml.compose(text, Loader=loader)
            self.data = yaml.load(text, Loader=loader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else None
            problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
            raise ConfigError(path, line, f"invalid YAML: {problem}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(path, None, f"invalid YAML: {exc}") from None
        self._refuse_repeated_keys(self.node)

    def _refuse_repeated_keys(self, node: yaml.Node | None) -> None:
        """YAML keeps the last of two equal keys without a word; a repeated key is a mistake (two `url:`)."""
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                line = key.start_mark.line + 1
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        raise ConfigError(
                            self.path, line, f"`{key.value}` is given twice (first on line {seen[key.value]})"
                        )
                    seen[key.value] = line
                self._refuse_repeated_keys(value)
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                self._refuse_repeated_keys(item)

    def error(self, node: yaml.Node | None, problem: str) -> ConfigError:
        return ConfigError(self.path, node.start_mark.line + 1 if node else None, problem)


def _child(node: yaml.Node | None, key: str, want_key: bool = False) -> yaml.Node | None:
    """The value node of `key` in a mapping node (or the key node itself), for its line."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if k.value == key:
                return k if want_key else v  # type: ignore[no-any-return]
    return None


def _expand(value: Any, env: Mapping[str, str], doc: _Doc, node: yaml.Node | None, resolve: bool = True) -> Any:
    """Replace ${VAR} in strings, recursively; a missing variable is a config error.

    Each value read is recorded as a secret, shown as `${VAR}`. With `resolve` false the text
    keeps its `${VAR}` (a command that uses no secret), and a missing variable is no error.
    """
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in env:
                if not resolve:
                    return m.group(0)
                raise doc.error(
                    node,
                    f"${{{name}}} is not set: export it, or put {name}=... in the credentials file",
                )
            SECRETS.remember(env[name], m.group(0))
            return env[name] if resolve else m.group(0)

        return _ENV_REF.sub(sub, value)
    if isinstance(value, list):
        return [_expand(v, env, doc, node, resolve) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, env, doc, _child(node, k) or node, resolve) for k, v in value.items()}
    return value


def read_credentials(path: Path) -> dict[str, str]:
    """A KEY=VALUE file (systemd EnvironmentFile style); blank lines and # comments allowed.

    Every value is recorded as a secret (shown as `${KEY}`). A file that cannot be read (a
    folder, not UTF-8, not readable by this user) is a ConfigError naming it.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise ConfigError(path, None, "the credentials file is a folder: name a KEY=VALUE file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, None, f"the credentials file is not UTF-8 text (byte {exc.start})") from None
    except PermissionError:
        raise ConfigError(
            path, None, "this user cannot read the credentials file: run the command as the service's user or root"
        ) from None
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read the credentials file: {exc.strerror}") from None
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ConfigError(path, number, "expected KEY=VALUE")
        values[key.strip()] = value.strip().strip("'\"")
    for key, value in values.items():
        SECRETS.remember(value, f"${{{key}}}")
    return values


def _settings(doc: _Doc, node: yaml.Node | None, data: Any, base: Path) -> Settings:
    if data is None:
        return Settings()
    if not isinstance(data, dict):
        raise doc.error(node, "`settings` must be a mapping of names to values")
    defaults = Settings()
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for key, value in data.items():
        where = _child(node, key)
        if key in {"default_interval"}:
            try:
                known[key] = parse_duration(value)
            except DurationTooLong:
                known[key] = MAX_INTERVAL + 1  # said below, with its range
            except ValueError as exc:
                raise doc.error(where, f"settings.{key}: {exc}") from None
            if not MIN_INTERVAL <= known[key] <= MAX_INTERVAL:
                raise doc.error(
                    where, f"settings.{key} must be from {MIN_INTERVAL}s to {MAX_INTERVAL // 86400}d, not {value!r}"
                )
        elif key in {"timeout"}:
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0 < value <= MAX_TIMEOUT:
                raise doc.error(where, f"settings.{key} must be a positive number of seconds, at most {MAX_TIMEOUT:g}")
            known[key] = float(value)
        elif key in _RANGES:
            low, high = _RANGES[key]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise doc.error(where, f"settings.{key} must be a whole number from {low} to {high}")
            known[key] = value
        elif key == "processes":
            if value == "auto":
                known[key] = None
            elif not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_PROCESSES:
                raise doc.error(where, f"settings.processes must be `auto` or a whole number from 0 to {MAX_PROCESSES}")
            else:
                known[key] = value
        elif key in {"language", "region", "timezone", "contact"}:
            if not isinstance(value, str):
                raise doc.error(where, f"settings.{key} must be text")
            known[key] = value
        elif key == "place":
            if not isinstance(value, str) or not value.strip():
                raise doc.error(where, "settings.place must be a French commune, e.g. Sceaux, or its INSEE code")
            from watcher import place

            try:
                data = place.load_data()
            except (OSError, ValueError):
                data = None  # the poll says so, once, and scores without it
            if data is not None:
                try:
                    place.find(value, data)
                except ValueError as exc:
                    raise doc.error(where, f"settings.place: {exc}") from None
            known[key] = value.strip()
        elif key == "credentials_file":
            if not isinstance(value, str) or not value.strip():
                raise doc.error(where, "settings.credentials_file must be the name of a KEY=VALUE file")
            known[key] = str(base / value)
        elif key == "languages":
            known[key] = _languages(doc, where, value, "settings.languages")
        elif key in EXTRA_SETTINGS:
            extra[key] = value
            if where is not None:
                lines[key] = where.start_mark.line + 1
            if isinstance(where, yaml.MappingNode):
                for child_key, child in where.value:
                    lines[f"{key}.{child_key.value}"] = child.start_mark.line + 1
        else:
            raise doc.error(
                _child(node, key, want_key=True), f"unknown setting {key!r}{_suggest(key, _SETTINGS | EXTRA_SETTINGS)}"
            )
    if "timezone" in known:
        try:
            ZoneInfo(known["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise doc.error(
                _child(node, "timezone"), f"unknown time zone {known['timezone']!r} (e.g. Europe/Paris)"
            ) from None
    _check_sections(doc, node, extra, known.get("timezone", defaults.timezone))
    return Settings(**{**defaults.__dict__, **known, "extra": extra, "extra_lines": lines})


# The keys of each section of `settings` that a later stage reads (notify, schedule, export):
# any other key is a typo, refused with a suggestion. A stage that reads a new key adds it here.
SECTION_KEYS: dict[str, frozenset[str]] = {
    "digest": frozenset({"every", "day", "time", "max_items", "tag", "max_age"}),
    "alerts": frozenset({"enabled", "min_score", "max_per_hour", "tag"}),
    "notify": frozenset({"config", "timeout"}),
    "export": frozenset({"network", "max_length", "link_length", "hours", "gap", "lead"}),
    "web": frozenset({"enabled", "listen", "public_url", "link_days"}),
    "report": frozenset({"tag"}),  # the quarterly report goes by itself to the targets with this tag
}
MAX_DIGEST_ITEMS = 1000
MAX_ALERTS_PER_HOUR = 1000
MAX_SEND_TIMEOUT = 600.0  # seconds: settings.notify.timeout (notify.py reads it)


def _check_sections(doc: _Doc, node: yaml.Node | None, extra: Mapping[str, Any], timezone: str) -> None:
    """The sections later stages read (digest, alerts, notify, export), checked now, so that
    `watcher check` and a reload refuse what would fail at the digest or the export: each key
    known, each value readable (through the very functions that read it later), with its line."""
    from watcher import export, schedule

    def line_of(problem: str, section: str) -> yaml.Node | None:
        named = _SETTING_NAMED.search(problem)
        where = _child(node, section)
        if named and "." in named.group(1):
            return _child(where, named.group(1).split(".", 1)[1]) or where
        return where

    for section, value in extra.items():
        where = _child(node, section)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise doc.error(where, f"settings.{section} must be a mapping of keys to values")
        known = SECTION_KEYS.get(section)
        for key in value:
            if known is not None and key not in known:
                raise doc.error(
                    _child(where, key, want_key=True),
                    f"settings.{section}: unknown key {key!r}{_suggest(key, set(known))}",
                )
    digest, alerts = extra.get("digest") or {}, extra.get("alerts") or {}
    problems: list[tuple[str, str]] = []
    try:
        schedule.parse_slot(digest, ZoneInfo(timezone))
    except ValueError as exc:
        problems.append(("digest", str(exc)))
    max_items = digest.get("max_items", 1)
    if not isinstance(max_items, int) or isinstance(max_items, bool) or not 1 <= max_items <= MAX_DIGEST_ITEMS:
        problems.append(("digest", f"settings.digest.max_items must be a whole number from 1 to {MAX_DIGEST_ITEMS}"))
    if "max_age" in digest:  # news: found within this of its publication (notify.NotifySettings.news_age)
        try:
            if parse_duration(digest["max_age"]) < 3600:
                problems.append(("digest", "settings.digest.max_age must be at least 1h (e.g. 7d)"))
        except ValueError as exc:
            problems.append(("digest", f"settings.digest.max_age: {exc}"))
    enabled = alerts.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(("alerts", "settings.alerts.enabled must be true or false"))
    min_score = alerts.get("min_score", 100)
    if min_score is not None and (
        not isinstance(min_score, int) or isinstance(min_score, bool) or not 1 <= min_score <= 100
    ):
        problems.append(("alerts", "settings.alerts.min_score must be a score from 1 to 100"))
    per_hour = alerts.get("max_per_hour", 0)
    if not isinstance(per_hour, int) or isinstance(per_hour, bool) or not 0 <= per_hour <= MAX_ALERTS_PER_HOUR:
        most = MAX_ALERTS_PER_HOUR
        problems.append(("alerts", f"settings.alerts.max_per_hour must be a whole number from 0 (no alerts) to {most}"))
    for section in ("digest", "alerts", "notify", "report"):
        for key in ("tag", "config"):
            value = (extra.get(section) or {}).get(key)
            if value is not None and not isinstance(value, str):
                problems.append((section, f"settings.{section}.{key} must be text"))
    send_timeout = (extra.get("notify") or {}).get("timeout", MAX_SEND_TIMEOUT)
    if (
        not isinstance(send_timeout, int | float)
        or isinstance(send_timeout, bool)
        or not math.isfinite(send_timeout)
        or not 1 <= send_timeout <= MAX_SEND_TIMEOUT
    ):
        problems.append(
            ("notify", f"settings.notify.timeout must be a number of seconds from 1 to {MAX_SEND_TIMEOUT:g}")
        )
    if "export" in extra:
        try:
            export.export_settings(extra.get("export"), timezone, parse_duration)
        except ValueError as exc:
            problems.append(("export", str(exc)))
    if "web" in extra:
        from watcher.web.settings import web_settings

        try:
            web_settings(extra.get("web"))
        except ValueError as exc:
            problems.append(("web", str(exc)))
    if problems:
        section, problem = problems[0]
        raise doc.error(line_of(problem, section), problem)


_SETTING_NAMED = re.compile(r"settings\.([a-z_]+(?:\.[a-z_]+)?)")


def setting_error(path: object, settings: Settings, problem: str) -> ConfigError:
    """The error for a setting read after loading (digest, alerts, export), at the line of the
    setting `problem` names ("settings.digest.time: ..."), or of its section, when known."""
    named = _SETTING_NAMED.search(problem)
    line = None
    if named:
        name = named.group(1)
        line = settings.extra_lines.get(name) or settings.extra_lines.get(name.split(".")[0])
    return ConfigError(path, line, problem)


def _languages(doc: _Doc, node: yaml.Node | None, value: Any, what: str) -> tuple[str, ...]:
    """`[fr, en]`, `fr` or `any` -> ('fr', 'en'), ('fr',) or ('any',)."""
    from watcher.language import ANY, LANGUAGE_CODE

    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise doc.error(node, f"{what} must be a list of language codes, e.g. [fr, en], or `any`")
    codes = tuple(dict.fromkeys(v.strip().lower() for v in values))
    for code in codes:
        if code != ANY and not LANGUAGE_CODE.match(code):
            raise doc.error(node, f"{what}: {code!r} is not a language code (two letters, e.g. fr, en), nor `any`")
    return (ANY,) if ANY in codes else codes


def _feed(
    doc: _Doc, node: yaml.Node, data: Any, env: Mapping[str, str], settings: Settings, resolve: bool = True
) -> SourceSpec:
    line = node.start_mark.line + 1
    if not isinstance(data, dict):
        raise doc.error(node, "each feed must be a mapping with at least `name` and `kind`")
    name = data.get("name")
    if name is None:
        raise doc.error(node, "feed without a `name`")
    if not isinstance(name, str):
        raise doc.error(_child(node, "name"), f'feed name {name!r} must be text: write it in quotes (name: "{name}")')
    if not name.strip():
        raise doc.error(node, "feed without a `name`")
    kind = data.get("kind")
    if kind is None:
        raise doc.error(node, f"feed {name!r} has no `kind` (one of: {', '.join(SOURCE_KINDS)})")
    if kind not in SOURCE_KINDS:
        raise doc.error(
            _child(node, "kind") or node,
            f"feed {name!r}: unknown kind {kind!r} (one of: {', '.join(SOURCE_KINDS)})",
        )
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise doc.error(_child(node, "enabled"), f"feed {name!r}: `enabled` must be true or false")
    # credentials are only needed for the feeds that will run
    values = _expand(data, env, doc, node, resolve) if enabled else data
    url = values.get("url")
    if kind == "rss":
        if not isinstance(url, str) or not url.strip():
            raise doc.error(node, f"feed {name!r}: kind rss needs a `url`")
        if not resolve and _ENV_REF.match(url.strip()):
            pass  # the whole address is a secret: checked by the commands that read it
        elif not re.match(r"^https?://[^\s/]+", url):
            raise doc.error(_child(node, "url"), f"feed {name!r}: url must start with http:// or https://")
        if re.search(r"\s", url.strip()):
            raise doc.error(_child(node, "url"), f"feed {name!r}: url holds a space (write it as %20)")
    base_url = values.get("base_url")
    if base_url is not None and (
        not isinstance(base_url, str) or not (re.match(r"^https?://", base_url) or _ENV_REF.match(base_url))
    ):
        raise doc.error(_child(node, "base_url"), f"feed {name!r}: base_url must start with http(s)://")
    try:
        interval = parse_duration(values.get("interval", settings.default_interval))
    except DurationTooLong:  # said below with the interval's own range, not the longest duration
        interval = MAX_INTERVAL + 1
    except ValueError as exc:
        raise doc.error(_child(node, "interval"), f"feed {name!r}: interval: {exc}") from None
    if interval < MIN_INTERVAL:
        raise doc.error(_child(node, "interval"), f"feed {name!r}: interval {interval}s is below the minimum of 60s")
    if interval > MAX_INTERVAL:
        raise doc.error(
            _child(node, "interval"), f"feed {name!r}: interval is above the maximum of {MAX_INTERVAL // 86400}d"
        )
    weight = values.get("weight", 1.0)
    if not isinstance(weight, int | float) or isinstance(weight, bool) or not 0 <= weight <= MAX_WEIGHT:
        raise doc.error(_child(node, "weight"), f"feed {name!r}: weight must be a number from 0 to {MAX_WEIGHT:g}")
    tags = values.get("tags", [])
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise doc.error(_child(node, "tags"), f"feed {name!r}: tags must be a list of words")
    excluded: dict[str, tuple[str, ...]] = {}
    for key in ("exclude_domains", "exclude_authors"):
        listed = values.get(key, [])
        if isinstance(listed, str):
            listed = [listed]
        if not isinstance(listed, list) or not all(isinstance(v, str) and v.strip() for v in listed):
            raise doc.error(_child(node, key), f"feed {name!r}: {key} must be a list of {key[8:-1]}s")
        excluded[key] = tuple(v.strip().lower() if key == "exclude_domains" else v.strip() for v in listed)
    from watcher.language import normalise_code

    if "languages" in values:
        languages = _languages(doc, _child(node, "languages"), values["languages"], f"feed {name!r}: languages")
    else:
        languages = settings.languages or (normalise_code(settings.language) or "fr",)
    options = {k: v for k, v in values.items() if k not in _FEED_KEYS}
    unknown = sorted((k for k in options if k not in KIND_KEYS.get(kind, options)), key=str)
    if unknown:  # a typo (`intervall:`, `app_pasword:`), or a key of another kind
        key = unknown[0]
        allowed = _FEED_KEYS | KIND_KEYS[kind]
        raise doc.error(
            _child(node, key, want_key=True), f"feed {name!r}: unknown key {key!r}{_suggest(str(key), set(allowed))}"
        )
    spec = SourceSpec(
        name=name.strip(),
        kind=kind,
        url=url.strip() if isinstance(url, str) else None,
        base_url=base_url.rstrip("/") if isinstance(base_url, str) else None,
        interval=interval,
        weight=float(weight),
        tags=tuple(tags),
        enabled=enabled,
        options=options,
        line=line,
        exclude_domains=excluded["exclude_domains"],
        exclude_authors=excluded["exclude_authors"],
        languages=None if languages == ("any",) else languages,
    )
    if enabled:  # the source kind's own keys (an empty credential...), before any poll
        from watcher.sources import check_spec

        problem = check_spec(spec)
        if problem:
            raise doc.error(node, f"feed {name!r}: {problem}")
    return spec


def parse_feeds(
    text: str,
    path: str = "feeds.yaml",
    env: Mapping[str, str] | None = None,
    base: Path | None = None,
    *,
    secrets: bool = True,
) -> tuple[tuple[SourceSpec, ...], Settings]:
    """Parse the text of feeds.yaml: its feeds and settings (see parse_feeds_file)."""
    feeds, settings, _presence = parse_feeds_file(text, path, env, base, secrets=secrets)
    return feeds, settings


def parse_feeds_file(
    text: str,
    path: str = "feeds.yaml",
    env: Mapping[str, str] | None = None,
    base: Path | None = None,
    *,
    secrets: bool = True,
) -> tuple[tuple[SourceSpec, ...], Settings, tuple[Organisation, ...]]:
    """Parse the text of feeds.yaml: feeds, settings, presence. Raises ConfigError naming the line.

    `secrets`: read the credentials file and put the values of `${VAR}` in place (the commands
    that poll); without, `${VAR}` stays as written and a missing variable is no error.
    """
    doc = _Doc(text, path)
    data, root = doc.data, doc.node
    if data is None:
        raise ConfigError(path, None, "the file is empty: it needs a `feeds:` list")
    if not isinstance(data, dict):
        raise doc.error(root, "the top level must be a mapping with a `feeds:` list")
    unknown = set(data) - {"feeds", "settings", "presence"}
    if unknown:
        key = sorted(unknown)[0]
        raise doc.error(
            _child(root, key, want_key=True),
            f"unknown top-level key {key!r} (expected `feeds`, `settings` and `presence`)",
        )
    settings = _settings(doc, _child(root, "settings"), data.get("settings"), base or Path("."))
    environment = dict(env if env is not None else os.environ)
    # environment values named in feeds.yaml are secrets, whether this command reads them or not
    SECRETS.remember_environment(set(_ENV_REF.findall(text)), environment)
    if settings.credentials_file and secrets:
        cred = Path(settings.credentials_file)
        if cred.exists() or cred.is_symlink():
            try:
                environment = {**read_credentials(cred), **environment}
            except ConfigError as exc:
                if exc.line is not None:  # a line of the credentials file: its own file and line
                    raise
                where = _child(_child(root, "settings"), "credentials_file")
                raise doc.error(where, f"settings.credentials_file {exc.path}: {exc.problem}") from None
    feeds_node = _child(root, "feeds")
    feeds_data = data.get("feeds")
    if feeds_data is None:
        feeds_data = []
    if not isinstance(feeds_data, list) or not isinstance(feeds_node, yaml.SequenceNode | None):
        raise doc.error(feeds_node, "`feeds` must be a list of feeds (each line starting with `- `)")
    specs: list[SourceSpec] = []
    names: dict[str, int] = {}
    for item_node, item in zip(feeds_node.value if feeds_node else [], feeds_data, strict=True):
        spec = _feed(doc, item_node, item, environment, settings, secrets)
        if spec.name in names:
            raise doc.error(item_node, f"feed name {spec.name!r} is already used on line {names[spec.name]}")
        names[spec.name] = spec.line
        specs.append(spec)
    presence: tuple[Organisation, ...] = ()
    if "presence" in data:  # checked with the rest, so that `watcher check` names its mistakes
        from watcher.presence.accounts import parse_presence

        where = _child(root, "presence")
        presence = parse_presence(path, where, data.get("presence"), environment if secrets else None)
    return tuple(specs), settings, presence


def remember_secrets(feeds_path: Path, env: Mapping[str, str] | None = None) -> None:
    """Record the secrets of feeds.yaml without loading it, for a command that reads no configuration
    (`hits` shows links a private feed may have written with its token): the environment values
    its `${NAME}`s name, and the credentials file's values if this user can read it. Best effort:
    a file that cannot be read is the business of the commands that need it."""
    try:
        text = feeds_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    SECRETS.remember_environment(set(_ENV_REF.findall(text)), os.environ if env is None else env)
    named = re.search(r"^\s+credentials_file:\s*['\"]?([^'\"#\n]+?)['\"]?\s*(?:#.*)?$", text, re.MULTILINE)
    if named:
        with contextlib.suppress(ConfigError):
            read_credentials(feeds_path.parent / named.group(1).strip())


def load_config(
    feeds_path: Path, keywords_path: Path, env: Mapping[str, str] | None = None, *, secrets: bool = True
) -> Config:
    """Read and validate both files; nothing is written anywhere.

    `secrets=False` for a command that uses no secret: the credentials file is not read and
    `${VAR}` stays as written (see parse_feeds).
    """
    texts: list[str] = []
    for path in (feeds_path, keywords_path):
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(path, None, "file not found (use --feeds / --keywords to name it)") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except OSError as exc:
            raise ConfigError(path, None, f"cannot read: {exc.strerror}") from None
    feeds, settings, presence = parse_feeds_file(texts[0], str(feeds_path), env, feeds_path.parent, secrets=secrets)
    queries = parse_keywords(texts[1], str(keywords_path))
    return Config(feeds, queries, settings, feeds_path, keywords_path, presence)
