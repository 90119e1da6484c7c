"""The station process: devices, workflow, journal and web app.

``Station.start`` runs a short list of named steps and ``stop`` undoes them in
reverse (Frigate's app.py shape). Devices run in their own threads and hand
their output to small consumer threads (scale readings, instruments, scans) that
feed the workflow; a device fault changes its visible state and never stops the
process. The device steps and consumers live in ``app.station_devices``; this
module is the lifecycle around them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from app import update_events
from app.config import StationConfig, config_digest
from app.station_devices import DeviceStates, StationDevices
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
from edge.workflow.model import Effect, NewScanWindow, TareScale
from edge.workflow.scale_feed import ScaleFeed
from sync import state as sync_state

logger = logging.getLogger("app.station")

HOUSEKEEPING_S = 1.0  # the kiosk's sync badge follows the uplink within seconds


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


class Station(StationDevices):
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
