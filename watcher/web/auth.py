"""Who may use the web page and what a request may do: passwords, login links, sessions, CSRF,
the login rate limit, and the signed action links of the digest.

Every secret lives in the database (which is 0600), never in a log: the key that signs action
links, the password's scrypt hash, and the hashes (SHA-256) of session tokens and one-time login
links, so that what is stored cannot be replayed as a cookie or a link. Tokens are 256-bit
random values from `secrets`.

A digest action link is `<hit id>.<action>.<expiry, Unix seconds>.<HMAC-SHA256, 128 bits>`: it
says one hit and one action, it expires, and any change to it breaks the signature. It only
opens a confirmation page; the action is done by that page's POST.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from watcher.store import Store, iso

SESSION_LIFETIME = timedelta(days=14)
LOGIN_LINK_LIFETIME = timedelta(minutes=15)
LINK_SECRET = "link_key"
PASSWORD = "password"
MIN_PASSWORD = 10  # characters

# scrypt at n=2**15, r=8: about 32 MB and ~100 ms per check, slow enough against guessing
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_SCRYPT_MAXMEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


# --- passwords ---------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """'scrypt$n$r$p$salt$hash' with a random 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, maxmem=_SCRYPT_MAXMEM, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode("utf-8", "surrogatepass"),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=32,
            maxmem=_SCRYPT_MAXMEM,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, _unb64(digest))


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_PASSWORD:
        return f"a password needs at least {MIN_PASSWORD} characters"
    return None


# --- what the database keeps -------------------------------------------------------------------


def secret(store: Store, name: str) -> str | None:
    row = store.db.execute("SELECT value FROM web_secrets WHERE name = ?", (name,)).fetchone()
    return str(row[0]) if row else None


def set_secret(store: Store, name: str, value: str) -> None:
    with store.write() as conn:
        conn.execute("INSERT OR REPLACE INTO web_secrets (name, value) VALUES (?, ?)", (name, value))


def link_key(store: Store) -> bytes:
    """The key that signs digest action links: made once, on first use, and kept in the database."""
    value = secret(store, LINK_SECRET)
    if value is None:
        with store.write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO web_secrets (name, value) VALUES (?, ?)",
                (LINK_SECRET, _b64(secrets.token_bytes(32))),
            )
        value = secret(store, LINK_SECRET)
    assert value is not None
    return _unb64(value)


def set_password(store: Store, password: str) -> None:
    """Store the password's hash and end every open session (a new password locks out the old ones)."""
    hashed = hash_password(password)
    with store.write() as conn:
        conn.execute("INSERT OR REPLACE INTO web_secrets (name, value) VALUES (?, ?)", (PASSWORD, hashed))
        conn.execute("DELETE FROM web_sessions")


def password_matches(store: Store, password: str) -> bool:
    stored = secret(store, PASSWORD)
    return stored is not None and check_password(password, stored)


def new_login_link(store: Store, now: datetime) -> str:
    """A one-time login token, valid LOGIN_LINK_LIFETIME; only its hash is stored."""
    token = new_token()
    with store.write() as conn:
        conn.execute("DELETE FROM web_login_links WHERE expires < ?", (iso(now),))
        conn.execute(
            "INSERT INTO web_login_links (token_hash, expires) VALUES (?, ?)",
            (token_hash(token), iso(now + LOGIN_LINK_LIFETIME)),
        )
    return token


def use_login_link(store: Store, token: str, now: datetime) -> bool:
    """True once for a valid, unexpired login token; it cannot be used again."""
    with store.write() as conn:
        deleted = conn.execute(
            "DELETE FROM web_login_links WHERE token_hash = ? AND expires >= ?", (token_hash(token), iso(now))
        ).rowcount
    return bool(deleted)


@dataclass(frozen=True)
class Session:
    token: str  # what the cookie holds (only its hash is stored)
    csrf: str  # what every form and script request of this session must send back


def open_session(store: Store, now: datetime) -> Session:
    session = Session(new_token(), new_token())
    with store.write() as conn:
        conn.execute("DELETE FROM web_sessions WHERE expires < ?", (iso(now),))
        conn.execute(
            "INSERT INTO web_sessions (token_hash, csrf, created, expires) VALUES (?, ?, ?, ?)",
            (token_hash(session.token), session.csrf, iso(now), iso(now + SESSION_LIFETIME)),
        )
    return session


def find_session(store: Store, token: str, now: datetime) -> Session | None:
    row = store.db.execute(
        "SELECT csrf FROM web_sessions WHERE token_hash = ? AND expires >= ?", (token_hash(token), iso(now))
    ).fetchone()
    return Session(token, str(row[0])) if row else None


def close_session(store: Store, token: str) -> None:
    with store.write() as conn:
        conn.execute("DELETE FROM web_sessions WHERE token_hash = ?", (token_hash(token),))


def same_token(sent: str | None, expected: str) -> bool:
    return bool(sent) and hmac.compare_digest(str(sent).encode(), expected.encode())


# --- login attempts ------------------------------------------------------------------------------


class LoginLimiter:
    """At most `per_client` failed logins per client and `overall` in all within `window` seconds.

    In memory: a restart forgets, which costs a guesser a restart of the service it cannot cause.
    """

    def __init__(self, per_client: int = 5, overall: int = 30, window: float = 600.0) -> None:
        self.per_client, self.overall, self.window = per_client, overall, window
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def _trim(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.window:
            times.popleft()

    def allowed(self, client: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            mine = self._failures.get(client, deque())
            self._trim(mine, now)
            self._trim(self._all, now)
            return len(mine) < self.per_client and len(self._all) < self.overall

    def failed(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._failures) > 10_000:  # a flood of addresses cannot grow this without bound
                self._failures.clear()
            self._failures.setdefault(client, deque()).append(now)
            self._all.append(now)


# --- digest action links ---------------------------------------------------------------------------

ACTIONS = ("pick", "noise")


class LinkError(ValueError):
    """An action link that cannot be used; the message says why, for the page."""


def sign_action(key: bytes, hit_id: int, action: str, expires: datetime) -> str:
    payload = f"{int(hit_id)}.{action}.{int(expires.timestamp())}"
    mac = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:16]
    return f"{payload}.{_b64(mac)}"


def read_action(key: bytes, token: str, now: datetime) -> tuple[int, str]:
    """(hit id, action) of a signed link; LinkError("invalid" or "expired") otherwise."""
    parts = token.split(".")
    if len(parts) != 4 or len(token) > 200:
        raise LinkError("invalid")
    hit, action, expires, mac = parts
    expected = hmac.new(key, f"{hit}.{action}.{expires}".encode(), hashlib.sha256).digest()[:16]
    try:
        given = _unb64(mac)
    except ValueError:
        raise LinkError("invalid") from None
    if not hmac.compare_digest(expected, given) or action not in ACTIONS or not hit.isdigit():
        raise LinkError("invalid")
    if not expires.isdigit() or int(expires) < now.timestamp():
        raise LinkError("expired")
    return int(hit), action
