"""The `presence:` list of feeds.yaml: organisations, their role and their accounts per network.

    presence:
      - name: Sceaux smart
        role: self                                  # self, competitor or model
        accounts:
          mastodon: sceauxsmart@mastodon.social     # user@instance
          bluesky: sceauxsmart.bsky.social          # the handle (or a did:plc:...)
          website: https://example.org/feed/        # its feed: the publishing frequency
          linkedin: manual                          # figures by hand or by file
      - name: Un concurrent
        role: competitor
        accounts:
          bluesky: {handle: concurrent.example, base_url: https://public.api.bsky.app}

Every mistake is a ConfigError naming the file and line: an unknown network or role, a
malformed handle, an account given twice (here or by two organisations).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import yaml

from watcher.errors import ConfigError
from watcher.types import Organisation, PresenceAccount

ROLES = ("self", "competitor", "model")
# Read through a free public API (or a feed): the others only take figures by hand or by file.
API_NETWORKS = ("mastodon", "bluesky", "website")
MANUAL_NETWORKS = ("facebook", "linkedin", "x", "instagram", "youtube", "tiktok", "threads")
NETWORKS = API_NETWORKS + MANUAL_NETWORKS
MANUAL = "manual"
PUBLIC_BLUESKY = "https://public.api.bsky.app"

_MASTODON = re.compile(r"^@?([A-Za-z0-9_][A-Za-z0-9_.-]*)(?:@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::\d+)?))?$")
_BLUESKY = re.compile(r"^@?(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]*$")
_DID = re.compile(r"^did:(?:plc|web):[A-Za-z0-9._:%-]+$")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _child(node: yaml.Node | None, key: str, want_key: bool = False) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if getattr(k, "value", None) == key:
                return k if want_key else v  # type: ignore[no-any-return]
    return None


def _url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def check_handle(network: str, handle: str, has_base: bool) -> str | None:
    """What is wrong with a handle on a network, or None."""
    if network == "mastodon":
        m = _MASTODON.match(handle)
        if not m:
            return f"mastodon account {handle!r} is not user@instance (e.g. sceauxsmart@mastodon.social)"
        if not m.group(2) and not has_base:
            return f"mastodon account {handle!r} needs its instance: write user@instance or give base_url"
        return None
    if network == "bluesky":
        if _DID.match(handle) or _BLUESKY.match(handle):
            return None
        return f"bluesky account {handle!r} is not a handle (e.g. sceauxsmart.bsky.social) or a did:plc:..."
    if network == "website":
        return None if _url(handle) else f"website {handle!r} is not an http(s) URL of its feed"
    return f"{network} has no free API: write `{network}: manual` and record its figures by hand or by file"


def normal_handle(network: str, handle: str) -> str:
    """The form two spellings of one account share (for duplicates and the API calls)."""
    if network in ("mastodon", "bluesky"):
        return handle.strip().lstrip("@").lower()
    return handle.strip()


def base_url(account: PresenceAccount) -> str:
    """The API an account is read through: its own `base_url`, else the network's public one."""
    if account.base_url:
        return account.base_url.rstrip("/")
    if account.network == "mastodon":
        return "https://" + account.handle.split("@", 1)[1]
    if account.network == "bluesky":
        return PUBLIC_BLUESKY
    return account.handle


def parse_presence(
    path: str, node: yaml.Node | None, data: Any, env: Mapping[str, str] | None = None
) -> tuple[Organisation, ...]:
    """The `presence:` value of feeds.yaml (its node for lines). Raises ConfigError.

    `env`: the environment (and credentials file) the `${VAR}` of a Matomo token is read from;
    None leaves it as written (the commands that use no secret)."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ConfigError(path, _line(node), "`presence` must be a list of organisations (each line starting `- `)")
    items = node.value if isinstance(node, yaml.SequenceNode) else [None] * len(data)
    organisations: list[Organisation] = []
    names: dict[str, int] = {}
    seen: dict[tuple[str, str], int] = {}
    for item_node, item in zip(items, data, strict=True):
        line = _line(item_node) or 0
        if not isinstance(item, dict):
            raise ConfigError(
                path, line, "each organisation of `presence` is a mapping with `name`, `role`, `accounts`"
            )
        unknown = sorted(set(item) - {"name", "role", "accounts"})
        if unknown:
            raise ConfigError(
                path,
                _line(_child(item_node, unknown[0], want_key=True)),
                f"unknown key {unknown[0]!r} in an organisation (expected name, role, accounts)",
            )
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(path, line, "an organisation of `presence` has no `name` (text)")
        name = name.strip()
        if "/" in name:
            raise ConfigError(path, _line(_child(item_node, "name")), f"organisation name {name!r} cannot hold `/`")
        if name in names:
            raise ConfigError(path, line, f"organisation {name!r} is already declared on line {names[name]}")
        names[name] = line
        role = item.get("role", "competitor")
        if role not in ROLES:
            raise ConfigError(
                path, _line(_child(item_node, "role")), f"role {role!r} of {name!r} is not one of: {', '.join(ROLES)}"
            )
        accounts_node = _child(item_node, "accounts")
        accounts_data = item.get("accounts")
        if not isinstance(accounts_data, dict) or not accounts_data:
            raise ConfigError(
                path, _line(accounts_node) or line, f"{name!r} needs `accounts:`, a mapping of network to account"
            )
        accounts: list[PresenceAccount] = []
        for network, value in accounts_data.items():
            key_node = _child(accounts_node, str(network), want_key=True)
            value_node = _child(accounts_node, str(network))
            where = _line(value_node) or _line(key_node) or line
            if network not in NETWORKS:
                raise ConfigError(path, where, f"unknown network {network!r} (one of: {', '.join(NETWORKS)})")
            account = _account(path, where, name, str(network), value, value_node, env)
            if not account.manual:
                ident = (account.network, normal_handle(account.network, account.handle))
                if ident in seen:
                    raise ConfigError(
                        path, where, f"{network} account {account.handle!r} is already listed on line {seen[ident]}"
                    )
                seen[ident] = where
            accounts.append(account)
        organisations.append(Organisation(name, str(role), tuple(accounts), line))
    return tuple(organisations)


def _account(
    path: str, line: int, org: str, network: str, value: Any, node: yaml.Node | None, env: Mapping[str, str] | None
) -> PresenceAccount:
    base: str | None = None
    matomo: dict[str, str] | None = None
    if isinstance(value, dict):
        allowed = {"handle", "base_url", "matomo"} if network == "website" else {"handle", "base_url"}
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise ConfigError(
                path,
                _line(_child(node, unknown[0], want_key=True)) or line,
                f"unknown key {unknown[0]!r} in the {network} account of {org!r}"
                f" (expected {', '.join(sorted(allowed))})",
            )
        handle, base = value.get("handle"), value.get("base_url")
        if "matomo" in value:
            matomo = _matomo(path, _line(_child(node, "matomo")) or line, value["matomo"], env)
        if base is not None and (not isinstance(base, str) or not _url(base)):
            raise ConfigError(path, _line(_child(node, "base_url")) or line, f"base_url {base!r} is not an http(s) URL")
    else:
        handle = value
    if not isinstance(handle, str) or not handle.strip():
        raise ConfigError(path, line, f"the {network} account of {org!r} needs a handle (or `manual`)")
    handle = handle.strip()
    if handle == MANUAL:
        return PresenceAccount(org, network, "", None, line)
    problem = check_handle(network, handle, base is not None)
    if problem:
        raise ConfigError(path, line, problem)
    if network in ("mastodon", "bluesky"):
        handle = normal_handle(network, handle)
    return PresenceAccount(org, network, handle, base, line, matomo)


def _matomo(path: str, line: int, value: Any, env: Mapping[str, str] | None) -> dict[str, str]:
    """`matomo: {url, site_id, token: ${MATOMO_TOKEN}}` of a website: where its visits are read."""
    if not isinstance(value, dict) or set(value) != {"url", "site_id", "token"}:
        raise ConfigError(path, line, "matomo needs url, site_id and token (token: ${MATOMO_TOKEN})")
    url, site, token = value["url"], value["site_id"], value["token"]
    if not isinstance(url, str) or not _url(url):
        raise ConfigError(path, line, f"matomo url {url!r} is not an http(s) URL")
    if isinstance(site, bool) or not isinstance(site, int) or site < 1:
        raise ConfigError(path, line, "matomo site_id must be a whole number (the site's id in Matomo)")
    if not isinstance(token, str) or not _ENV_REF.fullmatch(token.strip()):
        raise ConfigError(
            path, line, "matomo token must be ${A_VARIABLE} (from the environment or the credentials file)"
        )
    name = _ENV_REF.fullmatch(token.strip()).group(1)  # type: ignore[union-attr]
    if env is not None:
        if not env.get(name):
            raise ConfigError(path, line, f"matomo token: ${{{name}}} is not set (environment or credentials file)")
        token = env[name]
    return {"url": url.rstrip("/"), "site_id": str(site), "token": token}


def accounts_of(organisations: tuple[Organisation, ...]) -> list[PresenceAccount]:
    return [a for o in organisations for a in o.accounts]


def find_account(organisations: tuple[Organisation, ...], name: str) -> PresenceAccount | None:
    """`Organisation/network` (case of the network ignored), or a handle as written in feeds.yaml."""
    wanted = name.strip()
    for account in accounts_of(organisations):
        if account.key == wanted or account.key.lower() == wanted.lower():
            return account
    for account in accounts_of(organisations):
        if account.handle and normal_handle(account.network, account.handle) == normal_handle(account.network, wanted):
            return account
    return None
