"""Triage as a community manager uses it: noise marks, undo, and exports that only look.

Run through the command line over a database filled by a real poll of loopback feeds; each
test checks the SQLite file, the digest or the exported file.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.feedgen import rss
from tests.loopback import LoopbackServer, Response
from tests.test_everyday import FEEDS, KEYWORDS, NEWS, RIVAL, Watch


@pytest.fixture
def watch(server: LoopbackServer, tmp_path: Path) -> Watch:
    server.route("/news", Response(200, {"Content-Type": "application/rss+xml"}, rss(NEWS)))
    server.route("/rival", Response(200, {"Content-Type": "application/rss+xml"}, rss(RIVAL)))
    (tmp_path / "keywords.txt").write_text(KEYWORDS, encoding="utf-8")
    (tmp_path / "feeds.yaml").write_text(
        FEEDS.format(news=server.url("/news"), rival=server.url("/rival")), encoding="utf-8"
    )
    args = ["--feeds", str(tmp_path / "feeds.yaml"), "--keywords", str(tmp_path / "keywords.txt")]
    w = Watch(tmp_path, [*args, "--db", str(tmp_path / "watch.db")])
    result = w.run("poll", "--all")
    assert result.exit_code == 0, result.output
    return w


def ids_by_url(watch: Watch) -> dict[str, int]:
    return {str(h["url"]): int(str(h["id"])) for h in watch.hits()}


def states(watch: Watch) -> dict[int, str]:
    return {int(str(h["id"])): str(h["state"]) for h in watch.hits()}


def history(watch: Watch) -> list[tuple[int, str, int, int]]:
    with sqlite3.connect(watch.db) as conn:
        return conn.execute("SELECT item_id, state, undo, undone FROM state_changes ORDER BY rowid").fetchall()


def test_a_noise_mark_is_kept_apart_from_a_skip_and_leaves_the_digest_at_once(watch: Watch) -> None:
    ids = ids_by_url(watch)
    sceaux, equilibre, paris = (
        ids["https://news.example/coworking-sceaux"],
        ids["https://news.example/equilibre"],
        ids["https://rival.example/paris"],
    )
    before = watch.run("digest", "--preview").output
    assert "Un coworking ouvre à Sceaux" in before and "Acme ouvre un coworking à Paris" in before

    result = watch.run("relay", "skip", "--noise", str(sceaux), str(equilibre))
    assert result.exit_code == 0, result.output
    assert f"Marked as noise 2 hits: #{sceaux}, #{equilibre}." in result.output
    result = watch.run("relay", "skip", str(paris))
    assert result.exit_code == 0 and "Skipped 1 hit" in result.output

    now = states(watch)
    assert (now[sceaux], now[equilibre], now[paris]) == ("noise", "noise", "skipped")
    assert {int(str(h["id"])) for h in watch.hits("--state", "noise")} == {sceaux, equilibre}
    after = watch.run("digest", "--preview").output
    assert "Un coworking ouvre à Sceaux" not in after and "L'Équilibre de vie" not in after
    assert "Acme ouvre un coworking à Paris" in after  # skipped: relevant, still in the digest
    listed = json.loads(watch.run("relay", "list", "--state", "new", "--json").stdout)
    assert sceaux not in {h["id"] for h in listed}

    # a noise mark can be changed into a pick (the label changes), but not into a relayed one
    result = watch.run("relay", "done", str(equilibre))
    assert result.exit_code == 1 and f"#{equilibre}: not relayed: it is noise" in result.output
    result = watch.run("relay", "pick", str(equilibre))
    assert result.exit_code == 0 and states(watch)[equilibre] == "picked"


def test_undo_takes_a_hit_back_one_step_at_a_time_and_the_history_keeps_both_moves(watch: Watch) -> None:
    ids = ids_by_url(watch)
    sceaux, noisy = ids["https://news.example/coworking-sceaux"], ids["https://news.example/equilibre"]
    assert watch.run("relay", "pick", str(sceaux)).exit_code == 0
    assert watch.run("export", "--out", str(watch.folder / "relay.csv")).exit_code == 0
    assert watch.run("relay", "done", str(sceaux)).exit_code == 0
    assert watch.run("relay", "skip", "--noise", str(noisy)).exit_code == 0
    assert states(watch)[sceaux] == "relayed"

    walked = []
    for _ in range(3):
        result = watch.run("relay", "undo", str(sceaux))
        assert result.exit_code == 0, result.output
        walked.append(states(watch)[sceaux])
    assert walked == ["exported", "picked", "new"]
    assert next(h for h in watch.hits() if h["id"] == sceaux)["exported_at"] is None

    result = watch.run("relay", "undo", str(sceaux), f"#{noisy}", "99999")
    assert result.exit_code == 1
    assert f"#{sceaux}: new, nothing to undo." in result.output
    assert f"#{noisy}: back to new." in result.output
    assert "#99999: no such hit" in result.output
    assert states(watch)[noisy] == "new"

    assert history(watch) == [
        (sceaux, "picked", 0, 1),
        (sceaux, "exported", 0, 1),
        (sceaux, "relayed", 0, 1),
        (noisy, "noise", 0, 1),
        (sceaux, "exported", 1, 0),
        (sceaux, "picked", 1, 0),
        (sceaux, "new", 1, 0),
        (noisy, "new", 1, 0),
    ]
    # what was undone is not counted as done in the report
    report = json.loads(watch.run("report", "--since", "1d", "--out", str(watch.folder / "r"), "--json").stdout)
    assert report["triage"] == {}
    # and an exported hit can be picked again only through undo, which the refusal says
    assert watch.run("relay", "pick", str(sceaux)).exit_code == 0
    assert watch.run("export", "--out", str(watch.folder / "relay2.csv")).exit_code == 0
    result = watch.run("relay", "skip", str(sceaux))
    assert result.exit_code == 1 and "`watcher relay undo ID` takes it back to picked" in result.output


def test_exports_meant_to_look_change_nothing_and_only_the_relay_file_marks_hits(watch: Watch) -> None:
    ids = ids_by_url(watch)
    picked = [ids["https://news.example/coworking-sceaux"], ids["https://news.example/fabrique"]]
    assert watch.run("relay", "pick", *map(str, picked)).exit_code == 0
    before = states(watch)

    looks = [
        ["--format", "csv", "--state", "new", "--since", "7d", "--out", str(watch.folder / "new.csv")],  # README
        ["--format", "csv", "--out", str(watch.folder / "picked.csv")],
        ["--format", "json"],
        ["--format", "hootsuite", "--state", "new", "--out", str(watch.folder / "new-hs.csv")],
        ["--out", str(watch.folder / "dry.csv"), "--dry-run"],
    ]
    for options in looks:
        result = watch.run("export", *options)
        assert result.exit_code == 0, result.output
        assert "nothing marked" in result.output, options
        assert states(watch) == before, options
    new_rows = (watch.folder / "new.csv").read_text(encoding="utf-8").splitlines()
    assert len(new_rows) == 1 + sum(1 for s in before.values() if s == "new")

    result = watch.run("export", "--out", str(watch.folder / "relay.csv"))
    assert result.exit_code == 0 and "2 marked exported" in result.output
    after = states(watch)
    assert {i for i, s in after.items() if s == "exported"} == set(picked)
    assert {i: s for i, s in after.items() if i not in picked} == {i: s for i, s in before.items() if i not in picked}
    assert [s for _, s, _, _ in history(watch)] == ["picked", "picked", "exported", "exported"]
