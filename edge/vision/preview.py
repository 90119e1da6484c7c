"""The kiosk's camera preview: the newest frame as JPEG, the detected codes outlined.

Pure image work on what the capture and decode threads left behind; the web
app calls ``render`` per request (a few ms at 640×480), so nothing is encoded
when nobody looks.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

OUTLINE_S = 1.0  # an outline is shown this long after its frame was decoded
PREVIEW_WIDTH = 480


class Preview:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: Any = None
        self._found: list[Any] = []
        self._found_at = 0.0

    def on_frame(self, frame: Any) -> None:
        self._frame = frame  # one reference swap: the capture thread never waits

    def on_found(self, frame: Any, found: list[Any]) -> None:
        if found:
            with self._lock:
                self._found, self._found_at = found, time.monotonic()

    def still(self) -> bytes | None:
        """The newest frame at full size as a JPEG (quality 90), nothing drawn on it: the
        photograph of a document. None before the first frame."""
        import cv2

        frame = self._frame
        if frame is None:
            return None
        ok, buf = cv2.imencode(".jpg", frame.image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        return bytes(buf) if ok else None

    def render(self) -> bytes | None:
        """JPEG bytes, or None when no frame has arrived yet."""
        import cv2

        frame = self._frame
        if frame is None:
            return None
        img = frame.image
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else img.copy()
        with self._lock:
            found = self._found if time.monotonic() - self._found_at < OUTLINE_S else []
        for d in found:
            if len(d.corners) >= 3:
                pts = np.array(d.corners, np.int32).reshape(-1, 1, 2)
                cv2.polylines(img, [pts], True, (0, 200, 0), 4)
        h, w = img.shape[:2]
        if w > PREVIEW_WIDTH:
            img = cv2.resize(img, (PREVIEW_WIDTH, round(h * PREVIEW_WIDTH / w)),
                             interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 70])
        return bytes(buf) if ok else None
