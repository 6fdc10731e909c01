"""The web page over HTTP, against the real server on 127.0.0.1 and a real database:
login and logout, CSRF, each action changing the database as the command line does, the
digest's signed links, escaping, headers and limits."""

from __future__ import annotations

import re
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Response
from tests.webfix import HOSTILE, WebWatch, csrf_of, web_watch
from watcher.store import Store
from watcher.web import auth
from watcher.web.app import COOKIE, CSP

PAGES = ["/", "/relay", "/keywords", "/sources", "/report", "/keywords/preview?q=fablab", "/report/chart.svg"]


@pytest.fixture
def w(tmp_path: Path, server: LoopbackServer) -> Iterator[WebWatch]:
    with web_watch(tmp_path, server) as watch:
        yield watch


def history(db: Path, hit_id: int) -> list[tuple[str, int, int]]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT state, undo, undone FROM state_changes WHERE item_id = ? ORDER BY rowid", (hit_id,)
        ).fetchall()
    finally:
        conn.close()
    return [(str(s), int(u), int(d)) for s, u, d in rows]


def act(client: httpx.Client, hit_id: int, action: str, csrf: str, **headers: str) -> httpx.Response:
    return client.post(f"/hits/{hit_id}/{action}", data={"csrf": csrf, "next": "/"}, headers=headers)


# --- login ------------------------------------------------------------------------------------------


def test_every_page_redirects_to_the_login_without_a_session(w: WebWatch) -> None:
    client = w.client(login=False)
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 302, path
        assert answer.headers["location"].startswith("/login?next=")
    before = w.states()
    answer = client.post(f"/hits/{w.hit_id('https://news.example/fablab')}/pick", data={"csrf": "x"})
    assert answer.status_code == 401
    assert w.states() == before


def test_every_page_answers_once_logged_in(w: WebWatch) -> None:
    client = w.client()
    for path in PAGES:
        assert client.get(path).status_code == 200, path


def test_a_login_link_works_once_and_sets_a_strict_httponly_cookie(w: WebWatch) -> None:
    token = w.login_link()
    client = httpx.Client(base_url=w.base)
    shown = client.get(f"/login?token={token}")
    assert shown.status_code == 200 and token in shown.text  # a GET only shows the form that posts it
    answer = client.post("/login", data={"token": token, "next": "/relay"})
    assert answer.status_code == 303 and answer.headers["location"] == "/relay"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain http on 127.0.0.1: a Secure cookie would never come back
    again = httpx.Client(base_url=w.base).post("/login", data={"token": token})
    assert again.status_code == 401


def test_an_expired_login_link_is_refused(w: WebWatch) -> None:
    with Store(w.db) as store:
        token = auth.new_login_link(store, datetime.now(UTC) - auth.LOGIN_LINK_LIFETIME - timedelta(minutes=1))
    assert httpx.Client(base_url=w.base).post("/login", data={"token": token}).status_code == 401


def test_the_login_goes_back_only_to_a_path_of_this_site(w: WebWatch) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        answer = httpx.Client(base_url=w.base).post("/login", data={"token": w.login_link(), "next": target})
        assert answer.headers["location"] == "/"


def test_a_password_set_by_the_cli_logs_in_and_guesses_are_rate_limited(w: WebWatch) -> None:
    code, out = w.cli("web", "password", "--stdin", input="short\n")
    assert code == 2 and "at least" in out
    code, _ = w.cli("web", "password", "--stdin", input="correct horse battery\n")
    assert code == 0
    with Store(w.db) as store:
        stored = auth.secret(store, auth.PASSWORD)
    assert stored and stored.startswith("scrypt$") and "correct horse" not in stored
    client = httpx.Client(base_url=w.base)
    assert client.post("/login", data={"password": "correct horse battery"}).status_code == 303
    for _ in range(5):
        assert client.post("/login", data={"password": "wrong"}).status_code == 401
    limited = client.post("/login", data={"password": "correct horse battery"})
    assert limited.status_code == 429  # even the right one, until the window has passed


def test_a_new_password_closes_the_open_sessions(w: WebWatch) -> None:
    client = w.client()
    assert client.get("/").status_code == 200
    w.cli("web", "password", "--stdin", input="another long password\n")
    assert client.get("/").status_code == 302


def test_logout_ends_the_session_on_the_server(w: WebWatch) -> None:
    client = w.client()
    page = client.get("/").text
    cookie = client.cookies[COOKIE]
    assert client.post("/logout", data={"csrf": csrf_of(page)}).status_code == 303
    replay = httpx.Client(base_url=w.base, cookies={COOKIE: cookie})
    assert replay.get("/").status_code == 302  # the old cookie is worth nothing


# --- CSRF and GET ---------------------------------------------------------------------------------------


def test_a_post_without_the_csrf_token_or_from_another_origin_changes_nothing(w: WebWatch) -> None:
    client = w.client()
    csrf = csrf_of(client.get("/").text)
    hit = w.hit_id("https://news.example/fablab")
    before = w.states()
    assert client.post(f"/hits/{hit}/pick", data={"next": "/"}).status_code == 403
    assert act(client, hit, "pick", "not-the-token").status_code == 403
    assert act(client, hit, "pick", csrf, Origin="https://evil.example").status_code == 403
    assert client.post("/keywords/add", data={"query": "maker"}).status_code == 403
    assert w.states() == before
    assert "maker" not in (w.folder / "keywords.txt").read_text()
    assert act(client, hit, "pick", csrf, Origin=w.base).status_code == 303  # the page's own origin
    assert w.states()["https://news.example/fablab"] == "picked"


def test_a_get_never_changes_anything(w: WebWatch) -> None:
    client = w.client()
    hit = w.hit_id("https://news.example/fablab")
    before = w.states()
    for path in (f"/hits/{hit}/pick", "/relay/export", "/keywords/add?query=maker", "/logout"):
        assert client.get(path).status_code == 405, path
    assert client.get("/relay/file?format=hootsuite").status_code == 200
    assert w.states() == before


# --- actions, as the command line does them ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "command", "state"),
    [
        ("pick", ["relay", "pick"], "picked"),
        ("skip", ["relay", "skip"], "skipped"),
        ("noise", ["relay", "skip", "--noise"], "noise"),
    ],
)
def test_each_triage_action_changes_the_database_as_the_cli_does(
    w: WebWatch, action: str, command: list[str], state: str
) -> None:
    client = w.client()
    csrf = csrf_of(client.get("/").text)
    by_web, by_cli = w.hit_id("https://news.example/fablab"), w.hit_id("https://news.example/fablab-2")
    answer = act(client, by_web, action, csrf, **{"X-Requested-With": "fetch"})
    assert answer.status_code == 200 and answer.json()["ok"] and answer.json()["state"] == state
    code, _ = w.cli(*command, str(by_cli))
    assert code == 0
    states = w.states()
    assert states["https://news.example/fablab"] == states["https://news.example/fablab-2"] == state
    assert history(w.db, by_web) == history(w.db, by_cli) == [(state, 0, 0)]
    # and undo, from the page as from `watcher relay undo`
    assert act(client, by_web, "undo", csrf, **{"X-Requested-With": "fetch"}).json()["state"] == "new"
    assert w.cli("relay", "undo", str(by_cli))[0] == 0
    assert history(w.db, by_web) == history(w.db, by_cli)


def test_a_refused_move_says_why_and_changes_nothing(w: WebWatch) -> None:
    client = w.client()
    csrf = csrf_of(client.get("/").text)
    hit = w.hit_id("https://news.example/fablab")
    answer = act(client, hit, "done", csrf, **{"X-Requested-With": "fetch"})
    assert answer.status_code == 409 and not answer.json()["ok"] and "pick it first" in answer.json()["message"]
    assert w.states()["https://news.example/fablab"] == "new"
    assert act(client, 999999, "pick", csrf, **{"X-Requested-With": "fetch"}).status_code == 409
    assert client.post(f"/hits/{hit}/explode", data={"csrf": csrf}).status_code == 404


def test_export_writes_the_edited_draft_and_marks_only_what_it_exported(w: WebWatch) -> None:
    client = w.client()
    csrf = csrf_of(client.get("/").text)
    picked = [w.hit_id("https://news.example/fablab"), w.hit_id("https://news.example/coworking-sceaux")]
    for hit in picked:
        act(client, hit, "pick", csrf)
    page = client.get("/relay").text
    assert "Le fablab de la ville s&#39;agrandit (via" in page or "Le fablab de la ville s&#39;agrandit" in page
    csv_answer = client.get("/relay/file?format=csv")
    assert csv_answer.headers["content-disposition"].startswith("attachment;")
    assert "fablab" in csv_answer.text and set(w.states().values()) == {"new", "picked"}
    answer = client.post(
        "/relay/export",
        data={"csrf": csrf, f"draft-{picked[0]}": "=Notre fablab grandit\n(à relayer)", f"draft-{picked[1]}": ""},
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    lines = answer.text.strip().splitlines()
    assert len(lines) == 2
    assert any("Notre fablab grandit (à relayer)" in line and "=Notre" not in line for line in lines)
    assert any("Un coworking ouvre à Sceaux" in line for line in lines)  # an empty draft: the composed message
    states = w.states()
    assert states["https://news.example/fablab"] == states["https://news.example/coworking-sceaux"] == "exported"
    assert act(client, picked[0], "done", csrf).status_code == 303
    assert w.states()["https://news.example/fablab"] == "relayed"


def test_keywords_added_and_removed_from_the_page_edit_the_file_as_the_cli_does(w: WebWatch) -> None:
    client = w.client()
    csrf = csrf_of(client.get("/keywords").text)
    preview = client.get("/keywords/preview", params={"q": "météo"}).text
    assert "Météo du jour" in preview
    assert "meteo" not in (w.folder / "keywords.txt").read_text()
    assert client.post("/keywords/add", data={"csrf": csrf, "query": "météo", "group": ""}).status_code == 303
    lines = (w.folder / "keywords.txt").read_text().splitlines()
    groups = [i for i, line in enumerate(lines) if line.startswith("[")]
    assert "météo" in lines and (not groups or lines.index("météo") < groups[0])  # in no group, as with the CLI
    assert w.states()["https://news.example/meteo"] == "new"  # the stored item became a hit, as with the CLI
    bad = client.post("/keywords/add", data={"csrf": csrf, "query": '"unbalanced'})
    assert bad.status_code == 303 and "unbalanced" not in (w.folder / "keywords.txt").read_text()
    assert "keywords.txt" in client.get("/keywords").text  # the error, shown once
    assert client.post("/keywords/remove", data={"csrf": csrf, "query": "météo"}).status_code == 303
    assert "météo" not in (w.folder / "keywords.txt").read_text()


def test_a_source_is_checked_before_it_is_added(w: WebWatch, server: LoopbackServer) -> None:
    server.route("/other", Response(200, {"Content-Type": "application/rss+xml"}, rss([
        Entry("Un fablab solidaire à Bagneux", "https://other.example/fablab")])))  # fmt: skip
    client = w.client()
    csrf = csrf_of(client.get("/sources").text)
    url = server.url("/other")
    checked = client.post("/sources/check", data={"csrf": csrf, "url": url, "name": "autre"})
    assert checked.status_code == 200 and "Un fablab solidaire à Bagneux" in checked.text
    assert "autre" not in (w.folder / "feeds.yaml").read_text()
    assert client.post("/sources/add", data={"csrf": csrf, "url": url, "name": "autre"}).status_code == 303
    code, out = w.cli("feeds", "list")
    assert code == 0 and "autre" in out and url in out
    refused = client.post("/sources/add", data={"csrf": csrf, "url": url, "name": "autre"})
    assert refused.status_code == 200 and "autre" in refused.text  # a name given twice: the file's own error


# --- the digest's signed links ----------------------------------------------------------------------------


def signed(w: WebWatch, hit_id: int, action: str, expires: datetime) -> str:
    with Store(w.db) as store:
        return auth.sign_action(auth.link_key(store), hit_id, action, expires)


def test_a_signed_link_opens_a_confirmation_and_only_its_post_acts(w: WebWatch) -> None:
    hit = w.hit_id("https://news.example/fablab")
    token = signed(w, hit, "noise", datetime.now(UTC) + timedelta(days=1))
    anonymous = httpx.Client(base_url=w.base)
    page = anonymous.get(f"/a/{token}")
    assert page.status_code == 200 and "fablab de la ville" in page.text
    assert w.states()["https://news.example/fablab"] == "new"  # a mail scanner opening it changes nothing
    done = anonymous.post(f"/a/{token}")
    assert done.status_code == 200
    assert w.states()["https://news.example/fablab"] == "noise"
    assert history(w.db, hit) == [("noise", 0, 0)]


def test_an_expired_tampered_or_wrong_action_link_is_refused(w: WebWatch) -> None:
    hit, other = w.hit_id("https://news.example/fablab"), w.hit_id("https://news.example/fablab-2")
    client = httpx.Client(base_url=w.base)
    expired = signed(w, hit, "pick", datetime.now(UTC) - timedelta(seconds=5))
    assert client.get(f"/a/{expired}").status_code == 410
    assert client.post(f"/a/{expired}").status_code == 410
    good = signed(w, hit, "pick", datetime.now(UTC) + timedelta(days=1))
    number, action, expires, mac = good.split(".")
    for bad in (
        f"{other}.{action}.{expires}.{mac}",  # another hit
        f"{number}.noise.{expires}.{mac}",  # another action
        f"{number}.{action}.{int(expires) + 86400}.{mac}",  # a later expiry
        f"{number}.{action}.{expires}.{mac[:-2]}AA",  # another signature
        f"{number}.{action}.{expires}",
    ):
        assert client.get(f"/a/{bad}").status_code == 403, bad
        assert client.post(f"/a/{bad}").status_code == 403, bad
    forged = auth.sign_action(b"another key" * 3, hit, "pick", datetime.now(UTC) + timedelta(days=1))
    assert client.post(f"/a/{forged}").status_code == 403
    assert set(w.states().values()) == {"new"}


# --- what the page shows, and how it answers --------------------------------------------------------------


def test_hostile_titles_are_shown_as_text(w: WebWatch) -> None:
    client = w.client()
    for path in ("/?state=all", "/?q=coworking", "/keywords/preview?q=coworking"):
        page = client.get(path).text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page or "&lt;script&gt;" in page, path
        assert "<script>alert" not in page and "<img src=x" not in page, path
    hostile = w.hit_id("https://news.example/hostile")
    confirm = client.get(f"/a/{signed(w, hostile, 'pick', datetime.now(UTC) + timedelta(hours=1))}").text
    assert "<script>alert" not in confirm and "&lt;script&gt;" in confirm
    assert "<script>" in HOSTILE  # what the feed said


def test_every_answer_carries_the_security_headers(w: WebWatch) -> None:
    client = w.client()
    for path in ["/login", *PAGES]:
        headers = client.get(path).headers
        if path.endswith(".svg"):
            assert headers["content-security-policy"].startswith("default-src 'none'")
        else:
            assert headers["content-security-policy"] == CSP
        assert "unsafe-inline" not in CSP and "http" not in CSP
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"  # the address of a page never leaves the site
        assert headers["cache-control"] == "no-store"
    page = client.get("/").text
    assert "<script>" not in page and " style=" not in page and "onclick" not in page  # nothing inline


def test_a_request_too_large_is_refused(w: WebWatch) -> None:
    client = w.client()
    csrf = csrf_of(client.get("/").text)
    answer = client.post("/keywords/add", data={"csrf": csrf, "query": "x" * 400_000})
    assert answer.status_code == 413
    assert "x" * 1000 not in (w.folder / "keywords.txt").read_text()


def test_a_slow_client_does_not_hold_up_the_others(w: WebWatch) -> None:
    host, port = w.base.removeprefix("http://").split(":")
    slow = []
    for _ in range(8):  # more than the server's threads, each sending half a request and then nothing
        s = socket.create_connection((host, int(port)))
        s.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\ntoken=")
        slow.append(s)
    try:
        client = w.client()
        assert client.get("/").status_code == 200
    finally:
        for s in slow:
            s.close()


def test_the_page_follows_the_language_setting(tmp_path: Path, server: LoopbackServer) -> None:
    with web_watch(tmp_path, server, language="en") as watch:
        page = watch.client().get("/").text
        assert "The week" in page and "Off-topic" in page and 'lang="en"' in page


def eventually(condition: Callable[[], bool], seconds: float = 60) -> bool:
    """Wait for something another process does (a wait, never a measure of speed)."""
    for _ in range(int(seconds * 10)):
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_watch_run_serves_the_page_when_the_settings_ask(tmp_path: Path, server: LoopbackServer) -> None:
    import signal
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server.route("/news", Response(200, {"Content-Type": "application/rss+xml"}, rss([
        Entry("Un coworking ouvre", "https://news.example/a")])))  # fmt: skip
    (tmp_path / "keywords.txt").write_text("coworking\n", encoding="utf-8")
    (tmp_path / "feeds.yaml").write_text(
        f"settings:\n  web:\n    enabled: true\n    listen: 127.0.0.1:{port}\nfeeds:\n"
        f"  - name: news\n    kind: rss\n    url: {server.url('/news')}\n",
        encoding="utf-8",
    )
    args = ["--feeds", str(tmp_path / "feeds.yaml"), "--keywords", str(tmp_path / "keywords.txt")]
    args += ["--db", str(tmp_path / "watch.db")]
    daemon = subprocess.Popen(
        [sys.executable, "-m", "watcher", *args, "run"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    slow: list[socket.socket] = []
    try:
        answer = None
        for _ in range(600):  # the daemon starting (waiting, not a measure of speed)
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert answer is not None and answer.status_code == 200
        assert eventually(lambda: len(server.hits("/news")) >= 1)  # the same process polls
        for _ in range(80):  # more connections than the page takes, each a request begun and left hanging
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\ntoken=")
            slow.append(s)
        daemon.send_signal(signal.SIGUSR1)  # poll now: the hanging clients hold none of the daemon's threads
        assert eventually(lambda: len(server.hits("/news")) >= 2)
    finally:
        for s in slow:
            s.close()
        daemon.terminate()
        _, err = daemon.communicate(timeout=60)
    assert daemon.returncode == 0, err.decode()
    assert b"web page at http://127.0.0.1:" in err


def test_a_suggestion_of_keywords_suggest_is_applied_in_one_click(w: WebWatch, server: LoopbackServer) -> None:
    server.route("/other", Response(200, {"Content-Type": "application/rss+xml"}, rss([
        Entry("Un fablab mêlé au narcotrafic", "https://other.example/1", body="Le narcotrafic et le fablab."),
        Entry("Narcotrafic : le fablab fermé", "https://other.example/2", body="Encore le narcotrafic."),
        Entry("Le fablab ouvre ses portes", "https://other.example/3", body="Des imprimantes 3D."),
    ])))  # fmt: skip
    assert w.cli("feeds", "add", "autre", "--url", server.url("/other"))[0] == 0
    assert w.cli("poll", "--all")[0] == 0
    client = w.client()
    page = client.get("/keywords").text
    assert "narcotrafic" not in page  # nothing marked as noise yet: nothing to suggest
    noise = [w.hit_id("https://other.example/1"), w.hit_id("https://other.example/2")]
    assert w.cli("relay", "skip", "--noise", *map(str, noise))[0] == 0
    assert w.cli("relay", "pick", str(w.hit_id("https://other.example/3")))[0] == 0
    code, out = w.cli("keywords", "suggest")
    assert code == 0 and "-narcotrafic" in out
    page = client.get("/keywords").text
    assert "-narcotrafic" in page
    key = page.split('name="key" value="')[1].split('"')[0]
    answer = client.post("/keywords/suggest", data={"csrf": csrf_of(page), "key": key})
    assert answer.status_code == 303
    assert "fablab -narcotrafic" in (w.folder / "keywords.txt").read_text()
    stale = client.post("/keywords/suggest", data={"csrf": csrf_of(page), "key": key})  # applied: it no longer holds
    assert stale.status_code == 303
    assert (w.folder / "keywords.txt").read_text().count("narcotrafic") == 1


def test_the_digest_carries_signed_links_that_the_page_confirms_then_does(w: WebWatch) -> None:
    out = w.folder / "digest.html"
    code, _ = w.cli("digest", "--preview", "--out", str(out))
    assert code == 0
    html = out.read_text(encoding="utf-8")
    links = re.findall(r'href="https://veille\.example\.org/a/([^"]+)"', html)
    stories = {url for url in w.states() if url != "https://news.example/meteo"}
    assert len(links) == 2 * len(stories)  # "Relayer · Hors sujet" under each story
    assert "Relayer</a> · <a" in html and "Hors sujet</a>" in html
    code, markdown = w.cli("digest", "--preview", "--format", "markdown")
    assert code == 0 and markdown.count("(https://veille.example.org/a/") == len(links)
    fablab = w.hit_id("https://news.example/fablab")
    noise = next(t for t in links if t.startswith(f"{fablab}.noise."))
    anonymous = httpx.Client(base_url=w.base)
    assert anonymous.get(f"/a/{noise}").status_code == 200
    assert w.states()["https://news.example/fablab"] == "new"
    assert anonymous.post(f"/a/{noise}").status_code == 200
    assert w.states()["https://news.example/fablab"] == "noise"


def test_without_a_public_address_the_digest_has_no_action_links(tmp_path: Path, server: LoopbackServer) -> None:
    with web_watch(tmp_path, server, public="") as watch:
        code, markdown = watch.cli("digest", "--preview", "--format", "markdown")
        assert code == 0 and "/a/" not in markdown and "Hors sujet" not in markdown


def test_watcher_serve_prints_a_login_link_that_works_once_and_stops_on_sigterm(w: WebWatch) -> None:
    import signal
    import subprocess
    import sys

    serve = subprocess.Popen(
        [sys.executable, "-m", "watcher", *w.args, "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert serve.stdout is not None
        first, second = serve.stdout.readline(), serve.stdout.readline()
        assert first.startswith("watcher web page at http://127.0.0.1:")
        link = re.search(r"(http://127\.0\.0\.1:\d+)/login\?token=(\S+)", second)
        assert link, second
        base, token = link.groups()
        client = httpx.Client(base_url=base)
        assert client.get("/").status_code == 302
        assert client.post("/login", data={"token": token}).status_code == 303
        assert client.get("/").status_code == 200
        assert httpx.Client(base_url=base).post("/login", data={"token": token}).status_code == 401
    finally:
        serve.send_signal(signal.SIGTERM)
        _, err = serve.communicate(timeout=30)
    assert serve.returncode == 0, err
    assert token not in err  # the link is shown once, on the terminal's output, never in the log


def test_the_week_shows_a_hundred_stories_a_page_in_the_digest_order(w: WebWatch, server: LoopbackServer) -> None:
    import hashlib

    def words(i: int) -> str:
        digest = hashlib.sha256(str(i).encode()).hexdigest()
        return " ".join(digest[k : k + 6] for k in range(0, 36, 6))

    entries = [Entry(f"Coworking {words(i)}", f"https://many.example/{i}", body=words(-i)) for i in range(130)]
    server.route("/many", Response(200, {"Content-Type": "application/rss+xml"}, rss(entries)))
    assert w.cli("feeds", "add", "many", "--url", server.url("/many"))[0] == 0
    assert w.cli("poll", "--all")[0] == 0
    client = w.client()
    first = client.get("/").text
    shown = re.findall(r'<article class="story[^"]*" id="hit-(\d+)"', first)
    assert len(shown) == 100 and 'rel="next"' in first and 'rel="prev"' not in first
    second = client.get("/?page=2").text
    rest = re.findall(r'<article class="story[^"]*" id="hit-(\d+)"', second)
    with Store(w.db) as store:
        hits = store.hits(states=["new"])
    assert len(rest) == len(hits) - 100 and not set(shown) & set(rest)
    scores = {h["id"]: h["score"] for h in hits}
    assert min(scores[int(i)] for i in shown) >= max(scores[int(i)] for i in rest)  # best first, as the digest
    assert client.get("/?page=99").text.count("<article") == len(rest)  # past the end: the last page


def test_without_the_script_a_triage_form_goes_back_to_the_page_it_came_from(w: WebWatch) -> None:
    client = w.client()
    csrf = csrf_of(client.get("/?state=all").text)
    hit = w.hit_id("https://news.example/fablab")
    answer = client.post(f"/hits/{hit}/pick", data={"csrf": csrf}, headers={"Referer": f"{w.base}/?state=all"})
    assert answer.status_code == 303 and answer.headers["location"] == "/?state=all"
    assert "Retenu pour relais" in client.get("/?state=all").text  # what was done, said once
    elsewhere = client.post(f"/hits/{hit}/skip", data={"csrf": csrf}, headers={"Referer": "https://evil.example/x"})
    assert elsewhere.status_code == 403  # a form from another site


def test_behind_the_https_proxy_the_cookie_is_secure_and_hsts_is_sent(w: WebWatch) -> None:
    client = httpx.Client(base_url=w.base, headers={"Host": "veille.example.org"})  # as the proxy passes it
    answer = client.post("/login", data={"token": w.login_link()})
    assert answer.status_code == 303
    assert "Secure" in answer.headers["set-cookie"] and "HttpOnly" in answer.headers["set-cookie"]
    assert answer.headers["strict-transport-security"].startswith("max-age=")
    foreign = client.post("/login", data={"token": w.login_link()}, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    own = client.post("/login", data={"token": w.login_link()}, headers={"Origin": "https://veille.example.org"})
    assert own.status_code == 303
