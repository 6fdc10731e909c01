"""`settings.place`: items naming the commune, its neighbours or its département score higher.

The communes come from the official data vendored in watcher/data (made by scripts/places.py);
the poll is run through the command line over a loopback feed into a real SQLite file.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.feedgen import Entry, rss
from tests.loopback import LoopbackServer, Response
from watcher import place
from watcher.cli import main

ROOT = Path(__file__).resolve().parent.parent

FEEDS = """\
settings:
  language: fr
  place: {place}
feeds:
  - name: presse
    kind: rss
    url: {url}
"""

ENTRIES = [
    Entry("Un coworking ouvre à Sceaux", "https://presse.example/sceaux"),
    Entry("Un coworking ouvre à Bourg-la-Reine", "https://presse.example/bourg"),
    Entry("Un coworking ouvre au Plessis-Robinson", "https://presse.example/plessis"),
    Entry("Un coworking ouvre dans les Hauts-de-Seine", "https://presse.example/92"),
    Entry("Un coworking ouvre à Lyon", "https://presse.example/lyon"),
]


def test_the_vendored_data_names_each_commune_its_departement_and_its_neighbours() -> None:
    data = place.load_data()
    assert "Licence Ouverte" in data["source"] and "@etalab/decoupage-administratif" in data["source"]
    assert len(data["communes"]) > 34_000
    sceaux = place.find("Sceaux", data)
    assert (sceaux.code, sceaux.departement, sceaux.group) == ("92071", "Hauts-de-Seine", "EPT Vallée Sud-Grand Paris")
    assert {"Bourg-la-Reine", "Antony", "Fontenay-aux-Roses", "Le Plessis-Robinson"} <= set(sceaux.neighbours)
    assert "Sceaux" not in sceaux.neighbours and "Lyon" not in sceaux.neighbours
    assert place.find("92071", data) == sceaux == place.find("sceaux (92)", data)
    assert place.find("Saint-Denis (93)", data).departement == "Seine-Saint-Denis"
    with pytest.raises(ValueError, match="no commune 'Sceau'; did you mean 'Sceaux'"):
        place.find("Sceau", data)
    readme = (ROOT / "watcher" / "data" / "README.md").read_text(encoding="utf-8")
    assert "Licence Ouverte" in readme and "scripts/places.py" in readme


def test_the_script_regenerates_the_compact_data_from_the_package(tmp_path: Path) -> None:
    package = tmp_path / "package"
    (package / "data").mkdir(parents=True)
    (package / "package.json").write_text('{"version": "9.9.9"}', encoding="utf-8")
    files = {
        "departements.json": [{"code": "92", "nom": "Hauts-de-Seine"}],
        "ept.json": [{"code": "200057966", "nom": "Vallée Sud-Grand Paris", "membres": [{"code": "92071"}]}],
        "epci.json": [{"code": "200054781", "nom": "Métropole du Grand Paris", "membres": [{"code": "92071"}]}],
        "arrondissements.json": [{"code": "921", "nom": "Antony"}],
        "communes.json": [
            {"code": "92071", "nom": "Sceaux", "type": "commune-actuelle", "departement": "92",
             "arrondissement": "921", "population": 20884},
            {"code": "89381", "nom": "Sceaux", "type": "commune-deleguee", "departement": "89"},
        ],
    }  # fmt: skip
    for name, value in files.items():
        (package / "data" / name).write_text(json.dumps(value), encoding="utf-8")
    out = tmp_path / "communes.json.gz"
    script = (ROOT / "scripts" / "places.py").read_text(encoding="utf-8").replace(
        'OUT = ROOT / "watcher" / "data" / "communes.json.gz"', f"OUT = Path({str(out)!r})"
    )
    (tmp_path / "places.py").write_text(script, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(tmp_path / "places.py"), "--package", str(package)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(gzip.decompress(out.read_bytes()))
    assert data["communes"] == [["92071", "Sceaux", "92", "200057966", 20884]]  # the EPT before the EPCI
    assert data["groups"] == {"200057966": ["EPT", "Vallée Sud-Grand Paris"]}
    assert data["source"].startswith("@etalab/decoupage-administratif 9.9.9")


def test_items_naming_the_place_its_neighbours_or_its_departement_score_higher_explained(
    server: LoopbackServer, tmp_path: Path
) -> None:
    server.route("/feed", Response(200, {"Content-Type": "application/rss+xml"}, rss(ENTRIES)))
    (tmp_path / "keywords.txt").write_text("coworking\n", encoding="utf-8")
    feeds = tmp_path / "feeds.yaml"
    args = ["--feeds", str(feeds), "--keywords", str(tmp_path / "keywords.txt"), "--db", str(tmp_path / "w.db")]

    feeds.write_text(FEEDS.format(place="Sceau", url=server.url("/feed")), encoding="utf-8")
    result = CliRunner().invoke(main, [*args, "check"])
    assert result.exit_code == 2
    assert "feeds.yaml:3: settings.place: no commune 'Sceau'; did you mean 'Sceaux'?" in result.output

    feeds.write_text(FEEDS.format(place="Sceaux", url=server.url("/feed")), encoding="utf-8")
    assert CliRunner().invoke(main, [*args, "poll", "--all"]).exit_code == 0
    hits = {h["url"]: h for h in json.loads(CliRunner().invoke(main, [*args, "hits", "--json"]).stdout)}
    parts = {url.rsplit("/", 1)[1]: h["score_breakdown"].get("place") for url, h in hits.items()}
    assert parts == {
        "sceaux": place.COMMUNE_POINTS,
        "bourg": place.NEIGHBOUR_POINTS,
        "plessis": place.NEIGHBOUR_POINTS,
        "92": place.DEPARTEMENT_POINTS,
        "lyon": None,
    }
    score = {url.rsplit("/", 1)[1]: h["score"] for url, h in hits.items()}
    assert score["sceaux"] > score["bourg"] == score["plessis"] > score["92"] > score["lyon"]
    assert score["sceaux"] - score["lyon"] == place.COMMUNE_POINTS
    explained = CliRunner().invoke(main, [*args, "hits", "--explain"]).output
    # in the digest's language (settings.language: fr)
    assert "local : Sceaux (+10)" in explained and "local : Bourg-la-Reine (+6)" in explained
    assert place.wording(10.0, {"name:Sceaux": 1.0}, "fr") == "local : Sceaux (+10)"
