"""The end-to-end benchmark still runs, at a tiny size and without the peer; no timing is judged."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_runs_end_to_end_at_a_tiny_size(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--feeds", "6", "--entries", "5", "--latency", "0.01",
         "--skip-peer", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = {r["name"]: r for r in json.loads((tmp_path / "e2e.json").read_text())}
    assert rows["watcher cold"]["entries"] == 30
    assert "watcher cold / floor" in done.stdout


def test_the_web_page_benchmark_runs_at_a_tiny_size(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "web.py"), "--items", "3000", "--runs", "2", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "stories in the window" in done.stdout and "shown on the first page" in done.stdout


def test_the_kept_readers_benchmark_runs_and_counts_one_compilation_per_process(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "readers.py"), "--queries", "200", "--polls", "2", "--feeds", "4",
         "--processes", "1", "--rounds", "1"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = {line.split("|")[1].strip(): line.split("|") for line in done.stdout.splitlines() if line.startswith("| ")}
    assert rows["per poll"][3].strip() == "2"  # one process per poll, each compiling
    assert rows["kept"][3].strip() == "1"  # one process for both polls, compiling once
    assert rows["per poll"][4].strip() == rows["kept"][4].strip() == "400"  # the same items read
