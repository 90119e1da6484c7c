"""What the scale link is saying right now: connected or not, and its newest reading.

The station's reading consumer notes every reading here (the workflow is fed
only when the weight or its stability changes) and the link's state changes;
the driver hands ``live()`` to each transition, so a confirm can tell a fresh
reading of a connected scale from a number left on the screen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from core.clock import now_rfc3339
from edge.workflow.model import ScaleLive, Weight


class ScaleFeed:
    """Thread-safe holder of the scale link's state and newest reading."""

    def __init__(self, *, connected: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._connected = connected
        self._since: float | None = clock() if connected else None
        self._latest: Weight | None = None

    def stamp(self, w: Weight, received_mono: float | None = None) -> Weight:
        """``w`` with its receive time (monotonic and wall clock); now unless given."""
        mono = self.clock() if received_mono is None else received_mono
        if w.received_mono is not None and received_mono is None:
            mono = w.received_mono
        wall = datetime.now(UTC) - timedelta(seconds=max(0.0, self.clock() - mono))
        return replace(w, received_mono=mono, received_at=w.received_at or now_rfc3339(wall))

    def note(self, w: Weight) -> Weight:
        """Record a reading as the newest (stamped now if it carries no receive time)."""
        if w.received_mono is None or w.received_at is None:
            w = self.stamp(w)
        with self._lock:
            latest = self._latest
            if latest is None or (latest.received_mono or 0.0) <= (w.received_mono or 0.0):
                self._latest = w
        return w

    def clear(self) -> None:
        """The scale sent no weight (overload, error): the last one is no longer evidence."""
        with self._lock:
            self._latest = None

    def link(self, connected: bool, at: float | None = None) -> None:
        """The link's state changed; a (re)connection starts a new session."""
        with self._lock:
            if connected and not self._connected:
                self._since = self.clock() if at is None else at
            self._connected = connected

    def live(self) -> ScaleLive:
        with self._lock:
            return ScaleLive(self._connected, self._since, self._latest, self.clock())
