"""The place of the watch (`settings.place`): items naming the commune, its neighbours or its
département score higher, explained ("local : Sceaux +10").

The communes come from watcher/data/communes.json.gz (official data, see its README; made by
scripts/places.py). Neighbours are the other communes of the commune's EPT, else of its EPCI,
else of its arrondissement: the data has no adjacency. Names are matched as whole words, case,
accents and hyphens aside (`Bourg-la-Reine` = `bourg la reine`). Only the best level counts:
the commune COMMUNE_POINTS, a neighbour NEIGHBOUR_POINTS, the département DEPARTEMENT_POINTS.
It is a score component (types.ScoreComponent) named "place", worded by `wording`.

`find` and `part` are pure over the loaded data; `load_data` reads the file once per process.
"""

from __future__ import annotations

import difflib
import gzip
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from watcher.query import fold, words
from watcher.types import Hit, ScoreComponent

DATA = Path(__file__).parent / "data" / "communes.json.gz"
COMMUNE_POINTS = 10.0
NEIGHBOUR_POINTS = 6.0
DEPARTEMENT_POINTS = 3.0
TEXT_CHARS = 3000  # the start of the text is read, as the learned part reads it
NAME = "place"  # the score component (types.ScoreComponent): "place" in score_breakdown
NAME_FACT = "name:"  # its fact "_place_name:Antony" (1.0) names what was found

_CODE = re.compile(r"^\s*(\d[0-9AB]\d{3})\s*$", re.IGNORECASE)
_NAME_DEPT = re.compile(r"^\s*(.+?)\s*\(\s*([0-9]{2,3}|2A|2B)\s*\)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Place:
    """A commune and what is near it."""

    code: str
    name: str
    departement: str  # its name
    neighbours: tuple[str, ...]  # names of the other communes of its group
    group: str  # e.g. "EPT Vallée Sud-Grand Paris"


@lru_cache(maxsize=1)
def load_data(path: Path = DATA) -> dict[str, Any]:
    """The data file, read once; OSError or ValueError when it is missing or damaged."""
    data = json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("communes"), list):
        raise ValueError(f"{path.name} holds no list of communes")
    return data


def find(setting: str, data: Mapping[str, Any]) -> Place:
    """The commune `setting` names: a name (the most populous of that name), `Name (92)`, or an
    INSEE code. ValueError with a suggestion when there is none."""
    communes: Sequence[list[Any]] = data["communes"]
    wanted_dept = None
    if m := _CODE.match(setting):
        chosen = [c for c in communes if c[0].upper() == m.group(1).upper()]
    else:
        name = setting
        if m := _NAME_DEPT.match(setting):
            name, wanted_dept = m.group(1), m.group(2).upper()
        key = _key(name)
        chosen = [c for c in communes if _key(c[1]) == key and (wanted_dept is None or c[2] == wanted_dept)]
    if not chosen:
        names = sorted({c[1] for c in communes})
        close = difflib.get_close_matches(setting.strip(), names, n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]!r}?" if close else " (a French commune, e.g. Sceaux, or its INSEE code)"
        raise ValueError(f"no commune {setting.strip()!r}{hint}")
    code, name, dept, group, _population = max(chosen, key=lambda c: c[4])
    kind, group_name = data["groups"].get(group, ["", ""])
    neighbours = tuple(c[1] for c in communes if group and c[3] == group and c[0] != code)
    return Place(code, name, data["departements"].get(dept, dept), neighbours, f"{kind} {group_name}".strip())


_ARTICLES = {"le", "la", "les"}


def _key(name: str) -> tuple[str, ...]:
    """A name's words; a leading article goes ("au Plessis-Robinson" names Le Plessis-Robinson)."""
    ws = words(fold(name))
    return tuple(ws[1:] if len(ws) > 1 and ws[0] in _ARTICLES else ws)


@dataclass(frozen=True)
class Finder:
    """The names to look for, as word sequences, each with its points."""

    names: Mapping[tuple[str, ...], tuple[float, str]]  # words -> (points, name as written)
    longest: int
    firsts: frozenset[str]
    # the first words as written and folded, looked for in the case-folded text: most items name
    # no place, and a few substring searches tell them apart before any word is cut
    quick: tuple[str, ...]


def finder(place: Place) -> Finder:
    names: dict[tuple[str, ...], tuple[float, str]] = {}
    for points, name in (
        (DEPARTEMENT_POINTS, place.departement),
        *((NEIGHBOUR_POINTS, n) for n in place.neighbours),
        (COMMUNE_POINTS, place.name),
    ):
        key = _key(name)
        if key and names.get(key, (0.0, ""))[0] < points:
            names[key] = (points, name)
    firsts = frozenset(k[0] for k in names)
    variants = set(firsts)
    for _, name in names.values():
        for w in re.findall(r"[^\W\d_]+", name):
            if set(words(fold(w))) & firsts:
                variants.add(w.casefold())  # "châtillon" beside "chatillon"
    return Finder(names, max((len(k) for k in names), default=0), firsts, tuple(sorted(variants)))


def part(f: Finder, title: str, text: str) -> tuple[float, str] | None:
    """(points, name) of the best-placed name the item holds, or None."""
    joined = f"{title} {text[:TEXT_CHARS]}"
    lowered = joined.casefold()
    if not any(v in lowered for v in f.quick):
        return None
    ws = words(joined)
    best: tuple[float, str] | None = None
    firsts = f.firsts
    for i, w in enumerate(ws):
        if w not in firsts:
            continue
        for n in range(1, f.longest + 1):
            hit = f.names.get(tuple(ws[i : i + n]))
            if hit is not None and (best is None or hit[0] > best[0]):
                best = hit
    return best


def component(f: Finder, title: str, text: str) -> ScoreComponent | None:
    """The place's part of an item's score, or None when it names none of the places."""
    found = part(f, title, text)
    if found is None:
        return None
    points, name = found
    level = 1.0 if points == COMMUNE_POINTS else 2.0 if points == NEIGHBOUR_POINTS else 3.0
    # the name found rides in a fact's name: facts are numbers, and the wording needs the name
    return ScoreComponent(NAME, points, {"level": level, f"{NAME_FACT}{name}": 1.0})


def wording(points: float, facts: Mapping[str, float], language: str) -> str:
    """The part in words: "local : Sceaux (+10)" ("local: Sceaux (+10)" in English)."""
    name = next((k[len(NAME_FACT) :] for k in facts if k.startswith(NAME_FACT)), "")
    sep = " : " if language[:2] == "fr" else ": "
    return f"local{sep}{name} ({points:+g})"


# --- in a poll -------------------------------------------------------------------------------------

_warned = False


def finder_for(setting: str | None) -> Finder | None:
    """The finder of `settings.place`, or None (no place; or its data cannot be read: one warning)."""
    global _warned
    if not setting:
        return None
    try:
        return _finder_of(setting)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if not _warned:
            import logging

            logging.getLogger("watcher.poll").warning("the score goes on without settings.place: %s", exc)
            _warned = True
        return None


@lru_cache(maxsize=4)
def _finder_of(setting: str) -> Finder:
    return finder(find(setting, load_data()))


def adjust_hits(f: Finder | None, hits: Sequence[Hit]) -> list[Hit]:
    """The hits of a poll with the place's part in their score (unchanged without a finder)."""
    if f is None:
        return list(hits)
    from watcher.score import with_components

    out = []
    for hit in hits:
        found = component(f, hit.item.title, hit.item.text) if hit.score > 0 else None
        if found is None:
            out.append(hit)
        else:
            score, breakdown = with_components(hit.breakdown, [found])
            out.append(replace(hit, score=score, breakdown=breakdown))
    return out
