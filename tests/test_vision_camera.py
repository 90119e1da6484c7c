"""Frame sources and the capture thread: loss and return, stalls, the decode pipeline."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.codes.parse import GS1Result, parse_code
from edge.vision.camera import Camera
from edge.vision.config import CameraSection, DecoderSection
from edge.vision.frame_decoder import FrameDecoder
from edge.vision.render import symbol
from edge.vision.sources import FolderSource, SyntheticSource, make_source
from edge.vision.worker import DecodeWorker, Frame, LatestSlot
from firmware_bridge.scan import RepeatFilter, ScanEvent
from tests.waiting import wait_until


def write_video(path: Path, text: str, frames: int = 4) -> None:
    sym = np.pad(symbol(text, "ean-13", 3), 20, constant_values=255)
    frame = cv2.cvtColor(cv2.resize(sym, (320, 240)), cv2.COLOR_GRAY2BGR)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (320, 240))
    for _ in range(frames):
        w.write(frame)
    w.release()


class StateLog:
    def __init__(self) -> None:
        self.states: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, state: str, detail: str) -> None:
        with self.lock:
            self.states.append(state)


def test_file_backed_device_lost_and_back(tmp_path: Path) -> None:
    """A video file stands in for /dev/video0: remove it (unplug), put it back (replug)."""
    video = tmp_path / "video0.avi"
    write_video(video, "6901234567892")
    cfg = CameraSection(source="file", path=video, reopen_min_s=0.05, reopen_max_s=0.2)
    log = StateLog()
    frames: list[Frame] = []
    cam = Camera(make_source(cfg), cfg, frames.append, log, frame_interval_s=0.005)
    cam.start()
    try:
        wait_until(lambda: cam.state == "running" and len(frames) > 8)
        spare = tmp_path / "unplugged.avi"
        shutil.move(video, spare)
        wait_until(lambda: cam.state == "lost")
        lost_at = len(frames)
        time.sleep(0.5)  # several reopen attempts, with backoff, while gone
        assert len(frames) == lost_at
        assert "no such video file" in cam.detail
        shutil.move(spare, video)
        wait_until(lambda: cam.state == "running" and len(frames) > lost_at + 4)
    finally:
        cam.stop()
    assert log.states[0] == "running"
    assert "lost" in log.states and log.states[-2:] == ["running", "stopped"]
    assert cam.reopens >= 1


class StallingSource:
    """Delivers frames, then none (a camera that hangs), until reopened."""

    name = "stalling"

    def __init__(self) -> None:
        self.opens = 0
        self.reads_left = 0

    def open(self) -> None:
        self.opens += 1
        self.reads_left = 3

    def read(self) -> Any:
        if self.reads_left > 0:
            self.reads_left -= 1
            return np.zeros((8, 8), np.uint8)
        return None

    def close(self) -> None:
        pass


def test_stalled_camera_is_reopened() -> None:
    cfg = CameraSection(source="camera", stall_timeout_s=0.1, reopen_min_s=0.05)
    src = StallingSource()
    log = StateLog()
    cam = Camera(src, cfg, lambda f: None, log)
    cam.start()
    try:
        wait_until(lambda: src.opens >= 3)
    finally:
        cam.stop()
    assert "stalled" in log.states
    assert log.states.count("running") >= 2


def test_folder_source_and_missing_folder(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((10, 10), i * 50, np.uint8))
    src = FolderSource(folder, loop=True)
    src.open()
    firsts = [int(src.read()[0, 0]) for _ in range(4)]  # type: ignore[index]
    assert firsts == [0, 50, 100, 0]
    src.close()
    cfg = CameraSection(source="folder", path=tmp_path / "gone", reopen_min_s=0.05)
    log = StateLog()
    cam = Camera(make_source(cfg), cfg, lambda f: None, log)
    cam.start()
    try:
        wait_until(lambda: cam.state == "lost")
        assert "no such folder" in cam.detail
    finally:
        cam.stop()


def test_synthetic_pipeline_reads_and_parses() -> None:
    """Synthetic camera -> capture thread -> decode worker -> repeat filter -> parser."""
    code = "(01)09521234543213(17)261231(10)B2411(3103)001250"
    cfg = CameraSection(source="synthetic", width=640, height=480,
                        synthetic_codes=[code], synthetic_format="data-matrix")
    src = make_source(cfg)
    assert isinstance(src, SyntheticSource)
    repeats = RepeatFilter(60.0)
    scans: list[ScanEvent] = []
    all_scans: list[ScanEvent] = []

    def on_scan(ev: ScanEvent) -> None:
        all_scans.append(ev)
        if repeats.accept(ev.text, ev.at):
            scans.append(ev)

    worker = DecodeWorker(FrameDecoder(DecoderSection()), on_scan)
    cam = Camera(src, cfg, worker.submit, frame_interval_s=0.02)
    worker.start()
    cam.start()
    try:
        wait_until(lambda: len(all_scans) >= 5)
    finally:
        cam.stop()
        worker.stop()
    assert len(scans) == 1  # held in view: counts once
    parsed = parse_code(scans[0].text)
    assert isinstance(parsed, GS1Result)
    assert parsed.as_dict()["net_weight_g"] == 1250 and scans[0].format == "data-matrix"
    assert parsed.symbology == "]d2"  # the FNC1 flag survived (not guessed from a GS)


def test_synthetic_frames_move() -> None:
    src = SyntheticSource(["STAFF-A1234"], "qr-code", 320, 240, seed=5)
    src.open()
    a, b = src.read(), src.read()
    assert a is not None and b is not None and a.shape == (240, 320)
    assert not np.array_equal(a, b)


def test_worker_drops_instead_of_queueing() -> None:
    done = threading.Event()
    seen: list[int] = []

    def slow_decode(image: Any) -> list[Any]:
        seen.append(int(image[0, 0]))
        time.sleep(0.05)
        return []

    worker = DecodeWorker(slow_decode, lambda ev: None)
    worker.start()
    t0 = time.perf_counter()
    for i in range(100):
        worker.submit(Frame(np.full((4, 4), i % 256, np.uint8), time.monotonic(), i))
    submit_s = time.perf_counter() - t0
    wait_until(lambda: 99 in seen, 5)  # the newest frame is always decoded
    worker.stop()
    done.set()
    assert submit_s < 0.05  # capture never waited on decoding
    assert worker.dropped >= 90 and len(seen) <= 10


def test_latest_slot_keeps_newest() -> None:
    slot = LatestSlot()
    slot.put(1)
    slot.put(2)
    assert slot.take(0) == 2 and slot.dropped == 1 and slot.take(0.01) is None
