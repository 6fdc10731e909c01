"""Relevance on real, labelled feed items: is the digest signal or noise?

    python bench/relevance.py [--corpus bench/relevance] [--json OUT] [--limit N]

The corpus (bench/relevance/corpus/*.xml, labels in bench/relevance/labels.tsv, provenance in
bench/relevance/README.md) holds real items from public captures, each labelled relevant,
partly or noise for the community manager of a coworking near Paris. This script serves the
feeds on 127.0.0.1, polls them with the project's keywords.txt through the `watcher` command
into a temporary database, and measures what a community manager would see:

- digest noise: the share of noise among the stories of the next digest;
- over the hits, ranked by score: precision of the 10 and of the 30 best (useful = relevant or
  partly), average precision (over the ranked hits, useful items as positives), recall of the
  relevant items (hits among all items labelled relevant) and of the useful ones;
- after feedback on half of the items: the items of half A are served and polled first; their
  relevant hits are picked (`watcher relay pick`), their noise hits marked (`watcher relay skip
  --noise`); then half B is served beside them and polled, so its items are scored by whatever
  the feedback taught. The same measures on half B's hits and digest stories, beside half B's
  measures without feedback. Where `relay skip --noise` does not exist, that part reads n/a.

Nothing here is timed: bench/run.py measures speed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import http.server
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = ROOT / "bench" / "relevance"
USEFUL = ("relevant", "partly")
TIE_SHUFFLES = 200


# --- the corpus ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    id: str
    feed: str  # file name under corpus/
    link: str
    label: str  # relevant, partly or noise
    reason: str
    xml: str  # the <item> element as served


def load_corpus(folder: Path) -> list[Item]:
    """The labelled items, in file order, each with its <item> element from its feed file."""
    labels: dict[str, dict[str, str]] = {}
    with (folder / "labels.tsv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            labels[row["id"]] = row
    items: list[Item] = []
    for path in sorted((folder / "corpus").glob("*.xml")):
        root = ET.parse(path).getroot()
        for el in root.iter("item"):
            iid = (el.findtext("guid") or "").strip()
            found = labels.get(iid)
            if found is None:
                raise SystemExit(f"{path.name}: item {iid!r} has no label in labels.tsv")
            items.append(
                Item(
                    iid, path.name, found["link"], found["label"], found["reason"], ET.tostring(el, encoding="unicode")
                )
            )
    missing = set(labels) - {i.id for i in items}
    if missing:
        raise SystemExit(f"labels.tsv names items no feed holds: {sorted(missing)[:5]}")
    return items


def served_date(item_id: str, now: datetime) -> str:
    """The date an item is served with: within the 6 days before `now`, drawn from a hash of its id.

    The corpus keeps the captured dates, years old; served as they are, every item would be an
    old post, which the digest rightly leaves out. A weekly digest sees this week's items, so
    each is dated somewhere in the last 6 days, by a hash of its id: the same spread whatever
    the label, the same date for an item from one poll to the next in a run.
    """
    minutes = int(hashlib.sha1(item_id.encode()).hexdigest(), 16) % (6 * 24 * 60)
    return format_datetime((now - timedelta(minutes=minutes + 5)).replace(microsecond=0))


def feed_documents(items: Iterable[Item], now: datetime | None = None) -> dict[str, bytes]:
    """One RSS 2.0 document per feed file, holding only `items`, each dated this week (`served_date`)."""
    at = now or datetime.now(UTC)
    by_feed: dict[str, list[Item]] = {}
    for item in items:
        by_feed.setdefault(item.feed, []).append(item)
    docs = {}
    for name, its in by_feed.items():
        body = "".join(_dated(i, at) for i in its)
        docs[name] = (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>{name[:-4]}</title><link>https://{name[:-4]}.example/</link><description>{name[:-4]}</description>"
            f"{body}</channel></rss>\n"
        ).encode()
    return docs


def _dated(item: Item, now: datetime) -> str:
    date = f"<pubDate>{served_date(item.id, now)}</pubDate>"
    xml = re.sub(r"<pubDate>.*?</pubDate>", "", item.xml, flags=re.S)
    return xml.replace("</item>", date + "</item>", 1)


def halves(items: Sequence[Item]) -> tuple[list[Item], list[Item]]:
    """Half A (feedback given) and half B (measured): every other item of each feed and label, by a hash."""
    strata: dict[tuple[str, str], list[Item]] = {}
    for item in items:
        strata.setdefault((item.feed, item.label), []).append(item)
    a: list[Item] = []
    b: list[Item] = []
    for group in strata.values():
        group = sorted(group, key=lambda i: hashlib.sha1(i.id.encode()).hexdigest())
        for k, item in enumerate(group):
            (a if k % 2 == 0 else b).append(item)
    return a, b


# --- measures (pure) -------------------------------------------------------------------------------


def precision_at(labels: Sequence[str], k: int) -> float | None:
    """Share of useful items among the k first (fewer if there are fewer hits); None without hits."""
    top = labels[:k]
    return sum(lab in USEFUL for lab in top) / len(top) if top else None


def average_precision(labels: Sequence[str]) -> float | None:
    """Mean of the precision at each useful item of the ranking; None when no hit is useful."""
    found, total = 0, 0.0
    for rank, lab in enumerate(labels, 1):
        if lab in USEFUL:
            found += 1
            total += found / rank
    return total / found if found else None


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Measures:
    items: int
    relevant_items: int
    useful_items: int
    hits: int
    noise_hits: int
    digest_stories: int
    digest_noise: int
    digest_noise_share: float | None
    top10_useful: float  # expected over the orders of equal scores
    p_at_10: float | None
    p_at_30: float | None
    average_precision: float | None
    recall_relevant: float | None
    recall_useful: float | None
    related_hits: int = 0  # hits that match no query, offered as close to the theme
    related_useful: int = 0
    worst: list[dict[str, Any]] = field(default_factory=list)  # noise in the digest or ranked high, relevant missed


def tie_orders(groups: Sequence[Sequence[str]], n: int = TIE_SHUFFLES) -> list[list[str]]:
    """`n` rankings of the hits: the score groups best first, each group in a seeded random order.

    Equal scores are common (the score is coarse) and their order moves the measures a lot, so
    the ranked measures are averaged over these orders: what a reader can expect, whatever
    order the ties come in.
    """
    rng = random.Random(7)
    orders = []
    for _ in range(n):
        order: list[str] = []
        for group in groups:
            g = list(group)
            rng.shuffle(g)
            order += g
        orders.append(order)
    return orders


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def measure(
    items: Sequence[Item],
    groups: Sequence[Sequence[str]],
    digest_ids: Sequence[str],
    related: Iterable[str] = (),
    worst: int = 8,
) -> Measures:
    """The measures over `items`, given the hits' item ids grouped by score (best first) and the digest stories'."""
    by_id = {i.id: i for i in items}
    rel = set(related)
    mine = [[i for i in g if i in by_id] for g in groups]
    mine = [g for g in mine if g]
    orders = [[by_id[i].label for i in order] for order in tie_orders(mine)]
    ranked = [by_id[i] for g in mine for i in sorted(g, key=lambda i: hashlib.sha1(i.encode()).hexdigest())]
    labels = [i.label for i in ranked]
    digest = [by_id[i] for i in digest_ids if i in by_id]
    hit_ids = {i.id for i in ranked}
    relevant = [i for i in items if i.label == "relevant"]
    useful = [i for i in items if i.label in USEFUL]
    bad = [
        {"rank": r, "id": i.id, "label": i.label, "reason": i.reason, "problem": "noise ranked high"}
        for r, i in enumerate(ranked, 1)
        if i.label == "noise"
    ][:worst]
    in_digest = [
        {"rank": None, "id": i.id, "label": i.label, "reason": i.reason, "problem": "noise in the digest"}
        for i in digest
        if i.label == "noise"
    ]
    missed = [
        {"rank": None, "id": i.id, "label": i.label, "reason": i.reason, "problem": "relevant, not a hit"}
        for i in relevant
        if i.id not in hit_ids
    ][:worst]
    return Measures(
        items=len(items),
        relevant_items=len(relevant),
        useful_items=len(useful),
        hits=len(ranked),
        noise_hits=labels.count("noise"),
        digest_stories=len(digest),
        digest_noise=sum(i.label == "noise" for i in digest),
        digest_noise_share=share(sum(i.label == "noise" for i in digest), len(digest)),
        top10_useful=_mean([sum(lab in USEFUL for lab in o[:10]) for o in orders]) or 0.0,
        p_at_10=_mean([precision_at(o, 10) for o in orders]),
        p_at_30=_mean([precision_at(o, 30) for o in orders]),
        average_precision=_mean([average_precision(o) for o in orders]),
        recall_relevant=share(sum(i.id in hit_ids for i in relevant), len(relevant)),
        recall_useful=share(sum(i.id in hit_ids for i in useful), len(useful)),
        related_hits=sum(i.id in rel for i in ranked),
        related_useful=sum(i.id in rel and i.label in USEFUL for i in ranked),
        worst=in_digest + bad + missed,
    )


# --- the watch, through its command line ---------------------------------------------------------


class FeedServer:
    """The feed documents over HTTP on 127.0.0.1, with ETags; `docs` may be replaced between polls."""

    def __init__(self) -> None:
        self.docs: dict[str, bytes] = {}
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                body = outer.docs.get(self.path.lstrip("/"))
                if body is None:
                    self.send_error(404)
                    return
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


_PLACE_KNOWN: bool | None = None


class Watch:
    """One watch in a temporary folder: feeds.yaml, the project's keywords.txt, a database."""

    def __init__(self, folder: Path, server: FeedServer, feeds: Iterable[str], keywords: Path) -> None:
        self.folder = folder
        self.db = folder / "watcher.db"
        self.keywords = keywords
        lines = [
            "settings:",
            "  language: fr",
            "  timezone: Europe/Paris",
            "  processes: 0",
            "  digest:",
            "    max_items: 30",
            "  alerts:",
            "    enabled: false",
            "feeds:",
        ]
        for name in sorted(feeds):
            lines += [f"  - name: {name[:-4]}", "    kind: rss", f"    url: {server.url(name)}"]
        self.feeds = folder / "feeds.yaml"
        global _PLACE_KNOWN
        if _PLACE_KNOWN is not False:
            self.feeds.write_text("\n".join([*lines[:4], "  place: Sceaux", *lines[4:]]) + "\n", encoding="utf-8")
            if _PLACE_KNOWN is None:  # asked once per run: does this watcher know settings.place?
                _PLACE_KNOWN = self.run("check", check=False).returncode == 0
        if _PLACE_KNOWN is False:
            self.feeds.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "watcher", "--feeds", str(self.feeds), "--keywords", str(self.keywords)]
        cmd += ["--db", str(self.db), *args]
        env = dict(os.environ, WATCHER_NOTIFY="")
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=self.folder)
        if check and done.returncode != 0:
            raise SystemExit(f"watcher {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        return done

    def poll(self) -> None:
        self.run("poll", "--all", "--json")

    def hits(self) -> list[dict[str, Any]]:
        return list(json.loads(self.run("hits", "--json").stdout))

    def digest_hit_ids(self) -> list[int]:
        """The hits of the next digest's stories, as the digest lists them (its library, not a screen scrape)."""
        code = (
            "import json, sys\n"
            "from datetime import UTC, datetime\n"
            "from pathlib import Path\n"
            "from watcher import notify\n"
            "from watcher.config import load_config\n"
            "from watcher.store import Store\n"
            "config = load_config(Path(sys.argv[1]), Path(sys.argv[2]))\n"
            "store = Store(Path(sys.argv[3]))\n"
            "try:\n"
            "    _, d = notify.preview_digest(store, config, datetime.now(UTC), 'text')\n"
            "finally:\n"
            "    store.close()\n"
            "print(json.dumps([e.hit.id for e in d.entries]))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, str(self.feeds), str(self.keywords), str(self.db)],
            capture_output=True,
            text=True,
            cwd=self.folder,
        )
        if done.returncode != 0:
            raise SystemExit(f"digest preview failed: {done.stderr.strip()[-500:]}")
        return list(json.loads(done.stdout))

    def supports_noise_mark(self) -> bool:
        return "--noise" in self.run("relay", "skip", "--help", check=False).stdout


def _key(url: str) -> str:
    u = re.sub(r"^https?://(www\.)?", "", url.strip().lower())
    return u.rstrip("/")


def hit_items(hits: Sequence[Mapping[str, Any]], items: Sequence[Item]) -> dict[int, str]:
    """Hit id -> corpus item id, by the item's link (as given, or canonical)."""
    by_link = {_key(i.link): i.id for i in items}
    out: dict[int, str] = {}
    for h in hits:
        for url in (h.get("url"), h.get("canonical_url")):
            if url and _key(str(url)) in by_link:
                out[int(h["id"])] = by_link[_key(str(url))]
                break
    return out


def related_items(hits: Sequence[Mapping[str, Any]], of: Mapping[int, str]) -> set[str]:
    """The corpus ids of the hits that match no query (offered as close to the theme)."""
    return {of[int(h["id"])] for h in hits if int(h["id"]) in of and (h.get("related") or not h.get("keywords"))}


def score_groups(hits: Sequence[Mapping[str, Any]], of: Mapping[int, str]) -> list[list[str]]:
    """The corpus ids of the hits, grouped by equal score, best first."""
    by_score: dict[float, list[str]] = {}
    for h in hits:
        if int(h["id"]) in of:
            by_score.setdefault(float(h.get("score") or 0), []).append(of[int(h["id"])])
    return [sorted(by_score[k]) for k in sorted(by_score, reverse=True)]


# --- the runs ----------------------------------------------------------------------------------------


def run_plain(items: Sequence[Item], keywords: Path, tmp: Path) -> tuple[Watch, list[list[str]], list[str], set[str]]:
    """Poll every item once; the hits' item ids grouped by score (best first), the digest's, the related ones."""
    with FeedServer() as server:
        server.docs = feed_documents(items)
        watch = Watch(tmp, server, server.docs, keywords)
        watch.poll()
    hits = watch.hits()
    of = hit_items(hits, items)
    order = score_groups(hits, of)
    digest = [of[i] for i in watch.digest_hit_ids() if i in of]
    return watch, order, digest, related_items(hits, of)


def run_feedback(items: Sequence[Item], keywords: Path, tmp: Path) -> dict[str, Any]:
    """Half A polled and labelled through the triage commands, then half B polled beside it; B measured."""
    a, b = halves(items)
    with FeedServer() as server:
        now = datetime.now(UTC)
        server.docs = feed_documents(a, now)
        names = set(feed_documents(items, now))
        watch = Watch(tmp, server, names, keywords)
        if not watch.supports_noise_mark():
            return {"status": "n/a", "why": "`watcher relay skip --noise` does not exist yet in this watcher"}
        watch.poll()
        of = hit_items(watch.hits(), a)
        label = {i.id: i.label for i in a}
        picks = [str(h) for h, i in of.items() if label[i] == "relevant"]
        noise = [str(h) for h, i in of.items() if label[i] == "noise"]
        if picks:
            watch.run("relay", "pick", *picks)
        if noise:
            watch.run("relay", "skip", "--noise", *noise)
        server.docs = feed_documents(items, now)
        watch.poll()
    hits = watch.hits()
    of_all = hit_items(hits, items)
    order = score_groups(hits, of_all)
    digest = [of_all[i] for i in watch.digest_hit_ids() if i in of_all]
    return {
        "status": "measured",
        "picked": len(picks),
        "noise_marked": len(noise),
        "half_b": asdict(measure(b, order, digest, related_items(hits, of_all))),
    }


def evaluate(items: Sequence[Item], keywords: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="relevance-") as t:
        plain_dir, fb_dir = Path(t, "plain"), Path(t, "feedback")
        plain_dir.mkdir()
        fb_dir.mkdir()
        _, order, digest, related = run_plain(items, keywords, plain_dir)
        _, b = halves(items)
        return {
            "no_feedback": asdict(measure(items, order, digest, related)),
            "no_feedback_half_b": asdict(measure(b, order, digest, related)),
            "feedback": run_feedback(items, keywords, fb_dir),
        }


# --- report --------------------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def table(result: Mapping[str, Any]) -> str:
    cols = [("no feedback, all items", result["no_feedback"]), ("no feedback, half B", result["no_feedback_half_b"])]
    fb = result["feedback"]
    if fb.get("status") == "measured":
        cols.append(("after feedback on A, half B", fb["half_b"]))
    rows: list[tuple[str, Callable[[Mapping[str, Any]], str]]] = [
        ("items (relevant / useful)", lambda m: f"{m['items']} ({m['relevant_items']} / {m['useful_items']})"),
        ("hits (noise)", lambda m: f"{m['hits']} ({m['noise_hits']})"),
        ("  of which related (useful)", lambda m: f"{m['related_hits']} ({m['related_useful']})"),
        ("digest stories (noise)", lambda m: f"{m['digest_stories']} ({m['digest_noise']})"),
        ("digest noise          target <= 5 % (3 % after)", lambda m: _pct(m["digest_noise_share"])),
        ("10 best useful        target 10", lambda m: f"{m['top10_useful']:.1f} of {min(10, m['hits'])}"),
        ("P@30                  target >= 0.9", lambda m: _num(m["p_at_30"])),
        ("average precision     target >= 0.9 (0.95 after)", lambda m: _num(m["average_precision"])),
        ("recall, relevant      target >= 0.75", lambda m: _num(m["recall_relevant"])),
        ("recall, useful", lambda m: _num(m["recall_useful"])),
    ]
    width = max(len(r[0]) for r in rows) + 2
    out = ["".ljust(width) + " | ".join(c[0].ljust(28) for c in cols)]
    for name, f in rows:
        out.append(name.ljust(width) + " | ".join(f(c[1]).ljust(28) for c in cols))
    if fb.get("status") != "measured":
        out.append(f"after feedback: n/a ({fb.get('why')})")
    else:
        out.append(f"feedback given on half A: {fb['picked']} picked, {fb['noise_marked']} marked as noise")
    return "\n".join(out)


def worst_lines(m: Mapping[str, Any]) -> str:
    return "\n".join(
        f"  {w['problem']:<20} {('#' + str(w['rank'])) if w['rank'] else '':>5} {w['id']:<24} {w['reason']}"
        for w in m["worst"]
    )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder with corpus/ and labels.tsv")
    ap.add_argument("--keywords", type=Path, default=ROOT / "keywords.txt", help="the queries (default: the project's)")
    ap.add_argument("--limit", type=int, help="only the first N items (a quick look)")
    ap.add_argument("--json", type=Path, help="also write the measures as JSON to this file")
    args = ap.parse_args(argv)
    items = load_corpus(args.corpus)[: args.limit]
    print(f"relevance: {len(items)} labelled items, queries of {args.keywords.name}; polling...", flush=True)
    result = evaluate(items, args.keywords)
    result["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(table(result))
    print("what hurts most (no feedback):")
    print(worst_lines(result["no_feedback"]))
    if result["feedback"].get("status") == "measured":
        print("what hurts most (half B, after feedback on half A):")
        print(worst_lines(result["feedback"]["half_b"]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
