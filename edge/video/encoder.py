"""Clip writer: H.264 in fragmented MP4 through PyAV (its wheel carries libx264).

Why this format: Chromium's ``<video>`` plays H.264/MP4; libx264 ``ultrafast``
encodes 1280x720 well above real time on one core; a fragmented MP4
(``frag_keyframe+empty_moov+default_base_moof``) keeps every finished fragment
readable when the process is killed mid-write, where a plain MP4 (index at the
end) would be lost. One keyframe a second bounds what a kill can lose.

The file is written under a temporary name; ``close`` flushes, fsyncs, renames
to the final name and fsyncs the folder, so a clip that has a final name is a
complete, durable file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

PART = ".part"
CODEC = "h264"
CONTAINER = "mp4-fragmented"
MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"


@dataclass(frozen=True)
class WrittenClip:
    path: Path
    sha256: str
    bytes: int
    duration_ms: int
    frames: int
    codec: str = CODEC
    container: str = CONTAINER
    encoder: str = "libx264"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


class EncoderMissing(Exception):
    """None of the configured H.264 encoders exists in this PyAV/FFmpeg build."""


def pick_codec(candidates: list[str]) -> str:
    """The first configured H.264 encoder this FFmpeg build has (libx264 in PyAV's wheel;
    ``h264_v4l2m2m`` is the Pi 4's hardware encoder)."""
    import av

    for name in candidates:
        if name in av.codecs_available:
            return name
    raise EncoderMissing(f"no H.264 encoder among {candidates}")


class ClipWriter:
    """Writes RGB frames with millisecond timestamps to ``final`` (via ``final.part``)."""

    def __init__(self, final: Path, width: int, height: int, *, fps: int, crf: int = 28,
                 preset: str = "ultrafast", threads: int = 1,
                 codecs: tuple[str, ...] = ("libx264",), bitrate: int = 2_000_000) -> None:
        import av

        codec = pick_codec(list(codecs))
        self.final = final
        self.part = final.with_name(final.name + PART)
        final.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO = open(self.part, "wb")  # noqa: SIM115  (closed in close/abort)
        self._out: Any = av.open(self._file, "w", format="mp4",
                                 options={"movflags": MOVFLAGS})
        st: Any = self._out.add_stream(codec, rate=fps)
        st.width, st.height = width - width % 2, height - height % 2
        st.pix_fmt = "yuv420p"
        st.time_base = Fraction(1, 1000)
        st.codec_context.time_base = Fraction(1, 1000)
        if codec == "libx264":
            st.options = {"preset": preset, "crf": str(crf), "g": str(fps),
                          "threads": str(threads), "tune": "zerolatency"}
        else:  # hardware encoders take a bit rate, not a quality
            st.bit_rate = bitrate
            st.options = {"g": str(fps)}
        self.codec = codec
        self._stream = st
        self.width, self.height = st.width, st.height
        self.frames = 0
        self._first_ms: int | None = None
        self._last_ms = 0
        self._step_ms = max(1, 1000 // fps)

    def write(self, rgb: npt.NDArray[np.uint8], at_ms: int) -> None:
        import av

        if self._first_ms is None:
            self._first_ms = at_ms
        pts = at_ms - self._first_ms
        if self.frames and pts <= self._last_ms:
            pts = self._last_ms + 1  # timestamps must rise
        img = rgb[: self.height, : self.width]
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
        frame.pts = pts
        frame.time_base = Fraction(1, 1000)
        for packet in self._stream.encode(frame):
            self._out.mux(packet)
        self._last_ms = pts
        self.frames += 1

    def close(self) -> WrittenClip:
        """Flush the encoder, make the file durable and give it its final name."""
        for packet in self._stream.encode(None):
            self._out.mux(packet)
        self._out.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self.part, self.final)
        fsync_dir(self.final.parent)
        sha, size = sha256_file(self.final)
        duration = self._last_ms + self._step_ms if self.frames else 0
        return WrittenClip(self.final, sha, size, duration, self.frames, encoder=self.codec)

    def abort(self) -> None:
        """Drop a clip that films nothing (or failed): close quietly and delete it."""
        with contextlib.suppress(Exception):  # already broken: nothing more to flush
            self._out.close()
        try:
            self._file.close()
        finally:
            self.part.unlink(missing_ok=True)
            self.final.unlink(missing_ok=True)  # never a file the journal does not name
