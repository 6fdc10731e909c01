"""fetch.py against a real HTTP server on 127.0.0.1: deadlines, caps, redirects, statuses, politeness."""

from __future__ import annotations

import email.utils
import functools
import gzip
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from tests.loopback import LoopbackServer, Request, Response
from watcher.errors import (
    BodyTooLarge,
    ConnectFailed,
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    TooManyRedirects,
)
from watcher.fetch import (
    Fetcher,
    FetchStatusError,
    conditional_headers,
    default_user_agent,
    parse_retry_after,
    rate_limit_reset,
    validators,
)
from watcher.types import FetchRequest

UA = "watcher/test (+https://example.org/about; ops@example.org)"
MB = 1024 * 1024


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(user_agent=UA, timeout=5.0, max_body_bytes=MB) as f:
        yield f


@functools.cache
def gzip_bomb() -> bytes:
    return gzip.compress(b"\0" * (50 * MB), compresslevel=6)


def raw_server(script: list[tuple[bytes, float]]) -> tuple[str, threading.Thread]:
    """A one-shot server that writes raw bytes with pauses: for what http.server cannot send."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        listener.close()
        conn.recv(65536)
        try:
            for data, pause in script:
                conn.sendall(data)
                time.sleep(pause)
        except OSError:
            pass
        finally:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{port}/", thread


# --- answers ----------------------------------------------------------------------------------------


def test_200_returns_body_lower_case_headers_and_final_url(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.route("/feed", Response(200, {"Content-Type": "application/rss+xml", "ETag": '"v1"'}, b"<rss/>"))
    got = fetcher.fetch(FetchRequest(server.url("/feed"), tag="t"))
    assert (got.status, got.body, got.url, got.permanent_url) == (200, b"<rss/>", server.url("/feed"), None)
    assert got.headers["content-type"] == "application/rss+xml"
    assert got.headers["etag"] == '"v1"'
    assert got.request.tag == "t"
    assert 0 < got.elapsed < 5


def test_conditional_get_gives_304_with_empty_body(server: LoopbackServer, fetcher: Fetcher) -> None:
    lm = "Wed, 01 Jan 2025 10:00:00 GMT"

    def handler(req: Request) -> Response:
        if req.headers.get("if-none-match") == 'W/"abc"' and req.headers.get("if-modified-since") == lm:
            return Response(304, {"ETag": 'W/"abc"'})
        return Response(200, {"ETag": 'W/"abc"', "Last-Modified": lm}, b"<feed/>")

    server.route("/feed", handler)
    first = fetcher.fetch(FetchRequest(server.url("/feed")))
    stored = validators(first)
    assert stored == {"etag": 'W/"abc"', "last_modified": lm}
    again = fetcher.fetch(FetchRequest(server.url("/feed"), headers=conditional_headers(stored)))
    assert (again.status, again.body) == (304, b"")


def test_validators_and_conditional_headers_skip_what_is_missing() -> None:
    assert conditional_headers({}) == {}
    assert conditional_headers({"etag": '"x"'}) == {"If-None-Match": '"x"'}


def test_user_agent_is_sent_and_a_request_header_overrides_it(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.route("/ua", Response(200, body=b"ok"))
    fetcher.fetch(FetchRequest(server.url("/ua")))
    fetcher.fetch(FetchRequest(server.url("/ua"), headers={"User-Agent": "linux:watcher:0.1 (by /u/someone)"}))
    sent = [r.headers["user-agent"] for r in server.hits("/ua")]
    assert sent == [UA, "linux:watcher:0.1 (by /u/someone)"]
    assert server.hits("/ua")[0].headers["accept-encoding"] == "gzip, deflate"


def test_default_user_agent_names_program_version_project_and_contact() -> None:
    ua = default_user_agent("ops@example.org")
    assert ua.startswith("watcher/")
    assert ua.endswith("(+https://github.com/watcher-veille/watcher; ops@example.org)")
    assert default_user_agent().endswith("(+https://github.com/watcher-veille/watcher)")


def test_post_sends_params_form_and_json(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.route("/api", Response(200, body=b"{}"))
    fetcher.fetch(FetchRequest(server.url("/api"), method="POST", params={"q": "tiers-lieux"}, data={"a": "1"}))
    fetcher.fetch(FetchRequest(server.url("/api"), method="POST", json={"identifier": "me"}))
    form, js = server.hits("/api")
    assert (form.method, form.query, form.body) == ("POST", {"q": ["tiers-lieux"]}, b"a=1")
    assert js.headers["content-type"] == "application/json" and b'"identifier"' in js.body


# --- the total deadline -----------------------------------------------------------------------------


def test_slow_drip_body_fails_at_the_total_deadline(server: LoopbackServer) -> None:
    def drip() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x"
            time.sleep(0.2)

    server.route("/drip", lambda _r: Response(200, body=drip()))
    with Fetcher(user_agent=UA, timeout=1.0, max_body_bytes=MB) as f:
        began = time.monotonic()
        with pytest.raises(FetchTimeout, match="within 1 s"):
            f.fetch(FetchRequest(server.url("/drip")))
    assert time.monotonic() - began < 1.5


def test_slow_drip_headers_fail_at_the_total_deadline() -> None:
    # per-read timeouts never fire here: each header byte arrives well within one
    url, _ = raw_server([(b"HTTP/1.1 200 OK\r\n", 0.1)] + [(b"X", 0.2)] * 40)
    with Fetcher(user_agent=UA, timeout=1.0, max_body_bytes=MB) as f:
        began = time.monotonic()
        with pytest.raises(FetchTimeout):
            f.fetch(FetchRequest(url))
    assert time.monotonic() - began < 1.5


def test_silent_server_fails_at_the_deadline(server: LoopbackServer) -> None:
    server.route("/silent", Response(200, body=b"late", delay=3.0))
    with Fetcher(user_agent=UA, timeout=0.5, max_body_bytes=MB) as f:
        began = time.monotonic()
        with pytest.raises(FetchTimeout):
            f.fetch(FetchRequest(server.url("/silent")))
    assert time.monotonic() - began < 1.0


# --- the body cap -----------------------------------------------------------------------------------


def test_huge_body_is_refused_without_reading_it_all(server: LoopbackServer, fetcher: Fetcher) -> None:
    sent = [0]

    def huge() -> Iterator[bytes]:
        block = b"a" * (64 * 1024)
        while sent[0] < 50 * MB:
            sent[0] += len(block)
            yield block

    server.route("/huge", lambda _r: Response(200, body=huge()))
    with pytest.raises(BodyTooLarge, match="cap of 1048576"):
        fetcher.fetch(FetchRequest(server.url("/huge")))
    time.sleep(0.2)  # let the server notice the closed connection
    assert sent[0] < 10 * MB


def test_declared_content_length_above_cap_is_refused_before_reading(server: LoopbackServer, fetcher: Fetcher) -> None:
    def never_finishes() -> Iterator[bytes]:
        for _ in range(20):
            yield b"a"
            time.sleep(0.2)

    server.route("/big", lambda _r: Response(200, {"Content-Length": str(50 * MB)}, never_finishes()))
    began = time.monotonic()
    with pytest.raises(BodyTooLarge, match=f"{50 * MB} bytes"):
        fetcher.fetch(FetchRequest(server.url("/big")))
    assert time.monotonic() - began < 0.5


def test_head_answer_is_not_held_to_its_content_length(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.route("/big", Response(200, body=b"a" * (2 * MB)))
    got = fetcher.fetch(FetchRequest(server.url("/big"), method="HEAD"))
    assert (got.status, got.body, got.headers["content-length"]) == (200, b"", str(2 * MB))


def test_gzip_bomb_is_refused_without_inflating_it(server: LoopbackServer, fetcher: Fetcher) -> None:
    bomb = gzip_bomb()
    assert len(bomb) < MB  # small on the wire, so only the decoded count can catch it
    server.route("/bomb", Response(200, {"Content-Encoding": "gzip"}, bomb))
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge, match="decoded"):
            fetcher.fetch(FetchRequest(server.url("/bomb")))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * MB


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, as the RFC says
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw, as some servers send
        ("gzip", lambda b: gzip.compress(b[:1000]) + gzip.compress(b[1000:])),  # two members
    ],
)
def test_compressed_bodies_are_decoded(server: LoopbackServer, fetcher: Fetcher, coding: str, encode: object) -> None:
    text = ("<item>tiers-lieu</item>" * 20_000).encode()
    assert callable(encode)
    server.route("/z", Response(200, {"Content-Encoding": coding}, encode(text)))
    assert fetcher.fetch(FetchRequest(server.url("/z"))).body == text


def test_corrupt_gzip_is_a_fetch_error(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.route("/bad", Response(200, {"Content-Encoding": "gzip"}, b"\x1f\x8b\x08\x00garbage-not-gzip"))
    with pytest.raises(FetchError, match="cannot decode the gzip body"):
        fetcher.fetch(FetchRequest(server.url("/bad")))


# --- redirects --------------------------------------------------------------------------------------


def test_redirect_loop_raises_too_many_redirects(server: LoopbackServer) -> None:
    server.route("/loop", Response(302, {"Location": "/loop"}))
    with (
        Fetcher(user_agent=UA, timeout=5.0, max_body_bytes=MB, max_redirects=3) as f,
        pytest.raises(TooManyRedirects, match="more than 3 redirects"),
    ):
        f.fetch(FetchRequest(server.url("/loop")))
    assert len(server.hits("/loop")) == 4


@pytest.mark.parametrize(
    ("chain", "permanent"),
    [
        ([301], "/new"),
        ([308], "/new"),
        ([302], None),
        ([307], None),
        ([301, 308], "/new"),
        ([301, 302], "/hop1"),  # moved for good to /hop1, which is only visiting /new
        ([302, 301], None),
    ],
)
def test_permanent_url_is_where_an_unbroken_301_308_chain_leads(
    server: LoopbackServer, fetcher: Fetcher, chain: list[int], permanent: str | None
) -> None:
    paths = ["/old"] + [f"/hop{i}" for i in range(1, len(chain))] + ["/new"]
    for status, here, there in zip(chain, paths, paths[1:], strict=False):
        server.route(here, Response(status, {"Location": there}))
    server.route("/new", Response(200, body=b"<rss/>"))
    got = fetcher.fetch(FetchRequest(server.url("/old")))
    assert (got.status, got.url, got.body) == (200, server.url("/new"), b"<rss/>")
    assert got.permanent_url == (server.url(permanent) if permanent else None)


# --- statuses ---------------------------------------------------------------------------------------


def test_429_retry_after_in_seconds(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.route("/rl", Response(429, {"Retry-After": "120", "X-Ratelimit-Remaining": "0"}, b"slow down"))
    with pytest.raises(FetchStatusError) as caught:
        fetcher.fetch(FetchRequest(server.url("/rl")))
    err = caught.value
    assert (err.status, err.retry_after) == (429, 120.0)
    assert err.headers["x-ratelimit-remaining"] == "0" and err.body == b"slow down"
    assert "rate limited" in str(err) and "retry after 120 s" in str(err)


def test_429_retry_after_as_http_date(server: LoopbackServer, fetcher: Fetcher) -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    server.route("/rl", Response(429, {"Retry-After": when}))
    with pytest.raises(HTTPStatusError) as caught:
        fetcher.fetch(FetchRequest(server.url("/rl")))
    assert caught.value.retry_after is not None and 85 <= caught.value.retry_after <= 90


def test_429_without_retry_after_uses_the_rate_limit_reset(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.route("/rl", Response(429, {"X-Ratelimit-Reset": "42"}))
    with pytest.raises(HTTPStatusError) as caught:
        fetcher.fetch(FetchRequest(server.url("/rl")))
    assert caught.value.retry_after == 42.0


@pytest.mark.parametrize(
    ("status", "words", "retry_after"),
    [
        (404, "HTTP 404 Not Found from", None),
        (410, "gone: the server says this feed was removed", None),
        (401, "access refused (login required or blocked)", None),
        (403, "access refused (login required or blocked)", None),
        (500, "server error: HTTP 500 Internal Server Error", None),
        (503, "server unavailable: HTTP 503 Service Unavailable", 30.0),
    ],
)
def test_error_statuses_raise_with_status_and_a_clear_message(
    server: LoopbackServer, fetcher: Fetcher, status: int, words: str, retry_after: float | None
) -> None:
    server.route("/s", Response(status, {"Retry-After": "30"}, b"nope"))
    with pytest.raises(HTTPStatusError) as caught:
        fetcher.fetch(FetchRequest(server.url("/s")))
    assert caught.value.status == status
    assert caught.value.retry_after == retry_after
    assert words in str(caught.value) and server.url("/s") in str(caught.value)


def test_parse_retry_after_reads_seconds_and_dates() -> None:
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(" 0 ", now) == 0.0
    assert parse_retry_after("Sat, 01 Mar 2025 12:02:30 GMT", now) == 150.0
    assert parse_retry_after("Sat, 01 Mar 2025 11:00:00 GMT", now) == 0.0  # already past
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("", now) is None


def test_rate_limit_reset_reads_seconds_unix_and_iso_times() -> None:
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert rate_limit_reset({"x-ratelimit-reset": "312"}, now) == 312.0  # Reddit
    assert rate_limit_reset({"ratelimit-reset": str(int(now.timestamp()) + 60)}, now) == 60.0  # Bluesky
    assert rate_limit_reset({"x-ratelimit-reset": "2025-03-01T12:05:00.000Z"}, now) == 300.0  # Mastodon
    assert rate_limit_reset({}, now) is None


# --- transport failures -----------------------------------------------------------------------------


def test_connection_refused_is_connect_failed(fetcher: Fetcher) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    with pytest.raises(ConnectFailed, match="cannot connect"):
        fetcher.fetch(FetchRequest(f"http://127.0.0.1:{port}/feed"))


def test_garbage_instead_of_http_is_a_fetch_error(fetcher: Fetcher) -> None:
    url, _ = raw_server([(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", 0.0)])
    with pytest.raises(FetchError):
        fetcher.fetch(FetchRequest(url))


def test_unsupported_url_is_a_fetch_error(fetcher: Fetcher) -> None:
    with pytest.raises(FetchError):
        fetcher.fetch(FetchRequest("ftp://example.org/feed"))


def test_secret_request_errors_never_show_the_token(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.route("/api", Response(401, body=b"bad token s3cr3t"))
    req = FetchRequest(
        server.url("/api?access_token=s3cr3t"),
        headers={"Authorization": "Bearer s3cr3t"},
        params={"sig": "s3cr3t"},
        data={"password": "s3cr3t"},
        method="POST",
        secret=True,
    )
    with pytest.raises(HTTPStatusError) as caught:
        fetcher.fetch(req)
    assert "s3cr3t" not in str(caught.value) and "s3cr3t" not in repr(caught.value)
    assert server.url("/api") in str(caught.value)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectFailed) as refused:
        fetcher.fetch(FetchRequest(f"http://user:s3cr3t@127.0.0.1:{port}/?token=s3cr3t", secret=True))
    assert "s3cr3t" not in str(refused.value)


def test_known_secret_parameters_are_masked_even_without_the_flag(server: LoopbackServer, fetcher: Fetcher) -> None:
    server.route("/feed", Response(404))
    with pytest.raises(HTTPStatusError) as caught:
        fetcher.fetch(FetchRequest(server.url("/feed"), params={"q": "fablab", "api_key": "s3cr3t"}))
    assert "s3cr3t" not in str(caught.value) and "q=fablab" in str(caught.value)


# --- concurrency ------------------------------------------------------------------------------------


def test_per_host_limits_concurrent_requests_to_each_host(server: LoopbackServer) -> None:
    lock = threading.Lock()
    in_flight: dict[str, int] = {}
    peak: dict[str, int] = {}

    def slow(req: Request) -> Response:
        host = req.headers["host"].split(":")[0]
        with lock:
            in_flight[host] = in_flight.get(host, 0) + 1
            peak[host] = max(peak.get(host, 0), in_flight[host])
        time.sleep(0.25)
        with lock:
            in_flight[host] -= 1
        return Response(200, body=b"ok")

    server.route("/slow", slow)
    port = server.server.server_address[1]
    urls = [f"http://{host}:{port}/slow" for host in ("127.0.0.1", "localhost") for _ in range(6)]
    with (
        Fetcher(user_agent=UA, timeout=5.0, max_body_bytes=MB, per_host=2) as f,
        ThreadPoolExecutor(12) as pool,
    ):
        began = time.monotonic()
        statuses = [r.status for r in pool.map(lambda u: f.fetch(FetchRequest(u)), urls)]
    assert statuses == [200] * 12
    assert peak == {"127.0.0.1": 2, "localhost": 2}  # two at a time per host, the hosts in parallel
    assert time.monotonic() - began < 0.25 * 6


def test_many_threads_share_one_fetcher(server: LoopbackServer) -> None:
    server.route("/n", lambda r: Response(200, body=r.query["i"][0].encode()))
    with (
        Fetcher(user_agent=UA, timeout=5.0, max_body_bytes=MB, per_host=16) as f,
        ThreadPoolExecutor(32) as pool,
    ):
        bodies = list(
            pool.map(lambda i: f.fetch(FetchRequest(server.url("/n"), params={"i": str(i)})).body, range(200))
        )
    assert bodies == [str(i).encode() for i in range(200)]


@pytest.mark.parametrize("coding", ["gzip, br", "br", "zstd", "gzip, compress", "gzip, gzip, gzip, gzip, gzip"])
def test_an_encoding_chain_is_decoded_within_the_cap_or_refused(
    server: LoopbackServer, fetcher: Fetcher, coding: str
) -> None:
    # brotli is not installed: httpx would skip "br" and inflate the gzip bomb in one step.
    server.route("/chain", Response(200, {"Content-Encoding": coding}, gzip_bomb()))
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match="cannot decode the body"):
            fetcher.fetch(FetchRequest(server.url("/chain")))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * MB


def test_a_chain_of_gzip_inside_deflate_is_decoded(server: LoopbackServer, fetcher: Fetcher) -> None:
    text = ("<item>tiers-lieu</item>" * 20_000).encode()
    server.route("/z", Response(200, {"Content-Encoding": "gzip, deflate"}, zlib.compress(gzip.compress(text))))
    assert fetcher.fetch(FetchRequest(server.url("/z"))).body == text


# --- name lookups, proxies and where a redirect may lead ----------------------------------------------


def names(table: dict[str, str]) -> Callable[[str, int], list[str]]:
    """A resolver of our own names (the tests have no DNS): each name to one address."""

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"unknown name {host}")
        return [table[host]]

    return resolve


def test_a_name_lookup_that_hangs_ends_at_the_deadline() -> None:
    release, finished = threading.Event(), threading.Event()

    def hang(host: str, port: int) -> list[str]:
        release.wait(30)
        finished.set()
        raise OSError("released")

    try:
        with (
            Fetcher(user_agent=UA, timeout=0.5, max_body_bytes=MB, resolve=hang) as f,
            pytest.raises(FetchTimeout, match=r"within 0\.5 s"),
        ):
            f.fetch(FetchRequest("http://feeds.example/feed"))
        assert not finished.is_set()  # the lookup still hangs: the request did not wait for it
    finally:
        release.set()


def test_a_proxy_from_the_environment_is_held_to_the_deadline(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def drip() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x"
            time.sleep(0.2)

    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", server.base)
    server.route("/slow", lambda _r: Response(200, body=drip()))  # each byte well within a read timeout
    server.route("/feed", Response(200, body=b"<rss/>"))
    # 3 s: time for the first request on a loaded machine, still well within the drip's 8 s
    with Fetcher(user_agent=UA, timeout=3.0, max_body_bytes=MB, resolve=names({})) as f:
        assert f.fetch(FetchRequest("http://feeds.example/feed")).body == b"<rss/>"  # no lookup: the proxy's
        with pytest.raises(FetchTimeout, match="within 3 s"):
            f.fetch(FetchRequest("http://feeds.example/slow"))
    assert server.hits("/feed")[0].headers["host"] == "feeds.example"  # it went through the proxy


@pytest.mark.parametrize("where", ["literal", "name"])
def test_a_public_source_is_never_redirected_to_a_loopback_address(server: LoopbackServer, where: str) -> None:
    port = server.base.rsplit(":", 1)[1]
    target = server.url("/private") if where == "literal" else f"http://admin.example:{port}/private"
    server.route("/feed", Response(302, {"Location": target}))
    server.route("/private", Response(200, body=b"router admin"))
    # a public-looking name that reaches the loopback server, as a DNS rebinding would
    resolve = names({"feeds.example": "127.0.0.1", "admin.example": "127.0.0.1"})
    with (
        Fetcher(user_agent=UA, timeout=5.0, max_body_bytes=MB, resolve=resolve) as f,
        pytest.raises(FetchError, match="private or loopback"),
    ):
        f.fetch(FetchRequest(f"http://feeds.example:{port}/feed"))
    assert server.hits("/feed") and not server.hits("/private")


def test_a_private_source_may_be_redirected_to_a_private_address(server: LoopbackServer, fetcher: Fetcher) -> None:
    port = server.base.rsplit(":", 1)[1]
    server.route("/feed", Response(302, {"Location": f"http://localhost:{port}/moved"}))
    server.route("/moved", Response(200, body=b"<rss/>"))
    assert fetcher.fetch(FetchRequest(server.url("/feed"))).body == b"<rss/>"


def test_which_hops_are_refused() -> None:
    from watcher.fetch import refuses_hop

    for private in ("127.0.0.1", "10.1.2.3", "192.168.1.1", "169.254.169.254", "::1", "::ffff:127.0.0.1", "fd00::1"):
        assert refuses_hop("feeds.example", [private]), private
        assert refuses_hop("feeds.example", ["93.184.215.14", private]), private  # one private address is enough
        for configured in ("127.0.0.1", "localhost", "intranet", "nas.local", "feeds.internal", "10.0.0.2"):
            assert not refuses_hop(configured, [private]), (configured, private)
    assert not refuses_hop("feeds.example", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])


def test_a_login_body_is_never_sent_again_to_another_host(server: LoopbackServer, fetcher: Fetcher) -> None:
    port = server.base.rsplit(":", 1)[1]
    login = "/xrpc/com.atproto.server.createSession"
    for status in (307, 308):
        server.route(login, Response(status, {"Location": f"http://localhost:{port}/collect"}))
        server.route("/collect", Response(200, body=b"{}"))
        request = FetchRequest(
            server.url(login), method="POST", json={"identifier": "ana", "password": "app-password"}, secret=True
        )
        with pytest.raises(FetchError, match="never sent again") as caught:
            fetcher.fetch(request)
        assert "app-password" not in str(caught.value)
    assert not server.hits("/collect")
