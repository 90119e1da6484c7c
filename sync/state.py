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

from edge.clock import now_rfc3339
from edge.db import Migration, migrate

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


def ensure_tables(db: sqlite3.Connection) -> None:
    migrate(db, MIGRATIONS)


def get_cursor(db: sqlite3.Connection, station_id: str) -> int:
    row = db.execute("SELECT stored_through_seq FROM sync_cursor WHERE station_id=?",
                          (station_id,)).fetchone()
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
    return {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM sync_state")}


def _no_journal_yet(exc: sqlite3.OperationalError) -> bool:
    """The station has not created its journal yet (the uplink may start first)."""
    return "no such table: events" in str(exc)


def last_seq(db: sqlite3.Connection) -> int:
    try:
        row = db.execute("SELECT max(seq) FROM events").fetchone()
    except sqlite3.OperationalError as exc:
        if _no_journal_yet(exc):
            return 0
        raise
    return int(row[0] or 0)


def read_rows(db: sqlite3.Connection, from_seq: int, limit: int) -> list[tuple[int, str]]:
    """(seq, canonical event text) from ``from_seq`` on, as stored by the journal."""
    try:
        return [(int(s), str(t)) for s, t in db.execute(
            "SELECT seq, event FROM events WHERE seq >= ? ORDER BY seq LIMIT ?", (from_seq, limit))]
    except sqlite3.OperationalError as exc:
        if _no_journal_yet(exc):
            return []
        raise


def device_states(db: sqlite3.Connection) -> dict[str, str]:
    """Device states the station keeps in ``device_status(device, state)``, if it has that table."""
    try:
        return {str(d): str(s) for d, s in db.execute("SELECT device, state FROM device_status")}
    except Exception:  # the table belongs to the station and may not exist (yet)
        return {}


def clip_backlog(db: sqlite3.Connection) -> int:
    """Clips not yet stored at central, from the station's ``clip_uploads`` table when present."""
    try:
        row = db.execute("SELECT count(*) FROM clip_uploads WHERE stored_at IS NULL").fetchone()
        return int(row[0])
    except Exception:  # clips are issue 7's; absent table means no backlog known
        return 0
