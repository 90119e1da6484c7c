"""Clip recorder: a synthetic-camera clip plays back with its caption and its hash in the journal."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.journal import Journal, read_events
from edge.video import clips
from edge.video.caption import band_height, burn, caption_lines
from edge.video.config import VideoSection
from edge.video.encoder import sha256_file
from edge.video.recorder import ClipOutcome, Recorder
from edge.vision.sources import SyntheticSource
from edge.vision.worker import Frame

CAPTION = caption_lines(clock="2026-11-28 12:00:00", supplier="绿源蔬菜", item="土豆",
                        weight="30.4 斤", result="验收合格")


def _journal(tmp: Path) -> Journal:
    return Journal(tmp / "station.db", Ed25519PrivateKey.generate(), "video-station-01")


def _feed(rec: Recorder, src: SyntheticSource, n: int, fps: int, t0: float) -> float:
    t = t0
    for i in range(n):
        t = t0 + i / fps
        rec.on_frame(Frame(src.read(), t, i))  # type: ignore[arg-type]
        time.sleep(0.002)
    return t


def test_clip_plays_back_with_caption_and_hash(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    line = j.append("line.accepted", {"clip_id": None, "reasons": []})
    done: list[ClipOutcome] = []
    cfg = VideoSection(pre_roll_s=1.0, post_roll_s=0.0, fps=10)
    rec = Recorder(cfg, tmp_path / "clips", lambda: (None, CAPTION), done.append)
    src = SyntheticSource(["(00)095212345000000018"], "code-128", 320, 240)
    src.open()
    t0 = time.monotonic() - 100
    _feed(rec, src, 15, 10, t0)  # 1.5 s before the start: 1 s of it is pre-roll (11 frames)
    clip_id = rec.start()
    assert rec.current_clip_id == clip_id
    _feed(rec, src, 20, 10, t0 + 1.5)
    rec.decided({**line, "body": {**line["body"], "clip_id": clip_id}})
    deadline = time.monotonic() + 10
    while not done and time.monotonic() < deadline:
        time.sleep(0.05)
    out = done[0]
    assert out.written is not None and out.reason is None
    w = out.written
    assert w.frames == 31
    assert 3000 <= w.duration_ms <= 3200  # 31 frames at 10 fps
    # OpenCV reads it back: every frame, at the expected rate.
    cap = cv2.VideoCapture(str(w.path))
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    assert len(frames) == 31
    # The caption is in the frames: the bottom band matches the rendered caption.
    expected = burn(np.zeros((240, 320), np.uint8), CAPTION, cfg.font_path)[:, :, ::-1]
    band = slice(240 - band_height(240, len(CAPTION)), 240)
    diff = np.abs(frames[-1][band].astype(int) - expected[band].astype(int)).mean()
    assert diff < 3, diff
    other = burn(np.zeros((240, 320), np.uint8), (*CAPTION[:2], "拒收：已过保质期"),
                 cfg.font_path)[:, :, ::-1]
    assert np.abs(frames[-1][band].astype(int) - other[band].astype(int)).mean() > 2 * diff
    # The journal records the durable file's hash against the event it films.
    ev = clips.record_outcome(j, out, tmp_path / "clips")
    assert ev is not None and ev["type"] == "clip.finalized"
    assert ev["body"]["sha256"] == sha256_file(w.path)[0] and ev["body"]["event_seq"] == line["seq"]
    assert ev["body"]["bytes"] == w.path.stat().st_size and ev["body"]["codec"] == "h264"
    assert ev["body"]["encoder"] == "libx264"
    assert not list((tmp_path / "clips").glob("*/*.part"))


def test_no_camera_gives_clip_missing_and_alert(tmp_path: Path) -> None:
    j = _journal(tmp_path)
    line = j.append("line.rejected", {"clip_id": None, "reasons": ["EXPIRED"]})
    done: list[ClipOutcome] = []
    rec = Recorder(VideoSection(post_roll_s=0.1), tmp_path / "clips", lambda: (None, ()), done.append)
    cid = rec.start()
    rec.decided({**line, "body": {**line["body"], "clip_id": cid}})
    deadline = time.monotonic() + 5
    while not done and time.monotonic() < deadline:
        time.sleep(0.05)
    assert done[0].written is None and done[0].reason == "no camera frames"
    clips.record_outcome(j, done[0], tmp_path / "clips")
    types = [e["type"] for e in read_events(j.db)]
    assert types[-2:] == ["clip.missing", "alert.raised"]


def test_recording_stops_while_free_space_is_below_the_minimum(tmp_path: Path) -> None:
    """Checked while the clip records, not only by the retention job: nothing is written."""
    import shutil

    j = _journal(tmp_path)
    line = j.append("line.accepted", {"clip_id": None, "reasons": []})
    done: list[ClipOutcome] = []
    low = shutil.disk_usage(tmp_path).free // 1_000_000 + 1000  # more than there is
    rec = Recorder(VideoSection(pre_roll_s=0.5, post_roll_s=0.0, fps=10, min_free_mb=low),
                   tmp_path / "clips", lambda: (None, CAPTION), done.append)
    src = SyntheticSource(["(00)095212345000000018"], "code-128", 320, 240)
    src.open()
    cid = rec.start()
    _feed(rec, src, 10, 10, time.monotonic())
    rec.decided({**line, "body": {**line["body"], "clip_id": cid}})
    deadline = time.monotonic() + 5
    while not done and time.monotonic() < deadline:
        time.sleep(0.05)
    assert done[0].written is None and done[0].reason is not None
    assert done[0].reason.startswith("recording stopped: disk nearly full:")
    assert rec.stopped_for_disk == 1 and not list((tmp_path / "clips").rglob("*.mp4*"))


def test_abandoned_placement_leaves_no_file(tmp_path: Path) -> None:
    done: list[ClipOutcome] = []
    rec = Recorder(VideoSection(), tmp_path / "clips", lambda: (None, CAPTION), done.append)
    src = SyntheticSource(["x"], "code-128", 160, 120)
    src.open()
    rec.start()
    _feed(rec, src, 5, 10, time.monotonic())
    rec.abandon()
    deadline = time.monotonic() + 5
    while not done and time.monotonic() < deadline:
        time.sleep(0.05)
    assert done and done[0].event is None and done[0].written is None
    assert not list((tmp_path / "clips").glob("*/*"))


@pytest.mark.parametrize("shape", [(120, 160), (120, 160, 3)])
def test_caption_on_grey_and_bgr(shape: Any, tmp_path: Path) -> None:
    out = burn(np.full(shape, 128, np.uint8), CAPTION, VideoSection().font_path)
    assert out.shape == (120, 160, 3) and (out[:60] == 128).all() and (out[-20:] != 128).any()


def test_encoder_fallback_and_none(tmp_path: Path) -> None:
    """The first configured encoder this build has is used; none at all gives clip.missing."""
    j = _journal(tmp_path)
    src = SyntheticSource(["x"], "code-128", 160, 120)
    src.open()
    for codecs, expect in ((["no-such-encoder", "libx264"], "libx264"), (["no-such-encoder"], None)):
        done: list[ClipOutcome] = []
        rec = Recorder(VideoSection(post_roll_s=0, codecs=codecs), tmp_path / "clips",
                       lambda: (None, CAPTION), done.append)
        cid = rec.start()
        _feed(rec, src, 5, 10, time.monotonic())
        line = j.append("line.accepted", {"clip_id": cid})
        rec.decided(line)
        deadline = time.monotonic() + 10
        while not done and time.monotonic() < deadline:
            time.sleep(0.05)
        out = done[0]
        if expect is None:
            assert out.written is None and "no H.264 encoder" in (out.reason or "")
            assert clips.record_outcome(j, out, tmp_path / "clips")["type"] == "clip.missing"  # type: ignore[index]
        else:
            assert out.written is not None and out.written.encoder == expect
    assert not list((tmp_path / "clips").glob("*/*.part"))
