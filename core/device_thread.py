"""A device-owning thread with a visible state: the shared part of camera and scanners.

Every device (camera, HID scanner, serial scanner) runs in one named thread,
exposes ``state`` and ``detail`` for the kiosk, status topic and ``doctor``,
logs each change and calls ``on_state(state, detail)``. Subclasses write
``_run``; a failing state callback is logged and never ends the thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from core import log
from core.threads import Worker

logger = logging.getLogger(__name__)

WARNING_STATES = frozenset({"lost", "stalled"})


class DeviceThread(Worker):
    """A ``Worker`` that owns ``state``/``detail`` of one device and reports each change."""

    def __init__(
        self, kind: str, source: str, on_state: Callable[[str, str], None] | None, initial: str
    ) -> None:
        super().__init__(kind)
        self.kind = kind
        self.source_name = source
        self._on_state = on_state
        self.state = initial
        self.detail = ""

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        self._set_state("stopped", "")

    def _set_state(self, state: str, detail: str) -> None:
        if (state, detail) == (self.state, self.detail):
            return
        self.state, self.detail = state, detail
        level = logging.WARNING if state in WARNING_STATES else logging.INFO
        log.kv(logger, level, f"{self.kind} state", source=self.source_name, state=state,
               detail=detail)
        if self._on_state is not None:
            try:
                self._on_state(state, detail)
            except Exception as exc:
                log.kv(logger, logging.ERROR, "state handler failed", error=repr(exc))
