"""`watcher keywords suggest`: exclusions checked on the user's labels, and --apply writing them.

Through the command line over loopback feeds and real SQLite files; each applied suggestion is
checked in the file it edits and in what the next poll stores.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Response
from watcher.cli import main

KEYWORDS = """\
# what we watch
[thèmes]
coworking ^2
fablab
"""

FEEDS = """\
settings:
  language: en
  languages: [fr, en]  # English labels, French items
feeds:
  # the local press
  - name: presse
    kind: rss
    url: {presse}
  # an aggregator: links to many sites
  - name: agregateur
    kind: rss
    url: {agregateur}
"""

TOWNS = ["Sceaux", "Lille", "Nantes", "Lyon", "Rennes", "Bordeaux"]
RELEVANT = [
    Entry(f"Un coworking ouvre à {t}", f"https://presse.example/coworking-{n}", body="Bureaux partagés, communauté.")
    for n, t in enumerate(TOWNS)
] + [
    Entry(f"Le fablab de {t} s'agrandit", f"https://blog.example/fablab-{n}", body="Des machines pour tous.")
    for n, t in enumerate(TOWNS[:3])
]
NOISE = [
    Entry(
        f"Narcotrafic : un faux coworking à {t}",
        f"https://presse.example/narco-{n}",
        body="La police démantèle le réseau.",
    )
    for n, t in enumerate(TOWNS[:4])
]
AGGREGATED = [
    Entry(f"Fablab : le classement des robots tueurs {n}", f"https://spam.example/robots-{n}", body="Achetez.")
    for n in range(3)
] + [Entry("Le fablab de Vanves fête ses dix ans", "https://blog.example/vanves", body="Portes ouvertes.")]
LATER = [
    Entry("Narcotrafic : le coworking était une façade", "https://presse.example/narco-later", body="Enquête."),
    Entry("Fablab : encore des robots tueurs", "https://spam.example/robots-later", body="Achetez."),
]


class Watch:
    def __init__(self, server: LoopbackServer, folder: Path) -> None:
        self.server, self.folder = server, folder
        self.keywords, self.feeds, self.db = folder / "keywords.txt", folder / "feeds.yaml", folder / "watch.db"
        self.keywords.write_text(KEYWORDS, encoding="utf-8")
        self.feeds.write_text(
            FEEDS.format(presse=server.url("/presse"), agregateur=server.url("/agregateur")), encoding="utf-8"
        )
        self.args = ["--feeds", str(self.feeds), "--keywords", str(self.keywords), "--db", str(self.db)]

    def serve(self, presse: list[Entry], agregateur: list[Entry]) -> None:
        kind = {"Content-Type": "application/rss+xml"}
        self.server.route("/presse", Response(200, kind, rss(presse)))
        self.server.route("/agregateur", Response(200, kind, rss(agregateur)))

    def run(self, *command: str) -> Result:
        result = CliRunner().invoke(main, [*self.args, *command])
        assert "Traceback" not in result.output, result.output
        return result

    def hits(self) -> dict[str, dict[str, object]]:
        return {str(h["url"]): h for h in json.loads(self.run("hits", "--json").stdout)}


@pytest.fixture
def watch(server: LoopbackServer, tmp_path: Path) -> Watch:
    w = Watch(server, tmp_path)
    w.serve([e for e in RELEVANT + NOISE if "presse" in e.link], [e for e in RELEVANT if "blog" in e.link] + AGGREGATED)
    assert w.run("poll", "--all").exit_code == 0
    hits = w.hits()
    relevant = [str(hits[e.link]["id"]) for e in RELEVANT + AGGREGATED[-1:]]
    noise = [str(hits[e.link]["id"]) for e in NOISE + AGGREGATED[:-1]]
    assert w.run("relay", "pick", *relevant).exit_code == 0
    assert w.run("relay", "skip", "--noise", *noise).exit_code == 0
    return w


def suggestions(w: Watch) -> list[dict[str, object]]:
    result = w.run("keywords", "suggest", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def find(found: list[dict[str, object]], kind: str, exclusion: str) -> dict[str, object]:
    return next(s for s in found if s["kind"] == kind and s["exclusion"] == exclusion)


def test_suggest_proposes_exclusions_that_remove_the_noise_and_few_relevant_hits(watch: Watch) -> None:
    found = suggestions(watch)
    word = find(found, "word", "-narcotrafic")
    assert word["target"] == "coworking" and word["new_query"] == "coworking -narcotrafic"
    assert (word["noise_removed"], word["relevant_removed"]) == (len(NOISE), 0)
    site = find(found, "domain", "spam.example")
    assert site["target"] == "agregateur"
    assert (site["noise_removed"], site["relevant_removed"]) == (3, 0)
    assert all(3 * int(str(s["relevant_removed"])) <= int(str(s["noise_removed"])) for s in found)
    # never a word of the query itself, nor one that most stored items hold
    assert not any(s["exclusion"] in ("-coworking", "-coworkings", "-fablab") for s in found)
    text = watch.run("keywords", "suggest").output
    assert "From 7 results marked as noise and 10 relevant ones" in text
    assert "add -narcotrafic to 'coworking': removes 4 noise, 0 relevant" in text
    assert "leave out the site spam.example for the source agregateur: removes 3 noise, 0 relevant" in text


def test_apply_writes_the_chosen_exclusion_and_the_next_poll_keeps_that_noise_out(watch: Watch) -> None:
    found = suggestions(watch)
    word = next(n for n, s in enumerate(found, 1) if s["exclusion"] == "-narcotrafic")
    result = watch.run("keywords", "suggest", "--apply", str(word))
    assert result.exit_code == 0, result.output
    assert watch.keywords.read_text(encoding="utf-8") == KEYWORDS.replace("coworking ^2", "coworking -narcotrafic ^2")

    site = next(n for n, s in enumerate(suggestions(watch), 1) if s["exclusion"] == "spam.example")
    result = watch.run("keywords", "suggest", "--apply", str(site))
    assert result.exit_code == 0, result.output
    feeds = watch.feeds.read_text(encoding="utf-8")
    assert "# an aggregator: links to many sites" in feeds and "exclude_domains: [spam.example]" in feeds
    assert watch.run("check").exit_code == 0

    watch.serve(
        [e for e in RELEVANT + NOISE if "presse" in e.link] + LATER[:1],
        [e for e in RELEVANT if "blog" in e.link] + AGGREGATED + LATER[1:],
    )
    assert watch.run("poll", "--all").exit_code == 0
    hits = watch.hits()
    assert LATER[0].link not in hits and LATER[1].link not in hits  # stored, but no hits
    assert RELEVANT[0].link in hits  # the rest as before

    result = watch.run("keywords", "suggest", "--apply", "99")
    assert result.exit_code == 2 and "choose a number from 1 to" in result.output


def test_a_source_leaves_out_a_site_and_its_subdomains_and_an_author() -> None:
    from datetime import UTC, datetime

    from watcher.config import parse_feeds
    from watcher.errors import ConfigError
    from watcher.read import left_out
    from watcher.types import Item

    text = (
        "feeds:\n  - name: a\n    kind: rss\n    url: https://a.example/feed\n"
        "    exclude_domains: [Spam.example]\n    exclude_authors: ['@troll@social.example']\n"
    )
    specs, _ = parse_feeds(text)
    spec = specs[0]

    def item(url: str, author: str | None = None) -> Item:
        return Item("a", url, url, url, "t", "", datetime.now(UTC), author=author)

    assert left_out(item("https://www.spam.example/x"), spec) and left_out(item("https://spam.example/x"), spec)
    assert not left_out(item("https://notspam.example/x"), spec)
    assert left_out(item("https://ok.example/x", "@troll@social.example"), spec)
    assert not left_out(item("https://ok.example/x", "@ana@social.example"), spec)
    bad = text.replace("[Spam.example]", "{spam: 1}")
    with pytest.raises(ConfigError, match=r"feeds\.yaml:5: feed 'a': exclude_domains must be a list of domains"):
        parse_feeds(bad)
