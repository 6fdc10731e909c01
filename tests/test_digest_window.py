"""The digest on a window larger than what it shows: the best stories are chosen in SQL, the hits a
delivery covers are recorded in SQL, and the first digest covers one period. Real SQLite files."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.test_notify import SLOT, WED, WEEK, make_config, make_hit, store_hits
from watcher import digest as dg
from watcher import notify
from watcher.store import Store
from watcher.types import Config


def _reference(store: Store, config: Config, start: object, end: object, max_items: int) -> tuple[object, int, int]:
    """What the digest chose before: every hit of the window loaded, then dg.choose over all of them."""
    hits = [dg.hit_from_row(r) for r in store.digest_hits(start, end)]  # type: ignore[arg-type]
    in_digest = {h.id for h in hits}
    clusters = sorted({h.cluster for h in hits if h.cluster is not None})
    outlets = {
        cluster: [
            o["publisher"] or o["author"] or (o["sources"] or "").split(", ")[0]
            for o in items
            if o["id"] not in in_digest
        ]
        for cluster, items in store.cluster_outlets(clusters).items()
    }
    weights = {q.text: q.weight for q in config.queries}
    groups, omitted = dg.choose(
        hits, [q.text for q in config.queries], max_items, outlets, weights=weights, counts=store.query_counts()
    )
    return groups, omitted, len(hits)


@pytest.mark.parametrize("max_items", [1, 4, 30])
def test_best_stories_chosen_in_sql_are_those_chosen_from_every_hit(tmp_path: Path, max_items: int) -> None:
    config = make_config(tmp_path, f"  digest:\n    max_items: {max_items}\n")
    with Store(tmp_path / "watch.db") as store:
        keywords = [("coworking",), ("fablab",), ("tiers-lieux", "coworking")]
        # 24 single stories with tied scores and publication times, and 3 stories told by 3
        # outlets each (one cluster each), one of them also by an outlet outside the window
        singles = [
            make_hit(config, n, 40 + n % 5 * 10, keywords[n % 3], published=WED - timedelta(hours=n % 4))
            for n in range(24)
        ]
        store_hits(store, singles, WED)
        story_titles = [
            "Un nouveau tiers-lieu ouvre ses portes au centre de Nantes",
            "Le fablab municipal de Lyon déménage dans une ancienne usine",
            "Un espace de coworking rural attire les citadins en Creuse",
        ]
        store_hits(
            store,
            [make_hit(config, 200, 50, ("coworking",), title=story_titles[2], key="old", url="https://old.example/x",
                      canonical_url="https://old.example/x", publisher="Ancien")],
            WED - 2 * WEEK,
            source="archives",
        )  # fmt: skip
        for outlet in range(3):
            store_hits(
                store,
                [
                    make_hit(config, 100 + 10 * s + outlet, 90 - 20 * s + outlet * 5, keywords[s],
                             title=story_titles[s], publisher=f"Titre {outlet}",
                             published=WED + timedelta(hours=outlet))
                    for s in range(3)
                ],
                WED + timedelta(minutes=outlet),
                source=f"outlet{outlet}",
            )  # fmt: skip
        start, end = WED - timedelta(days=1), SLOT
        groups, omitted, total = _reference(store, config, start, end, max_items)
        d, count = notify.build_digest(store, config, start, end)
        clustered = store.db.execute("SELECT count(DISTINCT cluster) FROM items").fetchone()[0]
        assert clustered == 3  # the three stories told by several outlets are clusters
        assert (d.groups, d.omitted, d.total, count) == (groups, omitted, total, total)


def test_a_delivery_records_every_hit_of_its_window_not_only_the_stories_shown(tmp_path: Path) -> None:
    config = make_config(tmp_path, "  digest:\n    max_items: 1\n")
    with Store(tmp_path / "watch.db") as store:
        ids = store_hits(store, [make_hit(config, n, 50 + n) for n in range(5)], WED)
        report = notify.send_due_digest(store, config, SLOT, [])  # no target: the digest file
        [delivery] = report.deliveries
        assert (delivery.state, delivery.items) == ("sent", 5)
        recorded = [r[0] for r in store.db.execute("SELECT item_id FROM delivered_hits ORDER BY item_id")]
        assert recorded == sorted(ids)
        later = notify.send_digest_now(store, config, SLOT + timedelta(hours=1), [])
        assert later.created is None and later.deliveries == ()


def test_a_claim_whose_hits_changed_since_the_digest_was_built_records_nothing(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with Store(tmp_path / "watch.db") as store:
        ids = store_hits(store, [make_hit(config, n, 60) for n in range(2)], WED)
        digest_id = store.create_digest(WED - WEEK, SLOT, SLOT, [("t1", "Test [t1]")])
        assert store.claim_delivery_of(digest_id, "t1", WED - WEEK, SLOT, 1, SLOT) == "changed"
        assert store.db.execute("SELECT count(*) FROM delivered_hits").fetchone()[0] == 0
        assert [r["state"] for r in store.open_deliveries()] == ["pending"]
        assert store.claim_delivery_of(digest_id, "t1", WED - WEEK, SLOT, 2, SLOT) == "claimed"
        recorded = sorted(r[0] for r in store.db.execute("SELECT item_id FROM delivered_hits WHERE target = 't1'"))
        assert recorded == sorted(ids)
        assert store.claim_delivery_of(digest_id, "t1", WED - WEEK, SLOT, 2, SLOT) == "busy"


def test_the_first_digest_covers_the_last_week_only(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with Store(tmp_path / "watch.db") as store:
        store_hits(store, [make_hit(config, 1, 70)], WED - 3 * WEEK)  # long before the first digest
        store_hits(store, [make_hit(config, 2, 60)], WED)
        text, preview = notify.preview_digest(store, config, SLOT, "text")
        assert preview.total == 1 and "article-2" in text and "article-1" not in text
        assert preview.start == notify._through(SLOT) - WEEK
        report = notify.send_due_digest(store, config, SLOT, [])
        assert report.window is not None and (report.window.start, report.window.end) == (SLOT - WEEK, SLOT)
        assert [d.items for d in report.deliveries] == [1]


def test_the_first_digest_sent_by_hand_covers_the_last_week_only(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    with Store(tmp_path / "watch.db") as store:
        store_hits(store, [make_hit(config, 1, 70)], WED - 3 * WEEK)
        store_hits(store, [make_hit(config, 2, 60)], WED)
        report = notify.send_digest_now(store, config, WED + timedelta(hours=1), [])
        assert report.window is not None and report.window.start == notify._through(WED + timedelta(hours=1)) - WEEK
        assert [d.items for d in report.deliveries] == [1]
