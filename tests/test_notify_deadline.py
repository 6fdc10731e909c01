"""Every delivery through Apprise ends by settings.notify.timeout: a target that accepts and never
answers costs the daemon's loop that long at most, and the message is never sent twice."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from tests.loopback import LoopbackServer, Request, Response
from tests.test_notify import SLOT, WED, WEEK, Hook, json_url, make_config, make_hit, store_hits, targets
from watcher import notify
from watcher.config import load_config
from watcher.errors import ConfigError
from watcher.store import Store


class Silent:
    """Reads the request, then answers nothing until released (a hung server behind a live socket)."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.then = Hook()

    def __call__(self, req: Request) -> Response:
        self.released.wait(60)
        return self.then(req)


def test_a_target_that_never_answers_is_given_up_at_the_deadline_recorded_uncertain_and_never_sent_again(
    tmp_path: Path, server: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(tmp_path, "  notify:\n    timeout: 1\n")
    silent = Silent()
    server.route("/hook", silent)
    # Apprise's own socket timeouts raised far beyond the deadline: only the deadline ends the send
    [target] = targets(config, json_url(server, "/hook") + "?cto=300&rto=300")
    try:
        with Store(tmp_path / "watch.db") as store:
            store_hits(store, [make_hit(config, 1, 80)], WED)
            with caplog.at_level(logging.WARNING, logger="watcher.notify"):
                first = notify.send_due_digest(store, config, SLOT, [target])
            [delivery] = first.deliveries
            assert delivery.state == "uncertain" and not first.failed
            assert "no answer within 1 s" in (delivery.error or "")
            said = [r.getMessage() for r in caplog.records if r.name == "watcher.notify"]
            assert len(said) == 1 and "digest 1" in said[0] and "no answer within 1 s" in said[0]
            [row] = store.digest_history()[0]["deliveries"]
            assert row["state"] == "uncertain"
            # the server answers at last (the abandoned call may deliver it late): nothing is sent again
            silent.released.set()
            assert notify.send_due_digest(store, config, SLOT + timedelta(hours=6), [target]).deliveries == ()
            store_hits(store, [make_hit(config, 2, 60)], SLOT + timedelta(days=1))
            second = notify.send_due_digest(store, config, SLOT + WEEK, [target])
            assert [d.state for d in second.deliveries] == ["sent"]
    finally:
        silent.released.set()
    messages = [b["message"] for b in silent.then.bodies]
    later = [m for m in messages if "article-2" in m]
    assert len(later) == 1  # the next week's digest, once
    assert "article-1" not in later[0] and "résumé n° 1" in later[0]  # and it says the first may not have arrived
    assert sum("article-1" in m for m in messages) <= 1  # the first went out at most once (late, if at all)


def test_a_test_message_to_a_target_that_never_answers_ends_at_the_deadline(
    tmp_path: Path, server: LoopbackServer
) -> None:
    config = make_config(tmp_path, "  notify:\n    timeout: 1\n")
    silent = Silent()
    server.route("/hook", silent)
    try:
        [result] = notify.send_test(config, WED, targets(config, json_url(server, "/hook") + "?cto=300&rto=300"))
    finally:
        silent.released.set()
    assert not result.ok and result.uncertain
    assert "no answer within 1 s" in (result.error or "")


@pytest.mark.parametrize("value", ["0", "-1", ".inf", "601", "true", "soon"])
def test_a_notify_timeout_out_of_range_is_one_line_naming_its_line(tmp_path: Path, value: str) -> None:
    (tmp_path / "feeds.yaml").write_text(
        f"settings:\n  notify:\n    timeout: {value}\nfeeds:\n  - name: presse\n    kind: rss\n    url: http://127.0.0.1/f\n"
    )
    (tmp_path / "keywords.txt").write_text("coworking\n")
    with pytest.raises(ConfigError) as bad:
        load_config(tmp_path / "feeds.yaml", tmp_path / "keywords.txt", env={})
    assert "settings.notify.timeout" in str(bad.value)
    assert bad.value.line == 3
