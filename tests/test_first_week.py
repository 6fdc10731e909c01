"""The first week of a community manager: what a new feed, the digest, the mail and the alerts
show, through the command line on real SQLite files, a loopback feed server and a loopback SMTP
server."""

from __future__ import annotations

import email
import email.header
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from tests.feedgen import NOW, Entry, rss
from tests.loopback import LoopbackServer, Response
from tests.test_cli import write_config
from tests.test_notify import Hook, Mailbox, json_url
from tests.test_notify import smtp as smtp  # the loopback SMTP server fixture
from watcher import digest as dg
from watcher import notify
from watcher.cli import main
from watcher.config import load_config
from watcher.sources.rss import parse_fast, parse_feed, parse_reference
from watcher.store import Store

PARIS = ZoneInfo("Europe/Paris")
YEARS_AGO_13 = 13 * 365.25 * 24  # hours
LONG_LINK = "https://news.example/2026/12/07/" + "un-tres-long-chemin-d-article-sur-le-coworking-" * 4 + "fin.html"


def run(args: list[str], *command: str, env: dict[str, str] | None = None, code: int = 0) -> str:
    result = CliRunner().invoke(main, [*args, *command], env=env)
    assert result.exit_code == code, result.output
    return result.output


def serve(server: LoopbackServer, path: str, body: bytes) -> str:
    server.route(path, Response(200, {"Content-Type": "application/rss+xml"}, body))
    return server.url(path)


def config_with(folder: Path, server: LoopbackServer, entries: list[Entry], settings: str = "") -> list[str]:
    url = serve(server, "/feed", rss(entries, title="Le Journal des Tiers-Lieux"))
    feeds = f"settings:\n  language: fr\n  timezone: Europe/Paris\n{settings}feeds:\n  - name: journal\n"
    return write_config(folder, feeds + f"    kind: rss\n    url: {url}\n", "coworking\ntiers-lieux\n")


ARCHIVE = [
    Entry("Un coworking ouvre à Sceaux", "https://news.example/today", body="Ouvert ce matin.", hours_ago=2),
    Entry("Le coworking en 2012", "https://news.example/2012", body="Il y a longtemps.", hours_ago=YEARS_AGO_13),
    Entry("Tiers-lieux : bilan 2013", "https://news.example/2013", body="Un bilan.", hours_ago=YEARS_AGO_13 - 9000),
]


@pytest.fixture
def archive_db(server: LoopbackServer, tmp_path: Path) -> list[str]:
    args = config_with(tmp_path, server, ARCHIVE)
    run(args, "poll", "--all")
    return args


# --- 2. old posts are not news ------------------------------------------------------------------


def test_a_new_feeds_archive_is_stored_and_searchable_but_left_out_of_the_digest_and_counted(
    archive_db: list[str],
) -> None:
    stored = {h["url"]: h for h in json.loads(run(archive_db, "hits", "--json"))}
    assert set(stored) == {"https://news.example/today", "https://news.example/2012", "https://news.example/2013"}
    assert "Le coworking en 2012" in run(archive_db, "search", "2012")
    text = run(archive_db, "digest", "--preview")
    assert "Un coworking ouvre à Sceaux" in text
    assert "2012" not in text and "bilan 2013" not in text
    assert "2 articles plus anciens trouvés dans les archives des sources" in text
    assert "1 résultat\n" in text  # the headline count is the news only


def test_an_archive_post_scores_below_todays_post_on_the_same_query(archive_db: list[str]) -> None:
    stored = {h["url"]: h for h in json.loads(run(archive_db, "hits", "--json"))}
    today, old = stored["https://news.example/today"], stored["https://news.example/2012"]
    assert old["score_breakdown"]["freshness"] == -20 and today["score_breakdown"]["freshness"] == 20
    assert old["score"] == today["score"] - 40


def test_an_archive_post_is_never_alerted_even_above_the_alert_score(
    server: LoopbackServer, tmp_path: Path
) -> None:
    hook = Hook()
    server.route("/hook", hook)
    args = config_with(tmp_path, server, ARCHIVE, "  alerts: {min_score: 1}\n")
    run(args, "poll", "--all")
    config = load_config(tmp_path / "feeds.yaml", tmp_path / "keywords.txt")
    with Store(tmp_path / "watch.db") as store:
        ids = [h["id"] for h in store.hits()]
        targets = notify.load_targets(config, env={"WATCHER_NOTIFY": json_url(server, "/hook")})
        report = notify.send_alerts(store, config, ids, datetime.now(UTC), targets)
    assert [b["title"] for b in hook.bodies] == ["Un coworking ouvre à Sceaux"]
    assert len(report.sent) == 1


YEARS_AGO_3 = 3 * 365.25 * 24  # hours
RECENT_ARCHIVE = [
    ARCHIVE[0],
    Entry("Le coworking il y a trois ans", "https://news.example/old", body="Avant.", hours_ago=YEARS_AGO_3),
]


def test_max_age_in_the_settings_lets_older_posts_count_as_news(server: LoopbackServer, tmp_path: Path) -> None:
    args = config_with(tmp_path, server, RECENT_ARCHIVE, "  digest: {max_age: 3650d}\n")
    run(args, "poll", "--all")
    text = run(args, "digest", "--preview")
    assert "Le coworking il y a trois ans" in text and "archives" not in text


def test_a_date_shows_its_year_whenever_it_is_not_the_current_one() -> None:
    this_year = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    assert dg.local_date(this_year, "fr", PARIS, current_year=2026) == "lun. 7 déc. 10:30"
    assert dg.local_date(datetime(2012, 3, 5, 9, tzinfo=UTC), "fr", PARIS, current_year=2026) == (
        "lun. 5 mars 2012 10:00"
    )
    assert dg.local_date(datetime(2012, 3, 5, 9, tzinfo=UTC), "en", PARIS, False, 2026) == "Mon 5 Mar 2012"


def test_an_archive_posts_date_in_the_digest_carries_its_year(server: LoopbackServer, tmp_path: Path) -> None:
    args = config_with(tmp_path, server, RECENT_ARCHIVE, "  digest: {max_age: 3650d}\n")
    run(args, "poll", "--all")
    text = run(args, "digest", "--preview")
    old = datetime.now(UTC) - timedelta(hours=YEARS_AGO_3)
    assert f" {old.astimezone(PARIS).year} " in text
    today_line = next(line for line in text.splitlines() if "score" in line and "#1 " in line)
    assert str(NOW.astimezone(PARIS).year) not in today_line


# --- 3. the outlet is named ---------------------------------------------------------------------

SOURCED = b"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>
<title>Revue de presse</title><link>https://revue.example/</link><description>d</description>
<item><title>Un coworking rural</title><link>https://revue.example/a</link>
<source url="https://ouest.example/rss">Ouest Quotidien</source>
<pubDate>Mon, 07 Dec 2026 08:00:00 GMT</pubDate></item>
<item><title>Le coworking en ville</title><link>https://revue.example/b</link>
<pubDate>Mon, 07 Dec 2026 09:00:00 GMT</pubDate></item>
</channel></rss>"""

UNTITLED = b"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>
<link>https://www.blog.example/</link><description>d</description>
<item><title>Mon coworking</title><link>https://www.blog.example/post</link>
<pubDate>Mon, 07 Dec 2026 08:00:00 GMT</pubDate></item></channel></rss>"""



def test_an_rss_item_is_credited_to_its_source_else_the_feeds_title_else_the_sites_domain() -> None:
    items, _ = parse_feed(SOURCED, {}, "https://revue.example/rss")
    assert [i.publisher for i in items] == ["Ouest Quotidien", "Revue de presse"]
    untitled, _ = parse_feed(UNTITLED, {}, "https://www.blog.example/rss")
    assert [i.publisher for i in untitled] == ["blog.example"]


def test_both_feed_parsers_credit_the_same_outlet() -> None:
    fast = parse_fast(UNTITLED, {})
    assert fast is not None
    assert [i.publisher for i in fast[0]] == [i.publisher for i in parse_reference(UNTITLED, {}, "https://x/")[0]]
    assert parse_fast(SOURCED, {}) is None  # an entry naming its source is feedparser's to read


def test_a_google_alerts_item_is_credited_to_the_linked_site_not_to_the_alert() -> None:
    body = (Path(__file__).parent / "data" / "feeds" / "google_alerts.xml").read_bytes()
    items, _ = parse_feed(body, {}, "https://www.google.com/alerts/feeds/1/2")
    assert items and all(i.publisher and "Google" not in i.publisher for i in items), [i.publisher for i in items]
    assert all("." in (i.publisher or "") for i in items)


def test_the_digest_and_the_hootsuite_drafts_name_the_outlet(server: LoopbackServer, tmp_path: Path) -> None:
    url = serve(server, "/revue", SOURCED.replace(b"07 Dec 2026", NOW.strftime("%d %b %Y").encode()))
    args = write_config(
        tmp_path, f"settings:\n  language: fr\nfeeds:\n  - name: revue\n    kind: rss\n    url: {url}\n", "coworking\n"
    )
    run(args, "poll", "--all")
    text = run(args, "digest", "--preview")
    assert "Ouest Quotidien" in text and "Revue de presse" in text
    ids = [str(h["id"]) for h in json.loads(run(args, "hits", "--json"))]
    run(args, "relay", "pick", *ids)
    drafts = run(args, "export", "--dry-run")
    assert "(via Ouest Quotidien)" in drafts and "(via Revue de presse)" in drafts


# --- 7. the e-mail --------------------------------------------------------------------------------


def mail_parts(message: Message) -> dict[str, str]:
    return {p.get_content_type(): p.get_payload(decode=True).decode() for p in message.walk() if not p.is_multipart()}


def smtp_url(port: int) -> str:
    return f"mailto://127.0.0.1:{port}?from=veille@example.org&to=cm@example.org&mode=insecure"


@pytest.fixture
def mailed(server: LoopbackServer, tmp_path: Path, smtp: tuple[Mailbox, int]) -> Iterator[tuple[list[str], Message]]:
    box, port = smtp
    entries = [
        Entry("Un coworking ouvre à Sceaux", LONG_LINK, body="Ouvert ce matin.", hours_ago=2),
        Entry("Tiers-lieux en fête", "https://news.example/fete", body="La fête.", hours_ago=3),
        Entry(
            "Le coworking des champs ouvre ses portes aux habitants du village",
            "https://news.example/champs",
            body="Un nouvel espace de travail partagé à la campagne.",
            hours_ago=4,
        ),
    ]
    args = config_with(tmp_path, server, entries, "  digest: {max_items: 2}\n")
    run(args, "poll", "--all")
    out = run(args, "digest", "--send", env={"WATCHER_NOTIFY": smtp_url(port)})
    assert ": sent (3 hits)" in out, out
    [message] = box.messages
    yield args, message


def test_the_mails_text_part_is_watchers_own_text_digest_with_whole_links(
    mailed: tuple[list[str], Message],
) -> None:
    _, message = mailed
    parts = mail_parts(message)
    assert set(parts) == {"text/plain", "text/html"}
    text = parts["text/plain"].replace("\r\n", "\n")
    assert text.startswith("Veille du ") and "\n## coworking (" in text
    assert LONG_LINK in text and LONG_LINK in parts["text/html"]
    summary = text.split("En bref", 1)[1].split("##", 1)[0]
    assert any(line.split()[:2] == ["coworking", "2"] for line in summary.splitlines()), summary


def test_no_digest_shows_a_shell_command_and_says_how_many_more_there_are(
    mailed: tuple[list[str], Message],
) -> None:
    args, message = mailed
    parts = mail_parts(message)
    for body in [*parts.values(), run(args, "digest", "--preview", "--format", "markdown")]:
        assert "watcher " not in body.replace("Envoyé par watcher", "") and "`" not in body
    assert "… et 1 autre résultat de moindre score, non repris ici." in parts["text/plain"]


def test_each_story_in_the_mail_shows_its_id_for_relay_pick(mailed: tuple[list[str], Message]) -> None:
    args, message = mailed
    hits = json.loads(run(args, "hits", "--json"))
    best = sorted(hits, key=lambda h: -h["score"])[:2]
    for part in mail_parts(message).values():
        for h in best:
            assert f"#{h['id']} · " in part


def test_the_more_line_links_to_the_web_page_once_one_is_configured() -> None:
    d = dg.Digest(
        start=NOW - timedelta(days=7), end=NOW, language="en", tz=PARIS, total=40, groups=(), omitted=10,
        more_url="https://veille.example/hits",
    )  # fmt: skip
    assert '<a href="https://veille.example/hits"' in dg.render_html(d)
    assert "All the hits: https://veille.example/hits" in dg.render_text(d)


# --- 8. alerts ------------------------------------------------------------------------------------


def test_an_alert_mail_is_titled_by_its_story_and_carries_the_text_of_the_alert(
    server: LoopbackServer, tmp_path: Path, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    args = config_with(tmp_path, server, ARCHIVE[:1], "  alerts: {min_score: 1}\n")
    run(args, "poll", "--all")
    config = load_config(tmp_path / "feeds.yaml", tmp_path / "keywords.txt")
    with Store(tmp_path / "watch.db") as store:
        ids = [h["id"] for h in store.hits()]
        targets = notify.load_targets(config, env={"WATCHER_NOTIFY": smtp_url(port)})
        report = notify.send_alerts(store, config, ids, datetime.now(UTC), targets)
    [message] = box.messages
    subject = str(email.header.make_header(email.header.decode_header(message["Subject"])))
    assert subject == "Un coworking ouvre à Sceaux"
    assert "https://news.example/today" in mail_parts(message)["text/plain"]
    line = notify.describe_alerts(report)
    assert line == f"alert for hit #{ids[0]} sent to {targets[0].label}" and "AlertReport" not in line


def test_alert_and_digest_log_lines_are_sentences() -> None:
    report = notify.AlertReport(sent=((49, "E-Mail [0f0d04ad]"), (49, "JSON [1a2b3c4d]")), held=(50,))
    assert notify.describe_alerts(report) == (
        "alert for hit #49 sent to E-Mail [0f0d04ad], JSON [1a2b3c4d]; "
        "1 alert held back by the hourly limit (#50): in the digest"
    )
    digest = notify.DigestReport(
        1, None, (notify.Delivery(1, "E-Mail [0f0d04ad]", "sent", 1),), (), datetime(2026, 12, 14, tzinfo=UTC)
    )
    assert notify.describe_report(digest) == "digest 1 recorded; digest 1 sent to E-Mail [0f0d04ad] (1 hit)"



# --- 5. keyword hygiene ---------------------------------------------------------------------------

GROUPED = "# veille\ncoworking ^2\n\n[thèmes]\ntiers-lieux\n\n[concurrents]\nacme\n"


def test_adding_a_query_another_covers_is_refused_with_the_replacement_to_type(tmp_path: Path) -> None:
    args = write_config(tmp_path, "feeds:\n  - name: a\n    kind: rss\n    url: https://example.org/f\n", GROUPED)
    refused = CliRunner().invoke(main, [*args, "keywords", "add", "coworking -recrutement"])
    assert refused.exit_code == 2
    assert "replace 'coworking' by 'coworking -recrutement'? add it with --replace coworking" in refused.output
    assert (tmp_path / "keywords.txt").read_text() == GROUPED
    broader = CliRunner().invoke(main, [*args, "keywords", "add", "tiers-lieux OR fablab", "--group", "thèmes"])
    assert broader.exit_code == 2 and "would match everything 'tiers-lieux' matches" in broader.output
    assert (tmp_path / "keywords.txt").read_text() == GROUPED


def test_overlapping_a_query_of_another_group_is_written_with_a_warning(tmp_path: Path) -> None:
    args = write_config(tmp_path, "feeds:\n  - name: a\n    kind: rss\n    url: https://example.org/f\n", GROUPED)
    result = CliRunner().invoke(main, [*args, "keywords", "add", "acme -recrute", "--group", "rh"])
    assert result.exit_code == 0 and "Warning: " in result.output and "--replace acme" in result.output
    assert (tmp_path / "keywords.txt").read_text().endswith("[rh]\nacme -recrute\n")


def test_replace_puts_the_narrower_query_in_the_others_place_with_its_weight(tmp_path: Path) -> None:
    args = write_config(tmp_path, "feeds:\n  - name: a\n    kind: rss\n    url: https://example.org/f\n", GROUPED)
    out = run(args, "keywords", "add", "coworking -recrutement", "--replace", "coworking")
    assert "Replaced 'coworking' by 'coworking -recrutement'" in out
    assert (tmp_path / "keywords.txt").read_text() == GROUPED.replace("coworking ^2", "coworking -recrutement ^2")


def test_a_query_added_without_group_joins_no_group_and_says_so(tmp_path: Path) -> None:
    args = write_config(tmp_path, "feeds:\n  - name: a\n    kind: rss\n    url: https://example.org/f\n", GROUPED)
    out = run(args, "keywords", "add", "fablab")
    assert "in no group" in out
    listed = {q["query"]: q["group"] for q in json.loads(run(args, "keywords", "list", "--json"))}
    assert listed["fablab"] is None and listed["acme"] == "concurrents"
    only_groups = "[thèmes]\ntiers-lieux\n"
    write_config(tmp_path, "feeds:\n  - name: a\n    kind: rss\n    url: https://example.org/f\n", only_groups)
    run(args, "keywords", "add", "fablab")
    assert (tmp_path / "keywords.txt").read_text() == "fablab\n\n[thèmes]\ntiers-lieux\n"


def test_a_removed_query_leaves_the_digest_summary_and_the_report(archive_db: list[str], tmp_path: Path) -> None:
    assert "tiers-lieux" in run(archive_db, "digest", "--preview").split("##")[0]
    run(archive_db, "keywords", "remove", "tiers-lieux")
    assert "tiers-lieux" not in run(archive_db, "digest", "--preview").split("##")[0]
    run(archive_db, "report", "--since", "30d", "--out", str(tmp_path / "r"))
    assert "tiers-lieux" not in (tmp_path / "r" / "report.md").read_text().split("## ", 2)[1]


# --- 6. hints that paste ----------------------------------------------------------------------------


def installed_watcher(cwd: Path, env: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    """The `watcher` script of the virtual environment, run as a user runs it after the quick start."""
    script = Path(sys.executable).parent / "watcher"
    return subprocess.run([str(script), *command], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def test_hints_write_the_command_as_it_must_be_typed_and_quote_a_name_with_a_space(
    server: LoopbackServer, tmp_path: Path
) -> None:
    url = serve(server, "/blog", rss([Entry("Un coworking", "https://blog.example/a")]))
    (tmp_path / "feeds.yaml").write_text("feeds: []\n")
    (tmp_path / "keywords.txt").write_text("coworking\n")
    venv = Path(sys.executable).parent.parent
    env = {
        "PATH": "/usr/bin:/bin",  # the quick start leaves .venv/bin off the PATH
        "HOME": str(tmp_path),
        "WATCHER_FEEDS": str(tmp_path / "feeds.yaml"),
        "WATCHER_KEYWORDS": str(tmp_path / "keywords.txt"),
        "WATCHER_DB": str(tmp_path / "watch.db"),
    }
    added = installed_watcher(venv.parent, env, "feeds", "add", "Mon Blog", "--url", url)
    assert added.returncode == 0, added.stderr
    hint = added.stdout.split("Try it now: ", 1)[1].strip()
    assert hint == f"{venv.name}/bin/watcher feeds check 'Mon Blog'"
    pasted = subprocess.run(["sh", "-c", hint], capture_output=True, text=True, cwd=venv.parent, env=env, timeout=120)
    assert pasted.returncode == 0 and "1 match" in pasted.stdout, pasted.stdout + pasted.stderr
    on_path = {**env, "PATH": f"{venv / 'bin'}:/usr/bin:/bin"}
    empty = installed_watcher(tmp_path, on_path, "hits")
    assert "Run `watcher poll --all`" in empty.stdout


# --- 10. smaller things ---------------------------------------------------------------------------


def test_check_says_nothing_is_ok_before_everything_is_and_refuses_a_watch_of_no_source(tmp_path: Path) -> None:
    disabled = "feeds:\n  - name: a\n    kind: rss\n    url: https://e.org/f\n    enabled: false\n"
    args = write_config(tmp_path, disabled, "x\n")
    result = CliRunner().invoke(main, [*args, "check"])
    assert result.exit_code == 2 and "OK" not in result.output and "no enabled source" in result.output
    bad = "settings:\n  digest: {every: hourly}\nfeeds:\n  - name: a\n    kind: rss\n    url: https://e.org/f\n"
    write_config(tmp_path, bad, "x\n")
    result = CliRunner().invoke(main, [*args, "check"])
    assert result.exit_code == 2 and "OK" not in result.output and "settings.digest.every" in result.output


def test_the_first_digest_is_titled_by_the_week_it_covers(archive_db: list[str]) -> None:
    text = run(archive_db, "digest", "--preview")
    now = datetime.now(UTC)
    assert text.splitlines()[0] == "Veille " + dg.window_text("fr", PARIS, now - timedelta(days=7), now)


def test_a_preview_just_after_a_send_calls_no_source_silent(server: LoopbackServer, tmp_path: Path) -> None:
    hook = Hook()
    server.route("/hook", hook)
    args = config_with(tmp_path, server, ARCHIVE[:1])
    run(args, "poll", "--all")
    run(args, "digest", "--send", env={"WATCHER_NOTIFY": json_url(server, "/hook")})
    assert "silencieuses" not in run(args, "digest", "--preview")


def test_check_names_the_line_of_a_bad_max_age(tmp_path: Path) -> None:
    feeds = "settings:\n  digest:\n    max_age: soon\nfeeds:\n  - name: a\n    kind: rss\n    url: https://e.org/f\n"
    args = write_config(tmp_path, feeds, "x\n")
    result = CliRunner().invoke(main, [*args, "check"])
    assert result.exit_code == 2 and "feeds.yaml:3: settings.digest.max_age: not a duration" in result.output


def test_status_counts_only_the_configured_sources_and_shows_local_times(
    server: LoopbackServer, tmp_path: Path
) -> None:
    url = serve(server, "/feed", rss([Entry("Un coworking", "https://news.example/a")]))
    two = f"  - name: a\n    kind: rss\n    url: {url}\n  - name: b\n    kind: rss\n    url: {url}\n"
    args = write_config(tmp_path, f"settings:\n  timezone: Europe/Paris\nfeeds:\n{two}", "coworking\n")
    run(args, "poll", "--all")
    write_config(tmp_path, f"settings:\n  timezone: Europe/Paris\nfeeds:\n{two.split('  - name: b')[0]}", "coworking\n")
    lines = run(args, "status").splitlines()
    assert lines[0] == "Sources: 1 enabled of 1 (1 more in the database, no longer in feeds.yaml)"
    digest = next(line for line in lines if line.startswith("Digest: next "))
    assert digest.split(" (")[0].endswith((" CET", " CEST")) and "Z" not in digest.split(" (")[0]


# --- 9. the quarterly report ----------------------------------------------------------------------


def test_the_report_speaks_the_watchs_language_its_figures_add_up_and_it_lists_the_best_and_relayed(
    server: LoopbackServer, tmp_path: Path
) -> None:
    entries = [
        Entry("Un coworking ouvre à Sceaux pour les indépendants", "https://news.example/1", hours_ago=2),
        Entry("Les tiers-lieux et le coworking font vivre le village", "https://news.example/2", hours_ago=5),
        Entry("Un nouveau tiers-lieu culturel ouvre ses portes en ville", "https://news.example/3", hours_ago=9),
    ]
    url = serve(server, "/feed", rss(entries, title="Le Journal"))
    keywords = "[nous]\ncoworking\n\n[thèmes]\ntiers-lieux\n"
    args = write_config(
        tmp_path,
        f"settings:\n  language: fr\n  timezone: Europe/Paris\nfeeds:\n  - name: j\n    kind: rss\n    url: {url}\n",
        keywords,
    )
    run(args, "poll", "--all")
    ids = {h["url"]: h["id"] for h in json.loads(run(args, "hits", "--json"))}
    run(args, "relay", "pick", str(ids["https://news.example/1"]), str(ids["https://news.example/2"]))
    run(args, "relay", "skip", str(ids["https://news.example/3"]))
    run(args, "export", "--out", str(tmp_path / "relay.csv"))
    run(args, "relay", "done", str(ids["https://news.example/1"]))
    out = run(args, "report", "--out", str(tmp_path / "r"), "--json")
    figures = json.loads(out[: out.rindex("}") + 1])
    assert figures["hits"] == 3 and sum(figures["states"].values()) == 3
    assert figures["states"] == {"relayed": 1, "exported": 1, "skipped": 1}
    assert figures["relayed"] == [ids["https://news.example/1"]] and len(figures["best"]) == 3
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert '<html lang="fr">' in page and "résultats publiés dans la période" in page
    assert "Les meilleurs articles de la période" in page and "Relayés (1)" in page
    assert "les parts se rapportent à la somme des groupes (4), pas aux 3 résultats" in page
    assert "Hits" not in page and "/20" not in page  # no English label, one period format
    now = datetime.now(UTC).date()
    chart_weeks = re.findall(r"<th>(\d+ [^<]+)</th>", page)
    assert chart_weeks and len(chart_weeks) <= (now - date(now.year, 3 * ((now.month - 1) // 3) + 1, 1)).days // 7 + 2
    assert "les semaines à venir ne sont pas tracées" in page


def test_the_report_counts_what_was_published_in_the_period_not_what_was_found(
    archive_db: list[str], tmp_path: Path
) -> None:
    figures = json.loads(run(archive_db, "report", "--since", "30d", "--json", "--out", str(tmp_path / "r")))
    assert figures["hits"] == 1  # the posts of 2012 and 2013 found today are not this month's news


def test_a_failing_source_reads_in_the_digests_language(server: LoopbackServer, tmp_path: Path) -> None:
    server.route("/down", Response(503, body=b"busy"))
    url = serve(server, "/feed", rss([Entry("Un coworking ouvre", "https://news.example/a")]))
    down = server.url("/down")
    feeds = f"  - name: ok\n    kind: rss\n    url: {url}\n  - name: panne\n    kind: rss\n    url: {down}\n"
    args = write_config(tmp_path, f"settings:\n  language: fr\nfeeds:\n{feeds}", "coworking\n")
    run(args, "poll", "--all")
    text = run(args, "digest", "--preview")
    line = next(x for x in text.splitlines() if "panne :" in x)
    assert "le serveur est en panne : " in line and "HTTP 503" in line and "jamais lue avec succès" in line
