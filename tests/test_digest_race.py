"""Two processes deciding at the same moment that a digest is due record it once; two sending
alerts at once keep to the hourly limit together.

`watcher run` and `watcher digest --send` (or two daemons' worth of calls) may look at the
ledger at the same time: each slot must still get exactly one digest, with windows that follow
one another. Real processes, a real SQLite file, a barrier so that they race at every slot.

The racers are spawned and waited for by conftest.run_processes (why: see there).
"""

from __future__ import annotations

import itertools
import multiprocessing
from datetime import timedelta
from pathlib import Path

from tests.conftest import WAIT, run_processes
from tests.loopback import LoopbackServer
from tests.test_notify import SLOT, WED, WEEK, Hook, make_config, make_hit, store_hits
from watcher import notify
from watcher.store import Store
from watcher.types import Config

ROUNDS = 30
PROCESSES = 4


def _race(db: Path, config: Config, barrier: multiprocessing.synchronize.Barrier, manual: bool) -> None:
    with Store(db) as store:
        for week in range(ROUNDS):
            now = SLOT + week * WEEK + timedelta(minutes=1)
            barrier.wait(WAIT)
            if manual:
                notify.send_digest_now(store, config, now, targets=[])
            else:
                notify.send_due_digest(store, config, now, targets=[])


def race(tmp_path: Path, manual: bool) -> list[tuple[str, str]]:
    config = make_config(tmp_path)
    db = tmp_path / "data" / "watch.db"
    with Store(db) as store:
        for week in range(ROUNDS):  # a hit in every window, so a manual digest always has something new
            found = WED + week * WEEK  # published when found: news, not a source's archive
            store_hits(store, [make_hit(config, week, 50, key=f"k{week}", published=found)], found)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    workers = [context.Process(target=_race, args=(db, config, barrier, manual)) for _ in range(PROCESSES)]
    assert run_processes(workers) == [0] * PROCESSES
    with Store(db) as store:
        return [(str(r[0]), str(r[1])) for r in store.db.execute(
            "SELECT window_start, window_end FROM digests ORDER BY id").fetchall()]  # fmt: skip


def test_two_processes_at_each_slot_record_one_digest_per_slot(tmp_path: Path) -> None:
    windows = race(tmp_path, manual=False)
    assert len(windows) == ROUNDS
    assert len({end for _, end in windows}) == ROUNDS
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))  # each starts where the last ended


def test_two_digest_sends_at_once_record_one_digest_per_moment(tmp_path: Path) -> None:
    windows = race(tmp_path, manual=True)
    assert len({end for _, end in windows}) == len(windows) == ROUNDS
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))


def _alert(db: Path, config: Config, ids: list[int], url: str, barrier: multiprocessing.synchronize.Barrier) -> None:
    targets = notify.load_targets(config, env={"WATCHER_NOTIFY": url})
    with Store(db) as store:
        barrier.wait(WAIT)
        notify.send_alerts(store, config, ids, WED + timedelta(hours=1), targets)


def test_two_processes_alerting_at_once_keep_to_the_hourly_limit_together(tmp_path: Path) -> None:
    config = make_config(tmp_path, "  alerts:\n    min_score: 80\n    max_per_hour: 3\n")
    db = tmp_path / "data" / "watch.db"
    with Store(db) as store:  # two polls' new hits, each alerted by its own process
        first = store_hits(store, [make_hit(config, n, 90, key=f"a{n}") for n in range(4)], WED)
        second = store_hits(store, [make_hit(config, n, 90, key=f"b{n}") for n in range(4, 8)], WED)
    hook = Hook()
    with LoopbackServer() as server:
        server.route("/hook", hook)
        url = server.url("/hook").replace("http://", "json://")
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(2)
        workers = [context.Process(target=_alert, args=(db, config, ids, url, barrier)) for ids in (first, second)]
        assert run_processes(workers) == [0, 0]
    assert len(hook.bodies) == 3  # not three each
    with Store(db) as store:
        assert store.alerts_since(WED) == 3
