"""The device half of the station process: each device started, and the consumer threads that
turn its output into workflow inputs.

``Station`` (app/station.py) owns the lifecycle (the ordered start steps, ``stop``, the journal,
workflow, video and housekeeping); this mixin holds the wiring of the scale, the optional serial
instruments, the camera, decoder and scanners, which is where device faults are contained: a
consumer logs a bad reading and goes on, a device's state only changes what the kiosk shows.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.config import StationConfig
from core import log
from core.sdnotify import Watchdog
from edge.vision.preview import Preview
from edge.web.app import Hub
from edge.workflow.driver import Workflow
from edge.workflow.model import Reading, Weight
from edge.workflow.scale_feed import ScaleFeed

logger = logging.getLogger("app.station")  # one logger name for the whole station process

SCALE_TEXT = {"connected": "已连接", "silent": "无数据", "bad_frames": "数据错误",
              "reconnecting": "重连中", "disconnected": "未连接"}
CAMERA_TEXT = {"starting": "启动中", "running": "正常", "lost": "未连接", "stalled": "画面卡住",
               "stopped": "已停止"}


@dataclass
class DeviceStates:
    """Latest state of each device, written by device callbacks, read by the web app."""

    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, name: str, ok: bool, text: str, **extra: Any) -> None:
        with self.lock:
            self.states[name] = {"ok": ok, "text": text, **extra}

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {k: dict(v) for k, v in self.states.items()}


def weight_from(reading: Any, protocol: str) -> Weight | None:
    """A scale reading as the workflow's Weight (None when it carries no weight)."""
    from firmware_bridge.protocols.base import escape_raw

    if reading.weight_g is None:
        return None
    return Weight(net_g=int(reading.weight_g), stable=bool(reading.stable),
                  raw=escape_raw(reading.raw), protocol=protocol,
                  received_mono=getattr(reading, "received_mono", None))


class StationDevices:
    """Device start-up steps and consumer loops, mixed into ``Station`` (whose ``__init__`` sets
    the attributes declared here)."""

    cfg: StationConfig
    sim_dir: Path | None
    devices: DeviceStates
    hub: Hub
    workflow: Workflow | None
    scale: Any
    scale_feed: ScaleFeed
    scans: Any
    camera_source: Any
    preview: Preview
    video: Any
    camera_state: str
    watchdog: Watchdog
    freeze_loops: threading.Event
    loop_deadline_s: float
    _stop: threading.Event
    _threads: list[threading.Thread]
    _stops: list[tuple[str, Callable[[], None]]]

    if TYPE_CHECKING:
        def handle(self, inp: Any) -> Any: ...  # Station's: the workflow, then the hub bumped

    def _thread(self, name: str, target: Callable[[], None]) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _start_scale(self) -> None:
        from firmware_bridge.runtime import start_scale

        readings: queue.Queue[Any] = queue.Queue(256)
        self.devices.set("scale", False, "启动中")

        def on_state(change: Any) -> None:
            state = str(change.state)
            self.scale_feed.link(state == "connected", change.at)
            self.devices.set("scale", state == "connected", SCALE_TEXT.get(state, state),
                             reason=change.reason)
            self.hub.bump()

        self.scale = start_scale(self.cfg.scale, readings, on_state, sim_dir=self.sim_dir)
        self._stops.append(("scale", self.scale.stop))
        self._thread("scale-consumer", lambda: self._consume_readings(readings))

    def _consume_readings(self, readings: queue.Queue[Any]) -> None:
        last: Weight | None = None
        session = self.scale_feed.live().connected_since
        self.watchdog.register("scale-consumer", self.loop_deadline_s)
        while not self._stop.is_set():
            if self.freeze_loops.is_set():
                time.sleep(0.05)
                continue
            self.watchdog.beat("scale-consumer")
            try:
                r = readings.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                w = weight_from(r, self.cfg.scale.protocol)
                if w is None:
                    self.scale_feed.clear()  # no weight now: nothing on screen is evidence
                    self.devices.set("scale", False, {"overload": "超载", "underload": "欠载"}
                                     .get(r.status, r.status))
                    continue
                w = self.scale_feed.note(w)
                since = self.scale_feed.live().connected_since
                if since != session:  # a new link session: the load must be seen again
                    session, last = since, None
                if last is None or (w.net_g, w.stable) != (last.net_g, last.stable):
                    self.handle(Reading(w))
                last = w
            except Exception as exc:  # one bad reading must not end the consumer
                log.kv(logger, logging.ERROR, "reading not handled", error=repr(exc))

    def _start_thermometer(self) -> None:
        """The optional probe: its readings fill the temperature of the item being weighed."""
        section = self.cfg.thermometer
        if section is not None:
            from app.instruments import temperature_input
            from firmware_bridge.thermometer import ThermometerLink

            self._start_instrument("thermometer", lambda q, on: ThermometerLink(section, q, on),
                                   temperature_input, lambda r: f"{r.celsius} ℃")

    def _start_rapid_test(self) -> None:
        """The optional rapid-test analyser: its results fill the rapid test of the item."""
        section = self.cfg.rapid_test
        if section is not None:
            from app.instruments import rapid_test_input, rapid_test_text
            from firmware_bridge.rapid_test import RapidTestLink

            self._start_instrument("rapid_test", lambda q, on: RapidTestLink(section, q, on),
                                   rapid_test_input, rapid_test_text)

    def _start_instrument(self, kind: str, make_link: Callable[[queue.Queue[Any], Any], Any],
                          to_input: Callable[[Any, Any], Any], text: Callable[[Any], str]) -> None:
        """A serial instrument on its own link thread; a consumer thread turns each reading
        into a workflow input (``to_input(state, reading)``, None: nothing to change)."""
        readings: queue.Queue[Any] = queue.Queue(64)
        self.devices.set(kind, False, "启动中")

        def on_state(change: Any) -> None:
            state = str(change.state)
            if state != "connected":
                self.devices.set(kind, False, SCALE_TEXT.get(state, state))
                self.hub.bump()

        link = make_link(readings, on_state).start()
        self._stops.append((kind, link.stop))
        self._thread(f"{kind}-consumer", lambda: self._consume(kind, readings, to_input, text))

    def _consume(self, kind: str, readings: queue.Queue[Any], to_input: Callable[[Any, Any], Any],
                 text: Callable[[Any], str]) -> None:
        name = f"{kind}-consumer"
        self.watchdog.register(name, self.loop_deadline_s)
        while not self._stop.is_set():
            self.watchdog.beat(name)
            try:
                r = readings.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self.devices.set(kind, True, text(r))
                assert self.workflow is not None
                inp = to_input(self.workflow.state, r)
                if inp is not None:
                    self.handle(inp)
                else:
                    self.hub.bump()
            except Exception as exc:  # one bad reading must not end the consumer
                log.kv(logger, logging.ERROR, "instrument reading not handled", device=kind,
                       error=repr(exc))

    def _start_vision(self) -> None:
        from edge.vision.camera import Camera
        from edge.vision.frame_decoder import FrameDecoder
        from edge.vision.sources import SourceError, make_source
        from edge.vision.worker import DecodeWorker
        from firmware_bridge.scan import ScanHub
        from firmware_bridge.scanners import make_scanners

        self.scans = ScanHub(self.cfg.codes.repeat_window_s)
        worker = DecodeWorker(FrameDecoder(self.cfg.decoder), self.scans.submit,
                              on_found=self.preview.on_found)
        worker.start()
        self._stops.append(("decoder", worker.stop))

        rec = None if self.video is None else self.video.recorder

        def on_frame(frame: Any) -> None:
            self.preview.on_frame(frame)
            worker.submit(frame)
            if rec is not None:
                rec.on_frame(frame)  # ring buffer / running clip; never blocks

        def on_camera(state: str, detail: str) -> None:
            self.camera_state = state
            self.devices.set("camera", state == "running", CAMERA_TEXT.get(state, state),
                             detail=detail)
            self.hub.bump()

        cam_cfg = self.cfg.camera
        try:
            source = make_source(cam_cfg)
            self.camera_source = source
        except SourceError as exc:
            self.devices.set("camera", False, "配置错误", detail=str(exc))
        else:
            pace = 0.0 if cam_cfg.source == "camera" else 1.0 / cam_cfg.fps
            camera = Camera(source, cam_cfg, on_frame, on_camera, frame_interval_s=pace)
            camera.start()
            self._stops.append(("camera", camera.stop))
        for reader in make_scanners(self.cfg.scanners, self.scans.submit,
                                    lambda src, st, d: self.devices.set(
                                        f"scanner:{src}", st == "running", st, detail=d)):
            reader.start()
            self._stops.append((f"scanner {reader.source_name}", reader.stop))
        self._thread("scan-consumer", self._consume_scans)

    def _consume_scans(self) -> None:
        from edge.codes.parse import ParseError, parse_code
        from edge.workflow.scans import input_for

        self.watchdog.register("scan-consumer", self.loop_deadline_s)
        while not self._stop.is_set():
            self.watchdog.beat("scan-consumer")
            ev = self.scans.get(timeout=0.2)
            if ev is None:
                continue
            try:
                code = parse_code(ev.text, self.cfg.codes)
            except ParseError as exc:
                log.kv(logger, logging.WARNING, "scan not understood", source=ev.source,
                       error=str(exc))
                continue
            try:
                assert self.workflow is not None
                inp = input_for(code, self.workflow.state)
                if inp is not None:
                    res = self.handle(inp)
                    if res.refused is not None:
                        log.kv(logger, logging.INFO, "scan refused", code=res.refused.code,
                               source=ev.source)
            except Exception as exc:
                log.kv(logger, logging.ERROR, "scan not handled", error=repr(exc))
