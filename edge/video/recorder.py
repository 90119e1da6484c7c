"""The clip recorder: pre-roll ring buffer, one clip per placement, post-roll, max length.

The camera thread calls ``on_frame`` (cheap: append to a ring, or to the
running clip's queue); a clip's own thread captions and encodes, so capture and
the barcode decoder never wait on the encoder. The station drives it:
``start`` when a line is being weighed (the pre-roll covers the placement),
``decided`` once the decision is committed (post-roll, then the file is
finalized), ``abandon`` when the item leaves without a decision (the file is
deleted: it films nothing). ``current_clip_id`` is what the workflow writes
into ``line.accepted``/``line.rejected``.

Captions are tagged with the clip they describe (``caption`` returns ``(owner,
text)``; owner None fits any clip): a clip burns a frame's text only when the
frame was captioned for it, and the time line alone otherwise, so the pre-roll
of a clip never shows the previous item or its verdict.

Every ended clip is reported once through ``on_done(ClipOutcome)``: a written
clip, or why there is none (no camera frames, encoder failure, recording
stopped for disk space).
"""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core import log
from edge.video.caption import Caption, burn, neutral
from edge.video.config import VideoSection
from edge.video.encoder import PART, ClipWriter, WrittenClip

logger = logging.getLogger("edge.video")
MB = 1_000_000
DISK_CHECK_S = 1.0


@dataclass(frozen=True)
class ClipOutcome:
    clip_id: str
    event: dict[str, Any] | None  # the line event it films (seq, event_id); None if abandoned
    written: WrittenClip | None
    reason: str | None  # why there is no clip


@dataclass
class _Clip:
    clip_id: str
    day: str
    frames: queue.Queue[Any] = field(default_factory=lambda: queue.Queue(600))
    event: dict[str, Any] | None = None
    stop_at: float | None = None  # monotonic time after which no frame is taken
    abandoned: bool = False
    dropped: int = 0
    thread: threading.Thread | None = None


def clip_path(clips_dir: Path, day: str, clip_id: str) -> Path:
    return clips_dir / day / f"{clip_id}.mp4"


def remove_leftovers(clips_dir: Path) -> list[Path]:
    """Delete temporary files of clips a crash left half-written (at start)."""
    gone = []
    for p in clips_dir.glob(f"*/*{PART}") if clips_dir.exists() else []:
        p.unlink(missing_ok=True)
        gone.append(p)
    return gone


class Recorder:
    def __init__(self, cfg: VideoSection, clips_dir: Path,
                 caption: Callable[[], tuple[str | None, Caption]], on_done: Callable[[ClipOutcome], None],
                 *, today: Callable[[], str] | None = None) -> None:
        self.cfg = cfg
        self.clips_dir = clips_dir
        self.caption = caption
        self.on_done = on_done
        self.today = today or (lambda: datetime.now(UTC).date().isoformat())
        self._ring: deque[tuple[Any, tuple[str | None, Caption], int]] = deque()
        self._lock = threading.Lock()
        self._clip: _Clip | None = None  # the clip of the current placement
        self._closing: list[_Clip] = []
        self.paused: str | None = None  # why recording is stopped (disk nearly full)
        self.stopped_for_disk = 0  # clips cut short because free space fell below min_free_mb

    # -- camera side ------------------------------------------------------------------------
    def on_frame(self, frame: Any) -> None:
        wall_ms = int(time.time() * 1000)
        text = self.caption()
        item = (frame, text, wall_ms)
        with self._lock:
            ring = self._ring
            ring.append(item)
            while ring and frame.at - ring[0][0].at > self.cfg.pre_roll_s:
                ring.popleft()
            for c in [self._clip, *self._closing]:
                if c is None or (c.stop_at is not None and frame.at > c.stop_at):
                    continue
                try:
                    c.frames.put_nowait(item)
                except queue.Full:
                    c.dropped += 1

    # -- station side -----------------------------------------------------------------------
    @property
    def current_clip_id(self) -> str | None:
        c = self._clip
        return None if c is None else c.clip_id

    @property
    def active(self) -> bool:
        return self._clip is not None

    def start(self) -> str:
        """Begin the clip of the current placement (idempotent); returns its id."""
        with self._lock:
            if self._clip is not None:
                return self._clip.clip_id
            c = _Clip(str(uuid.uuid4()), self.today())
            for item in self._ring:
                c.frames.put_nowait(item)
            self._clip = c
        c.thread = threading.Thread(target=self._run, args=(c,), name=f"clip-{c.clip_id[:8]}",
                                    daemon=True)
        c.thread.start()
        return c.clip_id

    def decided(self, event: dict[str, Any]) -> None:
        """The line event is committed: record post-roll, then finalize."""
        with self._lock:
            c = self._clip
            if c is None or event["body"].get("clip_id") != c.clip_id:
                return
            c.event = event
            c.stop_at = time.monotonic() + self.cfg.post_roll_s
            self._clip = None
            self._closing.append(c)

    def abandon(self) -> None:
        """The item left the scale undecided: stop and drop the clip."""
        with self._lock:
            c = self._clip
            if c is None:
                return
            c.abandoned = True
            c.stop_at = time.monotonic()
            self._clip = None
            self._closing.append(c)

    def stop(self) -> None:
        """At shutdown: clips still waiting for a decision are dropped; others finish."""
        self.abandon()
        for c in list(self._closing):
            if c.thread is not None:
                c.thread.join(timeout=self.cfg.post_roll_s + 10)

    # -- the clip's thread --------------------------------------------------------------------
    def disk_low(self) -> str | None:
        """Why no more may be written: free space below ``min_free_mb`` (the journal's reserve
        lies below that), checked while a clip records, not only by the retention job."""
        path = self.clips_dir
        while not path.exists() and path != path.parent:
            path = path.parent  # the folder is made with the first clip
        try:
            free = shutil.disk_usage(path).free
        except OSError as exc:
            return f"disk not readable: {exc}"
        if free < self.cfg.min_free_mb * MB:
            return f"disk nearly full: {free // MB} MB free"
        return None

    def _open(self, c: _Clip, image: Any) -> ClipWriter:
        h, w = image.shape[:2]
        return ClipWriter(clip_path(self.clips_dir, c.day, c.clip_id), w, h, fps=self.cfg.fps,
                          crf=self.cfg.crf, preset=self.cfg.preset, codecs=tuple(self.cfg.codecs),
                          bitrate=self.cfg.bitrate_kbps * 1000)

    def _run(self, c: _Clip) -> None:
        writer: ClipWriter | None = None
        reason: str | None = None  # once set, no more frames are written
        written: WrittenClip | None = None
        first_at: float | None = None
        next_disk_check = 0.0
        while True:
            try:
                frame, (owner, text), _wall_ms = c.frames.get(timeout=0.1)
            except queue.Empty:
                if c.stop_at is not None and time.monotonic() > c.stop_at:
                    break
                continue
            if c.abandoned:
                break
            if first_at is None:
                first_at = frame.at
            if reason is not None or frame.at - first_at > self.cfg.max_s:
                continue  # failed, stopped or past the maximum length: wait for the end
            if self.paused is not None:
                reason = f"recording stopped: {self.paused}"
                continue
            if time.monotonic() >= next_disk_check:
                next_disk_check = time.monotonic() + DISK_CHECK_S
                low = self.disk_low()
                if low is not None:
                    reason = f"recording stopped: {low}"
                    self.stopped_for_disk += 1
                    log.kv(logger, logging.WARNING, "clip cut short", clip_id=c.clip_id, why=low)
                    continue
            try:
                if writer is None:
                    writer = self._open(c, frame.image)
                own = owner is None or owner == c.clip_id
                writer.write(burn(frame.image, text if own else neutral(text), self.cfg.font_path),
                             int((frame.at - first_at) * 1000))
            except Exception as exc:  # a failed write gives clip.missing; acceptance goes on
                reason = f"write failed: {exc}"[:500]
                log.kv(logger, logging.ERROR, "clip write failed", clip_id=c.clip_id,
                       error=repr(exc))
                if writer is not None:
                    writer.abort()
                writer = None
        try:
            if c.abandoned or c.event is None:
                reason = "abandoned: the item left the scale undecided"
                if writer is not None:
                    writer.abort()
            elif writer is None or writer.frames == 0:
                reason = reason or "no camera frames"
                if writer is not None:
                    writer.abort()
            else:
                written = writer.close()
        except Exception as exc:
            reason = f"finalize failed: {exc}"[:500]
            log.kv(logger, logging.ERROR, "clip finalize failed", clip_id=c.clip_id,
                   error=repr(exc))
            if writer is not None:
                writer.abort()
        finally:
            with self._lock:
                if c in self._closing:
                    self._closing.remove(c)
        if c.dropped:
            log.kv(logger, logging.WARNING, "clip frames dropped", clip_id=c.clip_id,
                   dropped=c.dropped)
        self.on_done(ClipOutcome(c.clip_id, c.event, written, None if written else reason))
