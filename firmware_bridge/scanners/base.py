"""A reconnecting reader thread, shared by the HID and the serial scanner adapters.

The subclass opens its device, reads one chunk (returning the finished code
texts) and closes it; this class owns the thread, the visible state
(``connecting``, ``running``, ``lost``, ``stopped``) and the backoff, so an
unplugged scanner never ends the process and comes back when replugged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from edge import log
from edge.codes.scan import ScanEvent

logger = logging.getLogger(__name__)


class DeviceGone(Exception):
    """The device cannot be opened or went away."""


class ReaderThread:
    """Subclasses implement ``_open``, ``_read`` (blocking <= ~0.5 s) and ``_close``."""

    source = "scanner"

    def __init__(
        self,
        on_scan: Callable[[ScanEvent], None],
        on_state: Callable[[str, str], None] | None = None,
        reopen_min_s: float = 0.5,
        reopen_max_s: float = 30.0,
    ) -> None:
        self._on_scan = on_scan
        self._on_state = on_state
        self._min, self._max = reopen_min_s, reopen_max_s
        self.state = "connecting"
        self.detail = ""
        self.codes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.source, daemon=True)

    def _open(self) -> None:
        raise NotImplementedError

    def _read(self) -> list[str]:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._set_state("stopped", "")

    def _set_state(self, state: str, detail: str) -> None:
        if (state, detail) == (self.state, self.detail):
            return
        self.state, self.detail = state, detail
        level = logging.WARNING if state == "lost" else logging.INFO
        log.kv(logger, level, "scanner state", source=self.source, state=state, detail=detail)
        if self._on_state is not None:
            try:
                self._on_state(state, detail)
            except Exception as exc:
                log.kv(logger, logging.ERROR, "scanner state handler failed", error=repr(exc))

    def _run(self) -> None:
        backoff = self._min
        while not self._stop.is_set():
            try:
                self._open()
            except DeviceGone as exc:
                self._set_state("lost", str(exc))
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self._max)
                continue
            self._set_state("running", "")
            backoff = self._min
            try:
                while not self._stop.is_set():
                    for text in self._read():
                        self._emit(text)
            except DeviceGone as exc:
                self._set_state("lost", str(exc))
                self._stop.wait(backoff)
            finally:
                self._close()

    def _emit(self, text: str) -> None:
        self.codes += 1
        try:
            self._on_scan(ScanEvent(self.source, text, None, time.monotonic()))
        except Exception as exc:
            log.kv(logger, logging.ERROR, "scan handler failed", error=repr(exc))
