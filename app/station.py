"""The station process: devices, workflow, journal and web app.

``Station.start`` runs a short list of named steps and ``stop`` undoes them in
reverse (Frigate's app.py shape). Devices run in their own threads and hand
their output to two small consumer threads (scale readings, scans) that feed
the workflow; a device fault changes its visible state and never stops the
process.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from app import update_events
from app.config import StationConfig, config_digest
from contract.keys import public_hex
from core import __version__, log
from core.sdnotify import Watchdog
from edge.blobs import BlobStore
from edge.journal import Journal
from edge.matching.types import Order
from edge.orders import store
from edge.vision.preview import Preview
from edge.web.app import Hub
from edge.web.voice import VoiceClips
from edge.workflow.driver import Workflow
from edge.workflow.model import Effect, NewScanWindow, Reading, TareScale, Weight
from edge.workflow.scale_feed import ScaleFeed
from sync import state as sync_state

logger = logging.getLogger("app.station")

HOUSEKEEPING_S = 1.0  # the kiosk's sync badge follows the uplink within seconds

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


class OrdersCache:
    """Today's orders in use, parsed once per version (the journal names the version)."""

    def __init__(self, journal: Journal, tz: ZoneInfo) -> None:
        self.journal = journal
        self.tz = tz
        self._key: tuple[str, str | None] | None = None
        self._orders: dict[str, Order] = {}
        self._lock = threading.Lock()

    def today(self) -> str:
        return datetime.now(UTC).astimezone(self.tz).date().isoformat()

    def __call__(self) -> dict[str, Order]:
        day = self.today()
        with self._lock:
            key = (day, store.sha_in_use(self.journal.db, day))
            if key != self._key:
                self._orders = store.orders_in_use(self.journal.db, day)
                self._key = key
            return self._orders

    def days(self) -> list[str]:
        now = datetime.now(UTC).astimezone(self.tz).date()
        return [now.isoformat(), (now + timedelta(days=1)).isoformat()]


def weight_from(reading: Any, protocol: str) -> Weight | None:
    """A scale reading as the workflow's Weight (None when it carries no weight)."""
    from firmware_bridge.protocols.base import escape_raw

    if reading.weight_g is None:
        return None
    return Weight(net_g=int(reading.weight_g), stable=bool(reading.stable),
                  raw=escape_raw(reading.raw), protocol=protocol,
                  received_mono=getattr(reading, "received_mono", None))


class Station:
    def __init__(self, cfg: StationConfig, *, sim_dir: Path | None = None) -> None:
        self.cfg = cfg
        self.sim_dir = sim_dir
        self.devices = DeviceStates()
        self.status_written: tuple[dict[str, Any], float] | None = None  # housekeeping's last write
        self.hub = Hub()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._stops: list[tuple[str, Callable[[], None]]] = []
        self.journal: Journal | None = None
        self.workflow: Workflow | None = None
        self.orders: OrdersCache | None = None
        self.scale: Any = None
        self.scale_feed = ScaleFeed()  # the link's state and newest reading, for the workflow
        self.scans: Any = None
        self.camera_source: Any = None
        self.preview = Preview()
        self.blobs = BlobStore(cfg.station.data_dir / "blobs")  # signatures, document photos
        self.voice = VoiceClips(cfg.sound, cfg.station.data_dir / "voice")  # spoken results
        self.video: Any = None  # edge.video.service.VideoService when [video] enabled
        self.camera_state = "stopped"
        self.watchdog = Watchdog()
        # Test hook: while set, the device loops stop beating, as a hung loop would.
        self.freeze_loops = threading.Event()
        self.loop_deadline_s = 10.0  # a device loop silent this long withholds the watchdog

    # -- steps -------------------------------------------------------------------------------
    def start(self) -> None:
        """Run the start steps. ``station.started`` is signed only after every step that can
        fail, so a station that cannot start (restarted again and again) journals nothing."""
        self.start_journal()
        self.start_rest()

    def start_journal(self) -> None:
        """The first step; raises ``app.disk.DiskFull`` when the disk has no room for it."""
        log.kv(logger, logging.INFO, "starting", step="journal")
        self._start_journal()

    def start_rest(self) -> None:
        for name, step in (("workflow", self._start_workflow),
                           ("video", self._start_video), ("scale", self._start_scale),
                           ("thermometer", self._start_thermometer), ("rapid_test", self._start_rapid_test),
                           ("vision", self._start_vision),
                           ("announce", self._announce), ("housekeeping", self._start_housekeeping)):
            log.kv(logger, logging.INFO, "starting", step=name)
            step()

    def stop(self) -> None:
        self._stop.set()
        for name, fn in reversed(self._stops):
            try:
                fn()
            except Exception as exc:  # stopping must go on through every step
                log.kv(logger, logging.ERROR, "stop failed", step=name, error=repr(exc))
        for t in self._threads:
            t.join(timeout=3)
        log.kv(logger, logging.INFO, "stopped", steps=len(self._stops))
        self._stops.clear()

    def _thread(self, name: str, target: Callable[[], None]) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _start_journal(self) -> None:
        from app.degraded import open_journal

        j = open_journal(self.cfg)  # the station's tables migrated; DiskFull when no room
        self._stops.append(("journal", j.close))
        self.journal = j
        self.orders = OrdersCache(j, ZoneInfo(self.cfg.station.timezone))

    def fault(self) -> dict[str, str] | None:
        """The fault the kiosk shows over everything (the journal cannot write), or None."""
        from app.disk import FAULT_CODE, fault_message

        if self.journal is not None and self.journal.disk_full:
            return {"code": FAULT_CODE, "message": fault_message("database or disk is full")}
        return None

    def _announce(self) -> None:
        assert self.journal is not None
        j = self.journal
        j.append("station.started", {"version": __version__, "config_digest": config_digest(self.cfg),
                                     "public_key": public_hex(j.key)})
        # Update steps the updater handed over (app.update_events): now and every few seconds.
        self._drain_update_events()
        self._thread("update-events", self._update_events_loop)

    def _update_events_loop(self) -> None:
        while not self._stop.wait(2.0):
            self._drain_update_events()

    def _drain_update_events(self) -> None:
        assert self.journal is not None
        try:
            update_events.drain(self.journal, self.cfg.station.data_dir)
        except Exception as exc:  # e.g. a full disk: journaled on the next pass or the next start
            log.kv(logger, logging.ERROR, "update steps not journaled", error=repr(exc))

    def _start_workflow(self) -> None:
        from app.config import policy_from_config

        assert self.journal is not None and self.orders is not None
        from edge.roster.store import RosterCache
        from edge.workflow.driver import PeoplePolicy

        r = self.cfg.receiving
        self.workflow = Workflow(self.journal, self.orders, policy_from_config(self.cfg),
                                 on_effect=self._effect, clip_id=self._clip_id,
                                 scale=self.scale_feed, max_weight_age_s=r.max_weight_age_s,
                                 scan_hold_s=r.scan_hold_s, roster=RosterCache(self.journal),
                                 people=PeoplePolicy(r.pin_attempts, r.lockout_s,
                                                     r.idle_signout_s))

    def _clip_id(self) -> str | None:
        return None if self.video is None else self.video.recorder.current_clip_id

    def _start_video(self) -> None:
        from edge.video.service import VideoService

        if not self.cfg.video.enabled:
            return
        assert self.journal is not None and self.workflow is not None and self.orders is not None
        c = self.cfg.station
        wf, db = self.workflow, self.journal.db

        def set_device(ok: bool, text: str) -> None:
            self.devices.set("video", ok, text)
            self.hub.bump()

        self.video = VideoService(self.cfg.video, self.journal, c.data_dir / "clips", c.station_id,
                                  ZoneInfo(c.timezone), self.orders, lambda: wf.state, set_device,
                                  lambda: self.camera_state,
                                  lambda: sync_state.stored_clip_ids(db))
        self.workflow.observers.append(self.video.after)
        self.video.start_retention()
        self._stops.append(("video", self.video.stop))

    def _effect(self, eff: Effect) -> None:
        if isinstance(eff, TareScale) and self.scale is not None:
            try:
                self.scale.link.tare()
            except Exception as exc:
                log.kv(logger, logging.WARNING, "tare failed", error=repr(exc))
        elif isinstance(eff, NewScanWindow) and self.scans is not None:
            self.scans.new_window()

    def handle(self, inp: Any) -> Any:
        assert self.workflow is not None
        res = self.workflow.handle(inp)
        self.hub.bump()
        return res

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

    # -- housekeeping: orders the uplink fetched, sync state, device states for the uplink --
    def _start_housekeeping(self) -> None:
        self._thread("housekeeping", self._housekeeping)

    def _housekeeping(self) -> None:
        self.watchdog.register("housekeeping", 30.0)
        while not self._stop.is_set():
            self.watchdog.beat("housekeeping")
            try:
                self.housekeep_once()
            except Exception as exc:  # a failing round is logged; the next one tries again
                log.kv(logger, logging.ERROR, "housekeeping failed", error=repr(exc))
            self._stop.wait(HOUSEKEEPING_S)

    def housekeep_once(self) -> None:
        """Adopt newly fetched orders, show the uplink's state, publish device states."""
        from app.housekeeping import housekeep

        housekeep(self)
