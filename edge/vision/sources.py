"""Frame sources behind one small interface: camera, video file, image folder, synthetic.

A source opens, reads frames (BGR or grey numpy arrays) and closes; it raises
:class:`SourceError` when the device is gone and returns ``None`` when no
frame is ready (a stall is measured by the supervisor in ``camera.py``).
OpenCV is imported inside the functions so the CLI starts fast.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from edge.vision.config import CameraSection

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm", ".tif", ".tiff")


class SourceError(Exception):
    """The source cannot be opened or has gone away (unplugged, file removed)."""


class FrameSource(Protocol):
    name: str

    def open(self) -> None: ...

    def read(self) -> npt.NDArray[Any] | None: ...

    def close(self) -> None: ...


class CaptureSource:
    """A V4L2 camera or a video file through ``cv2.VideoCapture``.

    For a camera it asks for the configured size, fps and fourcc (MJPG lets a
    USB 2 camera deliver 720p at speed) and reports what the driver granted.
    A file source loops by reopening at its end, so a missing file is noticed.
    """

    def __init__(self, cfg: CameraSection) -> None:
        self.cfg = cfg
        self.is_camera = cfg.source == "camera"
        target = cfg.device if self.is_camera else str(cfg.path)
        self.name = f"camera:{target}" if self.is_camera else f"file:{target}"
        self._target = target
        self._cap: Any = None
        self.granted: dict[str, float] = {}

    def open(self) -> None:
        import cv2

        if not self.is_camera and not Path(self._target).is_file():
            raise SourceError(f"{self._target}: no such video file")
        if self.is_camera:
            dev: int | str = int(self._target) if self._target.isdigit() else self._target
            cap = cv2.VideoCapture(dev, cv2.CAP_V4L2)
        else:
            cap = cv2.VideoCapture(self._target)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"{self._target}: cannot open")
        if self.is_camera:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*self.cfg.fourcc))
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.cfg.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.cfg.height)
            cap.set(cv2.CAP_PROP_FPS, self.cfg.fps)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a stale backlog
            if hasattr(cv2, "CAP_PROP_READ_TIMEOUT_MSEC"):
                cap.set(cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.cfg.stall_timeout_s * 1000))
            self.granted = {
                "width": cap.get(cv2.CAP_PROP_FRAME_WIDTH),
                "height": cap.get(cv2.CAP_PROP_FRAME_HEIGHT),
                "fps": cap.get(cv2.CAP_PROP_FPS),
            }
        self._cap = cap

    def read(self) -> npt.NDArray[Any] | None:
        if self._cap is None:
            raise SourceError(f"{self._target}: not open")
        ok, frame = self._cap.read()
        if ok:
            return frame  # type: ignore[no-any-return]
        if self.is_camera:
            raise SourceError(f"{self._target}: read failed (unplugged?)")
        if not self.cfg.loop:
            raise SourceError(f"{self._target}: end of file")
        self.close()
        self.open()  # raises SourceError when the file has gone
        ok, frame = self._cap.read()
        if not ok:
            raise SourceError(f"{self._target}: no frames")
        return frame  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class FolderSource:
    """Images of a folder in name order, one per read; loops when configured."""

    def __init__(self, path: Path, loop: bool = True) -> None:
        self.path = path
        self.loop = loop
        self.name = f"folder:{path}"
        self._files: list[Path] = []
        self._i = 0

    def open(self) -> None:
        if not self.path.is_dir():
            raise SourceError(f"{self.path}: no such folder")
        self._files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self._files:
            raise SourceError(f"{self.path}: no images")
        self._i = 0

    def read(self) -> npt.NDArray[Any] | None:
        import cv2

        if self._i >= len(self._files):
            if not self.loop:
                raise SourceError(f"{self.path}: end of folder")
            self._i = 0
        f = self._files[self._i]
        self._i += 1
        img = cv2.imread(str(f), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise SourceError(f"{f}: unreadable image (removed?)")
        return np.asarray(img)

    def close(self) -> None:
        self._files = []


class SyntheticSource:
    """Renders configured codes onto a moving, noisy background (demo and tests).

    The background is a large smooth texture that slides a few pixels per
    frame; each code drifts along a slow ellipse; fresh sensor noise every
    frame. Deterministic for a given seed.
    """

    def __init__(
        self, codes: list[str], fmt: str, width: int, height: int, seed: int = 1
    ) -> None:
        self.codes = codes
        self.fmt = fmt
        self.width, self.height = width, height
        self.name = "synthetic"
        self._rng = np.random.default_rng(seed)
        self._t = 0
        self._symbols: list[npt.NDArray[np.uint8]] = []
        self._bg: npt.NDArray[np.uint8] | None = None

    def open(self) -> None:
        from edge.vision.render import background, symbol

        scale = 4 if self.fmt in ("qr-code", "data-matrix") else 2
        self._symbols = [
            np.pad(symbol(c, self.fmt, scale), 8, constant_values=255) for c in self.codes
        ]
        self._bg = background(self.height + 64, self.width + 64, self._rng)
        self._t = 0

    def show(self, codes: list[str], fmt: str | None = None) -> None:
        """Put other codes in view (the demo places a new item under the camera)."""
        from edge.vision.render import symbol

        fmt = fmt or self.fmt
        scale = 4 if fmt in ("qr-code", "data-matrix") else 2
        symbols = [np.pad(symbol(c, fmt, scale), 8, constant_values=255) for c in codes]
        self.codes, self.fmt, self._symbols = codes, fmt, symbols  # one swap: read() sees old or new

    def read(self) -> npt.NDArray[Any] | None:
        if self._bg is None:
            raise SourceError("synthetic source not open")
        t = self._t
        self._t += 1
        dx, dy = int(32 + 31 * math.sin(t / 17)), int(32 + 31 * math.cos(t / 23))
        frame = self._bg[dy : dy + self.height, dx : dx + self.width].copy()
        n = len(self._symbols)
        for i, sym in enumerate(self._symbols):
            sh, sw = sym.shape
            cx = (i + 1) * self.width / (n + 1) + 20 * math.sin(t / 11 + i)
            cy = self.height / 2 + 20 * math.cos(t / 13 + i)
            x0 = int(min(max(0, cx - sw / 2), max(0, self.width - sw)))
            y0 = int(min(max(0, cy - sh / 2), max(0, self.height - sh)))
            h, w = min(sh, self.height - y0), min(sw, self.width - x0)
            frame[y0 : y0 + h, x0 : x0 + w] = sym[:h, :w]
        noise = self._rng.normal(0, 4, frame.shape)
        return np.clip(frame + noise, 0, 255).astype(np.uint8)

    def close(self) -> None:
        self._bg = None


def make_source(cfg: CameraSection) -> FrameSource:
    """The frame source the config names."""
    if cfg.source in ("camera", "file"):
        if cfg.source == "file" and cfg.path is None:
            raise SourceError("camera.source = 'file' needs camera.path")
        return CaptureSource(cfg)
    if cfg.source == "folder":
        if cfg.path is None:
            raise SourceError("camera.source = 'folder' needs camera.path")
        return FolderSource(cfg.path, cfg.loop)
    return SyntheticSource(cfg.synthetic_codes, cfg.synthetic_format, cfg.width, cfg.height)
