"""The `watcher` command: each subcommand is a few lines over a library call.

Library errors become one clear line and the contract's exit code here, at the edge:
0 done, 1 the work failed, 2 bad usage or bad configuration. Heavy modules are imported
inside the commands that use them, so `watcher --help` starts fast.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from watcher.store import Store
    from watcher.types import Config

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def default_db() -> Path:
    from platformdirs import user_data_path

    return user_data_path("watcher") / "watcher.db"


class Env:
    """The global options, handed to every command."""

    def __init__(self, feeds: Path, keywords: Path, db: Path | None) -> None:
        self.feeds = feeds
        self.keywords = keywords
        self.db = db or default_db()

    def config(self) -> Config:
        from watcher.config import load_config
        from watcher.errors import ConfigError

        try:
            return load_config(self.feeds, self.keywords)
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
    click.echo(f"Error: {message}", err=True)
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
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not verbose:  # the commands print each source's outcome themselves
        logging.getLogger("watcher.poll").setLevel(logging.ERROR)
    ctx.obj = Env(feeds, keywords, db)


@main.command(context_settings=CONTEXT)
@click.pass_obj
def check(env: Env) -> None:
    """Validate feeds.yaml and keywords.txt; write nothing.

    Each problem is reported with its file and line; the exit code is 2 when there is one.
    """
    config = env.config()
    enabled = sum(f.enabled for f in config.feeds)
    click.echo(f"{env.feeds}: {len(config.feeds)} sources ({enabled} enabled): OK")
    click.echo(f"{env.keywords}: {len(config.queries)} queries: OK")


@main.command(context_settings=CONTEXT)
@click.option("--all", "everything", is_flag=True, help="Poll every enabled source, due or not.")
@click.option("--source", "names", multiple=True, help="Poll only this source (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per source, in an array.")
@click.pass_obj
def poll(env: Env, everything: bool, names: tuple[str, ...], as_json: bool) -> None:
    """Poll the sources that are due once, store the new hits, and exit.

    A source that fails is reported and retried later with backoff; the others go on.
    """
    from watcher.fetch import Fetcher, default_user_agent
    from watcher.poll import PollReport, run_poll

    config = env.config()
    unknown = [n for n in names if config.feed(n) is None]
    if unknown:
        fail(f"no source named {unknown[0]!r} in {env.feeds} (see `watcher check`)", code=2)
    show_progress = not as_json and sys.stderr.isatty()
    with env.store() as store:
        from watcher.errors import StoreError

        settings = config.settings
        with Fetcher(
            user_agent=default_user_agent(settings.contact),
            timeout=settings.timeout,
            max_body_bytes=settings.max_body_bytes,
            per_host=settings.per_host,
        ) as fetcher:
            bar = click.progressbar(length=len(config.feeds), label="Polling", file=sys.stderr)
            done: list[PollReport] = []

            def progress(report: PollReport) -> None:
                done.append(report)
                if show_progress:
                    bar.update(1)

            try:
                reports = run_poll(config, store, fetcher, everything=everything, names=names, on_result=progress)
            except StoreError as exc:
                fail(f"{exc} ({len(done)} sources were stored before the failure)")
            if show_progress:
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
    width = max(len(r.name) for r in reports)
    for r in reports:
        detail = r.error if r.status == "error" else f"{r.items} items, {r.new_hits} new hits"
        click.echo(f"{r.name:<{width}}  {r.status:<12}  {detail}")
    failed = sum(r.status == "error" for r in reports)
    total = sum(r.new_hits for r in reports)
    click.echo(f"{len(reports)} sources polled, {failed} failed, {total} new hits.")


@main.command(context_settings=CONTEXT)
@click.option("--since", help="Only hits found in this recent past, e.g. 7d, 12h (default: all).")
@click.option("--keyword", help="Only hits of this query (as written in keywords.txt).")
@click.option("--source", help="Only hits from this source.")
@click.option("--min-score", type=click.IntRange(0, 100), default=0, help="Only hits scoring at least this.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(["new", "picked", "exported", "relayed", "skipped"]),
    help="Only hits in this triage state (repeatable).",
)
@click.option("--limit", type=click.IntRange(1), help="At most this many hits.")
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
    if as_json:
        for row in rows:
            row.pop("text", None)
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    elif as_csv:
        from watcher.export import write_csv

        write_csv(rows, sys.stdout)
    else:
        print_hits(rows, explain)


def print_hits(rows: list[dict[str, Any]], explain: bool) -> None:
    if not rows:
        click.echo("No hits yet. Run `watcher poll --all`, or check keywords.txt.")
        return
    from watcher.normalise import display_title
    from watcher.score import explain as explain_score

    for row in rows:
        date = row["published"][:10]
        title = display_title(row["title"], row["text"])
        state = f"  [{row['state']}]" if row["state"] != "new" else ""
        click.echo(f"[{row['score']:>3}] {date}  {click.style(title, bold=True)}  #{row['id']}{state}")
        credit = row["publisher"] or row["author"]
        click.echo(f"      {row['url']}")
        sources = ", ".join(row["sources"])
        click.echo(f"      {', '.join(row['keywords'])}  ·  {sources}" + (f"  ·  {credit}" if credit else ""))
        if row["cluster"] is not None:
            click.echo(f"      story #{row['cluster']}")

        if explain:
            click.echo(f"      why: {explain_score(row['score_breakdown'])}")
    click.echo(f"{len(rows)} hits.")


@main.command(context_settings=CONTEXT)
@click.pass_obj
def run(env: Env) -> None:
    """Run the watch: poll each source on its interval until stopped (Ctrl-C or SIGTERM)."""
    from watcher.daemon import run_daemon

    env.config()  # a bad configuration stops here with exit code 2
    sys.exit(run_daemon(env.feeds, env.keywords, env.db))


# The community manager's everyday commands (keywords, feeds, search, relay, export, report).
from watcher.cli_manage import register  # noqa: E402  (they need `main`, `Env` and `fail` above)

register(main)

if __name__ == "__main__":
    main()
