"""sd_notify and a watchdog that pings only while the main loops are alive.

The protocol is one datagram to ``$NOTIFY_SOCKET`` (a path, or ``@name`` for
the abstract namespace); without it (not under systemd) every call is a no-op,
so the same code runs in a terminal, in tests and as a unit.

``Watchdog`` is why ``WatchdogSec`` means something: each main loop calls
``beat(name)``; the pinger sends ``WATCHDOG=1`` only while every registered
loop has beaten within its deadline. A loop that hangs (a stuck serial read,
a deadlock) stops the pings and systemd restarts the unit.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from core import log
from core.threads import Periodic

logger = logging.getLogger("core.sdnotify")


SEND_TIMEOUT_S = 1.0


def notify(message: str, env: dict[str, str] | None = None) -> bool:
    """Send ``message`` (e.g. ``READY=1``); False when there is no systemd to tell."""
    addr = (env if env is not None else os.environ).get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            # Bounded: a datagram socket whose queue is full (net.unix.max_dgram_qlen, 10 by
            # default) blocks the sender, and a stop must never hang on telling systemd.
            s.settimeout(SEND_TIMEOUT_S)
            s.connect(addr)
            s.sendall(message.encode())
    except OSError as exc:
        log.kv(logger, logging.WARNING, "sd_notify failed", error=repr(exc))
        return False
    return True


def watchdog_interval_s(env: dict[str, str] | None = None) -> float | None:
    """Half of systemd's ``WATCHDOG_USEC`` (the recommended ping period), or None."""
    e = env if env is not None else os.environ
    usec = e.get("WATCHDOG_USEC")
    pid = e.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1e6 / 2
    except ValueError:
        return None


class Watchdog:
    """Pings systemd while every registered loop is alive."""

    def __init__(self, interval_s: float | None = None, *,
                 send: Callable[[str], bool] = notify,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s if interval_s is not None else watchdog_interval_s()
        self._send = send
        self._clock = clock
        self._deadlines: dict[str, float] = {}
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: Periodic | None = None
        self.pings = 0
        self.withheld: str | None = None

    def register(self, name: str, deadline_s: float) -> None:
        with self._lock:
            self._deadlines[name] = deadline_s
            self._last[name] = self._clock()

    def beat(self, name: str) -> None:
        with self._lock:
            self._last[name] = self._clock()

    def stalled(self) -> list[str]:
        """The loops that missed their deadline (empty: all alive)."""
        now = self._clock()
        with self._lock:
            return [n for n, d in self._deadlines.items() if now - self._last[n] > d]

    def check_and_ping(self) -> bool:
        late = self.stalled()
        if late:
            if self.withheld != ",".join(late):
                log.kv(logger, logging.ERROR, "watchdog withheld: loop stalled", loops=",".join(late))
            self.withheld = ",".join(late)
            return False
        self.withheld = None
        if self._send("WATCHDOG=1"):
            self.pings += 1
        return True

    def start(self) -> None:
        """Start pinging (once: a second call while running changes nothing)."""
        if self.interval_s is None or (self._thread is not None and self._thread.is_alive()):
            return
        self._thread = Periodic("watchdog", self.check_and_ping, self.interval_s, stop=self._stop,
                                delay_first=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.stop(timeout=2)

    def stopping(self) -> None:
        """Stop pinging, then tell systemd the service is stopping. In this order: a ping sent
        after STOPPING=1 raced it (systemd stops watching a unit once it is deactivating)."""
        self.stop()
        self._send("STOPPING=1")
