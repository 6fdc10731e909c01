"""The systemd units in systemd/: `systemd-analyze verify` accepts them, and the system unit is sandboxed.

Verify checks that ExecStart names an executable file, so each unit is checked in a copy whose
program is this checkout's `watcher` script; everything else is verified as shipped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).parent.parent / "systemd"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed (apt-get install systemd)")


def installed_copy(unit: str, folder: Path) -> Path:
    """The unit with its ExecStart program replaced by the watcher script of this environment."""
    program = Path(sys.executable).parent / "watcher"
    if not program.exists():
        pytest.skip("no `watcher` script beside this Python (pip install -e .)")
    text = (UNITS / unit).read_text()
    text = re.sub(r"^ExecStart=\S+", f"ExecStart={program}", text, flags=re.MULTILINE)
    copy = folder / unit
    copy.write_text(text)
    return copy


@needs_analyze
@pytest.mark.parametrize("unit", ["watcher.service", "watcher-user.service"])
def test_systemd_analyze_verify_accepts_the_unit(unit: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(ANALYZE), "verify", str(installed_copy(unit, tmp_path))], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


@needs_analyze
def test_system_unit_exposure_is_low(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(ANALYZE), "security", "--offline=yes", str(installed_copy("watcher.service", tmp_path))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if "--offline" in result.stderr and result.returncode != 0:
        pytest.skip("this systemd-analyze cannot analyse a unit file offline")
    score = re.search(r"Overall exposure level for watcher.service: (\d+\.\d+)", result.stdout)
    assert score, result.stdout + result.stderr
    assert float(score.group(1)) <= 2.0  # README quotes the current figure


def test_system_unit_declares_what_the_daemon_relies_on() -> None:
    lines = set((UNITS / "watcher.service").read_text().splitlines())
    for needed in (
        "Type=notify",
        "NotifyAccess=main",
        "Restart=on-failure",
        "StateDirectory=watcher",
        "Environment=WATCHER_DB=/var/lib/watcher/watcher.db",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "User=watcher",
        "ProtectSystem=strict",
    ):
        assert needed in lines, needed
    assert any(line.startswith("WatchdogSec=") for line in lines)
    assert any(line.startswith("LoadCredential=") for line in lines)
