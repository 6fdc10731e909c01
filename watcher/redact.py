"""Secrets: which values are secret, and the one function that hides them wherever text leaves.

A secret is every value read for a `${NAME}` of feeds.yaml (from the environment or the
credentials file), every value of the credentials file, what systemd hands over in
$CREDENTIALS_DIRECTORY, the parts of an Apprise URL that may be credentials, and the password
of any URL written `scheme://user:password@host`. The configuration loader records them here as
it reads them (`remember`); every edge where text leaves the process passes it through `redact`:
log lines and tracebacks (logs.py), the commands' output (cli.py), the errors, addresses and
cursors stored in the database (poll.py), the digests and alerts sent out or written (notify.py).

A value read for `${NAME}` is shown as `${NAME}`, as feeds.yaml writes it; any other as `***`.
Each value is also looked for as URLs, JSON and HTML encode it. A value shorter than
MIN_LENGTH characters is not looked for in free text (it would blank ordinary words); as a URL's
password it is hidden all the same.
"""

from __future__ import annotations

import html
import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit

HIDDEN = "***"
MIN_LENGTH = 4
CREDENTIALS_DIRECTORY = "CREDENTIALS_DIRECTORY"  # systemd's LoadCredential= folder
_MAX_CREDENTIAL_FILE = 1024 * 1024
_LONG = 64 * 1024  # characters: above this, forms are looked for one by one before any replacing

# scheme://user:password@ -> scheme://user:***@ (a password already shown as ${NAME} stays so)
# (anchored on the literal "://", which the regular expression engine finds fast: 15 MB in 70 ms)
_USERINFO = re.compile(r"(://[^\s/?#@:]*):(?!\$\{[A-Za-z_][A-Za-z0-9_]*\}@)[^\s/?#@]+@")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S+")


def _forms(value: str) -> set[str]:
    """The value as it may appear in a URL, a JSON string or HTML."""
    return {
        value,
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        html.escape(value),
        html.escape(value, quote=False),
    }


def _token_like(word: str) -> bool:
    """A path segment or query value that looks like a token (`HookToken-Zq0923`), not a word,
    a host or a number (`hook`, `127.0.0.1`, `chat`): letters and digits, 8 characters or more."""
    return len(word) >= 8 and any(c.isdigit() for c in word) and any(c.isalpha() for c in word)


def url_parts(url: str) -> set[str]:
    """The parts of a URL that may be credentials: itself, its password, and the path segments
    and query values that look like tokens (Apprise URLs carry them there: discord://id/token)."""
    try:
        parts = urlsplit(url.strip())
        password = parts.password or ""
    except ValueError:
        return {url}
    words = {unquote(p) for p in parts.path.split("/")} | {unquote(parts.hostname or "")}
    words |= {unquote(v.partition("=")[2]) for v in parts.query.split("&")}
    return ({url.strip(), unquote(password)} | {w for w in words if _token_like(w)}) - {""}


class Secrets:
    """The secret values known to this process, each with what is shown in its place."""

    def __init__(self) -> None:
        self._shown: dict[str, str] = {}  # every form of every value -> its replacement
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def remember(self, value: str, shown_as: str = HIDDEN) -> None:
        """Hide `value` from now on, showing `shown_as` (a `${NAME}` placeholder, or ***)."""
        if not isinstance(value, str) or len(value) < MIN_LENGTH:
            return
        with self._lock:
            for form in _forms(value):
                if len(form) >= MIN_LENGTH and (self._shown.get(form, HIDDEN) == HIDDEN):
                    self._shown[form] = shown_as
            self._pattern = None

    def remember_all(self, values: Iterable[str], shown_as: str = HIDDEN) -> None:
        for value in values:
            self.remember(value, shown_as)

    def remember_url(self, url: str) -> None:
        """An Apprise URL or the like: the whole of it and each part that may be a credential."""
        self.remember_all(url_parts(url))

    def remember_environment(self, names: Iterable[str], environ: Mapping[str, str]) -> None:
        """The values of these environment variables, shown as `${NAME}`."""
        for name in names:
            if environ.get(name):
                self.remember(environ[name], f"${{{name}}}")

    def remember_credentials_directory(self, environ: Mapping[str, str] | None = None) -> None:
        """What systemd handed over (LoadCredential=): each file whole, its values and its URLs."""
        folder = (os.environ if environ is None else environ).get(CREDENTIALS_DIRECTORY)
        if not folder:
            return
        try:
            files = [p for p in Path(folder).iterdir() if p.is_file()]
        except OSError:
            return
        for path in files:
            try:
                if path.stat().st_size > _MAX_CREDENTIAL_FILE:
                    continue
                text = path.read_bytes().decode("utf-8", "replace")
            except OSError:
                continue
            self.remember(text.strip())
            for line in text.splitlines():
                _key, sep, value = line.partition("=")
                if sep and "://" not in _key:
                    self.remember(value.strip().strip("'\""))
                for url in _URL_IN_TEXT.findall(line):
                    self.remember_url(url.rstrip(":,'\""))

    def adopt(self, shown: Mapping[str, str]) -> None:
        """What another process knew (`known()`): a pool process hides what the poll hides."""
        with self._lock:
            self._shown.update(shown)
            self._pattern = None

    def forget(self) -> None:
        """Forget every secret (for tests, which each start as a new process would)."""
        with self._lock:
            self._shown.clear()
            self._pattern = None

    def known(self) -> dict[str, str]:
        with self._lock:
            return dict(self._shown)

    def redact(self, text: str) -> str:
        """`text` with every known secret replaced, and every URL's password hidden."""
        if not text:
            return text
        pattern = self._compiled()
        if pattern is not None and len(text) > _LONG:
            # a long output (hits --json): look for each form first (a fast substring search);
            # most of the time none is there and the text is left as it is
            with self._lock:
                present = [form for form in self._shown if form in text]
            present.sort(key=len, reverse=True)
            pattern = re.compile("|".join(re.escape(f) for f in present)) if present else None
        if pattern is not None:
            shown = self._shown
            text = pattern.sub(lambda m: shown.get(m.group(0), HIDDEN), text)
        if "://" in text:
            text = _USERINFO.sub(r"\1:" + HIDDEN + "@", text)
        return text

    def _compiled(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._pattern is None and self._shown:
                # longest first: a value that holds another is replaced whole
                forms = sorted(self._shown, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(f) for f in forms))
            return self._pattern


SECRETS = Secrets()
remember = SECRETS.remember
remember_url = SECRETS.remember_url
redact = SECRETS.redact


def redact_any(value: object) -> object:
    """A JSON-like value (cursor, report) with every string in it redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact_any(k): redact_any(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_any(v) for v in value]
    return value


class RedactedStream:
    """A text stream (the command's stdout or stderr) that redacts everything written to it.

    It has no `buffer`, so that nothing (click included) writes around it in bytes.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    @property
    def encoding(self) -> str:
        return getattr(self._inner, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str:
        return getattr(self._inner, "errors", None) or "strict"

    @property
    def inner(self) -> Any:
        return self._inner

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError("a text stream: write str, not bytes")
        self._inner.write(redact(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return bool(self._inner.isatty())

    def fileno(self) -> int:
        return int(self._inner.fileno())

    @property
    def closed(self) -> bool:
        return bool(getattr(self._inner, "closed", False))


def redact_standard_streams() -> None:
    """From now on, whatever this process prints to stdout or stderr is redacted (tracebacks too)."""
    import sys

    if not isinstance(sys.stdout, RedactedStream):
        sys.stdout = RedactedStream(sys.stdout)
    if not isinstance(sys.stderr, RedactedStream):
        sys.stderr = RedactedStream(sys.stderr)
