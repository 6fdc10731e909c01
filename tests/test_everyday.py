"""The community manager's commands, run as a user runs them, over a database filled by a real poll.

Each test checks the command's effect where it lands: keywords.txt, feeds.yaml, the SQLite
file, the exported file or the report folder.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner, Result

from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Response
from watcher.cli import main
from watcher.config import parse_keywords
from watcher.export import weighted_length
from watcher.match import compile_queries
from watcher.score import score
from watcher.store import Store
from watcher.types import Hit, Item, SourceResult, SourceSpec

KEYWORDS = """\
# What we watch. One query per line.

[nous]
"la fabrique"

# the field
[thèmes]
coworking
tiers-lieux ^2

# competitors below
[concurrents]
acme
"""

FEEDS = """\
# Our sources.
settings:
  timezone: Europe/Paris
  export:
    network: x
    hours: "09:00-18:00"
    gap: 30m

feeds:
  # the local news
  - name: news
    kind: rss
    url: {news}
    tags: [presse]

  # a competitor's blog
  - name: rival
    kind: rss
    url: {rival}
    tags: [competitor]
"""

NEWS = [
    Entry("Un coworking ouvre à Sceaux", "https://news.example/coworking-sceaux", body="Le coworking ouvre."),
    Entry("La Fabrique lance son tiers-lieu", "https://news.example/fabrique", body="Un tiers-lieu de plus."),
    Entry("Le fablab de la ville s'agrandit", "https://news.example/fablab", body="Des machines."),
    Entry("L'Équilibre de vie au travail", "https://news.example/equilibre", body="Le coworking aide."),
    Entry('=HYPERLINK("http://evil") coworking gratuit', "https://news.example/formula", body="..."),
    Entry("Météo du jour", "https://news.example/meteo", body="Du soleil."),
]
RIVAL = [
    Entry("Acme ouvre un coworking à Paris", "https://rival.example/paris"),
    Entry("Acme recrute", "https://rival.example/recrute", body="Rejoignez Acme."),
]


@dataclass
class Watch:
    folder: Path
    args: list[str]

    @property
    def keywords(self) -> Path:
        return self.folder / "keywords.txt"

    @property
    def feeds(self) -> Path:
        return self.folder / "feeds.yaml"

    @property
    def db(self) -> Path:
        return self.folder / "watch.db"

    def run(self, *command: str) -> Result:
        result = CliRunner().invoke(main, [*self.args, *command])
        assert "Traceback" not in result.output, result.output
        return result

    def hits(self, *options: str) -> list[dict[str, object]]:
        result = self.run("hits", "--json", *options)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)  # type: ignore[no-any-return]

    def by_url(self) -> dict[str, dict[str, object]]:
        return {str(h["url"]): h for h in self.hits()}


@pytest.fixture
def watch(server: LoopbackServer, tmp_path: Path) -> Watch:
    server.route("/news", Response(200, {"Content-Type": "application/rss+xml"}, rss(NEWS)))
    server.route("/rival", Response(200, {"Content-Type": "application/rss+xml"}, rss(RIVAL)))
    (tmp_path / "keywords.txt").write_text(KEYWORDS, encoding="utf-8")
    (tmp_path / "feeds.yaml").write_text(
        FEEDS.format(news=server.url("/news"), rival=server.url("/rival")), encoding="utf-8"
    )
    args = ["--feeds", str(tmp_path / "feeds.yaml"), "--keywords", str(tmp_path / "keywords.txt")]
    w = Watch(tmp_path, [*args, "--db", str(tmp_path / "watch.db")])
    result = w.run("poll", "--all")
    assert result.exit_code == 0, result.output
    return w


def store_opted_out_post(db: Path, keywords: str, url: str = "https://social.example/@ana/1") -> None:
    """A post whose author asked not to be reused (#nobot), stored as a poll stores it."""
    now = datetime.now(UTC)
    item = Item(
        source="social",
        key=url,
        url=url,
        canonical_url=url,
        title="",
        text="Notre coworking fête ses 5 ans #nobot",
        published=now - timedelta(hours=2),
        author="@ana@social.example",
        no_reuse=True,
    )
    matches = tuple(compile_queries(parse_keywords(keywords)).match(item.title, item.text))
    value, breakdown = score(item, matches, source_weight=1.0, now=now)
    spec = SourceSpec(name="social", kind="mastodon")
    with Store(db) as store:
        store.save_source(
            SourceResult(spec, "ok", items=(item,)),
            [Hit(item, matches, value, breakdown)],
            now=now,
            next_poll=now + timedelta(hours=1),
            failures=0,
        )


# --- keywords ------------------------------------------------------------------------------------


def test_keywords_add_inserts_one_line_in_its_group_and_matches_stored_items(watch: Watch) -> None:
    before = watch.keywords.read_text(encoding="utf-8").splitlines()
    assert "https://news.example/fablab" not in watch.by_url()  # stored, but no query matched it

    result = watch.run("keywords", "add", "fablab", "--group", "thèmes")

    assert result.exit_code == 0, result.output
    after = watch.keywords.read_text(encoding="utf-8").splitlines()
    at = before.index("tiers-lieux ^2") + 1
    assert after == [*before[:at], "fablab", *before[at:]]  # comments, blank lines and order kept
    [query] = [q for q in parse_keywords("\n".join(after)) if q.text == "fablab"]
    assert query.group == "thèmes"
    hit = watch.by_url()["https://news.example/fablab"]
    assert hit["keywords"] == ["fablab"] and int(str(hit["score"])) > 0
    assert [h["url"] for h in watch.hits("--keyword", "fablab")] == ["https://news.example/fablab"]


def test_keywords_add_a_new_group_and_an_exclusion_typed_without_quotes(watch: Watch) -> None:
    result = watch.run("keywords", "add", "acme", "-recrute", "--group", "veille rh")
    assert result.exit_code == 0, result.output
    text = watch.keywords.read_text(encoding="utf-8")
    assert text.startswith(KEYWORDS.rstrip("\n") + "\n\n[veille rh]\nacme -recrute\n") or text.endswith(
        "\n[veille rh]\nacme -recrute\n"
    )
    # acme alone is already there, in [concurrents]; the new query is another one
    assert watch.run("check").exit_code == 0


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"lieu de vie', "column 1: this quote is never closed"),
        ("coworking OR", "column 11: OR needs a term on each side"),
        ("Coworkings", "already watched as 'coworking'"),
        ("-recrutement", "at least one term that is not excluded"),
        ("x" * 10_000, "column 1: a word of 10000 characters: the longest a query may hold is 60"),
        ("ab " * 400 + "c", "column 1001: a query of 1201 characters: the longest accepted is 1000"),
    ],
    ids=[
        "unclosed quote",
        "dangling OR",
        "duplicate after normalisation",
        "only an exclusion",
        "word too long",
        "query too long",
    ],
)
def test_keywords_add_refuses_a_bad_query_and_writes_nothing(watch: Watch, query: str, message: str) -> None:
    before = watch.keywords.read_bytes()
    hits_before = watch.hits()
    result = watch.run("keywords", "add", query)
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1  # one clear line
    assert watch.keywords.read_bytes() == before
    assert watch.hits() == hits_before
    assert not list(watch.folder.glob(".keywords.txt.*"))  # no temporary file left behind


def test_keywords_remove_takes_only_that_line(watch: Watch) -> None:
    before = watch.keywords.read_text(encoding="utf-8").splitlines()
    result = watch.run("keywords", "remove", "tiers-lieux")
    assert result.exit_code == 0, result.output
    after = watch.keywords.read_text(encoding="utf-8").splitlines()
    assert after == [line for line in before if line != "tiers-lieux ^2"]
    # stored hits keep the query in their history
    assert "tiers-lieux" in watch.by_url()["https://news.example/fabrique"]["keywords"]  # type: ignore[operator]


def test_keywords_remove_of_a_typo_suggests_the_query_and_writes_nothing(watch: Watch) -> None:
    before = watch.keywords.read_bytes()
    result = watch.run("keywords", "remove", "cowroking")
    assert result.exit_code == 2
    assert "did you mean 'coworking'?" in result.output
    assert watch.keywords.read_bytes() == before


def test_keywords_test_shows_what_would_match_and_writes_nothing(watch: Watch) -> None:
    before_file, before_hits = watch.keywords.read_bytes(), watch.hits()
    result = watch.run("keywords", "test", "fablab OR machines", "--json")
    assert result.exit_code == 0, result.output
    [found] = json.loads(result.stdout)
    assert found["url"] == "https://news.example/fablab" and found["in_title"] is True
    assert found["already_hit"] is False and found["score"] > 0
    assert watch.keywords.read_bytes() == before_file
    assert watch.hits() == before_hits

    result = watch.run("keywords", "test", "fablab")
    assert "Le fablab de la ville" in result.output and "matches 1 of the 8 items" in result.output


def test_keywords_list_json_gives_line_group_and_weight(watch: Watch) -> None:
    result = watch.run("keywords", "list", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert {"line": 9, "query": "tiers-lieux", "group": "thèmes", "weight": 2.0} in rows
    assert [r["query"] for r in rows] == ['"la fabrique"', "coworking", "tiers-lieux", "acme"]


# --- feeds ---------------------------------------------------------------------------------------


def test_feeds_add_then_remove_keep_every_comment(watch: Watch, server: LoopbackServer) -> None:
    original = watch.feeds.read_text(encoding="utf-8")
    url = server.url("/other")
    result = watch.run("feeds", "add", "other", "--url", url, "--interval", "2h", "--tag", "partner")
    assert result.exit_code == 0, result.output
    added = watch.feeds.read_text(encoding="utf-8")
    assert (
        added == original + f"\n  - name: other\n    kind: rss\n    url: {url}\n    interval: 2h\n    tags: [partner]\n"
    )
    assert watch.run("check").exit_code == 0

    result = watch.run("feeds", "remove", "news")
    assert result.exit_code == 0, result.output
    removed = watch.feeds.read_text(encoding="utf-8")
    for line in original.splitlines():
        if line.strip().startswith("#"):
            assert line in removed  # "# the local news" too: comments are never dropped
    assert "name: news" not in removed and "/news" not in removed
    names = [r["name"] for r in json.loads(watch.run("feeds", "list", "--json").stdout)]
    assert names == ["rival", "other"]


def test_feeds_add_that_would_break_the_file_is_refused(watch: Watch) -> None:
    before = watch.feeds.read_bytes()
    for command, message in [
        (["feeds", "add", "news", "--url", "https://example.org/feed"], "already used"),
        (["feeds", "add", "blog", "--url", "ftp://example.org/feed"], "must start with http"),
        (["feeds", "add", "blog", "--url", "https://example.org/f", "--interval", "5s"], "below the minimum"),
        (["feeds", "add", "blog"], "needs a `url`"),
    ]:
        result = watch.run(*command)
        assert result.exit_code == 2, command
        assert message in result.output
        assert watch.feeds.read_bytes() == before


def test_feeds_remove_of_an_unknown_name_suggests_one(watch: Watch) -> None:
    result = watch.run("feeds", "remove", "rivals")
    assert result.exit_code == 2 and "did you mean 'rival'?" in result.output


def test_feeds_edit_keeps_a_file_indented_its_own_way(tmp_path: Path) -> None:
    feeds = tmp_path / "feeds.yaml"
    feeds.write_text("feeds:\n# first\n- name: a\n  kind: rss\n  url: https://a.example/f\n", encoding="utf-8")
    (tmp_path / "keywords.txt").write_text("coworking\n", encoding="utf-8")
    args = ["--feeds", str(feeds), "--keywords", str(tmp_path / "keywords.txt"), "--db", str(tmp_path / "w.db")]
    result = CliRunner().invoke(main, [*args, "feeds", "add", "b", "--url", "https://b.example/f"])
    assert result.exit_code == 0, result.output
    assert feeds.read_text(encoding="utf-8") == (
        "feeds:\n# first\n- name: a\n  kind: rss\n  url: https://a.example/f\n"
        "- name: b\n  kind: rss\n  url: https://b.example/f\n"
    )


def test_feeds_check_shows_items_and_matches_and_stores_nothing(watch: Watch, server: LoopbackServer) -> None:
    server.route(
        "/candidate",
        Response(
            200,
            {"Content-Type": "application/rss+xml"},
            rss([Entry("Un tiers-lieu à Antony", "https://c.example/1"), Entry("Sport", "https://c.example/2")]),
        ),
    )
    with sqlite3.connect(watch.db) as conn:
        before = (
            conn.execute("SELECT count(*) FROM items").fetchone()[0],
            conn.execute("SELECT * FROM sources ORDER BY name").fetchall(),
        )
    result = watch.run("feeds", "check", server.url("/candidate"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "ok" and report["items"] == 2 and report["error"] is None
    assert [(m["title"], m["keywords"]) for m in report["matches"]] == [("Un tiers-lieu à Antony", ["tiers-lieux"])]

    result = watch.run("feeds", "check", "rival")
    assert result.exit_code == 0
    assert "2 items, 2 match keywords.txt" in result.output and "Acme ouvre un coworking" in result.output
    with sqlite3.connect(watch.db) as conn:
        after = (
            conn.execute("SELECT count(*) FROM items").fetchone()[0],
            conn.execute("SELECT * FROM sources ORDER BY name").fetchall(),
        )
    assert after == before

    server.route("/broken", Response(500, body=b"oops"))
    result = watch.run("feeds", "check", server.url("/broken"))
    assert result.exit_code == 1 and "error" in result.output and "500" in result.output
    result = watch.run("feeds", "check", "nosuchfeed")
    assert result.exit_code == 2 and "no source named 'nosuchfeed'" in result.output


# --- hits, search, triage ------------------------------------------------------------------------


def test_search_folds_accents_ranks_and_explains_a_syntax_error(watch: Watch) -> None:
    result = watch.run("search", "equilibre", "--json")
    assert result.exit_code == 0, result.output
    assert [h["url"] for h in json.loads(result.stdout)] == ["https://news.example/equilibre"]

    rows = json.loads(watch.run("search", "coworking", "--json").stdout)
    assert rows[0]["title"].lower().count("coworking") >= 1
    assert {r["url"] for r in rows} >= {"https://news.example/coworking-sceaux", "https://rival.example/paris"}
    title_hits = [r for r in rows if "coworking" in r["title"].lower()]
    assert rows[: len(title_hits)] == title_hits  # a word in the title ranks above the same word in the text

    rows = json.loads(watch.run("search", "tiers-lieu", "--json").stdout)
    assert [r["url"] for r in rows] == ["https://news.example/fabrique"]

    result = watch.run("search", '"coworking')
    assert result.exit_code == 2
    assert result.output.startswith("Error: cannot search for '\"coworking'") and len(result.output.splitlines()) == 1


def test_relay_pick_skip_done_move_hits_and_explain_refusals(watch: Watch) -> None:
    ids = {str(h["url"]): int(str(h["id"])) for h in watch.hits()}
    sceaux, fabrique, paris = (
        ids["https://news.example/coworking-sceaux"],
        ids["https://news.example/fabrique"],
        ids["https://rival.example/paris"],
    )
    result = watch.run("relay", "pick", str(sceaux), f"#{fabrique},{paris}")
    assert result.exit_code == 0, result.output
    assert "Picked 3 hits" in result.output
    assert {h["id"] for h in watch.hits("--state", "picked")} == {sceaux, fabrique, paris}

    result = watch.run("relay", "skip", str(paris))
    assert result.exit_code == 0 and "Skipped 1 hit" in result.output

    result = watch.run("relay", "done", str(sceaux), str(paris), "99999")
    assert result.exit_code == 1
    assert "Marked as relayed 1 hit: #" in result.output
    assert f"#{paris}: not relayed: it is skipped" in result.output
    assert "#99999: no such hit" in result.output

    states = {h["id"]: h["state"] for h in watch.hits()}
    assert (states[sceaux], states[fabrique], states[paris]) == ("relayed", "picked", "skipped")
    listed = json.loads(watch.run("relay", "list", "--json").stdout)
    assert [h["id"] for h in listed] == [fabrique]
    assert "[picked]" in watch.run("hits").output

    result = watch.run("relay", "pick", "abc")
    assert result.exit_code == 2 and "'abc' is not a hit id" in result.output
    with sqlite3.connect(watch.db) as conn:
        history = conn.execute("SELECT item_id, state FROM state_changes ORDER BY rowid").fetchall()
    assert sorted(history) == sorted(
        [(sceaux, "picked"), (fabrique, "picked"), (paris, "picked"), (paris, "skipped"), (sceaux, "relayed")]
    )


# --- export --------------------------------------------------------------------------------------


def test_hootsuite_export_follows_the_bulk_rules_row_by_row(watch: Watch) -> None:
    store_opted_out_post(watch.db, watch.keywords.read_text(encoding="utf-8"))
    hits = watch.hits()
    by_url = {str(h["url"]): h for h in hits}
    opted_out = by_url["https://social.example/@ana/1"]
    assert opted_out["no_reuse"] is True
    assert watch.run("relay", "pick", *[str(h["id"]) for h in hits]).exit_code == 0

    out = watch.folder / "relay.csv"
    started = datetime.now(ZoneInfo("Europe/Paris"))
    result = watch.run("export", "--format", "hootsuite", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "1 held back: their authors asked not to be reused" in result.output

    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    expected_urls = {u for u, h in by_url.items() if not h["no_reuse"]}
    assert len(rows) == len(expected_urls) <= 350
    assert {r[2] for r in rows} == expected_urls  # every picked hit, the opted-out post not among them
    assert "social.example" not in out.read_text(encoding="utf-8")
    times = []
    for date_text, message, link in rows:
        assert len([date_text, message, link]) == 3
        assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", date_text)  # so no header row either
        when = datetime.strptime(date_text, "%d/%m/%Y %H:%M").replace(tzinfo=ZoneInfo("Europe/Paris"))
        assert when > started
        assert when.minute % 5 == 0
        assert 9 <= when.hour < 18
        times.append(when)
        assert weighted_length(message, "x") + 1 + 23 <= 280
        assert message and not message.startswith(("=", "+", "-", "@"))
        hit = by_url[link]
        credit = hit["publisher"] or hit["author"]
        if credit:
            assert message.endswith(f"(via {credit})")
    assert len({r[1] for r in rows}) == len(rows)  # no two identical messages
    ordered = sorted(times)
    assert all(b - a >= timedelta(minutes=30) for a, b in itertools.pairwise(ordered))
    formula = next(r for r in rows if r[2] == "https://news.example/formula")
    assert formula[1].startswith("HYPERLINK(")

    states = {str(h["url"]): h["state"] for h in watch.hits()}
    assert {states[u] for u in expected_urls} == {"exported"}
    assert states["https://social.example/@ana/1"] == "picked"

    result = watch.run("export", "--out", str(watch.folder / "again.csv"))
    assert "Nothing to export" in result.output and not (watch.folder / "again.csv").exists()
    result = watch.run("export", "--again", "--out", str(watch.folder / "again.csv"))
    assert result.exit_code == 0
    assert len(list(csv.reader(io.StringIO((watch.folder / "again.csv").read_text(encoding="utf-8"))))) == len(rows)


def test_hootsuite_export_splits_past_350_rows(watch: Watch) -> None:
    now = datetime.now(UTC)
    queries = parse_keywords(watch.keywords.read_text(encoding="utf-8"))
    matcher = compile_queries(queries)
    spec = SourceSpec(name="bulk", kind="rss", url="https://bulk.example/feed")
    hits = []
    for n in range(360):
        url = f"https://bulk.example/{n}"
        item = Item("bulk", url, url, url, f"Coworking numéro {n}", "", now - timedelta(hours=1), publisher="Bulk")
        matches = tuple(matcher.match(item.title, item.text))
        value, breakdown = score(item, matches, source_weight=1.0, now=now)
        hits.append(Hit(item, matches, value, breakdown))
    with Store(watch.db) as store:
        store.save_source(SourceResult(spec, "ok"), hits, now=now, next_poll=now, failures=0)
    ids = [str(h["id"]) for h in watch.hits("--source", "bulk")]
    assert watch.run("relay", "pick", *ids).exit_code == 0

    result = watch.run("export", "--source-less-option-does-not-exist")
    assert result.exit_code == 2
    result = watch.run("export")
    assert result.exit_code == 2 and "give --out FILE" in result.output
    result = watch.run("export", "--out", str(watch.folder / "relay.csv"))
    assert result.exit_code == 0, result.output
    first = list(csv.reader((watch.folder / "relay-1.csv").open(encoding="utf-8")))
    second = list(csv.reader((watch.folder / "relay-2.csv").open(encoding="utf-8")))
    assert (len(first), len(second)) == (350, 10)
    assert len({r[1] for r in first + second}) == 360


def test_csv_export_defuses_formulas_and_json_export_lists_fields(watch: Watch) -> None:
    ids = [str(h["id"]) for h in watch.hits()]
    assert watch.run("relay", "pick", *ids).exit_code == 0
    result = watch.run("export", "--format", "csv", "--dry-run")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    [formula] = [r for r in rows if r["url"] == "https://news.example/formula"]
    assert formula["title"].startswith("'=HYPERLINK(")
    assert {h["state"] for h in watch.hits()} == {"picked"}  # a dry run marks nothing

    result = watch.run("export", "--format", "json")
    assert result.exit_code == 0
    exported = json.loads(result.stdout)
    assert len(exported) == len(ids) and all("canonical_url" in h and "text" not in h for h in exported)
    assert {h["state"] for h in watch.hits()} == {"picked"}  # a JSON export is to look at: it marks nothing


# --- report --------------------------------------------------------------------------------------


def test_report_writes_an_html_page_with_a_chart_and_escapes_feed_text(watch: Watch) -> None:
    now = datetime.now(UTC)
    item = Item(
        "news", "x", "https://news.example/x", "https://news.example/x", "Coworking <b>gras</b>", "",
        now, publisher="<script>alert(1)</script>",
    )  # fmt: skip
    matches = tuple(compile_queries(parse_keywords(KEYWORDS)).match(item.title, item.text))
    value, breakdown = score(item, matches, source_weight=1.0, now=now)
    with Store(watch.db) as store:
        store.save_source(
            SourceResult(SourceSpec("news", "rss", url="https://x"), "ok", items=(item,)),
            [Hit(item, matches, value, breakdown)],
            now=now,
            next_poll=now,
            failures=0,
        )
    ids = [str(h["id"]) for h in watch.hits()][:3]
    watch.run("relay", "pick", *ids)
    watch.run("export", "--out", str(watch.folder / "r.csv"))
    out = watch.folder / "report"
    result = watch.run("report", "--since", "90d", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert figures["hits"] == len(watch.hits())
    assert figures["triage"] == {"picked": 3, "exported": 3}
    assert figures["groups"] == {"thèmes": 6, "concurrents": 2, "nous": 1}
    assert figures["competitors"] == {"rival": 2, "every other source": 5}

    page = (out / "report.html").read_text(encoding="utf-8")
    assert '<img class="chart" src="hits-per-week.svg"' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    chart = (out / "hits-per-week.svg").read_text(encoding="utf-8")
    assert chart.startswith("<svg") and chart.count("<polyline") == 4  # one line per query that has hits
    assert "tiers-lieux (1)" in chart or "tiers-lieux (2)" in chart
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "![Résultats par requête et par semaine](hits-per-week.svg)" in markdown  # settings.language: fr
    assert "\\<script\\>" in markdown
    health = re.search(r"<td>news</td><td class=\"n\">(\d+)</td><td class=\"n\">(\d+)</td>", page)
    assert health and health.groups() == ("2", "0")


def test_report_of_a_quarter_names_its_folder_and_refuses_a_bad_quarter(watch: Watch, tmp_path: Path) -> None:
    result = watch.run("report", "--quarter", "2026Q9")
    assert result.exit_code == 2 and "not a quarter" in result.output
    result = watch.run("report", "--quarter", "2020Q1", "--out", str(tmp_path / "q"))
    assert result.exit_code == 0 and "0 hits published from 1 Jan to 31 Mar 2020." in result.output
    assert "Aucun résultat sur cette période" in (tmp_path / "q" / "hits-per-week.svg").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "command",
    [
        ["keywords"],
        ["keywords", "add"],
        ["keywords", "remove"],
        ["keywords", "test"],
        ["keywords", "list"],
        ["feeds"],
        ["feeds", "add"],
        ["feeds", "remove"],
        ["feeds", "check"],
        ["feeds", "list"],
        ["search"],
        ["relay"],
        ["relay", "pick"],
        ["relay", "list"],
        ["export"],
        ["report"],
    ],
)
def test_every_everyday_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_a_bad_export_setting_is_named_with_its_line_and_nothing_is_exported(watch: Watch) -> None:
    hits = watch.hits()
    assert watch.run("relay", "pick", *[str(h["id"]) for h in hits]).exit_code == 0
    watch.feeds.write_text(watch.feeds.read_text(encoding="utf-8").replace("gap: 30m", "gap: 1m"), encoding="utf-8")
    out = watch.folder / "relay.csv"
    result = watch.run("export", "--format", "hootsuite", "--out", str(out))
    assert result.exit_code == 2
    assert "feeds.yaml:7: settings.export.gap must be at least 5m" in result.output
    assert not out.exists()
