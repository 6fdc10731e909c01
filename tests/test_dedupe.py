"""dedupe: significant headline words, cluster keys and the same-story check."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from watcher import dedupe
from watcher.dedupe import cluster_keys, same_story, title_words

ROOT = Path(__file__).resolve().parent.parent

TITLE_WORDS_CASES = [
    pytest.param(
        "La Région finance 20 nouveaux tiers-lieux en Bretagne - Ouest-France",
        ["region", "finance", "20", "nouveaux", "tiers", "lieux", "bretagne"],
        id="stop-words-accents-hyphenated-publisher-dropped",
    ),
    pytest.param(
        "L’équilibre des tiers-lieux, c’est l'affaire de tous | Le Télégramme",
        ["equilibre", "tiers", "lieux", "affaire"],
        id="elisions-and-pipe-publisher",
    ),
    pytest.param(
        "Cœur de ville : l’ŒUVRE des coopératives — Les Échos",
        ["coeur", "ville", "oeuvre", "cooperatives"],
        id="ligatures-and-em-dash-publisher",
    ),
    pytest.param(
        "The rise of coworking spaces in the suburbs - The New York Times",
        ["rise", "coworking", "spaces", "suburbs"],
        id="english-stop-words",
    ),
    pytest.param(
        "Coworking - quand le bureau devient un lieu de vie partagé par les indépendants",
        ["coworking", "quand", "bureau", "devient", "lieu", "vie", "partage", "independants"],
        id="long-tail-after-dash-is-not-a-publisher",
    ),
    pytest.param("Sceaux, Sceaux et encore SCEAUX !", ["sceaux", "encore"], id="each-word-once"),
    pytest.param("", [], id="empty"),
]


@pytest.mark.parametrize(("title", "expected"), TITLE_WORDS_CASES)
def test_title_words(title: str, expected: list[str]) -> None:
    assert title_words(title) == expected


SAME_STORY_PAIRS = [
    pytest.param(
        "Sceaux : un nouvel espace de coworking ouvre ses portes en centre-ville - Le Parisien",
        "Un nouvel espace de coworking ouvre ses portes au centre-ville de Sceaux | actu.fr",
        id="same-words-two-outlets",
    ),
    pytest.param(
        "La Région finance 20 nouveaux tiers-lieux en Bretagne - Ouest-France",
        "Bretagne : la Région finance 20 tiers-lieux supplémentaires | Le Télégramme",
        id="one-word-replaced",
    ),
    pytest.param(
        "Le gouvernement lance un appel à projets pour les fabriques de territoire",
        "Le gouvernement lance un nouvel appel à projets pour les fabriques de territoire - Banque des Territoires",
        id="one-word-added",
    ),
    pytest.param(
        "Dropbox closes its last offices in Dublin - Reuters",
        "Dropbox closes the last remaining offices in Dublin",
        id="english-one-word-added",
    ),
]


@pytest.mark.parametrize(("a", "b"), SAME_STORY_PAIRS)
def test_same_news_from_two_outlets_shares_a_key_and_is_same_story(a: str, b: str) -> None:
    assert set(cluster_keys(a)) & set(cluster_keys(b))
    assert same_story(a, b)


DIFFERENT_STORY_PAIRS = [
    pytest.param(
        "Sceaux : un nouvel espace de coworking ouvre ses portes en centre-ville - Le Parisien",
        "Coworking : le marché des espaces de travail partagés ralentit en 2024 - Les Echos",
        id="coworking-opening-vs-market",
    ),
    pytest.param(
        "La Région finance 20 nouveaux tiers-lieux en Bretagne - Ouest-France",
        "Tiers-lieux : la Région Occitanie lance un appel à projets pour 2025",
        id="tiers-lieux-two-regions",
    ),
    pytest.param(
        "Un fablab ouvre à la médiathèque de Bagneux",
        "Un fablab ferme faute de financement à Montrouge",
        id="fablab-opens-vs-closes",
    ),
]


@pytest.mark.parametrize(("a", "b"), DIFFERENT_STORY_PAIRS)
def test_different_news_on_one_theme_share_no_key_and_are_not_same_story(a: str, b: str) -> None:
    assert not set(cluster_keys(a)) & set(cluster_keys(b))
    assert not same_story(a, b)


@pytest.mark.parametrize(
    "title",
    [
        pytest.param("Coworking à Sceaux", id="two-words"),
        pytest.param("Le tiers-lieu de Bagneux - Le Parisien", id="three-words-after-publisher"),
        pytest.param("", id="empty"),
    ],
)
def test_titles_under_four_significant_words_get_no_key_and_no_story(title: str) -> None:
    assert cluster_keys(title) == ()
    assert not same_story(title, title)


def test_keys_are_one_full_signature_plus_one_per_word_as_16_hex() -> None:
    title = "La Région finance 20 nouveaux tiers-lieux en Bretagne"
    keys = cluster_keys(title)
    assert len(keys) == 1 + len(title_words(title))
    assert len(set(keys)) == len(keys)
    assert all(len(k) == 16 and int(k, 16) >= 0 for k in keys)


def test_keys_are_capped_to_the_twelve_longest_words() -> None:
    title = (
        "Coopération territoriale : quarante-deux communes rurales inaugurent ensemble "
        "plusieurs espaces partagés, ateliers numériques, bibliothèques, ressourceries et jardins"
    )
    assert len(title_words(title)) > 12
    assert len(cluster_keys(title)) == 13


def test_keys_do_not_depend_on_word_order_or_case() -> None:
    a = "Un nouvel espace de coworking ouvre à Sceaux"
    b = "SCEAUX : ouvre un nouvel espace de COWORKING"
    assert cluster_keys(a) == cluster_keys(b)


def test_keys_are_stable_across_interpreter_runs() -> None:
    title = "La Région finance 20 nouveaux tiers-lieux en Bretagne"
    code = f"from watcher.dedupe import cluster_keys; print(','.join(cluster_keys({title!r})))"
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        outputs.add(done.stdout.strip())
    assert outputs == {",".join(cluster_keys(title))}


def test_title_words_fold_every_character_as_nfkd_without_combining_marks() -> None:
    # the definition of the folding, applied one character at a time over the BMP's letters
    def reference(text: str) -> str:
        decomposed = unicodedata.normalize("NFKD", text.casefold().translate(dedupe._LIGATURES))
        return "".join(ch for ch in decomposed if not unicodedata.combining(ch))

    sample = [chr(c) for c in range(0x20, 0x3000)] + ["Œuvre à l'ÉTÉ", "Cafe\u0301 ﬁn Ångström ǅ ½", "שָׁלוֹם"]
    assert [dedupe._fold(t) for t in sample] == [reference(t) for t in sample]
    decomposed = "Cafe\u0301 de l'E\u0301te\u0301 a\u0300 Sceaux"
    assert dedupe.title_words("Café de l'Été à Sceaux") == dedupe.title_words(decomposed) == ["cafe", "sceaux"]
