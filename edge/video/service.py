"""The station's video service: drives the recorder from the workflow state.

``after`` runs after every workflow input (in ``Station.handle``): a clip
starts when a line is being weighed or identified in an open delivery, is
handed the committed line event when the decision is on disk, and is dropped
when the item leaves undecided. The caption is built from the same state (the
live weight and, once decided, the result). Outcomes are recorded in the
journal from here, in the station process.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from contract.quantity import received_text
from core import log
from core.threads import Periodic
from edge.journal import Journal
from edge.matching.types import Order
from edge.video import clips, retention
from edge.video.caption import Caption, caption_lines
from edge.video.config import VideoSection
from edge.video.recorder import ClipOutcome, Recorder
from edge.workflow.model import State

logger = logging.getLogger("edge.video")


class VideoService:
    def __init__(self, cfg: VideoSection, journal: Journal, clips_dir: Path, station_id: str,
                 tz: ZoneInfo, orders: Callable[[], dict[str, Order]],
                 state: Callable[[], State], set_device: Callable[[bool, str], None],
                 camera_state: Callable[[], str],
                 stored_clips: Callable[[], set[str]] = set) -> None:
        self.cfg = cfg
        self.stored_clips = stored_clips  # clip ids central holds (from the uplink's table)
        self.journal = journal
        self.clips_dir = clips_dir
        self.station_id = station_id
        self.tz = tz
        self.orders = orders
        self.state = state
        self.set_device = set_device
        self.camera_state = camera_state
        # What the caption shows and which clip it belongs to, replaced as one tuple (the camera
        # thread reads it): (clip id or "idle", supplier, item, order unit, result).
        self._shown: tuple[str, str | None, str | None, str | None, str | None] = \
            ("idle", None, None, None, None)
        self._pid: str | None = None
        last = state().last  # decisions before this start are not ours to film
        self._last_seq: int | None = None if last is None else int(last["seq"])
        self._stop = threading.Event()
        self._retention: Periodic | None = None
        clips_dir.mkdir(parents=True, exist_ok=True)
        clips.recover(journal, clips_dir)
        self.recorder = Recorder(cfg, clips_dir, self.caption, self._done, today=self.today)
        self.set_device(True, "待录像")

    def today(self) -> str:
        return datetime.now(UTC).astimezone(self.tz).date().isoformat()

    def caption(self) -> tuple[str | None, Caption]:
        """The caption of the frame being captured now, tagged with the clip it describes."""
        owner, supplier, item, unit, result = self._shown
        w = self.state().weight
        clock = datetime.now(UTC).astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")
        weight = None if w is None or w.net_g is None else \
            received_text({"net_g": w.net_g}, {"unit": unit or "kg"})
        return owner, caption_lines(clock=clock, supplier=supplier, item=item, weight=weight,
                                    result=result)

    def after(self, st: State) -> None:
        """Follow the workflow: start, hand over the decision, or drop the clip."""
        rec = self.recorder
        last_seq = None if st.last is None else st.last.get("seq")
        if last_seq is not None and last_seq != self._last_seq:
            self._last_seq = int(last_seq)
            ev = self._event(int(last_seq))
            if ev is not None and ev["type"] in clips.LINE_TYPES:
                owner, supplier, item, unit, _ = self._shown
                if owner == ev["body"].get("clip_id"):
                    self._shown = (owner, supplier, item, unit,
                                   clips.result_text(ev["type"], list(ev["body"].get("reasons", []))))
                rec.decided(ev)
        p = st.placement
        if rec.active and (p.placement_id != self._pid or st.delivery is None):
            rec.abandon()
            self._shown = ("idle", None, None, None, None)
        busy = p.loaded or p.line_id is not None or p.gtin is not None or p.item_code is not None
        if st.delivery is not None and not p.decided and st.pending is None and busy:
            if not rec.active:
                self._pid = p.placement_id
                rec.start()
                self.set_device(True, "录像中")
            self._shown = (str(rec.current_clip_id), *self._describe(st), None)

    def _event(self, seq: int) -> dict[str, Any] | None:
        row = self.journal.db.execute("SELECT event FROM events WHERE seq=?", (seq,)).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def _describe(self, st: State) -> tuple[str | None, str | None, str | None]:
        """Supplier, item and order unit of the placement (no codes: the hall shows the clip)."""
        d, p = st.delivery, st.placement
        order = self.orders().get(d.order_id) if d is not None else None
        if order is None:
            return (None, None, None)
        for ln in order.lines:
            if ln.line_id == p.line_id or (p.gtin and ln.item.gtin == p.gtin) \
                    or (p.item_code and ln.item.code == p.item_code):
                return (order.supplier.name, ln.item.name, ln.qty_unit)
        return (order.supplier.name, None, None)

    def _done(self, out: ClipOutcome) -> None:
        if out.written is None and out.reason == "no camera frames":
            out = ClipOutcome(out.clip_id, out.event, None,
                              f"no camera frames (camera {self.camera_state()})")
        try:
            clips.record_outcome(self.journal, out, self.clips_dir)
        except Exception as exc:  # the journal failing is reported by the journal's users
            log.kv(logger, logging.ERROR, "clip outcome not recorded", clip_id=out.clip_id,
                   error=repr(exc))
        if self.recorder.disk_low() is not None:
            self.set_device(False, "磁盘将满，已停止录像")
        elif self.recorder.paused is None and not self.recorder.active:
            self.set_device(True, "待录像")

    # -- retention ------------------------------------------------------------------------------
    def start_retention(self) -> None:
        self._retention = Periodic("clip-retention", self.run_retention, self.cfg.retention_interval_s,
                                   stop=self._stop)
        self._retention.start()

    def run_retention(self) -> retention.Plan:
        try:
            plan = retention.run(self.stored_clips(), self.clips_dir, self.cfg, today=self.today())
        except Exception as exc:  # the job must keep running
            log.kv(logger, logging.ERROR, "retention failed", error=repr(exc))
            return retention.Plan((), False, str(exc))
        self.recorder.paused = plan.why_stopped if plan.stop_recording else None
        if plan.stop_recording:
            self.set_device(False, "磁盘将满，已停止录像")
        elif not self.recorder.active:
            self.set_device(True, "待录像")
        return plan

    def stop(self) -> None:
        self._stop.set()
        if self._retention is not None:
            self._retention.stop()
        self.recorder.stop()
