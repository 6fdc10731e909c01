"""Log set-up for every command: journald-friendly under systemd, plain lines on a terminal, no secrets.

Under systemd, stderr is a stream to journald and $JOURNAL_STREAM holds its `device:inode`;
each line then starts with a syslog priority `<N>` (journald files it at that level, so
`journalctl -p warning` works) and carries no time stamp (journald adds its own). Anywhere else
lines are plain, with the time for the daemon.

Known secret values (Apprise URLs from $WATCHER_NOTIFY, values of the credentials file) are
replaced by `***` in every line, whatever the module that logs them.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from typing import TextIO

# logging level -> syslog priority (sd-daemon(3))
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


def journal_stream(stream: TextIO, environ: dict[str, str] | None = None) -> bool:
    """True when `stream` is the journald stream systemd connected (the test systemd documents)."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError):  # a stream without a file descriptor (tests, pipes closed)
        return False
    return info.st_dev == int(device) and info.st_ino == int(inode)


class JournalFormatter(logging.Formatter):
    """`<N>logger: message`, every line of a multi-line record prefixed (journald splits lines)."""

    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITY.get(record.levelno, 6 if record.levelno < logging.WARNING else 3)
        text = super().format(record)
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines() or [""])


class Redact(logging.Filter):
    """Replaces known secret values in log lines; attached to the handler, so it sees every logger."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, values: Iterable[str]) -> None:
        # very short values would blank ordinary words; nobody's token is that short
        self.secrets.update(v for v in values if len(v) >= 6)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            for secret in sorted(self.secrets, key=len, reverse=True):
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


REDACT = Redact()


def setup(verbose: int = 0, *, daemon: bool = False, stream: TextIO | None = None) -> None:
    """Configure the root logger once per process.

    The daemon logs one line per source per poll (INFO) by default; the other commands print
    their own results, so they log warnings only unless -v is given.
    """
    out = stream or sys.stderr
    handler = logging.StreamHandler(out)
    if journal_stream(out):
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    elif daemon:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S"))
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(REDACT)
    REDACT.add(os.environ.get("WATCHER_NOTIFY", "").split())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    base = logging.INFO if daemon else logging.WARNING
    root.setLevel(max(logging.DEBUG, base - 10 * verbose))
    if not daemon and not verbose:  # the commands print each source's outcome themselves
        logging.getLogger("watcher.poll").setLevel(logging.ERROR)
    for noisy in ("httpx", "httpcore"):  # a line per request is too much, and would show query strings
        logging.getLogger(noisy).setLevel(logging.WARNING)
