"""The decode worker: its own thread, fed through a one-slot mailbox.

Capture must never wait on decoding. ``submit`` puts the newest frame in a
slot of size one, replacing (dropping) a frame the worker has not taken yet,
so a slow decoder sees the latest frame and the drop count says how far it
fell behind. Nothing queues without bound. The decoder keeps its own state
between frames: the ensemble (``FrameDecoder`` with ``strategy = "alternate"``)
continues its passes on the next frame, within ``decoder.budget_ms`` each.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from core import log
from core.threads import Worker
from edge.vision.decode import Decoded
from firmware_bridge.scan import ScanEvent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Frame:
    """One captured frame and when it was captured (monotonic seconds)."""

    image: npt.NDArray[np.uint8]
    at: float
    seq: int


class LatestSlot:
    """A mailbox of size one that keeps the newest item (drop-oldest)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Any = None
        self._closed = False
        self.dropped = 0

    def put(self, item: Any) -> None:
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify()

    def take(self, timeout: float | None = None) -> Any:
        """The newest item, or None on timeout or after close."""
        with self._cond:
            if self._item is None and not self._closed:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class DecodeWorker(Worker):
    """Runs ``decode(frame.image)`` on the newest frame and emits a ScanEvent per code."""

    def __init__(
        self,
        decode: Callable[[npt.NDArray[Any]], list[Decoded]],
        on_scan: Callable[[ScanEvent], None],
        source: str = "camera",
        on_found: Callable[[Frame, list[Decoded]], None] | None = None,
    ) -> None:
        self._decode = decode
        self._on_scan = on_scan
        self._on_found = on_found  # every decoded frame's codes, outlines included (preview)
        self._source = source
        self._slot = LatestSlot()
        super().__init__("decode")
        self.decoded = 0
        self.errors = 0

    @property
    def dropped(self) -> int:
        return self._slot.dropped

    def submit(self, frame: Frame) -> None:
        """Hand a frame over without ever blocking the capture thread."""
        self._slot.put(frame)

    def stop(self, timeout: float = 5.0) -> None:
        self._slot.close()
        super().stop(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            frame: Frame | None = self._slot.take(timeout=0.5)
            if frame is None:
                continue
            try:
                found = self._decode(frame.image)
            except Exception as exc:  # a bad frame must not end the worker
                self.errors += 1
                log.kv(logger, logging.WARNING, "decode failed", error=repr(exc), seq=frame.seq)
                continue
            self.decoded += 1
            if self._on_found is not None:
                try:
                    self._on_found(frame, found)
                except Exception as exc:
                    log.kv(logger, logging.ERROR, "found handler failed", error=repr(exc))
            for d in found:
                try:
                    self._on_scan(ScanEvent(self._source, d.text, d.format, frame.at))
                except Exception as exc:
                    log.kv(logger, logging.ERROR, "scan handler failed", error=repr(exc))

