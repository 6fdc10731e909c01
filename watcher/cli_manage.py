"""The community manager's commands: keywords, feeds, search, relay (triage), export and report.

Each command is a few lines over a library module (keywords_file, feeds_file, backfill,
triage, export, report, store); errors become one line and the contract's exit code through
`fail`. Heavy modules are imported inside the commands, so `watcher --help` stays fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from watcher.cli import CONTEXT, MAX_LIMIT, Env, fail, print_hits, since_option
from watcher.hints import command, hint
from watcher.terminal import line
from watcher.triage import STATES
from watcher.words import count

if TYPE_CHECKING:
    from watcher.types import Config, Query

# Query text holds words such as `-recrutement` that must not be read as options.
QUERY_CONTEXT: dict[str, Any] = {**CONTEXT, "ignore_unknown_options": True}
MAX_ID = 2**63 - 1  # SQLite's largest integer: a larger number is no hit's id


def register(main: click.Group) -> None:
    from watcher.cli_relevance import relevance, suggest

    keywords.add_command(suggest)
    for group in (keywords, feeds, search, relay, export, report, relevance):
        main.add_command(group)


@contextmanager
def progress(length: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr when it is a terminal (and the work is long enough to show one)."""
    if not sys.stderr.isatty() or length < 200:
        yield lambda _n: None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield bar.update


def config_errors(run: Callable[[], Any]) -> Any:
    """Run a library call; a ConfigError becomes one line and exit code 2, a file not written exit code 1."""
    from watcher.errors import ConfigError, FileWriteError

    try:
        return run()
    except ConfigError as exc:
        fail(str(exc), code=2)
    except FileWriteError as exc:
        fail(str(exc), code=1)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def source_weights(config: Config) -> dict[str, float]:
    return {f.name: f.weight for f in config.feeds}


# --- keywords ----------------------------------------------------------------------------------


@click.group(context_settings=CONTEXT)
def keywords() -> None:
    """List, add, remove and try the queries of keywords.txt.

    \b
    watcher keywords list
    watcher keywords test '"lieu de vie"'     (what it would have matched, writes nothing)
    watcher keywords add '"lieu de vie"' --group thèmes
    watcher keywords remove maker
    """


@keywords.command("list", context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@click.pass_obj
def keywords_list(env: Env, as_json: bool) -> None:
    """List the queries of keywords.txt, with their line, group and weight."""
    from watcher.keywords_file import read_queries

    queries = config_errors(lambda: read_queries(env.keywords))
    rows = [{"line": q.line, "query": q.text, "group": q.group, "weight": q.weight} for q in queries]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(hint(f"No query in {env.keywords}. Add one with `watcher keywords add WORDS`."))
        return
    for r in rows:
        weight = f"  ^{r['weight']:g}" if r["weight"] != 1 else ""
        group = f"  [{r['group']}]" if r["group"] else ""
        click.echo(f"{r['line']:>4}  {r['query']}{weight}{group}")
    click.echo(f"{len(rows)} queries in {env.keywords}.")


@keywords.command("add", context_settings=QUERY_CONTEXT)
@click.argument("query", nargs=-1, required=True)
@click.option("--group", help="Put it under this [group] of keywords.txt (created if new); default: no group.")
@click.option("--replace", "replace", metavar="QUERY", help="Replace this query by the new one, in its place.")
@click.option(
    "--since", default="30d", show_default=True, help="Match the items stored in this recent past against it."
)
@click.pass_obj
def keywords_add(env: Env, query: tuple[str, ...], group: str | None, replace: str | None, since: str) -> None:
    """Add QUERY to keywords.txt, then match the recently stored items against it.

    QUERY is written as in keywords.txt (quote it for the shell: '"lieu de vie"', 'coworking
    -recrutement', 'tiers-lieux ^2'). Without --group it belongs to no group. A query that does
    not parse, repeats one already there, or overlaps one (`coworking -recrutement` beside
    `coworking`: every hit would count twice) is refused and nothing is written (exit code 2);
    the message says how to replace the other one (--replace).
    """
    from watcher.keywords_file import add_query
    from watcher.relevance import catch_up

    start = since_option(since)
    env.config()  # both files must be valid before one is changed
    edit = config_errors(lambda: add_query(env.keywords, " ".join(query), group, replace))
    groups = {q.group for q in env.config().queries if q.group}
    if edit.group:
        where = f"line {edit.line}, group [{edit.group}]"
    elif groups:
        where = f"line {edit.line}, in no group: --group NAME puts a query in one"
    else:
        where = f"line {edit.line}"
    done = f"Replaced {replace!r} by {edit.query.text!r}" if replace else f"Added {edit.query.text!r}"
    click.echo(f"{done} in {env.keywords} ({where}).")
    if edit.warning:
        click.echo(f"Warning: {edit.warning}", err=True)
    config = env.config()
    added = [q for q in config.queries if q.line == edit.line]
    with env.store() as store:
        total = store.count("first_seen >= :since", {"since": _iso(start)}) if start else store.count()
        with progress(total, "Matching stored items") as bar:
            found, changed = catch_up(store, config, added, start, datetime.now(UTC), progress=bar)
    click.echo(f"It matches {found} of the {total} items stored in the last {since}; {changed} hits updated.")


@keywords.command("remove", context_settings=QUERY_CONTEXT)
@click.argument("query", nargs=-1, required=True)
@click.pass_obj
def keywords_remove(env: Env, query: tuple[str, ...]) -> None:
    """Remove QUERY from keywords.txt (as written, or the same after normalisation).

    Only that line goes; comments, blank lines and groups stay. Stored hits keep it in their history.
    """
    from watcher.keywords_file import remove_query

    edit = config_errors(lambda: remove_query(env.keywords, " ".join(query)))
    click.echo(f"Removed {edit.query.text!r} (was line {edit.line}) from {env.keywords}.")


@keywords.command("test", context_settings=QUERY_CONTEXT)
@click.argument("query", nargs=-1, required=True)
@click.option("--since", default="30d", show_default=True, help="Look at the items stored in this recent past.")
@click.option(
    "--limit", type=click.IntRange(1, MAX_LIMIT), default=20, show_default=True, help="Show at most this many."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array of what it matches.")
@click.pass_obj
def keywords_test(env: Env, query: tuple[str, ...], since: str, limit: int, as_json: bool) -> None:
    """Show what QUERY would have matched among the stored items; write nothing."""
    from watcher.backfill import find_matches
    from watcher.keywords_file import parse_new_query
    from watcher.query import same_query_key

    start = since_option(since)
    wanted = config_errors(lambda: parse_new_query(" ".join(query), env.keywords))
    config = env.config()
    same = [q for q in config.queries if same_query_key(q.tree) == same_query_key(wanted.tree)]
    if same and not as_json:
        click.echo(f"(keywords.txt already has it, line {same[0].line}: {same[0].text!r})", err=True)
    every: Sequence[Query] = [*config.queries] if same else [*config.queries, wanted]
    with env.store() as store:
        rows = store.items_since(start)
    with progress(len(rows), "Matching stored items") as bar:
        found = find_matches(rows, [wanted], every, source_weights(config), bar)
    found.sort(key=lambda f: (-f.score, f.row["published"]))
    from watcher.language import label, reads

    read = {f.name: f.languages for f in config.feeds}
    fr = config.settings.language.startswith("fr")

    def left_out(row: Mapping[str, Any]) -> str | None:
        """Why a stored item that the query matches is no hit: its language, read by none of its sources."""
        if any(reads(read.get(s), row["language"]) for s in row["sources"]):
            return None
        return label(row["language"], fr)

    if as_json:
        echo_json(
            [
                {
                    "id": f.row["id"],
                    "title": f.row["title"],
                    "url": f.row["url"],
                    "published": f.row["published"],
                    "sources": f.row["sources"],
                    "score": f.score,
                    "in_title": any(m.in_title for m in f.matches),
                    "already_hit": f.row["score"] > 0,
                    "left_out": left_out(f.row),
                }
                for f in found[:limit]
            ]
        )
        return
    from watcher.normalise import display_title

    for f in found[:limit]:
        where = "title" if any(m.in_title for m in f.matches) else "text"
        title = line(display_title(f.row["title"], f.row["text"]))
        why = left_out(f.row)
        note = f"  (left out: {why})" if why else ""
        click.echo(f"[{f.score:>3}] {f.row['published'][:10]}  {click.style(title, bold=True)}  (in the {where}){note}")
        click.echo(f"      {line(f.row['url'])}  ·  {', '.join(f.row['sources'])}")
    more = f" (showing {limit})" if len(found) > limit else ""
    click.echo(f"{wanted.text!r} matches {len(found)} of the {len(rows)} items stored in the last {since}{more}.")


# --- feeds -------------------------------------------------------------------------------------


@click.group(context_settings=CONTEXT)
def feeds() -> None:
    """List, add, remove and try the sources of feeds.yaml.

    \b
    watcher feeds list
    watcher feeds check https://example.org/feed   (fetch once, show what matches; stores nothing)
    watcher feeds add blog-x --url https://example.org/feed --tag competitor
    watcher feeds remove blog-x
    """


@feeds.command("list", context_settings=CONTEXT)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@click.pass_obj
def feeds_list(env: Env, as_json: bool) -> None:
    """List the sources of feeds.yaml with how their last poll went."""
    config = env.config()
    with env.store() as store:
        states = {row["name"]: row for row in store.source_rows()}
    rows = []
    for f in config.feeds:
        state = states.get(f.name, {})
        rows.append(
            {
                "name": f.name,
                "kind": f.kind,
                "url": f.url or f.base_url,
                "interval": f.interval,
                "weight": f.weight,
                "tags": list(f.tags),
                "enabled": f.enabled,
                "last_poll": state.get("last_poll"),
                "last_status": state.get("last_status"),
                "last_error": state.get("last_error"),
                "failures": state.get("failures", 0),
            }
        )
    if as_json:
        echo_json(rows)
        return
    width = max((len(r["name"]) for r in rows), default=0)
    for r in rows:
        status = "disabled" if not r["enabled"] else (r["last_status"] or "never polled")
        tags = f"  [{', '.join(r['tags'])}]" if r["tags"] else ""
        click.echo(f"{r['name']:<{width}}  {r['kind']:<11}  {status:<12}  {line(r['url'] or '')}{tags}")
        if r["last_error"]:
            click.echo(f"{'':<{width}}  last error: {line(r['last_error'])}")
    click.echo(f"{len(rows)} sources in {env.feeds}.")


@feeds.command("add", context_settings=CONTEXT)
@click.argument("name")
@click.option("--url", help="The feed's address (RSS, Atom, Google Alerts).")
@click.option(
    "--kind",
    type=click.Choice(["rss", "google_news", "mastodon", "bluesky", "reddit", "hackernews"]),
    help="The kind of source [default: rss with --url].",
)
@click.option("--interval", help="How often to poll it, e.g. 30m, 2h.")
@click.option("--weight", type=click.FloatRange(0), help="How much it counts in the score (default 1).")
@click.option("--tag", "tags", multiple=True, help="A tag, e.g. competitor or partner (repeatable).")
@click.option("--disabled", is_flag=True, help="Add it without polling it yet.")
@click.pass_obj
def feeds_add(
    env: Env,
    name: str,
    url: str | None,
    kind: str | None,
    interval: str | None,
    weight: float | None,
    tags: tuple[str, ...],
    disabled: bool,
) -> None:
    """Add the source NAME to feeds.yaml, after checking that the file stays valid (comments are kept)."""
    from watcher.feeds_file import add_feed

    entry: dict[str, Any] = {
        "name": name,
        "kind": kind or "rss",
        "url": url,
        "interval": interval,
        "weight": weight,
        "tags": list(tags) or None,
        "enabled": False if disabled else None,
    }
    spec = config_errors(lambda: add_feed(env.feeds, entry))
    click.echo(f"Added the source {spec.name!r} ({spec.kind}, every {_duration(spec.interval)}) to {env.feeds}.")
    click.echo(f"Try it now: {command('feeds', 'check', spec.name)}")


@feeds.command("remove", context_settings=CONTEXT)
@click.argument("name")
@click.pass_obj
def feeds_remove(env: Env, name: str) -> None:
    """Remove the source NAME from feeds.yaml (comments are kept; its stored hits stay)."""
    from watcher.feeds_file import remove_feed

    left = config_errors(lambda: remove_feed(env.feeds, name))
    click.echo(f"Removed the source {name!r} from {env.feeds}; {left} sources left.")


@feeds.command("check", context_settings=CONTEXT)
@click.argument("source")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def feeds_check(env: Env, source: str, as_json: bool) -> None:
    """Fetch SOURCE (a name in feeds.yaml, or a feed's URL) once and show what it holds and matches.

    Nothing is stored: the source's cursor, the hits and the database are left as they were.
    Exit code 1 when the source cannot be read.
    """
    from watcher.fetch import fetcher_for
    from watcher.language import label
    from watcher.match import compile_queries
    from watcher.normalise import display_title
    from watcher.poll import fetch_source
    from watcher.read import score_items
    from watcher.types import SourceSpec

    config = env.config(secrets=True)
    spec = config.feed(source)
    if spec is None:
        if not source.startswith(("http://", "https://")):
            fail(f"no source named {source!r} in {env.feeds}, and not a URL (see `watcher feeds list`)", code=2)
        spec = SourceSpec(name="check", kind="rss", url=source)
    settings = config.settings
    now = datetime.now(UTC)
    if sys.stderr.isatty() and not as_json:
        click.echo(f"Fetching {spec.url or spec.name}…", err=True)
    with fetcher_for(settings) as fetcher:
        result = fetch_source(spec, None, config, fetcher, now)
    scored = score_items(compile_queries(config.queries), result.items, spec.weight, now, spec.languages)
    fr = config.settings.language.startswith("fr")
    held = [h for h in scored if h.held_back]
    hits = sorted((h for h in scored if h.score > 0), key=lambda h: -h.score)
    if as_json:
        echo_json(
            {
                "name": spec.name,
                "status": result.status,
                "error": result.error,
                "items": len(result.items),
                "matches": [
                    {"title": h.item.title, "url": h.item.url, "score": h.score, "keywords": list(h.keywords)}
                    for h in hits
                ],
                "left_out": [
                    {
                        "title": h.item.title,
                        "url": h.item.url,
                        "keywords": [m.query.text for m in h.held_back],
                        "why": label(h.item.language, fr),
                    }
                    for h in held
                ],
            }
        )
    elif result.status == "error":
        click.echo(f"{spec.name}: error: {line(result.error)}")
    else:
        click.echo(f"{spec.name}: {result.status}, {len(result.items)} items, {len(hits)} match keywords.txt")
        for h in hits:
            title = line(display_title(h.item.title, h.item.text))
            click.echo(f"[{h.score:>3}] {click.style(title, bold=True)}  ({', '.join(h.keywords)})")
            click.echo(f"      {line(h.item.url)}")
        for h in held:
            title = line(display_title(h.item.title, h.item.text))
            keywords = ", ".join(m.query.text for m in h.held_back)
            click.echo(f"[ - ] {title}  ({keywords}): left out, {label(h.item.language, fr)}")
        unmatched = [h.item for h in scored if h.score == 0 and not h.held_back][:5]
        if unmatched:
            click.echo("Some items that match no query:")
            for item in unmatched:
                click.echo(f"      {line(display_title(item.title, item.text))}")
    if result.status == "error":
        sys.exit(1)


# --- search ------------------------------------------------------------------------------------


@click.command(context_settings=QUERY_CONTEXT)
@click.argument("text", nargs=-1, required=True)
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), default=20, show_default=True, help="At most this many.")
@click.option("--all-items", is_flag=True, help="Search every stored item, not only the hits.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@click.option("--explain", is_flag=True, help="Say in words why each hit scored what it did.")
@click.pass_obj
def search(env: Env, text: tuple[str, ...], limit: int, all_items: bool, as_json: bool, explain: bool) -> None:
    """Full-text search of the stored hits (titles and texts), best match first.

    Case and accents do not count (equilibre finds Équilibre). Plain words must all occur;
    SQLite FTS5 syntax is understood too: "a phrase", word*, OR, NOT, NEAR(a b).
    """
    from watcher.errors import SearchSyntaxError
    from watcher.store import fts_query

    words = " ".join(text)
    with env.store() as store:
        try:
            rows = store.search(fts_query(words), limit=limit, hits_only=not all_items)
        except SearchSyntaxError as exc:
            fail(f'cannot search for {words!r}: {exc} (quote a phrase "like this", or drop the operators)', 2)
    if as_json:
        for row in rows:
            row.pop("text", None)
        echo_json(rows)
    elif not rows:
        click.echo(f"Nothing stored matches {words!r}.")
    else:
        print_hits(rows, explain)


# --- relay (triage) ------------------------------------------------------------------------------


def hit_ids(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[int]:
    """Hit ids as people type them: `12 13`, `12,13`, `#12`."""
    ids = []
    for part in " ".join(values).replace(",", " ").split():
        try:
            number = int(part.lstrip("#"))
        except ValueError:
            number = -1
        if not 0 < number <= MAX_ID:
            raise click.BadParameter(f"{part!r} is not a hit id (the number after # in `watcher hits`)")
        ids.append(number)
    return ids


@click.group(context_settings=CONTEXT)
def relay() -> None:
    """Triage the hits: pick what to relay, skip the rest, mark what was posted.

    \b
    A hit goes new -> picked -> exported -> relayed, or is skipped:
    watcher relay pick 12 15 18     (ids from `watcher hits`)
    watcher relay skip 13           (relevant, but not to relay)
    watcher relay skip --noise 14   (not relevant: it teaches the score)
    watcher export --out relay.csv  (the picked hits, for Hootsuite)
    watcher relay done 12 15        (once posted)
    watcher relay undo 14           (one step back)
    watcher relay list
    """


def _report_triage(outcome: Any, done_word: str, target: str) -> None:
    """The lines of a triage command: what moved, what was already so, what was refused and why."""
    moved = [i for i, _ in outcome.moved]
    if moved:
        click.echo(
            f"{done_word} {len(moved)} hit{'s' if len(moved) != 1 else ''}: {', '.join(f'#{i}' for i in moved)}."
        )
    for hit_id in outcome.already:
        click.echo(f"#{hit_id}: already {target}.")
    for hit_id, why in outcome.refused:
        click.echo(f"#{hit_id}: not {target}: {why}.", err=True)
    for hit_id in outcome.unknown:
        click.echo(hint(f"#{hit_id}: no such hit (see `watcher hits` for the ids)."), err=True)


def _triage(env: Env, flat: list[int], target: str, done_word: str) -> None:
    from watcher import triage

    with env.store() as store:
        outcome = triage.move(store, flat, target, datetime.now(UTC))
    _report_triage(outcome, done_word, target)
    if not outcome.ok:
        sys.exit(1)


@relay.command("pick", context_settings=CONTEXT)
@click.argument("ids", nargs=-1, required=True, callback=hit_ids)
@click.pass_obj
def relay_pick(env: Env, ids: list[int]) -> None:
    """Pick the hits IDS for relay (new, skipped or noise-marked ones)."""
    _triage(env, ids, "picked", "Picked")


@relay.command("skip", context_settings=CONTEXT)
@click.argument("ids", nargs=-1, required=True, callback=hit_ids)
@click.option("--noise", is_flag=True, help="Not relevant: out of the digest at once, and the score learns from it.")
@click.pass_obj
def relay_skip(env: Env, ids: list[int], noise: bool) -> None:
    """Skip the hits IDS: relevant but not to be relayed; with --noise, not relevant at all.

    A plain skip teaches the score nothing. A noise mark takes the hit out of the digest at
    once, and hits like it (words, source, site, author) score lower once there are enough marks.
    """
    if noise:
        _triage(env, ids, "noise", "Marked as noise")
    else:
        _triage(env, ids, "skipped", "Skipped")


@relay.command("done", context_settings=CONTEXT)
@click.argument("ids", nargs=-1, required=True, callback=hit_ids)
@click.pass_obj
def relay_done(env: Env, ids: list[int]) -> None:
    """Mark the hits IDS as relayed (posted), once picked or exported."""
    _triage(env, ids, "relayed", "Marked as relayed")


@relay.command("undo", context_settings=CONTEXT)
@click.argument("ids", nargs=-1, required=True, callback=hit_ids)
@click.pass_obj
def relay_undo(env: Env, ids: list[int]) -> None:
    """Take the hits IDS back one step: exported -> picked; picked, skipped or noise -> new;
    relayed -> exported (or picked). The history keeps both moves."""
    from watcher import triage

    with env.store() as store:
        outcome = triage.undo(store, ids, datetime.now(UTC))
    for hit_id, state in outcome.moved:
        click.echo(f"#{hit_id}: back to {state}.")
    for hit_id in outcome.already:
        click.echo(f"#{hit_id}: new, nothing to undo.")
    for hit_id, why in outcome.refused:
        click.echo(f"#{hit_id}: not undone: {why}.", err=True)
    for hit_id in outcome.unknown:
        click.echo(hint(f"#{hit_id}: no such hit (see `watcher hits` for the ids)."), err=True)
    if not outcome.ok:
        sys.exit(1)


@relay.command("list", context_settings=CONTEXT)
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(STATES),
    help="Only this state (repeatable) [default: picked and exported].",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array.")
@click.pass_obj
def relay_list(env: Env, states: tuple[str, ...], as_json: bool) -> None:
    """List the hits on their way to relay: picked and exported ones."""
    with env.store() as store:
        rows = store.hits(states=states or ("picked", "exported"))
    if as_json:
        for row in rows:
            row.pop("text", None)
        echo_json(rows)
    elif not rows:
        click.echo(hint("No hit picked yet: pick some with `watcher relay pick ID`."))
    else:
        print_hits(rows, explain=False)


# --- export ----------------------------------------------------------------------------------------


@click.command(context_settings=CONTEXT)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["hootsuite", "csv", "json"]),
    default="hootsuite",
    show_default=True,
    help="hootsuite: the bulk scheduler's CSV (date, message, link); csv or json: every field.",
)
@click.option("--state", type=click.Choice(STATES), default="picked", show_default=True, help="Which hits.")
@click.option("--since", help="Only hits found in this recent past, e.g. 7d.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write to this file (default: stdout).")
@click.option("--again", is_flag=True, help="Also export the picked hits that were already exported.")
@click.option("--dry-run", is_flag=True, help="Show what would be exported; mark nothing.")
@click.pass_obj
def export(env: Env, fmt: str, state: str, since: str | None, out: Path | None, again: bool, dry_run: bool) -> None:
    """Export hits: the picked ones for relay (marked exported), or any of them to look at.

    Only the relay file (the Hootsuite format, of the picked hits) marks its hits exported, and
    not with --dry-run; CSV and JSON exports, and exports of any other --state, change nothing.
    Hits whose authors asked not to be reused are never exported. The Hootsuite file has no
    header and at most 350 rows (more go to FILE-2.csv, ...); the posting times follow
    `settings: export:` in feeds.yaml (hours, gap, network). Exported hits are not exported
    again unless --again.
    """
    from watcher import export as ex
    from watcher import triage
    from watcher.config import parse_duration, setting_error

    start = since_option(since)
    config = env.config()
    relay_file = fmt == "hootsuite" and state == "picked"
    states = [state, "exported"] if again and state == "picked" else [state]
    now = datetime.now(UTC)
    with env.store() as store:
        hits = store.hits(states=states, since=start)
        held_back = sum(1 for h in hits if h["no_reuse"])
        allowed = [h for h in hits if not h["no_reuse"]]
        duplicates = 0
        if fmt == "hootsuite":
            try:
                settings = ex.export_settings(
                    config.settings.extra.get("export"), config.settings.timezone, parse_duration
                )
            except ValueError as exc:
                fail(str(setting_error(env.feeds, config.settings, str(exc))), code=2)
            plan = ex.plan_hootsuite(allowed, now, settings)
            texts, ids, duplicates = ex.render_hootsuite(plan.rows), list(plan.ids), plan.duplicates
        else:
            texts = [ex.render_csv(allowed) if fmt == "csv" else ex.render_json(allowed) + "\n"]
            ids = [int(h["id"]) for h in allowed]
        if not ids:
            what = f"{state} hit" + (" found in the last " + since if since else "")
            click.echo(f"Nothing to export: no {what}" + (f" ({held_back} held back)." if held_back else "."), err=True)
            return
        written = _write_exports(texts, out)
        marked = triage.mark_exported(store, ids, now, again=again) if relay_file and not dry_run else []
    notes = []
    if held_back:
        notes.append(f"{held_back} held back: their authors asked not to be reused")
    if duplicates:
        notes.append(f"{duplicates} left out: the same message as another")
    where = ", ".join(str(p) for p in written) or "stdout"
    if dry_run:
        said = " (dry run: nothing marked)"
    elif marked:
        said = f"; {len(marked)} marked exported"
    else:
        said = " (to look at: nothing marked)"
    click.echo(f"Exported {len(ids)} hits to {where}{said}" + (f"; {'; '.join(notes)}." if notes else "."), err=True)


def _write_exports(texts: Sequence[str], out: Path | None) -> list[Path]:
    if out is None:
        if len(texts) > 1:
            fail("more than 350 rows: give --out FILE to write them to several files", code=2)
        click.echo(texts[0], nl=False)
        return []
    paths = (
        [out] if len(texts) == 1 else [out.with_name(f"{out.stem}-{i}{out.suffix}") for i in range(1, len(texts) + 1)]
    )
    from watcher.redact import redact

    try:
        for path, text in zip(paths, texts, strict=True):
            path.write_text(redact(text), encoding="utf-8", newline="")
    except OSError as exc:
        fail(f"cannot write {exc.filename}: {exc.strerror}")
    return paths


# --- report ----------------------------------------------------------------------------------------


@click.command(context_settings=CONTEXT)
@click.option("--quarter", help="A calendar quarter, e.g. 2026Q3 [default: the current one].")
@click.option("--since", help="Instead of a quarter, this recent past, e.g. 90d.")
@click.option(
    "--out", type=click.Path(path_type=Path, file_okay=False), help="Folder to write to [default: report-PERIOD]."
)
@click.option("--json", "as_json", is_flag=True, help="Also print the figures as one JSON object.")
@click.pass_obj
def report(env: Env, quarter: str | None, since: str | None, out: Path | None, as_json: bool) -> None:
    """Write the report of a period: report.html, report.md and the chart they show.

    Of the hits published in the period: where their triage stands (figures that add up), the
    best stories and the ones relayed, hits per query per week, top publishers and sources,
    share of voice of the keyword groups and of the sources tagged `competitor`, and how each
    source fared. Labels follow settings.language.
    """
    from watcher import report as rp

    if quarter and since:
        raise click.UsageError("choose one of --quarter and --since")
    now = datetime.now(UTC)
    config = env.config()
    language = config.settings.language
    if since:
        start = since_option(since)
        assert start is not None
        # stored times have whole seconds: the end is the next second, so what was published just now counts
        end = now.replace(microsecond=0) + timedelta(seconds=1)
        days = max(1, round((end - start).total_seconds() / 86400))
        label, title = f"last-{since}", rp.report_title(language, since_days=days)
    else:
        label = (quarter or rp.current_quarter(now)).upper().replace("-", "")
        try:
            start, end = rp.quarter_bounds(label)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--quarter") from None
        title = rp.report_title(language, label)
    with env.store() as store:
        data = rp.collect(store, config, start, end, title, now)
    folder = out or Path(f"report-{label}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        from watcher.redact import redact

        (folder / rp.CHART_FILE).write_text(redact(rp.weekly_chart(data)), encoding="utf-8")
        (folder / "report.html").write_text(redact(rp.render_html(data)), encoding="utf-8")
        (folder / "report.md").write_text(redact(rp.render_markdown(data)), encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write the report to {folder}: {exc.strerror}")
    if as_json:
        echo_json(
            {
                "start": _iso(start),
                "end": _iso(end),
                "hits": data.total_hits,
                "per_query": {q: sum(v) for q, v in data.series.items()},
                "groups": {s.name: s.hits for s in data.groups},
                "competitors": {s.name: s.hits for s in data.competitors},
                "triage": dict(data.triage),  # moves made in the period
                "states": dict(data.states),  # the period's hits by their triage state now (they add up)
                "best": [story.id for story in data.best],
                "relayed": [story.id for story in data.relayed],
                "files": [str(folder / n) for n in ("report.html", "report.md", rp.CHART_FILE)],
            }
        )
    else:
        click.echo(f"{count(data.total_hits, 'hit')} published from {rp.period_text('en', start, end)}.")
        click.echo(f"Wrote {folder / 'report.html'} (and report.md, {rp.CHART_FILE}).")


def _iso(moment: datetime | None) -> str:
    from watcher.store import iso

    return iso(moment) if moment else ""


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
