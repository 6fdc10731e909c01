"""`watcher presence`: the comparative table, snapshots, and figures by hand or by file.

watcher presence [--since 90d] [--json|--csv]      the table, per medium, `self` first
watcher presence snapshot                          read every account with an API now
watcher presence record ACCOUNT METRIC VALUE       one figure by hand (--date, default today)
watcher presence import FILE.csv                   figures by file: date,account,metric,value
"""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from watcher.cli import CONTEXT, Env, fail, since_option
from watcher.terminal import line

if TYPE_CHECKING:
    from watcher.presence.table import Row
    from watcher.types import Config

MAX_VALUE = 10**12  # no account has more followers or visits than this: a bigger one is a typo


def register(main: click.Group) -> None:
    main.add_command(presence)


@click.group(context_settings=CONTEXT, invoke_without_command=True)
@click.option("--since", default="90d", show_default=True, help="The period compared, up to now.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the table as CSV.")
@click.pass_context
def presence(ctx: click.Context, since: str, as_json: bool, as_csv: bool) -> None:
    """Our accounts against competitors' and a model's: per medium, per organisation.

    Followers and their change over the period, posts per week, average engagement per post,
    engagement per 1,000 followers, best post. A dash where a figure is unknown. The accounts
    are the `presence:` list of feeds.yaml.
    """
    if ctx.invoked_subcommand is not None:
        return
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    env: Env = ctx.obj
    start = since_option(since)
    assert start is not None
    end = datetime.now(UTC)
    config = _config(env)
    from watcher.presence import storage
    from watcher.presence.accounts import accounts_of
    from watcher.presence.table import rows_for

    keys = [a.key for a in accounts_of(config.presence)]
    with env.store() as store:
        figures = storage.figures(store, keys)
        posts = storage.posts(store, keys, start, end + timedelta(seconds=1))
        states = storage.snapshot_states(store)
    table = rows_for(config.presence, figures, posts, start, end)
    if as_json:
        _print_json(table, start, end, states)
    elif as_csv:
        _print_csv(table)
    else:
        _print_text(table, since, states)


def _config(env: Env, secrets: bool = False) -> Config:
    config = env.config(secrets=secrets)
    if not config.presence:
        fail(f"no `presence:` list in {env.feeds}: declare the organisations and their accounts (see README)", code=2)
    return config


def _print_json(table: dict[str, list[Row]], start: datetime, end: datetime, states: dict[str, dict[str, str]]) -> None:
    from watcher.presence.table import as_dict

    out = {
        "start": start.isoformat(timespec="seconds"),
        "end": end.isoformat(timespec="seconds"),
        "networks": {
            network: [{**as_dict(r), "last_error": (states.get(r.account) or {}).get("last_error")} for r in rows]
            for network, rows in table.items()
        },
    }
    click.echo(json.dumps(out, ensure_ascii=False, indent=2))


def _print_csv(table: dict[str, list[Row]]) -> None:
    from watcher.export import spreadsheet_safe
    from watcher.presence.table import as_dict

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    first = True
    for rows in table.values():
        for row in rows:
            data = as_dict(row)
            best = data.pop("best_post")
            data["best_post"] = best["link"] if isinstance(best, dict) else None
            data["best_post_engagement"] = best["engagement"] if isinstance(best, dict) else None
            if first:
                writer.writerow(list(data))
                first = False
            writer.writerow([spreadsheet_safe("" if v is None else v) for v in data.values()])
    click.echo(buffer.getvalue(), nl=False)


def _print_text(table: dict[str, list[Row]], since: str, states: dict[str, dict[str, str]]) -> None:
    from watcher.presence.table import number

    click.echo(f"Presence over the last {since} (– where a figure is unknown):")
    heads = ("organisation", "followers", "change", "posts/week", "eng./post", "eng./1000 f.", "best post")
    for network, rows in table.items():
        click.echo(f"\n{network}")
        cells = [
            (
                line(("* " if r.role == "self" else "  ") + r.organisation),
                number(r.followers),
                number(r.change, sign=True),
                number(r.posts_per_week, 1),
                number(r.engagement_per_post, 1),
                number(r.engagement_per_1000, 1),
                line(r.best_post.link) if r.best_post else "–",
            )
            for r in rows
        ]
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
        for c in (heads, *cells):
            cells_line = "  ".join(_pad(v, w, i in (0, 6)) for i, (v, w) in enumerate(zip(c, widths, strict=True)))
            click.echo(cells_line.rstrip())
        for r in rows:
            error = (states.get(r.account) or {}).get("last_error")
            if error:
                click.echo(f"  ! {line(r.organisation)}: last snapshot failed: {line(error)}")


def _pad(text: str, width: int, left: bool) -> str:
    return text.ljust(width) if left else text.rjust(width)


@presence.command(context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per account, in an array.")
@click.pass_obj
def snapshot(env: Env, as_json: bool) -> None:
    """Read every account with a public API now and store today's figures and recent posts.

    A second snapshot the same day replaces the day's figures; an account that fails keeps
    its error and the others are stored. Exit 1 if every account failed.
    """
    from watcher.fetch import fetcher_for
    from watcher.presence.snapshot import AccountResult, run_snapshot

    config = _config(env, secrets=True)  # a website's Matomo token
    show = not as_json and sys.stderr.isatty()

    def progress(result: AccountResult) -> None:
        if show:
            click.echo(f"  {line(result.account)}: {result.status}", err=True)

    with env.store() as store, fetcher_for(config.settings) as fetcher:
        from watcher.errors import StoreError

        try:
            results = run_snapshot(config, store, fetcher, datetime.now(UTC), progress=progress)
        except StoreError as exc:
            fail(str(exc))
    if as_json:
        click.echo(json.dumps([r.__dict__ for r in results], ensure_ascii=False, indent=2))
    else:
        for r in results:
            if r.status == "ok":
                followers = "–" if r.followers is None else str(r.followers)
                click.echo(f"{line(r.account)}: {followers} followers, {r.posts_read} recent posts")
            else:
                click.echo(f"{line(r.account)}: error: {line(r.error)}")
        failed = sum(r.status == "error" for r in results)
        click.echo(f"{len(results)} accounts read, {failed} failed.")
    if results and all(r.status == "error" for r in results):
        sys.exit(1)


def _day(text: str | None) -> date:
    if text is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date: write it YYYY-MM-DD", param_hint="--date") from None


def _figure(config: Config, account: str, metric: str, value: str, day: date, origin: str) -> object:
    """A Figure, or a ValueError saying what is wrong with one of its parts."""
    from watcher.presence.accounts import find_account
    from watcher.presence.storage import METRICS, Figure

    found = find_account(config.presence, account)
    if found is None:
        names = ", ".join(a.key for o in config.presence for a in o.accounts)
        raise ValueError(f"no account {account!r} in `presence:` (write Organisation/network: {names})")
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r} (one of: {', '.join(METRICS)})")
    cleaned = value.strip().replace("\u202f", "").replace(" ", "")
    if not cleaned.isdigit() or int(cleaned) > MAX_VALUE:
        raise ValueError(f"value {value!r} is not a whole number of {metric} (0 to {MAX_VALUE:,})")
    if day > datetime.now(UTC).date() + timedelta(days=1):
        raise ValueError(f"date {day} is in the future")
    return Figure(found.key, day, metric, int(cleaned), origin)


@presence.command(context_settings=CONTEXT)
@click.argument("account")
@click.argument("metric")
@click.argument("value")
@click.option("--date", "day", help="The day the figure was read, YYYY-MM-DD [default: today].")
@click.pass_obj
def record(env: Env, account: str, metric: str, value: str, day: str | None) -> None:
    """Record one figure by hand: ACCOUNT (Organisation/network, e.g. "Sceaux smart/linkedin"),
    METRIC (followers, following, posts or visits) and VALUE. A figure of the same day replaces it."""
    from watcher.presence.storage import Figure
    from watcher.presence.storage import record as store_figures

    config = _config(env)
    try:
        figure = _figure(config, account, metric, value, _day(day), "hand")
    except ValueError as exc:
        fail(str(exc), code=2)
    assert isinstance(figure, Figure)
    with env.store() as store:
        store_figures(store, [figure])
    click.echo(f"{line(figure.account)}: {figure.metric} {figure.value} on {figure.day}.")


@presence.command("import", context_settings=CONTEXT)
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
def import_figures(env: Env, file: Path) -> None:
    """Record figures from a CSV file with the columns date,account,metric,value (a header line,
    then one figure a line; the date YYYY-MM-DD). Any bad line stores nothing and is named."""
    from watcher.presence.storage import Figure
    from watcher.presence.storage import record as store_figures

    config = _config(env)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        fail(f"{file}: file not found", code=2)
    except UnicodeDecodeError:
        fail(f"{file}: not UTF-8 text (save it as CSV UTF-8)", code=2)
    except OSError as exc:
        fail(f"{file}: cannot read: {exc.strerror}", code=2)
    sample = text[:2048]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    figures: list[Figure] = []
    header = ["date", "account", "metric", "value"]
    for number, cells in enumerate(reader, start=1):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        if number == 1 and [c.lower() for c in cells] == header:
            continue
        if len(cells) != 4:
            fail(f"{file}:{number}: {len(cells)} columns, expected 4: date,account,metric,value", code=2)
        try:
            day = date.fromisoformat(cells[0])
        except ValueError:
            fail(f"{file}:{number}: {cells[0]!r} is not a date: write it YYYY-MM-DD", code=2)
        try:
            figure = _figure(config, cells[1], cells[2], cells[3], day, "file")
        except ValueError as exc:
            fail(f"{file}:{number}: {exc}", code=2)
        assert isinstance(figure, Figure)
        figures.append(figure)
    if not figures:
        fail(f"{file}: no figure in it (columns: date,account,metric,value)", code=2)
    with env.store() as store:
        store_figures(store, figures)
    click.echo(f"{len(figures)} figures recorded from {file}.")
