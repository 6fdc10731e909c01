"""The few lines of the systemd service protocol watcher speaks: sd_notify(3) and the watchdog.

systemd hands a Type=notify service the address of a datagram socket in $NOTIFY_SOCKET (a path,
or an abstract name written with a leading `@`) and, when WatchdogSec= is set, the watchdog period
in $WATCHDOG_USEC (and the pid it is meant for in $WATCHDOG_PID). Each message is one datagram of
`KEY=value` lines. Outside systemd there is no socket and every call does nothing.

Written by hand rather than with a library: the protocol is these few lines, and the Python
packages that wrap it are unmaintained.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

from watcher.redact import redact

log = logging.getLogger("watcher.systemd")


class Notifier:
    """Sends state changes to the service manager, if there is one."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self.address: str | None = None
        if address.startswith("@"):
            self.address = "\0" + address[1:]  # Linux abstract socket namespace
        elif address.startswith("/"):
            self.address = address
        self.watchdog_period: float | None = None  # seconds between pings systemd expects at most
        usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.watchdog_period = int(usec) / 1_000_000
        self._socket: socket.socket | None = None

    def send(self, *fields: str) -> bool:
        """One datagram of KEY=value fields; False (and a debug line) when it could not be sent."""
        if self.address is None:
            return False
        message = "\n".join(fields).encode("utf-8", "replace")
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto(message, self.address)
        except OSError as exc:  # the manager went away: the service itself goes on
            log.debug("cannot notify the service manager: %s", exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *_status(status))

    def status(self, text: str) -> bool:
        return self.send(*_status(text))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def reloading(self) -> bool:
        # systemd >= 253 wants the monotonic time of the reload start beside RELOADING=1
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *_status(status))

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _status(text: str | None) -> tuple[str, ...]:
    """STATUS= holds one line, and no secret (`systemctl status` shows it to every user)."""
    return () if text is None else ("STATUS=" + " ".join(redact(text).split()),)
