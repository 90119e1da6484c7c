"""A reconnecting reader thread, shared by the HID and the serial scanner adapters.

The subclass opens its device, reads one chunk (returning the finished code
texts) and closes it; this class owns the thread, the visible state
(``connecting``, ``running``, ``lost``, ``stopped``) and the backoff, so an
unplugged scanner never ends the process and comes back when replugged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from core import log
from core.backoff import Backoff
from core.device_thread import DeviceThread
from firmware_bridge.scan import ScanEvent

logger = logging.getLogger(__name__)


class DeviceGone(Exception):
    """The device cannot be opened or went away."""


class ReaderThread(DeviceThread):
    """Subclasses implement ``_open``, ``_read`` (blocking <= ~0.5 s) and ``_close``."""

    source = "scanner"

    def __init__(
        self,
        on_scan: Callable[[ScanEvent], None],
        on_state: Callable[[str, str], None] | None = None,
        reopen_min_s: float = 0.5,
        reopen_max_s: float = 30.0,
    ) -> None:
        super().__init__("scanner", self.source, on_state, "connecting")
        self._on_scan = on_scan
        self._min, self._max = reopen_min_s, reopen_max_s
        self.codes = 0

    def _open(self) -> None:
        raise NotImplementedError

    def _read(self) -> list[str]:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        backoff = Backoff(self._min, self._max)
        while not self._stop.is_set():
            try:
                self._open()
            except DeviceGone as exc:
                self._set_state("lost", str(exc))
                self._stop.wait(backoff.next())
                continue
            self._set_state("running", "")
            backoff.reset()
            try:
                while not self._stop.is_set():
                    for text in self._read():
                        self._emit(text)
            except DeviceGone as exc:
                self._set_state("lost", str(exc))
                self._stop.wait(backoff.next())
            finally:
                self._close()

    def _emit(self, text: str) -> None:
        self.codes += 1
        try:
            self._on_scan(ScanEvent(self.source, text, None, time.monotonic()))
        except Exception as exc:
            log.kv(logger, logging.ERROR, "scan handler failed", error=repr(exc))
