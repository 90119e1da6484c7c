"""Wall time, boot id and whether the clock is synchronised.

A Pi has no battery clock, so every event carries whether the kernel considered
its clock synchronised (adjtimex: not TIME_ERROR) and the boot id; order comes
from the journal's seq, never from the clock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from datetime import UTC, datetime
from pathlib import Path

_TIME_ERROR = 5


def now_rfc3339(dt: datetime | None = None) -> str:
    """RFC 3339 UTC with milliseconds, e.g. 2026-11-28T06:41:09.123Z."""
    dt = (dt or datetime.now(UTC)).astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 timestamp with an explicit offset (``Z`` accepted)."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return dt


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


@functools.cache
def _libc() -> ctypes.CDLL:
    """libc, loaded once: ``find_library`` runs ldconfig, ~2 ms, far too slow per event."""
    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def clock_synced() -> bool:
    """True when the kernel reports the clock synchronised (NTP/chrony/timesyncd)."""
    try:
        libc = _libc()
        buf = ctypes.create_string_buffer(512)  # struct timex, modes=0: read only
        state: int = libc.adjtimex(buf)
    except (OSError, AttributeError):
        return False
    return state not in (-1, _TIME_ERROR)


class Clock:
    """The time source events are stamped with; tests replace it with a fixed one."""

    def now(self) -> str:
        return now_rfc3339()

    def synced(self) -> bool:
        return clock_synced()

    def boot_id(self) -> str:
        return boot_id()
