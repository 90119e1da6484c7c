"""Clip upload (docs/contract.md §5), in the uplink process, with ``requests``.

Every ``clip.finalized`` event in the journal becomes a row of
``clip_uploads``; the row survives restarts, so uploading resumes where it
stopped. A clip waits until central holds its event (the uplink's cursor has
passed it), since central accepts only clips a stored event names. Per clip:
``HEAD`` first (already there with the same hash: done), else ``PUT`` the file
with its sha256. ``201``/``200`` mark it stored (only then may retention delete
it); a network error, ``5xx`` or another ``4xx`` retries with exponential
backoff per clip; ``409`` (another file under that id) and a missing local file
are kept with their error and retried at the longest delay.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import requests

from core import log
from core.backoff import exp_delay
from core.threads import Periodic
from sync import state
from sync.config import UplinkHost

logger = logging.getLogger("sync.clips")


class FinalizedClips(Protocol):
    """The journal's ``clip.finalized`` events (``edge.journal.JournalReader``), given by the app."""

    def bodies_of_type(self, type_: str, after_seq: int) -> list[tuple[int, dict[str, Any]]]: ...


def enqueue_new(db: sqlite3.Connection, journal: FinalizedClips) -> int:
    """Add a row for each finalized clip not yet known; returns how many were added."""
    return state.enqueue_clips(db, journal.bodies_of_type("clip.finalized", state.last_enqueued_seq(db)))


class ClipUploader:
    def __init__(self, cfg: UplinkHost, db: sqlite3.Connection, journal: FinalizedClips,
                 session: requests.Session | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        from core.http import make_session

        self.cfg = cfg
        self.db = db
        self.journal = journal
        self.clips_dir = cfg.station.data_dir / "clips"
        self.base = (f"{cfg.orders.api_url.rstrip('/')}/v1/stations/"
                     f"{cfg.station.station_id}/clips/")
        self.session = session or make_session(0, cfg.orders.token_file, cfg.orders.ca_file)
        self.clock = clock
        state.ensure_tables(db)

    def _fail(self, clip_id: str, attempts: int, error: str, *, final: bool = False) -> None:
        up = self.cfg.uplink
        delay = up.clip_backoff_max_s if final else exp_delay(attempts - 1, up.clip_backoff_min_s,
                                                            up.clip_backoff_max_s)
        state.clip_failed(self.db, clip_id, attempts, self.clock() + delay, error)
        log.kv(logger, logging.WARNING, "clip upload failed", clip_id=clip_id, error=error,
               retry_in_s=round(delay, 1))

    def _stored(self, clip_id: str, how: str) -> None:
        state.clip_stored(self.db, clip_id)
        log.kv(logger, logging.INFO, "clip stored at central", clip_id=clip_id, how=how)

    def upload_one(self, row: dict[str, Any]) -> bool:
        """One try for one clip; True when central has it."""
        cid, sha, attempts = row["clip_id"], row["sha256"], int(row["attempts"]) + 1
        url, timeout = self.base + cid, self.cfg.orders.timeout_s
        try:
            r = self.session.head(url, timeout=timeout)
            if r.status_code == 200 and r.headers.get("X-Content-SHA256") == sha:
                self._stored(cid, "already there")
                return True
            path = self.clips_dir / row["file"]
            if not path.exists():
                self._fail(cid, attempts, f"local file missing: {row['file']}", final=True)
                return False
            with open(path, "rb") as f:
                r = self.session.put(url, data=f, timeout=(timeout, max(timeout, 120.0)),
                                     headers={"X-Content-SHA256": sha, "Content-Type": "video/mp4",
                                              "Content-Length": str(path.stat().st_size)})
        except (requests.RequestException, OSError) as exc:
            self._fail(cid, attempts, f"{exc.__class__.__name__}: {exc}")
            return False
        if r.status_code in (200, 201):
            self._stored(cid, "uploaded" if r.status_code == 201 else "same file there")
            return True
        self._fail(cid, attempts, f"HTTP {r.status_code}: {r.text[:200]}",
                   final=r.status_code == 409)
        return False

    def step(self) -> int:
        """Enqueue new clips and try every clip that is due; returns how many were stored.

        A clip is due only once central holds its ``clip.finalized`` event (the
        cursor has passed it): central accepts a clip only against that event.
        """
        enqueue_new(self.db, self.journal)
        rows = state.clips_due(self.db, self.clock(),
                               state.get_cursor(self.db, self.cfg.station.station_id))
        return sum(1 for row in rows if self.upload_one(row))



def start(cfg: UplinkHost, stop: threading.Event, db: sqlite3.Connection,
          journal: FinalizedClips, interval_s: float = 2.0) -> Periodic:
    """The uploader's thread in the uplink process (give it a DB connection of its own)."""
    worker = Periodic("clip-upload", ClipUploader(cfg, db, journal).step, interval_s, stop=stop)
    worker.start()
    return worker
