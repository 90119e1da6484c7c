"""Clip upload (docs/contract.md §5), in the uplink process, with ``requests``.

Every ``clip.finalized`` event in the journal becomes a row of
``clip_uploads``; the row survives restarts, so uploading resumes where it
stopped. Per clip: ``HEAD`` first (already there with the same hash: done),
else ``PUT`` the file with its sha256. ``201``/``200`` mark it stored (only then
may retention delete it); a network error, ``5xx`` or ``400`` retries with
exponential backoff per clip; ``409`` (another file under that id) and a
missing local file are kept with their error and retried at the longest delay.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from edge import log
from edge.clock import now_rfc3339
from edge.config import StationConfig
from sync import state

logger = logging.getLogger("sync.clips")


def backoff(attempts: int, lo: float, hi: float) -> float:
    """Delay before the next try after ``attempts`` failures (pure)."""
    return float(min(hi, lo * 2 ** max(0, attempts - 1)))


def enqueue_new(db: sqlite3.Connection) -> int:
    """Add a row for each finalized clip not yet known; returns how many were added."""
    cur = db.execute(
        "INSERT OR IGNORE INTO clip_uploads(clip_id, file, sha256, bytes, event_seq)"
        " SELECT json_extract(event, '$.body.clip_id'), json_extract(event, '$.body.file'),"
        " json_extract(event, '$.body.sha256'), json_extract(event, '$.body.bytes'), seq"
        " FROM events WHERE type = 'clip.finalized'"
        " AND seq > (SELECT coalesce(max(event_seq), 0) FROM clip_uploads)")
    return int(cur.rowcount or 0)


class ClipUploader:
    def __init__(self, cfg: StationConfig, db: sqlite3.Connection,
                 session: requests.Session | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        from edge.orders.fetch import make_session

        self.cfg = cfg
        self.db = db
        self.clips_dir = cfg.station.data_dir / "clips"
        self.base = (f"{cfg.orders.api_url.rstrip('/')}/v1/stations/"
                     f"{cfg.station.station_id}/clips/")
        self.session = session or make_session(0, cfg.orders.token_file, cfg.orders.ca_file)
        self.clock = clock
        state.ensure_tables(db)

    def _fail(self, clip_id: str, attempts: int, error: str, *, final: bool = False) -> None:
        up = self.cfg.uplink
        delay = up.clip_backoff_max_s if final else backoff(attempts, up.clip_backoff_min_s,
                                                            up.clip_backoff_max_s)
        self.db.execute(
            "UPDATE clip_uploads SET attempts=?, next_try_at=?, last_error=? WHERE clip_id=?",
            (attempts, self.clock() + delay, error[:500], clip_id))
        log.kv(logger, logging.WARNING, "clip upload failed", clip_id=clip_id, error=error,
               retry_in_s=round(delay, 1))

    def _stored(self, clip_id: str, how: str) -> None:
        self.db.execute(
            "UPDATE clip_uploads SET stored_at=?, last_error=NULL WHERE clip_id=?",
            (now_rfc3339(), clip_id))
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
        """Enqueue new clips and try every clip that is due; returns how many were stored."""
        enqueue_new(self.db)
        cur = self.db.execute(
            "SELECT * FROM clip_uploads WHERE stored_at IS NULL AND next_try_at <= ?"
            " ORDER BY event_seq", (self.clock(),))
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        return sum(1 for row in rows if self.upload_one(row))

    def run(self, stop: threading.Event, interval_s: float = 2.0) -> None:
        while not stop.is_set():
            try:
                self.step()
            except Exception as exc:  # one bad pass must not end the uploader
                log.kv(logger, logging.ERROR, "clip upload pass failed", error=repr(exc))
            stop.wait(interval_s)


def start(cfg: StationConfig, stop: threading.Event, path: Path) -> threading.Thread:
    """The uploader's thread in the uplink process (its own DB connection)."""
    from edge.db import connect

    up = ClipUploader(cfg, connect(path))
    t = threading.Thread(target=up.run, args=(stop,), name="clip-upload", daemon=True)
    t.start()
    return t
