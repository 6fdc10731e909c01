"""The Flask application of the web page: each page and action a few lines over the library
functions the command line calls (store, triage, export, keywords_file, feeds_file, backfill,
status, report, notify), rendered with Jinja2 (autoescaped: feed text is always text).

Every page needs a session (a login by password or one-time link); every change is a POST with
the session's CSRF token from the same origin; a GET never changes anything. The one exception
to the login is the digest's signed action link, which opens a confirmation page for its one
hit and one action, and whose POST does it. Each response carries a strict Content-Security-Policy
(only this site's own script and stylesheet, nothing inline, nothing remote).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Flask, Response, current_app, g, jsonify, redirect, render_template, request, url_for

from watcher import digest as dg
from watcher.errors import ConfigError, SearchSyntaxError, StoreError
from watcher.store import Store
from watcher.types import Config
from watcher.web import auth
from watcher.web.i18n import labels
from watcher.web.settings import WebSettings, web_settings

log = logging.getLogger("watcher.web")

COOKIE = "watcher_session"
WEEK_LIMIT = 1000  # hits grouped on the week's page at most; the filters narrow the rest
PAGE = 100  # stories shown at once
SUGGESTIONS = 10
PREVIEW_LIMIT = 20
MAX_FORM = 256 * 1024
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # no-referrer would make browsers send `Origin: null` on our own POSTs
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
PUBLIC = {"login", "static", "action_link", "action_do"}
PERIODS = ("window", "7d", "30d", "90d")
STATE_FILTERS = ("new", "picked", "exported", "relayed", "skipped", "noise", "all")
ACTIONS = ("pick", "skip", "noise", "done", "undo")


class Site:
    """What every request needs: the files, the configuration as last loaded, one Store per thread."""

    def __init__(
        self, feeds: Path, keywords: Path, db: Path, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.feeds, self.keywords, self.db = feeds, keywords, db
        self.clock = clock
        self.limiter = auth.LoginLimiter()
        self.notices: dict[str, str] = {}  # session token hash -> the message to show once
        self._local = threading.local()
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Config | None, str | None] = (object(), None, None)

    def store(self) -> Store:
        """This thread's Store (a connection is not shared between threads); it goes with the thread."""
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = Store(self.db)
            self._local.store = store
        return store

    def config(self) -> tuple[Config | None, str | None]:
        """The configuration (reloaded when a file changed), or None and the error that stops it."""
        from watcher.config import load_config
        from watcher.daemon import stamp

        stamps = (stamp(self.feeds), stamp(self.keywords))
        with self._lock:
            if self._loaded[0] == stamps:
                return self._loaded[1], self._loaded[2]
        try:
            # the page uses no secret: it works where only the service may read the credentials
            config = load_config(self.feeds, self.keywords, secrets=False)
            loaded: tuple[Any, Config | None, str | None] = (stamps, config, None)
        except ConfigError as exc:
            loaded = (stamps, None, str(exc))
        with self._lock:
            self._loaded = loaded
        return loaded[1], loaded[2]

    def close(self) -> None:
        """Close this thread's Store; the server's threads' close as they end."""
        store = getattr(self._local, "store", None)
        if store is not None:
            store.close()
            self._local.store = None


@dataclass
class Story:
    """One story as a card of the week's page."""

    id: int
    headline: str
    snippet: str
    url: str | None
    outlet: str
    date: str
    score: int
    why: str
    state: str
    also: tuple[str, ...] = ()
    badges: list[str] = field(default_factory=list)


def create_app(site: Site) -> Flask:
    app = Flask(__name__)
    app.extensions["watcher_site"] = site
    app.config.update(MAX_CONTENT_LENGTH=MAX_FORM, MAX_FORM_MEMORY_SIZE=MAX_FORM, MAX_FORM_PARTS=2000)
    app.jinja_env.autoescape = True  # every template, whatever its name
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True

    # --- around every request ----------------------------------------------------------------

    @app.before_request
    def authenticate() -> Any:
        g.now = site.clock()
        g.store = site.store()
        g.config, g.config_error = site.config()
        g.language = g.config.settings.language if g.config else "en"
        g.lab = labels(g.language)
        g.tz = ZoneInfo(g.config.settings.timezone) if g.config else UTC
        g.web = WebSettings()
        if g.config:
            try:
                g.web = web_settings(g.config.settings.extra.get("web"))
            except ValueError as exc:
                g.config_error = str(exc)
        g.session = None
        token = request.cookies.get(COOKIE)
        if token:
            g.session = auth.find_session(g.store, token, g.now)
        if request.method == "POST" and not same_origin():
            return problem(403, g.lab["csrf"])
        if request.endpoint in PUBLIC:
            return None
        if g.session is None:
            if request.method == "GET":
                return redirect(url_for("login", next=local_path(request.full_path)))
            return problem(401, g.lab["csrf"])
        if request.method == "POST":
            sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf")
            if not auth.same_token(sent, g.session.csrf):
                return problem(403, g.lab["csrf"])
        return None

    @app.after_request
    def secure_headers(response: Response) -> Response:
        # the page is an output edge like the command's: no secret in it (redact.py)
        if not response.direct_passthrough and (response.mimetype or "").startswith(("text/", "application/json")):
            from watcher.redact import redact

            response.set_data(redact(response.get_data(as_text=True)))
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
        if secure_request():
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    @app.context_processor
    def page_values() -> dict[str, Any]:
        notice = site.notices.pop(auth.token_hash(g.session.token), None) if g.get("session") else None
        return {
            "lab": g.get("lab", labels("en")),
            "lang": g.get("language", "en")[:2],
            "csrf": g.session.csrf if g.get("session") else "",
            "logged_in": bool(g.get("session")),
            "config_error": g.get("config_error"),
            "notice": notice,
        }

    @app.errorhandler(404)
    def not_found(_exc: Any) -> Any:
        return problem(404, g.lab["not_found"] if "lab" in g else "Not found")

    @app.errorhandler(405)
    def not_allowed(_exc: Any) -> Any:
        return problem(405, "Method not allowed")

    @app.errorhandler(413)
    def too_big(_exc: Any) -> Any:
        return problem(413, g.lab["too_big"] if "lab" in g else "Too large")

    @app.errorhandler(StoreError)
    def store_failed(exc: StoreError) -> Any:
        log.error("web page: %s", exc)
        return problem(503, str(exc))

    @app.errorhandler(500)
    def failed(_exc: Any) -> Any:
        return problem(500, "Internal error: see the log.")

    def log_exception(exc_info: Any) -> None:  # the endpoint only: a path may hold a link's token
        log.error("web page: error in %s", request.endpoint, exc_info=exc_info)

    app.log_exception = log_exception  # type: ignore[method-assign]

    # --- login ---------------------------------------------------------------------------------

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        if request.method == "GET":
            args = request.args
            return render_template("login.html", token=args.get("token", ""), next=local_path(args.get("next")))
        client = request.remote_addr or "?"
        target = local_path(request.form.get("next"))
        token = request.form.get("token", "")
        if not site.limiter.allowed(client):
            return render_template("login.html", error=g.lab["login_limited"], next=target), 429
        if token:
            ok = auth.use_login_link(g.store, token, g.now)
            error = g.lab["login_link_bad"]
        else:
            has_password = auth.secret(g.store, auth.PASSWORD) is not None
            ok = has_password and auth.password_matches(g.store, request.form.get("password", ""))
            error = g.lab["login_failed"] if has_password else g.lab["no_password"]
        if not ok:
            site.limiter.failed(client)
            return render_template("login.html", error=error, next=target), 401
        session = auth.open_session(g.store, g.now)
        response = redirect(target, code=303)
        response.set_cookie(
            COOKIE,
            session.token,
            max_age=int(auth.SESSION_LIFETIME.total_seconds()),
            httponly=True,
            samesite="Strict",
            secure=secure_request(),
            path="/",
        )
        return response

    @app.post("/logout")
    def logout() -> Any:
        auth.close_session(g.store, g.session.token)
        response = redirect(url_for("login"), code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict", secure=secure_request())
        return response

    # --- the week --------------------------------------------------------------------------------

    @app.get("/")
    def week() -> Any:
        config = need_config()
        args = request.args
        period = args.get("period", "window") if args.get("period") in PERIODS else "window"
        state = args.get("state", "new") if args.get("state") in STATE_FILTERS else "new"
        keyword = args.get("keyword") or None
        source = args.get("source") or None
        text = (args.get("q") or "").strip()[:200]
        if period == "window":
            from watcher.notify import next_window

            try:
                start, end = next_window(g.store, config, g.now)
            except ConfigError as exc:
                g.config_error = str(exc)
                start, end = g.now - timedelta(days=7), g.now
        else:
            start, end = g.now - timedelta(days=int(period[:-1])), g.now
        states = None if state == "all" else [state]
        search_error = None
        if text:
            from watcher.store import fts_query

            try:
                rows = g.store.search(fts_query(text), limit=WEEK_LIMIT + 1)
            except SearchSyntaxError as exc:
                rows, search_error = [], str(exc)
            rows = [r for r in rows if wanted(r, start, states, keyword, source)]
        else:
            rows = g.store.hits(since=start, keyword=keyword, source=source, states=states, limit=WEEK_LIMIT + 1)
        more = max(0, len(rows) - WEEK_LIMIT)
        hits = [dg.hit_from_row(r) for r in rows[:WEEK_LIMIT]]
        keywords = [q.text for q in config.queries]
        groups, _ = dg.choose(hits, keywords, max_items=len(hits) or 1)
        # the stories in the digest's order, a page at a time (a phone shows a hundred at most)
        ordered = [(name, entry) for name, entries in groups for entry in entries]
        pages = max(1, -(-len(ordered) // PAGE))
        page = min(max(1, int(args["page"]) if args.get("page", "").isdigit() else 1), pages)
        sections: list[tuple[str, list[Story]]] = []
        for name, entry in ordered[(page - 1) * PAGE : page * PAGE]:
            if not sections or sections[-1][0] != name:
                sections.append((name, []))
            sections[-1][1].append(story(entry))
        return render_template(
            "week.html",
            actions=True,
            sections=sections,
            window=g.lab["window"].format(start=short_date(start), end=short_date(end)),
            periods=PERIODS,
            states=STATE_FILTERS,
            queries=keywords,
            sources=[f.name for f in config.feeds],
            f={"period": period, "state": state, "keyword": keyword or "", "source": source or "", "q": text},
            more=more,
            search_error=search_error,
            count=len(ordered),
            page=page,
            pages=pages,
            page_url=lambda n: url_for("week", **{**args.to_dict(), "page": n}),
        )

    @app.post("/hits/<int:hit_id>/<action>")
    def act(hit_id: int, action: str) -> Any:
        if action not in ACTIONS:
            return problem(404, g.lab["not_found"])
        ok, state, message = triage_one(g.store, hit_id, action, g.now)
        if request.headers.get("X-Requested-With") == "fetch":
            return jsonify({"ok": ok, "id": hit_id, "state": state, "message": message}), 200 if ok else 409
        notify_once(message)
        return redirect(local_path(request.form.get("next") or back()), code=303)

    # --- relay -----------------------------------------------------------------------------------

    @app.get("/relay")
    def relay() -> Any:
        config = need_config()
        settings = export_settings(config)
        rows = g.store.hits(states=["picked", "exported"])
        from watcher import export as ex

        cards = [
            {
                "story": story(dg.Entry(dg.hit_from_row(r))),
                "draft": ex.message(r, settings) if settings else "",
                "no_reuse": r["no_reuse"],
                "exported": short_date(parse(r["exported_at"])) if r.get("exported_at") else None,
            }
            for r in rows
        ]
        held = sum(1 for c in cards if c["no_reuse"] and c["story"].state == "picked")
        return render_template("relay.html", cards=cards, held=held, max_length=settings.max_length if settings else 0)

    @app.get("/relay/file")
    def relay_file() -> Any:
        """The picked hits as Hootsuite, CSV or JSON, downloaded; nothing is marked (a GET)."""
        fmt = request.args.get("format", "hootsuite")
        if fmt not in ("hootsuite", "csv", "json"):
            return problem(404, g.lab["not_found"])
        config = need_config()
        text, _ids, _held = export_file(config, fmt, {})
        return download(text, fmt)

    @app.post("/relay/export")
    def relay_export() -> Any:
        """Export the picked hits for Hootsuite (with the drafts as edited) and mark them exported."""
        config = need_config()
        drafts = {}
        for name, value in request.form.items():
            if name.startswith("draft-") and name[6:].isdigit():
                drafts[int(name[6:])] = value
        text, ids, _held = export_file(config, "hootsuite", drafts)
        if ids:
            mark_exported(g.store, ids, g.now)
        return download(text, "hootsuite")

    # --- keywords --------------------------------------------------------------------------------

    @app.get("/keywords")
    def keywords() -> Any:
        config = need_config()
        counts = g.store.keyword_counts(g.now - timedelta(days=28), g.now + timedelta(seconds=1))
        noise = noise_counts(g.store, g.now - timedelta(days=28))
        rows = [
            {
                "query": q,
                "count": counts.get(q.text, 0),
                "noise": noise.get(q.text, 0) / counts[q.text] if counts.get(q.text) else None,
            }
            for q in config.queries
        ]
        found = [
            {"number": n, "text": describe(x), "key": f"{x.kind}|{x.target}|{x.value}"}
            for n, x in enumerate(suggestions(g.store, config), 1)
        ]
        return render_template("keywords.html", rows=rows, suggestions=found)

    @app.post("/keywords/suggest")
    def keywords_suggest_apply() -> Any:
        """Apply one suggestion: the one shown, checked again on the labels as they are now."""
        config = need_config()
        key = request.form.get("key", "")
        chosen = next((x for x in suggestions(g.store, config) if f"{x.kind}|{x.target}|{x.value}" == key), None)
        if chosen is None:
            notify_once(g.lab["suggestion_gone"])
            return redirect(url_for("keywords"), code=303)
        try:
            apply_suggestion(site, chosen)
            notify_once(g.lab["applied"].format(what=describe(chosen)))
        except ConfigError as exc:
            notify_once(str(exc))
        return redirect(url_for("keywords"), code=303)

    @app.get("/keywords/preview")
    def keywords_preview() -> Any:
        """What a query would have matched in the last 30 days (`watcher keywords test`), as a fragment."""
        config = need_config()
        text = (request.args.get("q") or "").strip()[:500]
        if not text:
            return render_template("_preview.html", hint=True)
        from watcher.backfill import find_matches
        from watcher.keywords_file import parse_new_query
        from watcher.query import same_query_key

        try:
            wanted_query = parse_new_query(text, site.keywords)
        except ConfigError as exc:
            return render_template("_preview.html", error=str(exc))
        same = [q for q in config.queries if same_query_key(q.tree) == same_query_key(wanted_query.tree)]
        every = [*config.queries] if same else [*config.queries, wanted_query]
        rows = g.store.items_since(g.now - timedelta(days=30))
        found = find_matches(rows, [wanted_query], every, {f.name: f.weight for f in config.feeds})
        found.sort(key=lambda f: (-f.score, f.row["published"]))
        items = [
            {
                "title": dg.headline_and_snippet(dg.hit_from_row(f.row))[0],
                "url": dg.safe_url(f.row["url"]),
                "score": f.score,
                "date": short_date(parse(f.row["published"])),
                "sources": ", ".join(f.row["sources"]),
            }
            for f in found[:PREVIEW_LIMIT]
        ]
        return render_template("_preview.html", items=items, count=len(found), total=len(rows), same=same)

    @app.post("/keywords/add")
    def keywords_add() -> Any:
        from watcher.keywords_file import add_query
        from watcher.relevance import catch_up

        need_config()
        text = (request.form.get("query") or "").strip()
        group = (request.form.get("group") or "").strip() or None
        try:
            edit = add_query(site.keywords, text, group)
        except ConfigError as exc:
            notify_once(str(exc))
            return redirect(url_for("keywords"), code=303)
        config, error = site.config()
        found = 0
        if config:
            added = [q for q in config.queries if q.line == edit.line]
            found, _ = catch_up(g.store, config, added, g.now - timedelta(days=30), g.now)
        notify_once(error or g.lab["added"].format(q=edit.query.text, found=found))
        return redirect(url_for("keywords"), code=303)

    @app.post("/keywords/remove")
    def keywords_remove() -> Any:
        from watcher.keywords_file import remove_query

        try:
            edit = remove_query(site.keywords, request.form.get("query") or "")
            notify_once(g.lab["removed"].format(q=edit.query.text))
        except ConfigError as exc:
            notify_once(str(exc))
        return redirect(url_for("keywords"), code=303)

    # --- sources ---------------------------------------------------------------------------------

    @app.get("/sources")
    def sources() -> Any:
        return sources_page()

    def sources_page(check: dict[str, Any] | None = None, form: Mapping[str, str] | None = None) -> Any:
        from watcher.status import collect, human_bytes

        status = collect(g.store, g.config, g.now, g.config_error)
        rows = [
            {
                **s,
                "last_success_text": when(s["last_success"]) if s["last_success"] else g.lab["never"],
                "next_poll_text": when(s["next_poll"]) if s["next_poll"] else "–",
            }
            for s in status["sources"]
        ]
        return render_template(
            "sources.html",
            rows=rows,
            status=status,
            size=human_bytes(status["database"]["bytes"]),
            check=check,
            form=form or {},
        )

    @app.post("/sources/check")
    def sources_check() -> Any:
        """Fetch a feed once and show what it holds and matches (`watcher feeds check`); stores nothing."""
        config = need_config()
        url = (request.form.get("url") or "").strip()
        name = (request.form.get("name") or "").strip()
        if not url.startswith(("http://", "https://")):
            return sources_page({"error": "http(s)://…"}, {"url": url, "name": name})
        from watcher.fetch import fetcher_for
        from watcher.match import compile_queries
        from watcher.poll import fetch_source
        from watcher.read import score_items
        from watcher.types import SourceSpec

        spec = SourceSpec(name=name or "check", kind="rss", url=url)
        with fetcher_for(config.settings) as fetcher:
            result = fetch_source(spec, None, config, fetcher, g.now)
        scored = score_items(compile_queries(config.queries), result.items, spec.weight, g.now)
        hits = sorted((h for h in scored if h.score > 0), key=lambda h: -h.score)
        check = {
            "status": result.status,
            "error": result.error,
            "items": len(result.items),
            "hits": [
                {
                    "title": dg.headline_and_snippet(dg.hit_from_row(hit_row(h)))[0],
                    "score": h.score,
                    "keywords": ", ".join(h.keywords),
                    "url": dg.safe_url(h.item.url),
                }
                for h in hits[:PREVIEW_LIMIT]
            ],
            "count": len(hits),
        }
        return sources_page(check, {"url": url, "name": name})

    @app.post("/sources/add")
    def sources_add() -> Any:
        from watcher.feeds_file import add_feed

        name, url = (request.form.get("name") or "").strip(), (request.form.get("url") or "").strip()
        try:
            spec = add_feed(site.feeds, {"name": name, "kind": "rss", "url": url})
        except ConfigError as exc:
            return sources_page({"error": str(exc)}, {"url": url, "name": name})
        notify_once(g.lab["source_added"].format(name=spec.name))
        return redirect(url_for("sources"), code=303)

    # --- report ----------------------------------------------------------------------------------

    @app.get("/report")
    def report() -> Any:
        from watcher import report as rp

        data, label = quarter_report(request.args.get("quarter"))
        lab = data.lab

        def listed(stories: Sequence[Any]) -> list[dict[str, Any]]:
            return [
                {
                    "title": x.title,
                    "url": dg.safe_url(x.url or ""),
                    "outlet": x.outlet,
                    "score": x.score,
                    "date": short_date(x.published),
                    "state": lab.get(x.state, ""),
                }
                for x in stories
            ]

        return render_template(
            "report.html",
            data=data,
            label=label,
            title=rp.report_title(g.language, label),
            period=rp.period_text(g.language, data.start, data.end),
            rlab=lab,
            states=[(lab.get(st, st), n) for st, n in data.states.items() if n],
            best=listed(data.best),
            relayed=listed(data.relayed),
            totals=[(q, sum(v)) for q, v in data.series.items()],
        )

    @app.get("/report/chart.svg")
    def report_chart() -> Any:
        from watcher.report import weekly_chart

        data, _ = quarter_report(request.args.get("quarter"))
        response = Response(weekly_chart(data), mimetype="image/svg+xml")
        response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
        return response

    def quarter_report(quarter: str | None) -> tuple[Any, str]:
        from watcher import report as rp

        config = need_config()
        label = rp.current_quarter(g.now)
        if quarter:
            try:
                rp.quarter_bounds(quarter)
                label = quarter.upper()
            except ValueError:
                pass
        start, end = rp.quarter_bounds(label)
        return rp.collect(g.store, config, start, end, rp.report_title(g.language, label), g.now), label

    # --- the digest's action links -----------------------------------------------------------------

    @app.get("/a/<token>")
    def action_link(token: str) -> Any:
        try:
            hit_id, action = auth.read_action(auth.link_key(g.store), token, g.now)
        except auth.LinkError as exc:
            return problem(403 if str(exc) == "invalid" else 410, g.lab[f"link_{exc}"])
        rows = g.store.hits(ids=[hit_id], min_score=1)
        if not rows:
            return problem(404, g.lab["not_found"])
        return render_template("confirm.html", s=story(dg.Entry(dg.hit_from_row(rows[0]))), action=action, token=token)

    @app.post("/a/<token>")
    def action_do(token: str) -> Any:
        try:
            hit_id, action = auth.read_action(auth.link_key(g.store), token, g.now)
        except auth.LinkError as exc:
            return problem(403 if str(exc) == "invalid" else 410, g.lab[f"link_{exc}"])
        ok, _state, message = triage_one(g.store, hit_id, action, g.now)
        rows = g.store.hits(ids=[hit_id], min_score=1)
        title = dg.headline_and_snippet(dg.hit_from_row(rows[0]))[0] if rows else ""
        sep = " : " if g.language[:2] == "fr" else ": "
        return render_template("message.html", message=message + (sep + title if title else ""), ok=ok), (
            200 if ok else 409
        )

    return app


# --- helpers of the views (they read `g`, set by authenticate) ---------------------------------------


def problem(code: int, message: str) -> Any:
    if request.headers.get("X-Requested-With") == "fetch":
        return jsonify({"ok": False, "message": message}), code
    return render_template("message.html", message=message, ok=False, code=code), code


def need_config() -> Config:
    if g.config is None:
        from werkzeug.exceptions import HTTPException

        response = render_template("message.html", message=g.config_error, ok=False, code=503)
        raise HTTPException(response=Response(response, status=503, mimetype="text/html"))
    config: Config = g.config
    return config


def same_origin() -> bool:
    """A POST from this site's own pages: its Origin (or Referer) names this host, or it names none."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin:
        return True  # old browsers and scripts: the CSRF token still decides
    try:
        host = urlsplit(origin).netloc
    except ValueError:
        return False
    allowed = {request.host}
    if g.web.public_url:
        allowed.add(urlsplit(g.web.public_url).netloc)
    return host in allowed


def secure_request() -> bool:
    """Behind HTTPS: the request came by HTTPS, or by the proxy of an https public_url."""
    if request.is_secure:
        return True
    web: WebSettings = g.get("web", WebSettings())
    return bool(web.https and web.public_url and request.host == urlsplit(web.public_url).netloc)


def local_path(target: str | None) -> str:
    """Where to go back to: a path of this site only (never another host)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target.rstrip("?") or "/"


def back() -> str:
    """The page a form was sent from (browsers send the Referer within the site), as a local path."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host:
        return "/"
    return referrer.path + (f"?{referrer.query}" if referrer.query else "")


def notify_once(message: str) -> None:
    """A message for the next page this session sees (after a redirect)."""
    if g.get("session"):
        site: Site = current_app.extensions["watcher_site"]
        site.notices[auth.token_hash(g.session.token)] = message


def parse(text: str | None) -> datetime:
    from watcher.store import parse_iso

    return parse_iso(text) or datetime.now(UTC)


def when(text: str) -> str:
    """A stored time as the digest shows it: local, in the page's language."""
    return dg.local_date(parse(text), g.language, g.tz)


def short_date(moment: datetime) -> str:
    return dg.local_date(moment, g.language, g.tz, with_time=False)


def story(entry: dg.Entry) -> Story:
    hit = entry.hit
    headline, snippet = dg.headline_and_snippet(hit)
    outlet = hit.publisher or hit.author or (hit.sources[0] if hit.sources else "")
    return Story(
        id=hit.id,
        headline=headline,
        snippet=snippet,
        url=dg.safe_url(hit.url),
        outlet=outlet,
        date=dg.local_date(hit.published, g.language, g.tz),
        score=hit.score,
        why=dg.why(hit, g.language),
        state=hit.state,
        also=entry.also,
        badges=dg.badges(hit, dg.labels(g.language)),
    )


def wanted(
    row: Mapping[str, Any], start: datetime, states: Sequence[str] | None, keyword: str | None, source: str | None
) -> bool:
    """The week's filters on a search result (the search itself ranks the whole store)."""
    from watcher.store import iso

    return (
        row["first_seen"] >= iso(start)
        and (states is None or row["state"] in states)
        and (keyword is None or keyword in row["keywords"])
        and (source is None or source in row["sources"])
    )


def hit_row(hit: Any) -> dict[str, Any]:
    item = hit.item
    return {"id": 0, "title": item.title, "text": item.text, "url": item.url, "published": item.published}


def export_settings(config: Config) -> Any:
    from watcher import export as ex
    from watcher.config import parse_duration

    try:
        return ex.export_settings(config.settings.extra.get("export"), config.settings.timezone, parse_duration)
    except ValueError as exc:
        g.config_error = str(exc)
        return None


def export_file(config: Config, fmt: str, drafts: Mapping[int, str]) -> tuple[str, list[int], int]:
    """The file of `watcher export --format FMT` for the picked hits (first 350 rows for Hootsuite)."""
    from watcher import export as ex

    hits = g.store.hits(states=["picked"])
    allowed = [h for h in hits if not h["no_reuse"]]
    held = len(hits) - len(allowed)
    if fmt == "hootsuite":
        settings = export_settings(config)
        if settings is None:
            return "", [], held
        plan = ex.plan_hootsuite(allowed, g.now, settings, drafts)
        rows = plan.rows[: ex.HOOTSUITE_MAX_ROWS]
        return ex.render_hootsuite(rows)[0], list(plan.ids[: len(rows)]), held
    text = ex.render_csv(allowed) if fmt == "csv" else ex.render_json(allowed) + "\n"
    return text, [int(h["id"]) for h in allowed], held


def download(text: str, fmt: str) -> Response:
    suffix = "json" if fmt == "json" else "csv"
    name = f"relay-{g.now.astimezone(g.tz):%Y%m%d-%H%M}" + ("-hootsuite" if fmt == "hootsuite" else "")
    response = Response(text, mimetype="application/json" if fmt == "json" else "text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{suffix}"'
    return response


# --- triage: the same library calls as `watcher relay` ----------------------------------------------


def triage_one(store: Store, hit_id: int, action: str, now: datetime) -> tuple[bool, str | None, str]:
    """Do one triage action on one hit, as `watcher relay` does: (done, its state now, what to say)."""
    from watcher import triage

    calls: dict[str, Callable[[], triage.Outcome]] = {
        "pick": lambda: triage.pick(store, [hit_id], now),
        "skip": lambda: triage.skip(store, [hit_id], now),
        "noise": lambda: triage.skip(store, [hit_id], now, noise=True),
        "done": lambda: triage.done(store, [hit_id], now),
        "undo": lambda: triage.undo(store, [hit_id], now),
    }
    outcome = calls[action]()
    lab = g.lab
    state = store.states_of([hit_id]).get(hit_id)
    if outcome.unknown:
        return False, None, lab["not_found"]
    if outcome.refused:
        return False, state, f"{lab['refused']}: {outcome.refused[0][1]}"
    return True, state, lab[f"did_{action}"]


def mark_exported(store: Store, ids: Sequence[int], now: datetime) -> None:
    from watcher import triage

    triage.mark_exported(store, ids, now)


def noise_counts(store: Store, since: datetime) -> dict[str, int]:
    """Noise-marked hits per query since `since`."""
    counts: dict[str, int] = {}
    for row in store.hits(states=["noise"], since=since):
        for query in row["keywords"]:
            counts[query] = counts.get(query, 0) + 1
    return counts


def suggestions(store: Store, config: Config) -> list[Any]:
    """The exclusions of `watcher keywords suggest`, from the same labels and the same function."""
    from watcher.labels import suggestions as suggested

    return suggested(store, config.queries, SUGGESTIONS)[1]


def describe(suggestion: Any) -> str:
    """A suggestion in words, as `watcher keywords suggest` prints it."""
    from watcher.suggest import describe as described

    return described(suggestion, g.language)


def apply_suggestion(site: Site, suggestion: Any) -> None:
    """Write a suggestion as `watcher keywords suggest --apply N` does (raises ConfigError)."""
    if suggestion.kind in ("word", "phrase"):
        from watcher.keywords_file import replace_query

        replace_query(site.keywords, suggestion.target, suggestion.new_query)
    else:
        from watcher.feeds_file import add_to_feed_list

        key = "exclude_domains" if suggestion.kind == "domain" else "exclude_authors"
        add_to_feed_list(site.feeds, suggestion.target, key, suggestion.value)
