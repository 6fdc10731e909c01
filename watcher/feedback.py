"""What the user's triage taught: a learned, bounded and explained part of the score.

Picked, exported and relayed hits are positives, hits marked as noise negatives (triage.LABELS).
Each labelled hit is cut into features: its words (folded as the matching folds them, plural
aside), its sources, its site's domain and its author. The model is a naive Bayes over the
presence of features, with add-one smoothing and the two classes weighed alike (so that picking
many hits does not lift every score), over the features seen in at least two labelled hits.
An item's evidence is the sum of the log-odds of its features; a temperature fitted on
cross-validated predictions turns it into a probability p that the item is relevant, and the
part of the score is MAX_POINTS * (2p - 1): bounded, zero for an item it knows nothing of.

The explanation names how many labelled hits share the feature that weighed most in the
direction of the part: "like 4 results marked off-topic (-15)".

Its quality is measured by leave-one-out cross-validation (each label predicted from all the
others), exact and cheap for naive Bayes. The model is inactive until it has MIN_LABELS labels
with MIN_EACH of each kind (measured on the labelled corpus of bench/relevance: see
bench/RESULTS.md). Pure: values in, values out; the database side is labels.py.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from urllib.parse import urlsplit

from watcher.query import fold, singular
from watcher.theme import STOP_WORDS

MAX_POINTS = 20.0  # the part is within -MAX_POINTS..+MAX_POINTS
MIN_LABELS = 20  # labels in all before the model is used ...
MIN_EACH = 5  # ... with at least this many positives and this many negatives
MIN_FEATURE_DOCS = 2  # a feature seen in fewer labelled hits is not learned from
MIN_WORD = 3  # shorter words (articles, "de", "le") carry no meaning of their own
TEXT_CHARS = 3000  # the start of the text is read: enough for what an item is about, and bounded
TEMPERATURE_SAMPLE = 2000  # held-out predictions the temperature is fitted on, at most
DEFAULT_TEMPERATURE = 4.0  # before there are labels enough to fit one
TEMPERATURES = (1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0)
MODEL_VERSION = 1
FEATURES_VERSION = 2  # change it with `features`: the features kept of labelled hits are cut again
LEANING_MIN = 0.5  # log-odds: a feature shown as leaning one way is at least 1.65 times as likely there

KINDS = {"w": "word", "s": "source", "d": "domain", "a": "author"}


@dataclass(frozen=True)
class Example:
    """What an item shows the model: its text and where it came from."""

    title: str
    text: str
    sources: Sequence[str] = ()
    url: str = ""
    author: str | None = None


# in folded text (accents gone): runs of letters and digits; an apostrophe or a hyphen cuts, so an
# elided article ("l'", "qu'") is too short to count. Other scripts are not read (a French and
# English watch); ASCII classes are several times faster to scan than Unicode ones.
_WORD = re.compile(r"[a-z0-9]{3,}")
_singular_of: dict[str, str] = {}  # words met so far -> their comparison key (a vocabulary: small)


def features(ex: Example) -> set[str]:
    """The item's features: `w:word` (folded, plural aside, at least MIN_WORD letters, no function
    word), `s:source`,
    `d:domain`, `a:author`."""
    keys = _singular_of
    if len(keys) > 500_000:  # never grows without bound in a long-running daemon
        keys.clear()
    out = set()
    for w in set(_WORD.findall(fold(f"{ex.title} {ex.text[:TEXT_CHARS]}"))):
        key = keys.get(w)
        if key is None:  # function words ("nous", "avec", "the") are about nothing, as for the theme
            key = keys[w] = singular(w) if not w.isdigit() and w not in STOP_WORDS else ""
        if len(key) >= MIN_WORD:
            out.add("w:" + key)
    out.update("s:" + " ".join(s.split()) for s in ex.sources)
    domain = domain_of(ex.url)
    if domain:
        out.add("d:" + domain)
    author = " ".join((ex.author or "").split())  # no newline: features are kept joined by newlines
    if author:
        out.add("a:" + fold(author))
    return out


def domain_of(url: str) -> str:
    """The host of `url`, lower-case, without a leading `www.`; "" when it has none."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


@dataclass(frozen=True)
class Quality:
    """How well the model predicts the user's own labels, each predicted from all the others."""

    labels: int
    right: int  # labels whose held-out prediction had the right sign
    auc: float  # the chance that a held-out positive is ranked above a held-out negative

    @property
    def accuracy(self) -> float:
        return self.right / self.labels if self.labels else 0.0


@dataclass(frozen=True)
class Model:
    """Feature counts among positives and negatives, and what turns evidence into points."""

    positives: int
    negatives: int
    counts: Mapping[str, tuple[int, int]]  # feature -> (positives holding it, negatives holding it)
    temperature: float = DEFAULT_TEMPERATURE
    quality: Quality | None = None
    weights: Mapping[str, float] = field(default_factory=dict, compare=False)

    @property
    def labels(self) -> int:
        return self.positives + self.negatives

    @property
    def active(self) -> bool:
        """Enough labels of each kind to be used in the score."""
        return self.labels >= MIN_LABELS and self.positives >= MIN_EACH and self.negatives >= MIN_EACH


def _weights(positives: int, negatives: int, counts: Mapping[str, tuple[int, int]]) -> dict[str, float]:
    """Log-odds of each feature, add-one smoothed, classes weighed alike."""
    pos_total, neg_total = positives + 2.0, negatives + 2.0
    return {f: math.log((p + 1.0) / pos_total) - math.log((n + 1.0) / neg_total) for f, (p, n) in counts.items()}


def _count(docs: Sequence[tuple[set[str], bool]]) -> tuple[int, int, Counter[str], Counter[str]]:
    """How many positives and negatives, and in how many of each every feature is."""
    pos: Counter[str] = Counter(chain.from_iterable(feats for feats, label in docs if label))
    neg: Counter[str] = Counter(chain.from_iterable(feats for feats, label in docs if not label))
    n_pos = sum(1 for _, label in docs if label)
    return n_pos, len(docs) - n_pos, pos, neg


def _kept(pos: Mapping[str, int], neg: Mapping[str, int]) -> dict[str, tuple[int, int]]:
    out = {}
    for f in pos.keys() | neg.keys():
        p, n = pos.get(f, 0), neg.get(f, 0)
        if p + n >= MIN_FEATURE_DOCS:
            out[f] = (p, n)
    return out


def train(labelled: Sequence[tuple[set[str], bool]]) -> Model:
    """Learn from (features, relevant?) pairs; cross-validated, with its temperature fitted."""
    n_pos, n_neg, pos, neg = _count(labelled)
    counts = _kept(pos, neg)
    quality, temperature = _cross_validate(labelled, n_pos, n_neg, pos, neg)
    return Model(n_pos, n_neg, counts, temperature, quality, _weights(n_pos, n_neg, counts))


_LOG1 = [math.log(k + 1.0) for k in range(4096)]  # log(k + 1) for the counts of most features


def _log1(k: int) -> float:
    return _LOG1[k] if k < 4096 else math.log(k + 1.0)


def _cross_validate(
    labelled: Sequence[tuple[set[str], bool]], n_pos: int, n_neg: int, pos: Counter[str], neg: Counter[str]
) -> tuple[Quality | None, float]:
    """Leave-one-out: each label predicted by the counts of all the others (the totals minus its
    own), which naive Bayes gives exactly in one pass; then the temperature that makes those
    predictions the most likely (fitted on at most TEMPERATURE_SAMPLE of them)."""
    if n_pos < 2 or n_neg < 2:
        return None, DEFAULT_TEMPERATURE
    # a feature's weight when the label left out is a positive (True) or a negative (False), with
    # the totals' part of the smoothing folded in: a label's evidence is then one C-level sum
    base_true = math.log(n_neg + 2.0) - math.log(n_pos - 1 + 2.0)
    base_false = math.log(n_neg - 1 + 2.0) - math.log(n_pos + 2.0)
    left_out: dict[bool, dict[str, float]] = {True: {}, False: {}}
    for f in pos.keys() | neg.keys():
        p, n = pos.get(f, 0), neg.get(f, 0)
        if p and p - 1 + n >= MIN_FEATURE_DOCS:
            left_out[True][f] = _log1(p - 1) - _log1(n) + base_true
        if n and p + n - 1 >= MIN_FEATURE_DOCS:
            left_out[False][f] = _log1(p) - _log1(n - 1) + base_false
    zero = repeat(0.0)
    held = [(sum(map(left_out[label].get, feats, zero)), label) for feats, label in labelled]
    right = sum(1 for e, label in held if (e > 0) == label)
    quality = Quality(len(held), right, _auc(held))
    sample = held[:: max(1, len(held) // TEMPERATURE_SAMPLE)]
    best = min(TEMPERATURES, key=lambda t: _log_loss(sample, t))
    return quality, best


def _auc(scored: Sequence[tuple[float, bool]]) -> float:
    """Mann-Whitney: ties count half."""
    ranked = sorted(scored, key=lambda s: s[0])
    n_pos = sum(1 for _, label in ranked if label)
    n_neg = len(ranked) - n_pos
    if not n_pos or not n_neg:
        return 0.5
    rank_sum = 0.0
    i = 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        average_rank = (i + j + 1) / 2  # ranks i+1 .. j
        rank_sum += average_rank * sum(1 for _, label in ranked[i:j] if label)
        i = j
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _log_loss(held: Sequence[tuple[float, bool]], temperature: float) -> float:
    eps = 1e-9
    total = 0.0
    for evidence, label in held:
        p = _sigmoid(evidence / temperature)
        total -= math.log(max(eps, p if label else 1.0 - p))
    return total / len(held)


# --- using it ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """The learned part of one item's score, and what it rests on."""

    points: float  # -MAX_POINTS..+MAX_POINTS, one decimal
    like: int  # labelled hits, of the part's direction, that hold its strongest feature
    feature: str  # that feature, e.g. "w:narcotrafic", "d:example.org"


def evidence(model: Model, feats: Iterable[str]) -> tuple[float, str | None, str | None]:
    """Sum of the features' log-odds, with the strongest feature for and against."""
    total = 0.0
    best_for: tuple[float, str | None] = (0.0, None)
    best_against: tuple[float, str | None] = (0.0, None)
    w = model.weights
    for f in feats:
        value = w.get(f)
        if value is None:
            continue
        total += value
        if value > best_for[0]:
            best_for = (value, f)
        elif value < best_against[0]:
            best_against = (value, f)
    return total, best_for[1], best_against[1]


def part(model: Model, feats: Iterable[str], *, force: bool = False) -> Part | None:
    """The learned part for an item with these features; None when the model is inactive (unless
    `force`: what it would give, for measures) or it rounds to nothing."""
    if not model.active and not force:
        return None
    total, best_for, best_against = evidence(model, feats)
    p = _sigmoid(total / model.temperature)
    points = round(MAX_POINTS * (2.0 * p - 1.0), 1)
    strongest = best_for if points > 0 else best_against
    if abs(points) < 0.5 or strongest is None:
        return None
    pos, neg = model.counts[strongest]
    return Part(points, pos if points > 0 else neg, strongest)


Leaning = list[tuple[str, float, int, int]]  # (feature, log-odds, positives holding it, negatives holding it)


def leaning(model: Model, limit: int = 10) -> tuple[Leaning, Leaning]:
    """The features that weigh most for and against relevance: (feature, log-odds, positives, negatives)."""
    rows = [(f, w, *model.counts[f]) for f, w in model.weights.items() if abs(w) >= LEANING_MIN]
    # a feature many labels share says more than a rare one of the same weight
    rows.sort(key=lambda r: (-r[1] * math.log1p(r[2] + r[3]), r[0]))
    for_ = [r for r in rows if r[1] > 0][:limit]
    rows.sort(key=lambda r: (r[1] * math.log1p(r[2] + r[3]), r[0]))
    against = [r for r in rows if r[1] < 0][:limit]
    return for_, against


# --- words -------------------------------------------------------------------------------------------

_WORDS = {
    "fr": {"for": "comme {n} résultat{s} retenu{s}", "against": "comme {n} résultat{s} marqué{s} hors sujet"},
    "en": {"for": "like {n} result{s} you picked", "against": "like {n} result{s} marked off-topic"},
}


def describe(points: float, like: int, language: str) -> str:
    """The part in words, e.g. "comme 4 résultats marqués hors sujet (−15)"."""
    fr = language[:2] == "fr"
    words_ = _WORDS["fr" if fr else "en"]
    plural = "s" if (like > 1 if fr else like != 1) else ""
    text = words_["for" if points > 0 else "against"].format(n=like, s=plural)
    value = f"{points:+.1f}".removesuffix(".0").replace("-", "−")
    return f"{text} ({value})"


def wording(points: float, facts: Mapping[str, float], language: str) -> str:
    """`describe` as a score component's wording (score._WORDINGS): its fact "like" (LIKE_KEY)."""
    return describe(points, int(facts.get("like", 0)), language)


# --- stored form -------------------------------------------------------------------------------------


def dumps(model: Model) -> str:
    q = model.quality
    return json.dumps(
        {
            "version": MODEL_VERSION,
            "positives": model.positives,
            "negatives": model.negatives,
            "temperature": model.temperature,
            "quality": None if q is None else {"labels": q.labels, "right": q.right, "auc": q.auc},
            "counts": {f: list(c) for f, c in model.counts.items()},
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def loads(text: str) -> Model:
    """A model from `dumps`; ValueError when the text is no model of this version."""
    try:
        data = json.loads(text)
        if data.get("version") != MODEL_VERSION:
            raise ValueError(f"a model of version {data.get('version')!r}, not {MODEL_VERSION}")
        counts = {str(f): (int(c[0]), int(c[1])) for f, c in data["counts"].items()}
        q = data.get("quality")
        quality = None if q is None else Quality(int(q["labels"]), int(q["right"]), float(q["auc"]))
        positives, negatives = int(data["positives"]), int(data["negatives"])
        return Model(
            positives,
            negatives,
            counts,
            float(data["temperature"]),
            quality,
            _weights(positives, negatives, counts),
        )
    except (KeyError, TypeError, AttributeError, IndexError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a stored model ({type(exc).__name__}: {exc})") from None


# --- in the score ------------------------------------------------------------------------------------

PART_KEY = "feedback"  # in score_breakdown: the points this part added or took away
LIKE_KEY = "_feedback_like"  # how many labelled hits it rests on (see Part.like)
BASE_KEY = "_feedback_base"  # the score before this part


def adjust(score: int, breakdown: Mapping[str, float], learned: Part | None) -> tuple[int, dict[str, float]]:
    """The score and breakdown of a hit with the learned part (None: without it).

    The part is added to the score the other parts made (already within 0..100) and the sum is
    kept within 1..100: a matched item stays a hit whatever it learned, so it can still be
    found, triaged and undone. Applied again, it replaces the previous part.
    """
    base = int(breakdown.get(BASE_KEY, score))
    out = {k: v for k, v in breakdown.items() if k not in (PART_KEY, LIKE_KEY, BASE_KEY)}
    if learned is None or score <= 0:
        return base, out
    out[PART_KEY] = learned.points
    out[LIKE_KEY] = float(learned.like)
    out[BASE_KEY] = float(base)
    return max(1, min(100, math.floor(base + learned.points + 0.5))), out
