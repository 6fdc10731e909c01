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
