"""Scan events, the one shape every reader produces, and repeat suppression.

Camera decoder, HID scanner and serial scanner all emit :class:`ScanEvent`.
:class:`RepeatFilter` is pure: it takes the event's monotonic time, so tests
drive it with plain numbers; a new placement on the scale calls
:meth:`RepeatFilter.new_window` so the same code on a new item counts again.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class ScanEvent:
    """One code read once by one reader."""

    source: str  # e.g. "camera", "hid:/dev/input/event3", "serial:/dev/ttyACM0"
    text: str  # as read, with an AIM symbology id prefix for GS1 data
    format: str | None  # barcode format when the reader knows it (camera), else None
    at: float  # time.monotonic() of the read


class RepeatFilter:
    """Let a code through once per window: repeats within ``window_s`` are dropped.

    The window is per code text and is measured from the last time the code
    was *seen* (so a code held in view keeps being suppressed). ``new_window()``
    forgets everything: the next read of any code counts again.
    """

    def __init__(self, window_s: float) -> None:
        if window_s < 0:
            raise ValueError("window_s must be >= 0")
        self.window_s = window_s
        self._last_seen: dict[str, float] = {}

    def accept(self, text: str, at: float) -> bool:
        """True when ``text`` read at ``at`` is new; records the sighting either way."""
        last = self._last_seen.get(text)
        # Events from several reader threads may arrive slightly out of order:
        # an older sighting never moves the window back.
        self._last_seen[text] = at if last is None else max(last, at)
        if len(self._last_seen) > 1024:  # bound memory on a long-running station
            cutoff = at - self.window_s
            self._last_seen = {k: v for k, v in self._last_seen.items() if v >= cutoff}
        return last is None or at - last > self.window_s

    def new_window(self) -> None:
        """A new placement on the scale: every code counts again."""
        self._last_seen.clear()


class ScanHub:
    """Where every reader's events meet: thread-safe, bounded, repeats filtered once.

    Reader threads (decode worker, scanners) call :meth:`submit`; the workflow
    thread calls :meth:`get` and, when a new placement settles on the scale,
    :meth:`new_window`. The queue is bounded: when the consumer is stuck,
    new events are dropped and counted rather than piling up.
    """

    def __init__(self, window_s: float, maxsize: int = 256) -> None:
        self._queue: queue.Queue[ScanEvent] = queue.Queue(maxsize)
        self._filter = RepeatFilter(window_s)
        self._lock = threading.Lock()
        self.dropped = 0
        self.repeats = 0

    def submit(self, event: ScanEvent) -> None:
        """From any thread: queue the event unless it repeats within the window."""
        with self._lock:
            if not self._filter.accept(event.text, event.at):
                self.repeats += 1
                return
            try:
                self._queue.put_nowait(event)
            except queue.Full:
                self.dropped += 1

    def get(self, timeout: float | None = None) -> ScanEvent | None:
        """The next accepted scan, or None after ``timeout`` seconds."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def new_window(self) -> None:
        """A new placement on the scale: every code counts again."""
        with self._lock:
            self._filter.new_window()
