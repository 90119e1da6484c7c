"""The capture thread: reads a frame source, hands frames on, survives loss and stalls.

States (``Camera.state``, and ``on_state(state, detail)`` on every change):
``starting`` -> ``running``; ``lost`` when the source fails to open or read;
``stalled`` when no frame came for ``stall_timeout_s``; ``stopped`` at the end.
A lost or stalled source is closed and reopened with exponential backoff
(``reopen_min_s`` doubling up to ``reopen_max_s``), for ever: a camera that is
plugged back in comes back without a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from core import log
from core.backoff import Backoff
from core.device_thread import DeviceThread
from edge.vision.config import CameraSection
from edge.vision.sources import FrameSource, SourceError
from edge.vision.worker import Frame

logger = logging.getLogger(__name__)

STATES = ("starting", "running", "lost", "stalled", "stopped")


class Camera(DeviceThread):
    """Owns one frame source in its own thread; never blocks on the consumer."""

    def __init__(
        self,
        source: FrameSource,
        cfg: CameraSection,
        on_frame: Callable[[Frame], None],
        on_state: Callable[[str, str], None] | None = None,
        frame_interval_s: float = 0.0,
    ) -> None:
        super().__init__("camera", source.name, on_state, "starting")
        self.source = source
        self.cfg = cfg
        self._on_frame = on_frame
        self._interval = frame_interval_s  # pacing for file/folder/synthetic sources
        self.frames = 0
        self.reopens = 0

    def _run(self) -> None:
        backoff = Backoff(self.cfg.reopen_min_s, self.cfg.reopen_max_s)
        while not self._stop.is_set():
            try:
                self.source.open()
            except SourceError as exc:
                self._set_state("lost", str(exc))
                self._stop.wait(backoff.next())
                continue
            before = self.frames
            reason = self._capture()
            self.source.close()
            if self.frames > before:
                backoff.reset()  # it worked for a while: start backoff afresh
            if reason is None:
                break
            self.reopens += 1
            self._set_state(reason[0], reason[1])
            if reason[0] == "lost":
                self._stop.wait(backoff.next())
            else:
                backoff.reset()  # a stall reopens at once
        self.source.close()

    def _capture(self) -> tuple[str, str] | None:
        """Read until stopped (None) or until the source is lost or stalls (state, why)."""
        last = time.monotonic()
        while not self._stop.is_set():
            try:
                image = self.source.read()
            except SourceError as exc:
                return ("lost", str(exc))
            now = time.monotonic()
            if image is None:
                if now - last > self.cfg.stall_timeout_s:
                    return ("stalled", f"no frame for {now - last:.1f} s")
                self._stop.wait(0.01)
                continue
            last = now
            self.frames += 1
            if self.state != "running":
                self._set_state("running", "")
            try:
                self._on_frame(Frame(image, now, self.frames))
            except Exception as exc:  # a consumer bug must not stop the camera
                log.kv(logger, logging.ERROR, "frame handler failed", error=repr(exc))
            if self._interval:
                self._stop.wait(self._interval)
        return None
