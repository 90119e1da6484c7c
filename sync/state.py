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
from typing import Any

import sqlite_utils

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
]


def ensure_tables(db: sqlite_utils.Database) -> None:
    migrate(db, MIGRATIONS)


def get_cursor(db: sqlite_utils.Database, station_id: str) -> int:
    row = db.conn.execute("SELECT stored_through_seq FROM sync_cursor WHERE station_id=?",
                          (station_id,)).fetchone()
    return 0 if row is None else int(row[0])


def set_cursor(db: sqlite_utils.Database, station_id: str, seq: int) -> None:
    db.conn.execute(
        "INSERT INTO sync_cursor(station_id, stored_through_seq, updated_at) VALUES (?,?,?) "
        "ON CONFLICT(station_id) DO UPDATE SET stored_through_seq=excluded.stored_through_seq, "
        "updated_at=excluded.updated_at", (station_id, seq, now_rfc3339()))


def put_state(db: sqlite_utils.Database, key: str, value: Any) -> None:
    db.conn.execute(
        "INSERT INTO sync_state(key, value, updated_at) VALUES (?,?,?) ON CONFLICT(key) DO UPDATE "
        "SET value=excluded.value, updated_at=excluded.updated_at",
        (key, json.dumps(value, ensure_ascii=False), now_rfc3339()))


def get_state(db: sqlite_utils.Database) -> dict[str, Any]:
    return {k: json.loads(v) for k, v in db.conn.execute("SELECT key, value FROM sync_state")}


def clip_backlog(db: sqlite_utils.Database) -> int:
    """Clips not yet stored at central, from the station's ``clip_uploads`` table when present."""
    try:
        row = db.conn.execute("SELECT count(*) FROM clip_uploads WHERE stored_at IS NULL").fetchone()
        return int(row[0])
    except Exception:  # clips are issue 7's; absent table means no backlog known
        return 0
