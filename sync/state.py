"""The uplink's own tables in the station database (it writes nothing else but the orders cache).

``sync_cursor`` holds "central has stored through seq N" for this station,
moved only by central's ``stored``/``duplicate`` acks (or lowered by a
``resend_from`` command). ``sync_state`` holds named facts the status and
``sync --status`` show: the uplink state (ok, refused, rejected), the last
error, and the last rejection. The uplink cannot append journal events (the
station is the only writer), so a rejection is an alert *state* here and in the
retained status message rather than an ``alert.raised`` event.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from core.clock import now_rfc3339
from core.db import Migration, migrate

MIGRATIONS: list[Migration] = [
    (
        "sync-001",
        """
        CREATE TABLE sync_cursor (
            station_id TEXT PRIMARY KEY,
            stored_through_seq INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE sync_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """,
    ),
    (
        "sync-002",
        """
        CREATE TABLE clip_uploads (
            clip_id TEXT PRIMARY KEY,
            file TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            event_seq INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_try_at REAL NOT NULL DEFAULT 0,
            last_error TEXT,
            stored_at TEXT
        );
        CREATE INDEX clip_uploads_pending ON clip_uploads(stored_at, next_try_at);
        """,
    ),
    (
        "sync-003",
        # Images the station keeps by hash (document photos, drawn signatures): the
        # sha256 is the id; ``kind`` is "document" or "signature".
        """
        CREATE TABLE image_uploads (
            sha256 TEXT PRIMARY KEY,
            file TEXT NOT NULL,
            kind TEXT NOT NULL,
            event_seq INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_try_at REAL NOT NULL DEFAULT 0,
            last_error TEXT,
            stored_at TEXT
        );
        CREATE INDEX image_uploads_pending ON image_uploads(stored_at, next_try_at);
        """,
    ),
]


def ensure_tables(db: sqlite3.Connection) -> None:
    migrate(db, MIGRATIONS)


def _absent(exc: sqlite3.OperationalError) -> bool:
    """The uplink has not created its tables yet (the station may start first): read as empty."""
    return "no such table" in str(exc)


def get_cursor(db: sqlite3.Connection, station_id: str) -> int:
    try:
        row = db.execute("SELECT stored_through_seq FROM sync_cursor WHERE station_id=?",
                              (station_id,)).fetchone()
    except sqlite3.OperationalError as exc:
        if _absent(exc):
            return 0
        raise
    return 0 if row is None else int(row[0])


def set_cursor(db: sqlite3.Connection, station_id: str, seq: int) -> None:
    db.execute(
        "INSERT INTO sync_cursor(station_id, stored_through_seq, updated_at) VALUES (?,?,?) "
        "ON CONFLICT(station_id) DO UPDATE SET stored_through_seq=excluded.stored_through_seq, "
        "updated_at=excluded.updated_at", (station_id, seq, now_rfc3339()))


def put_state(db: sqlite3.Connection, key: str, value: Any) -> None:
    db.execute(
        "INSERT INTO sync_state(key, value, updated_at) VALUES (?,?,?) ON CONFLICT(key) DO UPDATE "
        "SET value=excluded.value, updated_at=excluded.updated_at",
        (key, json.dumps(value, ensure_ascii=False), now_rfc3339()))


def get_state(db: sqlite3.Connection) -> dict[str, Any]:
    try:
        rows = db.execute("SELECT key, value FROM sync_state").fetchall()
    except sqlite3.OperationalError as exc:
        if _absent(exc):
            return {}
        raise
    return {k: json.loads(v) for k, v in rows}


def stored_clip_ids(db: sqlite3.Connection) -> set[str]:
    """Clip ids central holds; empty when no uploader has run yet (no table)."""
    try:
        rows = db.execute("SELECT clip_id FROM clip_uploads WHERE stored_at IS NOT NULL").fetchall()
    except sqlite3.OperationalError as exc:
        if _absent(exc):
            return set()
        raise
    return {str(r[0]) for r in rows}


def enqueue_clips(db: sqlite3.Connection, finalized: list[tuple[int, dict[str, Any]]]) -> int:
    """One upload row per ``clip.finalized`` (seq, body) not yet known; returns how many were added."""
    added = 0
    for seq, body in finalized:
        cur = db.execute(
            "INSERT OR IGNORE INTO clip_uploads(clip_id, file, sha256, bytes, event_seq)"
            " VALUES (?,?,?,?,?)", (body["clip_id"], body["file"], body["sha256"], body["bytes"], seq))
        added += int(cur.rowcount or 0)
    return added


def last_enqueued_seq(db: sqlite3.Connection) -> int:
    return int(db.execute("SELECT coalesce(max(event_seq), 0) FROM clip_uploads").fetchone()[0])


# The two upload queues: table -> its id column (names from this fixed map only, never from input).
_QUEUES = {"clip_uploads": "clip_id", "image_uploads": "sha256"}


def _due(db: sqlite3.Connection, table: str, now: float, through_seq: int) -> list[dict[str, Any]]:
    """Rows not yet at central whose next try is due and whose event central holds, oldest first."""
    assert table in _QUEUES
    cur = db.execute(f"SELECT * FROM {table} WHERE stored_at IS NULL AND next_try_at <= ?"
                     " AND event_seq <= ? ORDER BY event_seq", (now, through_seq))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur]


def _failed(db: sqlite3.Connection, table: str, key: str, attempts: int, next_try_at: float,
            error: str) -> None:
    db.execute(f"UPDATE {table} SET attempts=?, next_try_at=?, last_error=? WHERE {_QUEUES[table]}=?",
               (attempts, next_try_at, error[:500], key))


def _stored(db: sqlite3.Connection, table: str, key: str) -> None:
    db.execute(f"UPDATE {table} SET stored_at=?, last_error=NULL WHERE {_QUEUES[table]}=?",
               (now_rfc3339(), key))


def clips_due(db: sqlite3.Connection, now: float, through_seq: int) -> list[dict[str, Any]]:
    """Clips not yet at central whose next try is due and whose event central holds, oldest first."""
    return _due(db, "clip_uploads", now, through_seq)


def clip_failed(db: sqlite3.Connection, clip_id: str, attempts: int, next_try_at: float,
                error: str) -> None:
    _failed(db, "clip_uploads", clip_id, attempts, next_try_at, error)


def clip_stored(db: sqlite3.Connection, clip_id: str) -> None:
    _stored(db, "clip_uploads", clip_id)


def enqueue_images(db: sqlite3.Connection, images: list[tuple[int, str, str, str]]) -> int:
    """One upload row per image (seq, sha256, file, kind) not yet known; returns how many were added."""
    added = 0
    for seq, sha, file, kind in images:
        cur = db.execute("INSERT OR IGNORE INTO image_uploads(sha256, file, kind, event_seq)"
                         " VALUES (?,?,?,?)", (sha, file, kind, seq))
        added += int(cur.rowcount or 0)
    return added


def images_due(db: sqlite3.Connection, now: float, through_seq: int) -> list[dict[str, Any]]:
    """Images (document photos, signatures) due for a try whose event central holds."""
    return _due(db, "image_uploads", now, through_seq)


def image_failed(db: sqlite3.Connection, sha: str, attempts: int, next_try_at: float, error: str) -> None:
    _failed(db, "image_uploads", sha, attempts, next_try_at, error)


def image_stored(db: sqlite3.Connection, sha: str) -> None:
    _stored(db, "image_uploads", sha)


def image_backlog(db: sqlite3.Connection) -> int:
    """Images not yet stored at central (0 before the uploader created its table)."""
    try:
        return int(db.execute("SELECT count(*) FROM image_uploads WHERE stored_at IS NULL").fetchone()[0])
    except sqlite3.OperationalError as exc:
        if _absent(exc):
            return 0
        raise


def clip_backlog(db: sqlite3.Connection) -> int:
    """Clips not yet stored at central, from the station's ``clip_uploads`` table when present."""
    try:
        row = db.execute("SELECT count(*) FROM clip_uploads WHERE stored_at IS NULL").fetchone()
        return int(row[0])
    except Exception:  # clips are issue 7's; absent table means no backlog known
        return 0
