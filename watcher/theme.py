"""How close an item is to what this watch is about: a TF-IDF centroid of the watch's own items.

The model is learned from the store, nothing fetched: the seeds are the items that the watch's
most specific queries matched (the heaviest ones; with equal weights, the rarest third) and the
hits that were picked, exported or relayed, less those marked as noise. Words are the matching
words (folded, singular, `query.words`), less short and function words; each item is a TF-IDF
vector (IDF over every stored item), and the theme is the mean of the seeds' vectors, its
strongest words kept. An item's closeness is the cosine between its vector and the theme.

The scale comes from the seeds themselves: an item as close as the typical seed (`close`, their
median) or closer gets +THEME_POINTS, one that shares nothing with the theme OFF_THEME_POINTS,
in a straight line between (measured on the labelled corpus of bench/relevance.py: a straight
line ranked better than a bonus and a cliff). An item matching no query at least half as close
as the typical seed (`related_at`) is offered as related.

Pure: values in, values out. relevance.py reads the store, caches the model and applies it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from watcher.query import singular, words
from watcher.types import Query, ScoreComponent

NAME = "theme"
RELATED = "related"  # the points of an item that matches no query but is close to the theme
RELATED_POINTS = 20.0
THEME_POINTS = 15.0  # the most closeness adds
OFF_THEME_POINTS = -20.0  # what an item off the theme loses
MIN_SEEDS = 8  # fewer seed items than this: no model, the score is what it was
KEPT_WORDS = 400  # the theme's strongest words, the rest dropped (noise, and size)
TEXT_CHARS = 600  # the start of the text that counts, beside the title
RELATED_SHARE = 0.5  # an item matching no query, at least this share of `close`, is related

# Function words of French and English, and web boilerplate: frequent everywhere, about nothing.
_STOP = (
    "les des une dans pour nous vous deux trois par sur avec est sont aux qui que quoi dont ses son leurs "
    "leur nos notre "
    "vos votre cette ces cet pas plus moins tres tout tous toute toutes elle elles ils nous vous mais "
    "donc car comme ainsi aussi encore deja entre sans sous chez vers depuis avant apres pendant "
    "ete etre avoir fait faire peut doit ont avait etait sera seront fut lui meme autre autres "
    "ici quand bien peu ceux celle celles celui cela ceci rien chaque non oui alors afin lors "
    "the and for are was were with that this from have has had not but all can will would there their "
    "they them what which who whom when where how about into over than then also more most some such "
    "its our your you his her she him been being out any only other very just one two new may "
    "lire suite article voir plu read continue via http https www com html"
)
STOP_WORDS = frozenset(_STOP.split())


def terms(title: str, text: str) -> list[str]:
    """The words an item is about: folded, singular, no function words, no numbers, no short words."""
    found = []
    for word in words(title + " \n " + text[:TEXT_CHARS]):
        if len(word) > 2 and word not in STOP_WORDS and not word.isdigit():
            found.append(singular(word))
    return found


@dataclass(frozen=True)
class ThemeModel:
    """The theme: its words and weights (unit length), the IDF of every word, and the thresholds."""

    centroid: Mapping[str, float]
    idf: Mapping[str, float]
    default_idf: float  # of a word no stored item had
    close: float
    seeds: int  # how many items it was learned from
    documents: int  # over how many stored items
    related_at: float = 1.0  # an item matching no query at least this close is related

    def closeness(self, title: str, text: str) -> float:
        """The cosine between the item and the theme, 0..1."""
        counts = Counter(terms(title, text))
        if not counts:
            return 0.0
        idf, default = self.idf, self.default_idf
        dot = 0.0
        norm = 0.0
        for word, count in counts.items():
            weight = (1.0 + math.log(count)) * idf.get(word, default)
            norm += weight * weight
            theme = self.centroid.get(word)
            if theme is not None:
                dot += weight * theme
        return dot / math.sqrt(norm) if norm else 0.0

    def points(self, closeness: float) -> float:
        """OFF_THEME_POINTS for an item that shares nothing with the theme, rising in a straight
        line to THEME_POINTS for one as close as the typical seed (`close`) or closer."""
        if self.close <= 0:
            return 0.0
        share = min(1.0, max(0.0, closeness / self.close))
        return round(OFF_THEME_POINTS + (THEME_POINTS - OFF_THEME_POINTS) * share, 1)

    def component(self, title: str, text: str) -> ScoreComponent:
        closeness = self.closeness(title, text)
        return ScoreComponent(NAME, self.points(closeness), {"closeness": round(closeness, 3)})

    def related(self, closeness: float) -> bool:
        """Close enough, matching no query, to be offered beside the hits."""
        return closeness >= self.related_at


    def to_json(self) -> dict[str, object]:
        return {
            "centroid": dict(self.centroid),
            "idf": dict(self.idf),
            "default_idf": self.default_idf,
            "close": self.close,
            "seeds": self.seeds,
            "documents": self.documents,
            "related_at": self.related_at,
        }

    @staticmethod
    def from_json(data: Mapping[str, object]) -> ThemeModel:
        centroid = data["centroid"]
        idf = data["idf"]
        assert isinstance(centroid, dict) and isinstance(idf, dict)
        return ThemeModel(
            {str(k): float(v) for k, v in centroid.items()},
            {str(k): float(v) for k, v in idf.items()},
            float(str(data["default_idf"])),
            float(str(data["close"])),
            int(str(data["seeds"])),
            int(str(data["documents"])),
            float(str(data.get("related_at", 1.0))),
        )


def seed_queries(queries: Sequence[Query], matched: Mapping[str, int]) -> list[Query]:
    """The most specific queries: the heaviest; when all weigh the same, the rarest third of those
    that matched something (`matched`: items per query text)."""
    used = [q for q in queries if matched.get(q.text, 0) > 0]
    if not used:
        return []
    heaviest = max(q.weight for q in used)
    if any(q.weight != heaviest for q in used):
        return [q for q in used if q.weight == heaviest]
    by_rarity = sorted(used, key=lambda q: matched[q.text])
    return by_rarity[: max(1, math.ceil(len(by_rarity) / 3))]


def _quantile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(share * len(ordered))))]


def build(documents: Sequence[tuple[str, str]], seeds: Iterable[int]) -> ThemeModel | None:
    """The theme of the documents (title, text) at the positions `seeds`; None with too few seeds."""
    bags = [Counter(terms(title, text)) for title, text in documents]
    chosen = sorted({i for i in seeds if 0 <= i < len(bags) and bags[i]})
    if len(chosen) < MIN_SEEDS:
        return None
    n = len(bags)
    df: Counter[str] = Counter()
    for bag in bags:
        df.update(bag.keys())
    default_idf = math.log((n + 1) / 1) + 1.0
    # Words of one item only say nothing about others: they take the default IDF, not stored.
    idf = {word: math.log((n + 1) / (count + 1)) + 1.0 for word, count in df.items() if count > 1}

    def vector(bag: Counter[str]) -> dict[str, float]:
        weights = {w: (1.0 + math.log(c)) * idf.get(w, default_idf) for w, c in bag.items()}
        norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
        return {w: v / norm for w, v in weights.items()}

    total: dict[str, float] = {}
    for i in chosen:
        for word, value in vector(bags[i]).items():
            # a word of one seed alone is that item's, not the theme's
            if df[word] > 1:
                total[word] = total.get(word, 0.0) + value
    strongest = dict(sorted(total.items(), key=lambda kv: -kv[1])[:KEPT_WORDS])
    norm = math.sqrt(sum(v * v for v in strongest.values())) or 1.0
    centroid = {w: round(v / norm, 5) for w, v in strongest.items()}
    rough = ThemeModel(centroid, {w: round(v, 4) for w, v in idf.items()}, default_idf, 0.0, len(chosen), n)
    closeness = [rough.closeness(*documents[i]) for i in chosen]
    return ThemeModel(
        rough.centroid,
        rough.idf,
        default_idf,
        close=round(_quantile(closeness, 0.5), 4),
        seeds=len(chosen),
        documents=n,
        related_at=round(RELATED_SHARE * _quantile(closeness, 0.5), 4),
    )


def wording(points: float, facts: Mapping[str, float], language: str) -> str:
    """The theme component in words: "proche du thème (+12)", "loin du thème (−6)", "hors thème (−20)"."""
    text = f"{points:+.1f}".removesuffix(".0").replace("-", "−")
    if points <= OFF_THEME_POINTS / 2:
        return f"hors thème ({text})" if language == "fr" else f"off the theme ({text})"
    if points < 0:
        return f"loin du thème ({text})" if language == "fr" else f"far from the theme ({text})"
    return f"proche du thème ({text})" if language == "fr" else f"close to the theme ({text})"


def related_wording(points: float, facts: Mapping[str, float], language: str) -> str:
    """An item shown for being close to the theme without matching a query, in words."""
    text = f"{points:+.1f}".removesuffix(".0")
    if language == "fr":
        return f"proche de votre veille, sans mot-clé ({text})"
    return f"close to your watch, no keyword ({text})"
