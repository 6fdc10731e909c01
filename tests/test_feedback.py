"""What the triage teaches the score: picks and noise marks change the next poll's scores.

The learning itself is checked on plain values (feedback.py); the rest runs through the command
line over loopback feeds and real SQLite files.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Response
from watcher import feedback
from watcher.cli import main
from watcher.store import Store

KEYWORDS = "coworking\nfablab\n"

# the items are French whatever the language of the labels: the watch reads both
FEEDS = """\
settings:
  language: {language}
  languages: [fr, en]
feeds:
  - name: presse
    kind: rss
    url: {presse}
  - name: blogs
    kind: rss
    url: {blogs}
"""

PLACES = ["Sceaux", "Lille", "Nantes", "Lyon", "Rennes", "Bordeaux", "Toulouse", "Grenoble", "Dijon", "Tours", "Metz"]
RELEVANT = [
    Entry(
        f"Un coworking pour les indépendants ouvre à {place}",
        f"https://presse.example/coworking-{n}",
        body="La communauté des indépendants et des télétravailleurs y trouve bureaux partagés et entraide.",
    )
    for n, place in enumerate(PLACES)
] + [
    Entry(
        f"Le fablab de {place} ouvre ses ateliers au public",
        f"https://blogs.example/fablab-{n}",
        body="Imprimantes 3D et découpe laser : la communauté des makers partage ses machines.",
    )
    for n, place in enumerate(PLACES[:3])
]
NOISE = [
    Entry(
        f"Narcotrafic : un cartel se cachait derrière un faux coworking à {place}",
        f"https://faits-divers.example/cartel-{n}",
        body="La police a saisi de la drogue ; le réseau de narcotrafic blanchissait l'argent du cartel.",
    )
    for n, place in enumerate(PLACES)
]
LATER = [
    Entry(
        "Coworking : la police démantèle un réseau de narcotrafic",
        "https://faits-divers.example/later",
        body="Le cartel utilisait un coworking pour blanchir l'argent de la drogue.",
    ),
    Entry(
        "Coworking : les indépendants de Vanves fondent une communauté",
        "https://presse.example/later",
        body="Bureaux partagés et entraide entre télétravailleurs.",
    ),
]


class Watch:
    def __init__(self, server: LoopbackServer, folder: Path, language: str = "fr") -> None:
        self.server, self.folder = server, folder
        (folder / "keywords.txt").write_text(KEYWORDS, encoding="utf-8")
        (folder / "feeds.yaml").write_text(
            FEEDS.format(language=language, presse=server.url("/presse"), blogs=server.url("/blogs")),
            encoding="utf-8",
        )
        self.db = folder / "watch.db"
        self.args = ["--feeds", str(folder / "feeds.yaml"), "--keywords", str(folder / "keywords.txt")]
        self.args += ["--db", str(self.db)]

    def serve(self, presse: list[Entry], blogs: list[Entry]) -> None:
        self.server.route("/presse", Response(200, {"Content-Type": "application/rss+xml"}, rss(presse)))
        self.server.route("/blogs", Response(200, {"Content-Type": "application/rss+xml"}, rss(blogs)))

    def run(self, *command: str) -> Result:
        result = CliRunner().invoke(main, [*self.args, *command])
        assert "Traceback" not in result.output, result.output
        return result

    def hits(self) -> dict[str, dict[str, object]]:
        result = self.run("hits", "--json")
        assert result.exit_code == 0, result.output
        return {str(h["url"]): h for h in json.loads(result.stdout)}


def ids(hits: dict[str, dict[str, object]], entries: list[Entry]) -> list[str]:
    return [str(hits[e.link]["id"]) for e in entries]


@pytest.fixture
def taught(server: LoopbackServer, tmp_path: Path) -> Watch:
    """A watch whose first poll was triaged: the relevant items picked, the noise marked."""
    w = Watch(server, tmp_path)
    presse = [e for e in RELEVANT + NOISE if "blogs" not in e.link]
    w.serve(presse, [e for e in RELEVANT if "blogs" in e.link])
    assert w.run("poll", "--all").exit_code == 0
    hits = w.hits()
    assert w.run("relay", "pick", *ids(hits, RELEVANT)).exit_code == 0
    assert w.run("relay", "skip", "--noise", *ids(hits, NOISE)).exit_code == 0
    return w


def later_scores(w: Watch) -> tuple[dict[str, object], dict[str, object]]:
    w.serve([e for e in RELEVANT + NOISE + LATER if "blogs" not in e.link], [e for e in RELEVANT if "blogs" in e.link])
    assert w.run("poll", "--all").exit_code == 0
    hits = w.hits()
    return hits[LATER[0].link], hits[LATER[1].link]


def test_noise_marks_and_picks_change_the_next_polls_scores_with_the_reason(
    taught: Watch, server: LoopbackServer, tmp_path: Path
) -> None:
    (tmp_path / "untaught").mkdir()
    untaught = Watch(server, tmp_path / "untaught")
    noise_before, relevant_before = later_scores(untaught)
    assert noise_before["score"] == relevant_before["score"]  # matched alike, as fresh: nothing tells them apart
    assert "feedback" not in noise_before["score_breakdown"]  # type: ignore[operator]

    noise, relevant = later_scores(taught)
    noise_part = noise["score_breakdown"]["feedback"]  # type: ignore[index]
    relevant_part = relevant["score_breakdown"]["feedback"]  # type: ignore[index]
    assert -feedback.MAX_POINTS <= noise_part < 0 < relevant_part <= feedback.MAX_POINTS
    assert noise["score"] < noise_before["score"] < relevant["score"]  # type: ignore[operator]
    assert noise["state"] == "new"  # scored lower, not triaged for the user

    explained = taught.run("hits", "--explain").output
    # in the digest's language (settings.language: fr)
    assert f"comme {len(NOISE)} résultats marqués hors sujet (−" in explained
    assert "résultats retenus (+" in explained


def test_relevance_shows_what_was_learned_and_its_quality_in_the_settings_language(taught: Watch) -> None:
    shown = json.loads(taught.run("relevance", "--json", "--limit", "50").stdout)
    assert (shown["relevant"], shown["noise"], shown["active"]) == (len(RELEVANT), len(NOISE), True)
    against = [w["name"] for w in shown["words_against"]]
    assert "narcotrafic" in against and "cartel" in against
    assert "independant" in [w["name"] for w in shown["words_for"]]
    assert {"kind": "domain", "name": "faits-divers.example"}.items() <= shown["others_against"][0].items()
    assert shown["quality"]["labels"] == len(RELEVANT) + len(NOISE)
    assert shown["quality"]["auc"] > 0.9

    text = taught.run("relevance", "--limit", "30").output
    assert f"Appris de {len(RELEVANT)} résultats retenus" in text and f"et {len(NOISE)} marqués hors sujet" in text
    assert "Actif : il compte dans le score" in text
    assert "Mots qui comptent contre :" in text and "narcotrafic" in text
    assert "site faits-divers.example" in text


def test_the_learned_part_waits_for_enough_labels_and_undo_takes_it_back(
    server: LoopbackServer, tmp_path: Path
) -> None:
    w = Watch(server, tmp_path, language="en")
    relevant = [e for e in RELEVANT if "blogs" not in e.link]
    w.serve(relevant + NOISE, [])
    assert w.run("poll", "--all").exit_code == 0
    hits = w.hits()
    few = feedback.MIN_EACH - 1
    assert w.run("relay", "pick", *ids(hits, relevant[:few])).exit_code == 0
    assert w.run("relay", "skip", "--noise", *ids(hits, NOISE[:few])).exit_code == 0
    text = w.run("relevance").output
    assert f"Not active yet: it needs {feedback.MIN_LABELS} labels" in text
    assert all("feedback" not in h["score_breakdown"] for h in w.hits().values())  # type: ignore[operator]

    assert len(relevant) + len(NOISE) - 2 >= feedback.MIN_LABELS
    assert w.run("relay", "pick", *ids(hits, relevant[few:])).exit_code == 0
    assert w.run("relay", "skip", "--noise", *ids(hits, NOISE[few:-2])).exit_code == 0
    # the untriaged hits of the last weeks are scored again at once
    waiting = w.hits()[NOISE[-1].link]
    assert waiting["state"] == "new" and waiting["score_breakdown"]["feedback"] < 0  # type: ignore[index]

    # taking the marks back leaves too few: the part goes, the score is what it was
    assert w.run("relay", "undo", *ids(hits, NOISE[: -2])).exit_code == 0
    back = w.hits()[NOISE[-1].link]
    assert "feedback" not in back["score_breakdown"]  # type: ignore[operator]
    assert back["score"] == hits[NOISE[-1].link]["score"]


def test_labels_given_elsewhere_are_learned_at_the_next_poll(taught: Watch) -> None:
    hits = taught.hits()
    moved = int(str(hits[RELEVANT[0].link]["id"]))
    with Store(taught.db) as store:  # as another program (the web page) may write them
        stale = store.learned_model()
        store.set_state([moved], "noise", allowed_from=["picked"], now=datetime.now(UTC))
        assert stale is not None and stale[0].split(":", 1)[1] != store.labels_stamp()
    later_scores(taught)
    with Store(taught.db) as store:
        fresh = store.learned_model()
        assert fresh is not None and fresh[0].split(":", 1)[1] == store.labels_stamp()
        assert feedback.loads(fresh[1]).negatives == len(NOISE) + 1


def test_a_model_that_cannot_be_read_leaves_the_score_as_before_with_one_warning(taught: Watch) -> None:
    with sqlite3.connect(taught.db) as conn:
        conn.execute("UPDATE learned_model SET model = '{\"version\": 1, \"counts\": '")
    taught.serve([e for e in LATER], [])
    # a command of its own, as each command is: nothing learned in this test's process is at hand
    done = subprocess.run(
        [sys.executable, "-m", "watcher", *taught.args, "poll", "--all"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("the score goes on without what the triage taught") == 1, done.stderr
    hits = taught.hits()
    noise, relevant = hits[LATER[0].link], hits[LATER[1].link]
    assert "feedback" not in noise["score_breakdown"] and "feedback" not in relevant["score_breakdown"]  # type: ignore[operator]
    # the same score but for how close each is to the theme (theme.py), which is not the feedback's
    unlearned = [{k: v for k, v in h["score_breakdown"].items() if "theme" not in k} for h in (noise, relevant)]  # type: ignore[attr-defined]
    assert unlearned[0] == unlearned[1]


# --- the learning, on plain values -------------------------------------------------------------------


def example(title: str, source: str = "presse", url: str = "https://presse.example/a") -> set[str]:
    return feedback.features(feedback.Example(title, "", (source,), url, None))


def test_features_are_folded_words_source_domain_and_author() -> None:
    feats = feedback.features(
        feedback.Example("Les Tiers-Lieux d'Île-de-France, 2026", "", ("presse",), "https://www.Example.org/x", "Ana")
    )
    assert {"w:tier", "w:lieu", "w:ile", "w:france", "s:presse", "d:example.org", "a:ana"} <= feats
    assert "w:2026" not in feats and "w:de" not in feats


def test_the_learned_part_is_bounded_and_nothing_for_an_unknown_item() -> None:
    labelled = [(example(f"coworking communauté {n}"), True) for n in range(15)]
    crime = "https://crime.example/x"
    labelled += [(example(f"coworking cartel narcotrafic {n}", url=crime), False) for n in range(15)]
    model = feedback.train(labelled)
    assert model.active and model.quality is not None and model.quality.auc == 1.0
    worst = feedback.part(model, example("cartel narcotrafic cartel", url="https://crime.example/y"))
    best = feedback.part(model, example("communauté communauté"))
    assert worst is not None and best is not None
    assert -feedback.MAX_POINTS <= worst.points < 0 < best.points <= feedback.MAX_POINTS
    assert worst.like == 15 and best.like == 15
    assert feedback.part(model, example("Météo", source="ailleurs", url="https://ailleurs.example/")) is None
    assert feedback.loads(feedback.dumps(model)) == model
    assert feedback.describe(-15.0, 4, "fr") == "comme 4 résultats marqués hors sujet (−15)"
    assert feedback.describe(8.5, 1, "en") == "like 1 result you picked (+8.5)"
    assert feedback.wording(-15.0, {"like": 4.0, "base": 60.0}, "en") == "like 4 results marked off-topic (−15)"


def test_the_score_with_the_learned_part_stays_a_hit_and_can_be_taken_back() -> None:
    part = feedback.Part(-20.0, 3, "w:cartel")
    score, breakdown = feedback.adjust(12, {"body": 20.0, "freshness": 0.0}, part)
    assert score == 1 and breakdown["feedback"] == -20.0  # still a hit
    again, back = feedback.adjust(score, breakdown, None)
    assert again == 12 and back == {"body": 20.0, "freshness": 0.0}
    high, _ = feedback.adjust(100, {"title": 40.0, "weight": 80.0}, feedback.Part(-10.0, 2, "d:x.example"))
    assert high == 90  # added to the score the other parts made, within 0..100
