"""The `watcher` command: each subcommand is a few lines over a library call.

Library errors become one clear line and the contract's exit code here, at the edge:
0 done, 1 the work failed, 2 bad usage or bad configuration. Heavy modules are imported
inside the commands that use them, so `watcher --help` starts fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from watcher.hints import hint
from watcher.words import count

if TYPE_CHECKING:
    from watcher.store import Store
    from watcher.types import Config

CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
MAX_LIMIT = 1_000_000_000  # --limit: more would not fit SQLite's integers, and no screen holds it


def default_db() -> Path:
    from platformdirs import user_data_path

    return user_data_path("watcher") / "watcher.db"


class Env:
    """The global options, handed to every command."""

    def __init__(self, feeds: Path, keywords: Path, db: Path | None) -> None:
        self.feeds = feeds
        self.keywords = keywords
        self.db = db or default_db()

    def config(self, secrets: bool = False) -> Config:
        """Both files, loaded and checked. `secrets=True` only for a command that uses them
        (polls, the daemon, `check`): the others work without the credentials, as under the
        system service, where only systemd can read them."""
        from watcher.config import load_config
        from watcher.errors import ConfigError

        try:
            return load_config(self.feeds, self.keywords, secrets=secrets)
        except ConfigError as exc:
            fail(str(exc), code=2)

    @contextmanager
    def store(self) -> Iterator[Store]:
        from watcher.errors import StoreError
        from watcher.store import Store

        try:
            with Store(self.db) as store:
                yield store
        except StoreError as exc:
            fail(str(exc), code=1)


def fail(message: str, code: int = 1) -> NoReturn:
    from watcher.terminal import line

    click.echo(f"Error: {hint(line(message))}", err=True)  # it may quote a server or a file
    sys.exit(code)


def since_option(value: str | None) -> datetime | None:
    from watcher.config import parse_duration

    if value is None:
        return None
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(value))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group(context_settings=CONTEXT)
@click.option(
    "--feeds",
    type=click.Path(path_type=Path, dir_okay=False),
    default="feeds.yaml",
    envvar="WATCHER_FEEDS",
    show_default=True,
    help="Sources and settings [env WATCHER_FEEDS].",
)
@click.option(
    "--keywords",
    type=click.Path(path_type=Path, dir_okay=False),
    default="keywords.txt",
    envvar="WATCHER_KEYWORDS",
    show_default=True,
    help="Queries, one per line [env WATCHER_KEYWORDS].",
)
@click.option(
    "--db",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="WATCHER_DB",
    help="SQLite database [env WATCHER_DB; default: watcher.db in the user's data directory].",
)
@click.option("-v", "--verbose", count=True, help="More log lines on stderr (-vv for debug).")
@click.version_option(package_name="watcher")
@click.pass_context
def main(ctx: click.Context, feeds: Path, keywords: Path, db: Path | None, verbose: int) -> None:
    """watcher: a keyword watch over feeds, news searches and social networks.

    Reads the sources of feeds.yaml for the queries of keywords.txt, keeps each story once
    in SQLite, scored, with the reason it matched.

    \b
    Start with:  watcher check       (validate feeds.yaml and keywords.txt)
                 watcher poll --all  (poll every source once)
                 watcher hits        (see what matched)
                 watcher run         (keep watching; the weekly digest goes out by itself)
    """
    from watcher.logs import setup
    from watcher.redact import redact_standard_streams

    # journald priorities under systemd; the daemon logs a line per source per poll by default
    setup(min(verbose, 2), daemon=ctx.invoked_subcommand == "run")
    # the one edge of every command's output (and of a traceback): no secret gets through, even
    # for a command that reads no configuration
    from watcher.config import remember_secrets

    remember_secrets(feeds)
    redact_standard_streams()
    ctx.obj = Env(feeds, keywords, db)


@main.command(context_settings=CONTEXT)
@click.pass_obj
def check(env: Env) -> None:
    """Validate feeds.yaml and keywords.txt; write nothing.

    Each problem is reported with its file and line; the exit code is 2 when there is one.
    """
    from watcher.errors import ConfigError
    from watcher.notify import load_targets

    config = env.config(secrets=True)
    try:  # the digest, alert and target settings, and the Apprise URLs of WATCHER_NOTIFY: all before any "OK"
        targets = len(load_targets(config))
    except ConfigError as exc:
        fail(str(exc), code=2)
    enabled = sum(f.enabled for f in config.feeds)
    if not enabled:
        fail(
            f"{env.feeds}: no enabled source ({count(len(config.feeds), 'source')}, all disabled or none):"
            " nothing would be watched; add one with `watcher feeds add NAME --url URL`",
            code=2,
        )
    click.echo(f"{env.feeds}: {count(len(config.feeds), 'source')} ({enabled} enabled): OK")
    if config.presence:
        accounts = sum(len(o.accounts) for o in config.presence)
        click.echo(f"presence: {count(len(config.presence), 'organisation')}, {count(accounts, 'account')}: OK")
    click.echo(f"{env.keywords}: {count(len(config.queries), 'query', 'queries')}: OK")
    click.echo(f"notification targets: {targets or 'none, digests go to files beside the database'}: OK")


@main.command(context_settings=CONTEXT)
@click.option("--all", "everything", is_flag=True, help="Poll every enabled source, due or not.")
@click.option("--source", "names", multiple=True, help="Poll only this source (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per source, in an array.")
@click.pass_obj
def poll(env: Env, everything: bool, names: tuple[str, ...], as_json: bool) -> None:
    """Poll the sources that are due once, store the new hits, and exit.

    A source that fails is reported and retried later with backoff; the others go on.
    """
    from watcher.fetch import fetcher_for
    from watcher.poll import PollReport, run_poll

    config = env.config(secrets=True)
    unknown = [n for n in names if config.feed(n) is None]
    if unknown:
        fail(f"no source named {unknown[0]!r} in {env.feeds} (see `watcher check`)", code=2)
    show_progress = not as_json and sys.stderr.isatty()
    with env.store() as store:
        from watcher.errors import StoreError

        settings = config.settings
        with fetcher_for(settings) as fetcher:
            bars: list[Any] = []  # made once the number of due sources is known
            done: list[PollReport] = []

            def start(total: int) -> None:
                if show_progress and total:
                    bars.append(click.progressbar(length=total, label="Polling", file=sys.stderr))

            def progress(report: PollReport) -> None:
                done.append(report)
                for bar in bars:
                    bar.update(1)

            try:
                reports = run_poll(
                    config, store, fetcher, everything=everything, names=names, on_start=start, on_result=progress
                )
            except StoreError as exc:
                fail(f"{exc} ({len(done)} sources were stored before the failure)")
            for bar in bars:
                bar.render_finish()
    reports.sort(key=lambda r: r.name)
    if as_json:
        rows = [
            {"name": r.name, "status": r.status, "new_hits": r.new_hits, "items": r.items, "error": r.error}
            for r in reports
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not reports:
        click.echo("No source is due (use --all to poll them all now).")
        return
    from watcher.terminal import line

    width = max(len(r.name) for r in reports)
    for r in reports:
        detail = line(r.error) if r.status == "error" else f"{count(r.items, 'item')}, {count(r.new_hits, 'new hit')}"
        click.echo(f"{r.name:<{width}}  {r.status:<12}  {detail}")
    failed = sum(r.status == "error" for r in reports)
    total = sum(r.new_hits for r in reports)
    click.echo(f"{count(len(reports), 'source')} polled, {failed} failed, {count(total, 'new hit')}.")


@main.command(context_settings=CONTEXT)
@click.option("--since", help="Only hits found in this recent past, e.g. 7d, 12h (default: all).")
@click.option("--keyword", help="Only hits of this query (as written in keywords.txt).")
@click.option("--source", help="Only hits from this source.")
@click.option("--min-score", type=click.IntRange(0, 100), default=0, help="Only hits scoring at least this.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(["new", "picked", "exported", "relayed", "skipped", "noise"]),
    help="Only hits in this triage state (repeatable).",
)
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), help="At most this many hits.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (safe to open in a spreadsheet).")
@click.option("--explain", is_flag=True, help="Say in words why each hit scored what it did.")
@click.pass_obj
def hits(
    env: Env,
    since: str | None,
    keyword: str | None,
    source: str | None,
    min_score: int,
    states: tuple[str, ...],
    limit: int | None,
    as_json: bool,
    as_csv: bool,
    explain: bool,
) -> None:
    """List the stored hits, newest first."""
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    start = since_option(since)
    with env.store() as store:
        rows = store.hits(
            since=start, keyword=keyword, source=source, min_score=min_score, limit=limit, states=states or None
        )
        left_out = store.left_out_languages(start) if explain and not (as_json or as_csv) else {}
    if as_json:
        for row in rows:
            row.pop("text", None)
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    elif as_csv:
        from watcher.export import write_csv

        write_csv(rows, sys.stdout)
    else:
        language = _language(env)
        print_hits(rows, explain, language)
        if left_out:
            from watcher.language import label

            fr = language.startswith("fr")
            each = ", ".join(f"{label(lang, fr)} ({n})" for lang, n in sorted(left_out.items()))
            total = sum(left_out.values())
            if fr:
                click.echo(f"{total} élément(s) trouvé(s), écarté(s) pour leur langue : {each} (settings.languages)")
            else:
                click.echo(f"{total} item(s) matched but left out for their language: {each} (settings.languages)")


def _language(env: Env) -> str:
    """settings.language, for the words of --explain; English when the configuration cannot be read."""
    from watcher.config import load_config
    from watcher.errors import ConfigError

    try:
        return load_config(env.feeds, env.keywords).settings.language
    except (ConfigError, OSError):
        return "en"


def print_hits(rows: list[dict[str, Any]], explain: bool, language: str = "en") -> None:
    if not rows:
        click.echo(hint("No hits yet. Run `watcher poll --all`, or check keywords.txt."))
        return
    from watcher.normalise import display_title
    from watcher.score import explain as explain_score
    from watcher.terminal import line

    for row in rows:
        date = row["published"][:10]
        title = line(display_title(row["title"], row["text"]))
        state = f"  [{row['state']}]" if row["state"] != "new" else ""
        click.echo(f"[{row['score']:>3}] {date}  {click.style(title, bold=True)}  #{row['id']}{state}")
        credit = line(row["publisher"] or row["author"])
        click.echo(f"      {line(row['url'])}")
        sources = ", ".join(row["sources"])
        # a related hit matched no query: it is shown for being close to the theme
        related = "proches de votre veille" if language.startswith("fr") else "close to your watch"
        keywords = ", ".join(row["keywords"]) or related
        click.echo(f"      {keywords}  ·  {sources}" + (f"  ·  {credit}" if credit else ""))
        if row["cluster"] is not None:
            click.echo(f"      story #{row['cluster']}")

        if explain:
            word = "pourquoi :" if language.startswith("fr") else "why:"
            click.echo(f"      {word} {explain_score(row['score_breakdown'], language)}")
    click.echo(f"{count(len(rows), 'hit')}.")


@main.command(context_settings=CONTEXT)
@click.option(
    "--preview", is_flag=True, help="Render the next digest (everything since the last one); send and record nothing."
)
@click.option("--send", is_flag=True, help="Deliver now what each target has not had yet; retry failed targets.")
@click.option("--history", is_flag=True, help="List the latest digests and what became of each delivery.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "markdown", "text"]),
    help="With --preview: the format (default: text on screen, html with --out).",
)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="With --preview: write to this file.")
@click.option("--json", "as_json", is_flag=True, help="With --send or --history: print JSON.")
@click.pass_obj
def digest(
    env: Env, preview: bool, send: bool, history: bool, fmt: str | None, out: Path | None, as_json: bool
) -> None:
    """Preview, send or review the digest.

    \b
    watcher digest --preview                      the next digest, as text
    watcher digest --preview --out digest.html    as an HTML page (open it in a browser)
    watcher digest --send                         deliver now; exit 1 if a target refused
    watcher digest --history                      past digests and their deliveries

    Targets: Apprise URLs in WATCHER_NOTIFY (separated by spaces) or the Apprise configuration
    file of settings.notify.config; with none, the digest is written beside the database.
    """
    if preview + send + history != 1:
        raise click.UsageError("choose one of --preview, --send and --history")
    if (fmt or out) and not preview:
        raise click.UsageError("--format and --out go with --preview")
    config = env.config()
    from watcher import notify
    from watcher.errors import ConfigError

    now = datetime.now(UTC)
    with env.store() as store:
        if history:
            rows = store.digest_history()
            if as_json:
                for row in rows:
                    for d in row["deliveries"]:
                        d.pop("target", None)
                click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            else:
                print_digest_history(rows)
            return
        if preview:
            try:
                text, _ = notify.preview_digest(store, config, now, fmt or ("html" if out else "text"))
            except ConfigError as exc:
                fail(str(exc), code=2)
            if out is None:
                click.echo(text, nl=False)
                return
            from watcher.redact import redact

            try:
                out.write_text(redact(text), encoding="utf-8")
            except OSError as exc:
                fail(f"cannot write {out}: {exc.strerror}")
            click.echo(f"Digest preview written to {out}")
            return
        try:
            report = notify.send_digest_now(store, config, now)
        except ConfigError as exc:
            fail(str(exc), code=2)
    if as_json:
        click.echo(json.dumps(digest_report_json(report), ensure_ascii=False, indent=2))
    else:
        print_digest_report(report)
    if report.failed:
        sys.exit(1)


def digest_report_json(report: Any) -> dict[str, Any]:
    return {
        "created": report.created,
        "window": {"start": report.window.start.isoformat(), "end": report.window.end.isoformat()}
        if report.window
        else None,
        "deliveries": [
            {"digest": d.digest_id, "target": d.target, "state": d.state, "hits": d.items, "error": d.error}
            for d in report.deliveries
        ],
        "interrupted": list(report.interrupted),
    }


def print_digest_report(report: Any) -> None:
    for item in report.interrupted:
        click.echo(f"interrupted earlier, not sent again: {item}")
    sent = [d for d in report.deliveries if d.state in ("sent", "failed", "skipped")]
    if not sent:
        click.echo("Nothing new to send: every target has had every hit.")
        return
    for d in report.deliveries:
        detail = count(d.items, "hit") if d.state == "sent" else (d.error or "")
        if d.path:
            detail += f", written to {d.path}"
        click.echo(f"digest {d.digest_id} -> {d.target}: {d.state}" + (f" ({detail})" if detail else ""))


def print_digest_history(rows: list[dict[str, Any]]) -> None:
    from watcher.terminal import line

    if not rows:
        click.echo("No digest yet.")
        return
    for row in rows:
        kind = " (sent by hand)" if row["manual"] else ""
        click.echo(f"digest {row['id']}: {row['window_start']} to {row['window_end']}{kind}")
        for d in row["deliveries"]:
            when = f" at {d['sent_at']}" if d["sent_at"] else ""
            error = f": {line(d['error'])}" if d["error"] else ""
            tries = f"{count(d['items'], 'hit')}, {count(d['attempts'], 'attempt')}"
            click.echo(f"    {d['label']}: {d['state']}{when}, {tries}{error}")


@main.group(context_settings=CONTEXT)
def notify() -> None:
    """Notification targets (Apprise): list them, send a test message."""


@notify.command("test", context_settings=CONTEXT)
@click.pass_obj
def notify_test(env: Env) -> None:
    """Send one short message to every target and print each one's result (exit 1 if one refused)."""
    config = env.config()
    from watcher import notify as notify_module
    from watcher.errors import ConfigError

    try:
        targets = notify_module.load_targets(config)
    except ConfigError as exc:
        fail(str(exc), code=2)
    if not targets:
        fail(f"no target configured: set {notify_module.ENV} or settings.notify.config", code=2)
    from watcher.terminal import line

    results = notify_module.send_test(config, datetime.now(UTC), targets)
    for r in results:
        click.echo(f"{r.target}: " + ("sent" if r.ok else f"FAILED: {line(r.error)}"))
    if not all(r.ok for r in results):
        sys.exit(1)


@notify.command("list", context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@click.pass_obj
def notify_list(env: Env, as_json: bool) -> None:
    """List the targets (service, hash, tags, format), never their URLs."""
    config = env.config()
    from watcher import notify as notify_module
    from watcher.errors import ConfigError

    try:
        targets = notify_module.load_targets(config)
    except ConfigError as exc:
        fail(str(exc), code=2)
    rows = [{"target": t.label, "tags": sorted(t.tags), "format": t.fmt, "max_chars": t.max_chars} for t in targets]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    elif not rows:
        click.echo(f"No target: digests are written to files beside the database (set {notify_module.ENV}).")
    else:
        for t in targets:
            tags = ", ".join(sorted(t.tags)) or "no tag"
            click.echo(f"{t.label}  {t.fmt}, up to {t.max_chars} characters, {tags}")


@main.command(context_settings=CONTEXT)
@click.pass_obj
def run(env: Env) -> None:
    """Run the watch: poll each source on its interval until stopped (Ctrl-C or SIGTERM).

    \b
    Signals: SIGTERM, SIGINT  stop after storing what has arrived (exit 0)
             SIGHUP           reload feeds.yaml and keywords.txt (also done when they change)
             SIGUSR1          poll every enabled source now, due or not
    Speaks the systemd notify protocol (Type=notify, WatchdogSec) when run as a service.
    """
    from watcher.daemon import run_daemon

    env.config(secrets=True)  # a bad configuration stops here with exit code 2
    sys.exit(run_daemon(env.feeds, env.keywords, env.db))


@main.command(context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def status(env: Env, as_json: bool) -> None:
    """Show the health of the watch at a glance.

    Each source's last success, last error and next poll; the digest; the hits of the week;
    the size of the database. Works while `watcher run` runs.

    Exit code 2 when feeds.yaml or keywords.txt does not load (the rest is still shown).
    """
    from watcher.config import load_config
    from watcher.errors import ConfigError
    from watcher.status import collect, render

    if not env.db.exists():
        fail(f"no database at {env.db} yet: run `watcher poll` or `watcher run` first", code=1)
    config, problem = None, None
    try:
        config = load_config(env.feeds, env.keywords, secrets=False)
    except ConfigError as exc:
        problem = str(exc)
    now = datetime.now(UTC)
    with env.store() as store:
        report = collect(store, config, now, problem)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for line in render(report, now):
            click.echo(line)
    if problem:
        sys.exit(2)


# The community manager's everyday commands (keywords, feeds, search, relay, export, report).
from watcher.cli_manage import register  # noqa: E402  (they need `main`, `Env` and `fail` above)
from watcher.presence.cli import register as register_presence  # noqa: E402  (`watcher presence`)
from watcher.web.cli import register as register_web  # noqa: E402  (`watcher serve`, `watcher web`)

register(main)
register_web(main)
register_presence(main)
