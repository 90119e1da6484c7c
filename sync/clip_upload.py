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
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import requests

from core import log
from core.backoff import exp_delay
from sync import state
from sync.config import UplinkHost

logger = logging.getLogger("sync.clips")


class FinalizedClips(Protocol):
    """The journal's ``clip.finalized`` events (``edge.journal.JournalReader``), given by the app."""

    def bodies_of_type(self, type_: str, after_seq: int) -> list[tuple[int, dict[str, Any]]]: ...


def enqueue_new(db: sqlite3.Connection, journal: FinalizedClips) -> int:
    """Add a row for each finalized clip not yet known; returns how many were added."""
    return state.enqueue_clips(db, journal.bodies_of_type("clip.finalized", state.last_enqueued_seq(db)))


def send(session: requests.Session, url: str, sha: str, path: Path, content_type: str,
         timeout: float) -> tuple[str, str]:
    """One try at one content-addressed upload: ``HEAD``, then ``PUT`` unless central has it.

    Returns ("stored", how), ("retry", error) or ("final", error): a ``409`` and a
    missing local file are final (retried only at the longest delay).
    """
    try:
        r = session.head(url, timeout=timeout)
        if r.status_code == 200 and r.headers.get("X-Content-SHA256") == sha:
            return "stored", "already there"
        if not path.exists():
            return "final", f"local file missing: {path.name}"
        with open(path, "rb") as f:
            r = session.put(url, data=f, timeout=(timeout, max(timeout, 120.0)),
                            headers={"X-Content-SHA256": sha, "Content-Type": content_type,
                                     "Content-Length": str(path.stat().st_size)})
    except (requests.RequestException, OSError) as exc:
        return "retry", f"{exc.__class__.__name__}: {exc}"
    if r.status_code in (200, 201):
        return "stored", "uploaded" if r.status_code == 201 else "same file there"
    return ("final" if r.status_code == 409 else "retry"), f"HTTP {r.status_code}: {r.text[:200]}"


def retry_delay(cfg: UplinkHost, attempts: int, final: bool) -> float:
    """Seconds until the next try: doubling from ``clip_backoff_min_s``; the longest when final."""
    up = cfg.uplink
    return up.clip_backoff_max_s if final else exp_delay(attempts - 1, up.clip_backoff_min_s,
                                                         up.clip_backoff_max_s)


class Uploader:
    """What both upload queues share: the config, the DB, the journal, the session and the clock."""

    def __init__(self, cfg: UplinkHost, db: sqlite3.Connection, journal: FinalizedClips,
                 session: requests.Session | None, clock: Callable[[], float], folder: str,
                 route: str) -> None:
        from core.http import make_session

        self.cfg = cfg
        self.db = db
        self.journal = journal
        self.folder = cfg.station.data_dir / folder
        self.base = (f"{cfg.orders.api_url.rstrip('/')}/v1/stations/"
                     f"{cfg.station.station_id}/{route}/")
        self.session = session or make_session(0, cfg.orders.token_file, cfg.orders.ca_file)
        self.clock = clock
        state.ensure_tables(db)


class ClipUploader(Uploader):
    def __init__(self, cfg: UplinkHost, db: sqlite3.Connection, journal: FinalizedClips,
                 session: requests.Session | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(cfg, db, journal, session, clock, "clips", "clips")

    def _fail(self, clip_id: str, attempts: int, error: str, *, final: bool = False) -> None:
        delay = retry_delay(self.cfg, attempts, final)
        state.clip_failed(self.db, clip_id, attempts, self.clock() + delay, error)
        log.kv(logger, logging.WARNING, "clip upload failed", clip_id=clip_id, error=error,
               retry_in_s=round(delay, 1))

    def _stored(self, clip_id: str, how: str) -> None:
        state.clip_stored(self.db, clip_id)
        log.kv(logger, logging.INFO, "clip stored at central", clip_id=clip_id, how=how)

    def upload_one(self, row: dict[str, Any]) -> bool:
        """One try for one clip; True when central has it."""
        cid, attempts = row["clip_id"], int(row["attempts"]) + 1
        outcome, detail = send(self.session, self.base + cid, row["sha256"], self.folder / row["file"],
                               "video/mp4", self.cfg.orders.timeout_s)
        if outcome == "stored":
            self._stored(cid, detail)
            return True
        self._fail(cid, attempts, detail, final=outcome == "final")
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
