"""Log set-up for every command: journald-friendly under systemd, plain lines on a terminal, no secrets.

Under systemd, stderr is a stream to journald and $JOURNAL_STREAM holds its `device:inode`;
each line then starts with a syslog priority `<N>` (journald files it at that level, so
`journalctl -p warning` works) and carries no time stamp (journald adds its own). Anywhere else
lines are plain, with the time for the daemon.

Every line is redacted whole (redact.py: the values of `${NAME}`, the credentials file, the
Apprise URLs of $WATCHER_NOTIFY, what systemd hands over in $CREDENTIALS_DIRECTORY, URL
passwords), tracebacks and their chained causes included, whatever the module that logs.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TextIO

from watcher.redact import SECRETS, redact

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


class Redacting(logging.Formatter):
    """Another formatter's whole output redacted: the message, the traceback with its chained
    causes, the stack; whatever the module that logs (redact.py knows the secrets)."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


def setup(verbose: int = 0, *, daemon: bool = False, stream: TextIO | None = None) -> None:
    """Configure the root logger once per process.

    The daemon logs one line per source per poll (INFO) by default; the other commands print
    their own results, so they log warnings only unless -v is given.
    """
    out = stream or sys.stderr
    handler = logging.StreamHandler(out)
    if journal_stream(out):
        formatter: logging.Formatter = JournalFormatter("%(name)s: %(message)s")
    elif daemon:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    else:
        formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    handler.setFormatter(Redacting(formatter))
    # what is secret before any configuration is read: the targets, and what systemd handed over
    for url in os.environ.get("WATCHER_NOTIFY", "").split():
        SECRETS.remember_url(url)
    SECRETS.remember_credentials_directory()
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
