"""HTTP for every source: the one module that imports httpx.

A `Fetcher` turns a `FetchRequest` into a `Fetched` or raises a `FetchError`. It owns what every
request needs whatever the source: a total deadline (name lookup and proxy included), a cap on the
decoded body, redirects followed by hand (to learn permanent moves, and to refuse those that would
lead a public source to a private address or resend a body to another host), per-host
politeness, and error messages a user can act on that never show a credential. It is built on
httpx's and httpcore's public interfaces only. One shared `httpx.Client` serves many threads
(poll.py uses a thread pool).

Conditional GET stays with the caller: `validators()` reads a response's validators and
`conditional_headers()` turns stored ones back into request headers.
"""

from __future__ import annotations

import email.utils
import http
import importlib.metadata
import ipaddress
import socket
import ssl
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import httpcore
import httpx

from watcher.errors import (
    BodyTooLarge,
    ConnectFailed,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    TooManyRedirects,
)
from watcher.types import Fetched, FetchRequest, Settings

PROJECT_URL = "https://github.com/watcher-veille/watcher"

# Only what we can inflate with a bounded output size (see _inflate); br and zstd bodies would be
# decoded by httpx in one unbounded step.
ACCEPT_ENCODING = "gzip, deflate"

_INFLATABLE = frozenset({"gzip", "x-gzip", "deflate"})
_MAX_CODINGS = 4  # gzip inside deflate is seen; a longer chain is a trick, not a server
_PERMANENT = frozenset({301, 308})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_PIECE = 64 * 1024  # largest decoded piece held at once
_ERROR_BODY_CAP = 64 * 1024  # error bodies are kept for adapters (e.g. an API's error JSON)
# Query parameters whose values never appear in a message, even for a request not marked secret.
_SECRET_PARAMS = frozenset(
    {"token", "access_token", "api_key", "apikey", "key", "secret", "client_secret", "password", "sig"}
)


def default_user_agent(contact: str = "") -> str:
    """An honest User-Agent: the program, its version, where to read about it, and who runs it."""
    try:
        version = importlib.metadata.version("watcher")
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    return (
        f"watcher/{version} (+{PROJECT_URL}; {contact})" if contact else f"watcher/{version} (+{PROJECT_URL})"
    )


def validators(fetched: Fetched) -> dict[str, str]:
    """The response's cache validators, verbatim: keys "etag" and "last_modified", each only if sent."""
    found = {"etag": fetched.headers.get("etag"), "last_modified": fetched.headers.get("last-modified")}
    return {name: value for name, value in found.items() if value}


def conditional_headers(stored: Mapping[str, str]) -> dict[str, str]:
    """The request headers that ask "only if changed", from what `validators()` returned."""
    headers = {}
    if stored.get("etag"):
        headers["If-None-Match"] = stored["etag"]
    if stored.get("last_modified"):
        headers["If-Modified-Since"] = stored["last_modified"]
    return headers


def parse_retry_after(value: str, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or an HTTP date); None if unreadable."""
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if seconds == seconds else None  # NaN is not a delay
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max((_aware(when) - _aware(now)).total_seconds(), 0.0)


def rate_limit_reset(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds until a rate-limit window resets, from the headers the social APIs send on a 429.

    Reddit's X-Ratelimit-Reset counts seconds, Bluesky's RateLimit-Reset is a Unix time and
    Mastodon's X-RateLimit-Reset an ISO 8601 time; a number this large can only be a Unix time.
    """
    value = (headers.get("x-ratelimit-reset") or headers.get("ratelimit-reset") or "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return None
        return max((_aware(when) - _aware(now)).total_seconds(), 0.0)
    if number != number:
        return None
    if number > 1_000_000_000:
        return max(number - _aware(now).timestamp(), 0.0)
    return max(number, 0.0)


class FetchStatusError(HTTPStatusError):
    """An HTTPStatusError that also keeps what the server answered, for adapters and rate limits.

    `headers` has lower-case names; `body` is at most the first 64 KiB, decoded. Neither is ever part
    of the message.
    """

    def __init__(
        self,
        status: int,
        message: str,
        retry_after: float | None = None,
        *,
        url: str = "",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(status, message, retry_after)
        self.url = url
        self.headers: Mapping[str, str] = dict(headers or {})
        self.body = body


# Connections kept open between requests, for a source's next page on the same host. Few: the
# connection pool looks at every idle connection for each connection at every request (a cost
# that grows with their square), and a poll's hundreds of hosts seldom see a second request.
# 16 cost 2.0 ms of CPU per request at 32 in flight, 4 cost 1.55 ms.
MAX_IDLE_CONNECTIONS = 4


class Fetcher:
    """Makes FetchRequests over one shared, thread-safe httpx.Client.

    `timeout` is a total deadline per request: connect, TLS, every read and every redirect hop.
    `max_body_bytes` caps the decoded body. At most `per_host` requests run at once against one
    host; the deadline starts once the first slot is taken, so queueing behind a busy host is not
    counted against the server.
    """

    def __init__(
        self,
        *,
        user_agent: str,
        timeout: float,
        max_body_bytes: int,
        per_host: int = 2,
        max_redirects: int = 5,
        transport: httpx.BaseTransport | None = None,
        resolve: Resolve | None = None,
    ) -> None:
        if timeout <= 0 or max_body_bytes <= 0 or per_host < 1 or max_redirects < 0:
            raise ValueError("timeout, max_body_bytes and per_host must be positive, max_redirects >= 0")
        self.timeout = timeout
        self.max_body_bytes = max_body_bytes
        self.per_host = per_host
        self.max_redirects = max_redirects
        # httpcore looks at every pooled connection (a poll(2) on each idle one) under one lock, twice
        # per request: a poll meets each of hundreds of hosts once, so few idle connections are kept
        # (enough for the hosts asked several times: pages, several feeds of one site).
        limits = httpx.Limits(
            max_connections=100, max_keepalive_connections=MAX_IDLE_CONNECTIONS, keepalive_expiry=30.0
        )
        self._resolve = resolve or system_resolve
        self._client = httpx.Client(
            transport=transport if transport is not None else _DeadlineTransport(limits, self._resolve),
            # The environment's proxies are the transport's (under the deadline), not httpx's own.
            trust_env=False,
            headers={"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            # Stateless like a feed reader: no cookie from one source or poll reaches another.
            cookies=_no_cookies(),
            follow_redirects=False,
            timeout=timeout,
        )
        self._hosts: dict[str, threading.BoundedSemaphore] = {}
        self._hosts_lock = threading.Lock()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def fetch(self, req: FetchRequest) -> Fetched:
        """Make one request. 2xx and 304 come back as a Fetched; everything else raises FetchError."""
        shown = _show_url(req.url, req.secret)
        try:
            request = self._client.build_request(
                req.method,
                req.url,
                headers=dict(req.headers),
                params=dict(req.params) or None,
                data=dict(req.data) if req.data is not None else None,
                json=req.json,
            )
        except (httpx.HTTPError, httpx.InvalidURL, ValueError, TypeError) as exc:
            raise FetchError(f"cannot make a request to {shown}: {_reason(exc, req)}") from None

        deadline: float | None = None
        start = 0.0
        permanent_url: str | None = None
        moved_for_good = True  # only an unbroken chain of 301/308 is a permanent move
        try:
            for _hop in range(self.max_redirects + 1):
                shown = _show_url(str(request.url), req.secret)
                with self._host_slot(request.url, deadline, shown):
                    if deadline is None:
                        start = time.monotonic()
                        deadline = start + self.timeout
                    if _request.deadline is None:
                        _request.origin = request.url.host
                    _request.deadline = deadline
                    request.extensions = {**request.extensions, "timeout": _timeouts(deadline, shown)}
                    response = self._client.send(request, stream=True, follow_redirects=False)
                    try:
                        if response.has_redirect_location and response.next_request is not None:
                            next_request = response.next_request
                            self._check_redirect(request, next_request, shown, req.secret)
                            if response.status_code in _PERMANENT and moved_for_good:
                                permanent_url = str(next_request.url)
                            else:
                                moved_for_good = False
                            request = next_request
                            continue
                        return self._answer(req, response, shown, deadline, start, permanent_url)
                    finally:
                        response.close()
            raise TooManyRedirects(
                f"more than {self.max_redirects} redirects from {_show_url(req.url, req.secret)}"
            )
        except httpx.TimeoutException:
            raise FetchTimeout(f"no complete answer from {shown} within {self.timeout:g} s") from None
        except (httpx.ConnectError, httpx.ProxyError) as exc:
            raise ConnectFailed(f"cannot connect to {shown}: {_reason(exc, req)}") from None
        except httpx.NetworkError as exc:
            raise ConnectFailed(f"connection to {shown} broke: {_reason(exc, req)}") from None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise FetchError(f"bad answer from {shown}: {_reason(exc, req)}") from None
        finally:
            _request.deadline = _request.origin = None

    def _check_redirect(self, request: httpx.Request, following: httpx.Request, shown: str, secret: bool) -> None:
        """Refuse a redirect that would resend the request's body to another host (307 and 308 keep
        it: a login's password), or lead a public source to a private or loopback address."""
        elsewhere = (following.url.scheme, following.url.host, following.url.port) != (
            request.url.scheme,
            request.url.host,
            request.url.port,
        )
        if not elsewhere:
            return
        target = _show_url(str(following.url), secret)
        if request.method not in ("GET", "HEAD") and following.method == request.method:
            raise FetchError(
                f"refused: {shown} redirects to another host ({target}) with the request's body, "
                "which is never sent again"
            )
        # The connection may come from the pool, or go through a proxy: the addresses are looked
        # at here too, not only when a connection is made.
        try:
            left = _left(None, httpcore.ConnectTimeout)
            addresses = resolve_within(self._resolve, following.url.host, following.url.port or 443, left)
        except (httpcore.ConnectError, httpcore.ConnectTimeout):
            return  # the connection will say what is wrong
        try:
            _refuse_private(following.url.host, addresses)
        except httpcore.ConnectError:
            raise FetchError(
                f"refused: {shown} redirects to {target}, a private or loopback address, "
                "and the source's own host is public"
            ) from None

    def _answer(
        self,
        req: FetchRequest,
        response: httpx.Response,
        shown: str,
        deadline: float,
        start: float,
        permanent_url: str | None,
    ) -> Fetched:
        status = response.status_code
        headers = dict(response.headers.items())
        if not (200 <= status < 300 or status == 304):
            raise self._status_error(req, response, shown, deadline)
        # A 304 or HEAD answer has no body whatever its Content-Length says; reading the empty
        # body still lets the connection go back to the pool.
        bodiless = status in (204, 304) or req.method.upper() == "HEAD"
        body = self._read_body(response, shown, deadline, self.max_body_bytes, strict=not bodiless)
        return Fetched(
            request=req,
            url=str(response.url),
            status=status,
            headers=headers,
            body=body,
            permanent_url=permanent_url,
            elapsed=time.monotonic() - start,
        )

    def _status_error(
        self, req: FetchRequest, response: httpx.Response, shown: str, deadline: float
    ) -> FetchStatusError:
        status = response.status_code
        headers = dict(response.headers.items())
        try:
            body = self._read_body(response, shown, deadline, _ERROR_BODY_CAP, strict=False)
        except (FetchError, httpx.HTTPError, httpx.StreamError):
            body = b""  # the status says more than a body we could not read
        retry_after = None
        if status in _RETRY_AFTER_STATUSES:
            now = datetime.now(UTC)
            if headers.get("retry-after"):
                retry_after = parse_retry_after(headers["retry-after"], now)
            if retry_after is None and status == 429:
                retry_after = rate_limit_reset(headers, now)
        return FetchStatusError(
            status,
            _status_message(status, shown, retry_after),
            retry_after,
            url=str(response.url),
            headers=headers,
            body=body,
        )

    def _read_body(
        self, response: httpx.Response, shown: str, deadline: float, cap: int, *, strict: bool
    ) -> bytes:
        """The decoded body, read piece by piece against the deadline and the cap.

        With `strict`, passing the cap raises BodyTooLarge; otherwise the body is cut at the cap.
        """
        length = response.headers.get("content-length", "")
        if strict and length.isdigit() and int(length) > cap:
            raise BodyTooLarge(f"body from {shown} is {int(length)} bytes, above the cap of {cap}")
        codings = [c.strip().lower() for c in response.headers.get("content-encoding", "").split(",")]
        codings = [c for c in codings if c and c != "identity"]
        # Every coding of the chain is undone here, each within _PIECE; a coding we did not ask
        # for would be decoded by httpx in one unbounded step (or, when its library is missing,
        # skipped, letting httpx inflate the rest unbounded): refused instead.
        unknown = [c for c in codings if c not in _INFLATABLE]
        if unknown or len(codings) > _MAX_CODINGS:
            what = f"the {unknown[0]} coding" if unknown else f"{len(codings)} codings in a chain"
            raise FetchError(
                f"cannot decode the body from {shown}: {what} (watcher asks for and reads gzip or deflate only)"
            )
        pieces: Iterable[bytes] = response.iter_raw()
        for coding in reversed(codings):  # the last coding listed was applied last
            pieces = _inflate(pieces, coding, shown)
        parts: list[bytes] = []
        size = 0
        for piece in pieces:
            size += len(piece)
            if size > cap:
                if strict:
                    raise BodyTooLarge(f"body from {shown} passed the cap of {cap} bytes (decoded)")
                parts.append(piece[: cap - (size - len(piece))])
                break
            parts.append(piece)
            if time.monotonic() > deadline:
                raise FetchTimeout(f"no complete answer from {shown} within {self.timeout:g} s")
        return b"".join(parts)

    def _host_slot(self, url: httpx.URL, deadline: float | None, shown: str) -> _Slot:
        key = f"{url.scheme}://{url.host}:{url.port or ''}"
        with self._hosts_lock:
            sem = self._hosts.get(key)
            if sem is None:
                sem = self._hosts[key] = threading.BoundedSemaphore(self.per_host)
        return _Slot(sem, deadline, f"no free slot for {shown} within {self.timeout:g} s")


class _Slot:
    """Holds one of a host's `per_host` slots; waits no longer than the deadline (if one runs)."""

    def __init__(self, sem: threading.BoundedSemaphore, deadline: float | None, message: str) -> None:
        self._sem = sem
        self._deadline = deadline
        self._message = message

    def __enter__(self) -> None:
        wait = None if self._deadline is None else max(self._deadline - time.monotonic(), 0.0)
        if not self._sem.acquire(timeout=wait):
            raise FetchTimeout(self._message)

    def __exit__(self, *exc: object) -> None:
        self._sem.release()


def _inflate(chunks: Iterable[bytes], coding: str, shown: str) -> Iterator[bytes]:
    """Undo gzip or deflate, never holding more than _PIECE decoded bytes: a gzip bomb stays small.

    httpx's own decoders inflate each network read whole (one 64 KiB read of zeros is 64 MB), so
    the body is read raw and inflated here with a bounded `max_length`.
    """
    gzip = coding in ("gzip", "x-gzip")
    # deflate is meant to be zlib-wrapped, but some servers send it raw; try wrapped first.
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
    first = True
    try:
        for chunk in chunks:
            data = chunk
            while data:
                try:
                    out = decoder.decompress(data, _PIECE)
                except zlib.error:
                    if gzip or not first:
                        raise
                    decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                    out = decoder.decompress(data, _PIECE)
                first = False
                if out:
                    yield out
                if decoder.unconsumed_tail:
                    data = decoder.unconsumed_tail
                elif decoder.eof and decoder.unused_data and gzip:
                    # a multi-member gzip file: the next member starts after this one
                    data = decoder.unused_data
                    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
                else:
                    data = b""
        rest = decoder.flush()
        if rest:
            yield rest
    except zlib.error as exc:
        raise FetchError(f"cannot decode the {coding} body from {shown}: {exc}") from None


def _status_message(status: int, shown: str, retry_after: float | None) -> str:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    what = f"HTTP {status} {phrase}".rstrip() + f" from {shown}"
    if status == 410:
        message = f"gone: the server says this feed was removed ({what})"
    elif status in (401, 403):
        message = f"access refused (login required or blocked): {what}"
    elif status == 429:
        message = f"rate limited: {what}"
    elif status == 503:
        message = f"server unavailable: {what}"
    elif status >= 500:
        message = f"server error: {what}"
    elif 300 <= status < 400:
        message = f"redirect without a usable Location: {what}"
    else:
        message = what
    if retry_after is not None:
        message += f"; retry after {retry_after:.0f} s"
    return message


def _show_url(url: str, secret: bool) -> str:
    """The URL as a message may show it: no user:password, and for a secret request no query."""
    # nothing to hide and nothing a terminal would act on: shown as it is (parsing costs ~90 µs)
    if not secret and url.isascii() and url.isprintable() and not any(mark in url for mark in "@?#"):
        return url
    try:
        parsed = httpx.URL(url)
        bare = parsed.copy_with(username=None, password=None, query=None, fragment=None)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "<invalid URL>"
    if secret or not parsed.query:
        return str(bare)
    params = [
        (name, "***" if name.lower() in _SECRET_PARAMS else value)
        for name, value in parsed.params.multi_items()
    ]
    return str(bare.copy_with(params=params))


def _reason(exc: BaseException, req: FetchRequest) -> str:
    """What went wrong, in the library's words, unless the request is secret (it may quote the URL)."""
    text = str(exc).strip() or type(exc).__name__
    if req.secret and (req.url in text or "://" in text or "?" in text):
        return type(exc).__name__
    return text


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _no_cookies() -> httpx.Cookies:
    from http.cookiejar import CookieJar, DefaultCookiePolicy

    return httpx.Cookies(CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])))


# --- the total deadline --------------------------------------------------------------------------
#
# httpx timeouts bound each socket operation, not the request: a server that drips one byte a second,
# in the headers or in the body, never trips them, and the name lookup has no timeout at all. The
# fetching thread records its deadline here; the transport below is built on httpcore's public API
# (a connection pool and proxies with a network backend of ours) and cuts every name lookup,
# connect, read and write, the proxy's included, to the time that is left.


class _RequestLocal(threading.local):
    """What the fetching thread's request allows: its deadline, and where it may connect."""

    deadline: float | None = None
    origin: str | None = None  # the host of the URL the request was made for (before redirects)
    via_proxy: bool = False  # the connection being made is to a proxy of the environment


_request = _RequestLocal()


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    deadline = _request.deadline
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the total deadline passed")
    return left if timeout is None else min(timeout, left)


def _timeouts(deadline: float, shown: str) -> dict[str, float]:
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpx.TimeoutException(f"deadline passed before {shown}")
    return httpx.Timeout(left).as_dict()  # type: ignore[return-value]


# --- names and private addresses -----------------------------------------------------------------

Resolve = Callable[[str, int], list[str]]
"""A name lookup: host and port in, its addresses out (raises OSError when there is none)."""


def system_resolve(host: str, port: int) -> list[str]:
    """The system's resolver (getaddrinfo), which has no timeout of its own."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# Lookups running at once: a resolver that hangs holds at most this many threads, and a request
# that finds them all taken waits no longer than its deadline.
_LOOKUPS = threading.BoundedSemaphore(16)


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def resolve_within(resolve: Resolve, host: str, port: int, timeout: float | None) -> list[str]:
    """`resolve(host, port)` given at most `timeout` seconds: the lookup runs in a thread of its own,
    which is left behind (and its slot with it) when it takes longer. Raises httpcore's errors."""
    if _literal(host):
        return [host]
    began = time.monotonic()
    if not _LOOKUPS.acquire(timeout=timeout):
        raise httpcore.ConnectTimeout(f"no name lookup could start for {host} before the deadline")
    answer: list[list[str] | BaseException] = []
    done = threading.Event()

    def look_up() -> None:
        try:
            answer.append(resolve(host, port))
        except BaseException as exc:  # handed to the waiting thread
            answer.append(exc)
        finally:
            _LOOKUPS.release()
            done.set()

    threading.Thread(target=look_up, name="watcher-resolve", daemon=True).start()
    if not done.wait(None if timeout is None else max(timeout - (time.monotonic() - began), 0.0)):
        raise httpcore.ConnectTimeout(f"the name {host} was not resolved before the deadline")
    found = answer[0]
    if isinstance(found, BaseException) or not found:
        raise httpcore.ConnectError(f"cannot resolve the name {host}: {found or 'no address'}")
    return found


def is_public_address(address: str) -> bool:
    """Whether an address is on the public internet (not loopback, private, link-local, reserved...)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global


def is_private_host(host: str) -> bool:
    """Whether a URL's host says it is private by itself: a loopback, private or link-local
    address, `localhost`, a name of the local network (`.local`, `.internal`, `.lan`,
    `.home.arpa`) or a name without a dot."""
    if _literal(host):
        return not is_public_address(host)
    name = host.rstrip(".").lower()
    return "." not in name or name.endswith((".localhost", ".local", ".internal", ".lan", ".home.arpa"))


def refuses_hop(configured_host: str, hop: Sequence[str]) -> bool:
    """Whether a request made for `configured_host` may not go on to a host with the addresses
    `hop`: a public source is never led to a private or loopback address (the admin page of a
    router, a cloud's metadata service); a source configured on a private host may go anywhere."""
    return not is_private_host(configured_host) and not all(map(is_public_address, hop))


def _refuse_private(host: str, addresses: list[str]) -> None:
    """Raise httpcore.ConnectError when the fetching thread's request may not reach `addresses`."""
    origin = _request.origin
    if origin is None or host == origin:  # outside Fetcher.fetch, or the configured host itself
        return
    if refuses_hop(origin, addresses):
        private = next(a for a in addresses if not is_public_address(a))
        raise httpcore.ConnectError(
            f"refused: {host} is a private or loopback address ({private}), and the source's own host is public"
        )


# --- the transport ---------------------------------------------------------------------------------


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _left(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


_SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's own sockets, with the name lookup done here: within the deadline, and checked
    against the request's private-address rule before any connection is made."""

    def __init__(self, resolve: Resolve) -> None:
        self._inner = httpcore.SyncBackend()
        self._resolve = resolve

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve_within(self._resolve, host, port, _left(timeout, httpcore.ConnectTimeout))
        if not _request.via_proxy:
            _refuse_private(host, addresses)
        failure: Exception | None = None
        for address in addresses:  # as socket.create_connection does: the first that answers
            try:
                stream = self._inner.connect_tcp(
                    address, port, _left(timeout, httpcore.ConnectTimeout), local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            return _DeadlineStream(stream)
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[_SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


# httpcore's errors as httpx's, most specific first (what httpx's own transport does).
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for theirs, ours in _ERRORS:
            if isinstance(exc, theirs):
                raise ours(str(exc)) from exc
        raise


class _Body(httpx.SyncByteStream):
    def __init__(self, answer: httpcore.Response) -> None:
        self._answer = answer

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._answer.iter_stream()

    def close(self) -> None:
        with _as_httpx_errors():
            self._answer.close()


class _DeadlineTransport(httpx.BaseTransport):
    """An httpx transport on httpcore's public API: a connection pool, and a proxy pool per scheme
    when the environment names one (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), all with the
    deadline backend."""

    def __init__(
        self, limits: httpx.Limits, resolve: Resolve = system_resolve, proxies: Mapping[str, str] | None = None
    ) -> None:
        backend = _DeadlineBackend(resolve)
        ssl_context = httpx.create_ssl_context()
        self._direct = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )
        self._env = dict(urllib.request.getproxies_environment() if proxies is None else proxies)
        self._proxies: dict[str, httpcore.HTTPProxy | str] = {}
        for scheme in ("http", "https"):
            url = self._env.get(scheme) or self._env.get("all")
            if url:
                self._proxies[scheme] = _proxy_pool(url, ssl_context, limits, backend)

    def _pool(self, url: httpx.URL) -> httpcore.ConnectionPool | httpcore.HTTPProxy:
        proxy = self._proxies.get(url.scheme)
        # NO_PROXY as urllib reads it (its function is missing from the type stubs, not from urllib)
        if proxy is None or urllib.request.proxy_bypass_environment(url.host, self._env):  # type: ignore[attr-defined]
            _request.via_proxy = False
            return self._direct
        if isinstance(proxy, str):
            raise httpx.ProxyError(proxy)
        _request.via_proxy = True
        return proxy

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        url = request.url
        pool = self._pool(url)
        asked = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            answer = pool.handle_request(asked)
        return httpx.Response(
            status_code=answer.status, headers=answer.headers, stream=_Body(answer), extensions=answer.extensions
        )

    def close(self) -> None:
        self._direct.close()
        for proxy in self._proxies.values():
            if not isinstance(proxy, str):
                proxy.close()


def _proxy_pool(
    url: str, ssl_context: ssl.SSLContext, limits: httpx.Limits, backend: _DeadlineBackend
) -> httpcore.HTTPProxy | str:
    """A pool through the proxy at `url`, or why it cannot be used (said by each request that would)."""
    try:
        parsed = httpx.URL(url if "://" in url else "http://" + url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "the proxy set in the environment is not a valid URL"
    if parsed.scheme not in ("http", "https"):
        return f"the {parsed.scheme} proxy set in the environment is not supported (http or https only)"
    return httpcore.HTTPProxy(
        proxy_url=httpcore.URL(scheme=parsed.raw_scheme, host=parsed.raw_host, port=parsed.port, target=b"/"),
        proxy_auth=(parsed.username, parsed.password) if parsed.username else None,
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=backend,
    )


__all__ = [
    "ACCEPT_ENCODING",
    "FetchStatusError",
    "Fetcher",
    "conditional_headers",
    "default_user_agent",
    "parse_retry_after",
    "rate_limit_reset",
    "validators",
]


def fetcher_for(settings: Settings) -> Fetcher:
    """The Fetcher a poll uses, set from feeds.yaml's settings (contact, timeout, size cap, per host)."""
    return Fetcher(
        user_agent=default_user_agent(settings.contact),
        timeout=settings.timeout,
        max_body_bytes=settings.max_body_bytes,
        per_host=settings.per_host,
    )
