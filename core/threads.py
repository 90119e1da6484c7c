"""The one thread idiom: a named daemon thread with a stop event, started and stopped alike.

``Worker`` owns the thread and the stop event (``start``, ``stop`` sets the event
and joins with a timeout, ``is_alive``); subclasses write ``_run`` and wait on
``self._stop`` so a stop is seen at once. ``Periodic`` is the common case: call
one step every interval (or sooner when woken), where a failing step is logged
and never ends the loop. Device threads (``core.device_thread``) build on
``Worker`` and add a visible state.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Self

from core import log

logger = logging.getLogger(__name__)


class Worker:
    """A named daemon thread running ``_run`` until ``stop``; ``_stop`` is its stop event."""

    def __init__(self, name: str, *, stop: threading.Event | None = None) -> None:
        self.name = name
        self._stop = stop if stop is not None else threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread.is_alive() \
                and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


class Periodic(Worker):
    """Calls ``step`` every ``interval_s`` until stopped; ``wake`` (if given) runs it sooner.

    The first step runs at once unless ``delay_first``. An exception in a step is
    logged with the thread's name and the loop goes on.
    """

    def __init__(self, name: str, step: Callable[[], object], interval_s: float | Callable[[], float],
                 *, stop: threading.Event | None = None, wake: threading.Event | None = None,
                 delay_first: bool = False) -> None:
        super().__init__(name, stop=stop)
        self.step = step
        self.interval = interval_s if callable(interval_s) else (lambda: float(interval_s))
        self.wake = wake
        self.delay_first = delay_first

    def _wait(self) -> None:
        if self.wake is None:
            self._stop.wait(self.interval())
            return
        self.wake.wait(self.interval())
        self.wake.clear()

    def _run(self) -> None:
        if self.delay_first:
            self._wait()
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as exc:  # one bad pass must not end the loop
                log.kv(logger, logging.ERROR, "periodic step failed", thread=self.name, error=repr(exc))
            if self._stop.is_set():
                break
            self._wait()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self.wake is not None:
            self.wake.set()
        super().stop(timeout)
