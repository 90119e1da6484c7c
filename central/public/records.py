"""What the public pages read: one decided line with its clip and its verification, a school's day.

Read-only over the store. "Verified" is computed here, at read time, not taken
on trust: the event's hash and Ed25519 signature are checked against the
station's registered key, its ``prev_hash`` against the stored event before
it, and the station's head must have passed it (central holds the chain up to
there). The same is done for the ``clip.finalized`` event that names the clip,
and the clip file must be the object of the sha256 that event signed.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from central.ingest import KeyRegistry
from central.platform.data import DataError, load_master
from central.platform.model import MasterData
from central.store import Store
from contract.chain import GENESIS_HASH, check_event
from core import log

LINE_TYPES = ("line.accepted", "line.rejected")
logger = logging.getLogger("central.public")


@dataclass(frozen=True)
class Clip:
    station_id: str
    clip_id: str
    sha256: str
    path: Path  # the stored object
    verified: bool  # its clip.finalized event verifies and the file is the signed one


@dataclass(frozen=True)
class Record:
    event: dict[str, Any]
    verified: bool
    problem: str | None  # why not verified (for logs; the page says only 未能验证)
    clip: Clip | None


class Reader:
    """Thread-local store connections (the HTTP pool's threads) and the key registry."""

    def __init__(self, dsn: str, keys_dir: Path, clips_dir: Path, tz: ZoneInfo,
                 master_file: Path | None) -> None:
        self.dsn, self.clips_dir, self.tz, self.master_file = dsn, clips_dir, tz, master_file
        self.keys = KeyRegistry(keys_dir)
        self._local = threading.local()

    def store(self) -> Store:
        s = getattr(self._local, "store", None)
        if s is None:
            s = self._local.store = Store(self.dsn)
        return s

    def _rows(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            return self.store().rows(sql, params)
        except Exception:
            s = getattr(self._local, "store", None)
            self._local.store = None  # a fresh connection next time
            if s is not None:
                s.close()
            raise

    # -- one record -----------------------------------------------------------------------------
    def record(self, station_id: str, event_id: str) -> Record | None:
        """The decided line ``event_id`` of ``station_id`` (None if central holds no such line)."""
        rows = self._rows("SELECT event FROM central_events WHERE event_id=? AND station_id=?",
                          (event_id, station_id))
        if not rows:
            return None
        ev = json.loads(rows[0][0])
        if ev.get("type") not in LINE_TYPES:
            return None
        problem = self.problem(ev)
        clip = self.clip_of(station_id, event_id)
        return Record(ev, problem is None, problem, clip)

    def problem(self, ev: dict[str, Any]) -> str | None:
        """Why ``ev`` (as stored) does not verify now; None when hash, signature and link hold."""
        station, seq = str(ev.get("station_id")), ev.get("seq")
        key = self.keys(station)
        if key is None:
            return "station not registered"
        bad = check_event(ev, key)
        if bad is not None:
            return bad
        assert isinstance(seq, int)
        if seq == 1:
            if ev["prev_hash"] != GENESIS_HASH:
                return "first event does not start the chain"
        else:
            prev = self._rows("SELECT hash FROM central_events WHERE station_id=? AND seq=?",
                              (station, seq - 1))
            if not prev or prev[0][0] != ev["prev_hash"]:
                return "not linked to the stored event before it"
        head = self._rows("SELECT last_seq FROM central_heads WHERE station_id=?", (station,))
        if not head or int(head[0][0]) < seq:
            return "beyond the station's verified head"
        return None

    def clip_of(self, station_id: str, event_id: str) -> Clip | None:
        """The stored clip filming ``event_id``, if the station uploaded it."""
        needle = f'%"event_id":{json.dumps(event_id)}%'
        rows = self._rows("SELECT event FROM central_events WHERE station_id=? AND type='clip.finalized' "
                          "AND event LIKE ?", (station_id, needle))
        for (text,) in rows:
            ev = json.loads(text)
            body = ev.get("body") or {}
            if body.get("event_id") != event_id:
                continue
            clip_id, sha = str(body.get("clip_id")), str(body.get("sha256"))
            idx = self.clips_dir / "index" / station_id / clip_id
            try:
                stored = idx.read_text().strip()
            except OSError:
                return None  # not uploaded (yet)
            obj = self.clips_dir / "objects" / stored
            if not obj.is_file():
                return None
            return Clip(station_id, clip_id, stored, obj, stored == sha and self.problem(ev) is None)
        return None

    def clip_file(self, station_id: str, clip_id: str) -> Path | None:
        """The object of a stored clip (the index only names clips a signed event claimed)."""
        try:
            sha = (self.clips_dir / "index" / station_id / clip_id).read_text().strip()
        except OSError:
            return None
        obj = self.clips_dir / "objects" / sha
        return obj if len(sha) == 64 and obj.is_file() else None

    # -- a school's day ---------------------------------------------------------------------------
    def today(self) -> date:
        return datetime.now(UTC).astimezone(self.tz).date()

    def stations_of(self, school_id: str) -> list[str]:
        """Registered stations the master data maps to the school (or named as the school)."""
        try:
            master = load_master(self.master_file)
        except DataError as exc:  # the indicators report it too; the public page goes on without it
            log.kv(logger, logging.WARNING, "public pages: master data unreadable", error=str(exc))
            master = MasterData()
        return [s for s in self.keys.stations() if master.school_of(s) == school_id]

    def day_lines(self, school_id: str, day: date) -> list[dict[str, Any]]:
        """The school's decided lines of the local ``day``, in time order."""
        stations = self.stations_of(school_id)
        if not stations:
            return []
        start = datetime.combine(day, time(0), tzinfo=self.tz).astimezone(UTC)
        lo, hi = (x.strftime("%Y-%m-%dT%H:%M:%S") for x in (start, start + timedelta(days=1)))
        marks = ",".join("?" * len(stations))
        rows = self._rows(f"SELECT event FROM central_events WHERE station_id IN ({marks}) "
                          "AND type IN ('line.accepted','line.rejected') AND at >= ? AND at < ? "
                          "ORDER BY at", (*stations, lo, hi))
        return [json.loads(r[0]) for r in rows]
