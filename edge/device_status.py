"""The ``device_status`` table: the station's last known state of each device.

This module owns the table: the station's housekeeping writes it every few
seconds; ``doctor``, ``status`` and the uplink's status message read it through
these functions. A row's age tells whether a station process is running.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.db import Migration, migrate

MIGRATIONS: list[Migration] = [
    ("station-001-device-status",
     "CREATE TABLE device_status (device TEXT PRIMARY KEY, state TEXT NOT NULL, ok INTEGER NOT NULL,"
     " updated_at TEXT NOT NULL)"),
]


@dataclass(frozen=True)
class DeviceRow:
    device: str
    state: str
    ok: bool
    updated_at: str

    def age_s(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - datetime.fromisoformat(self.updated_at)).total_seconds()


def ensure_tables(db: sqlite3.Connection) -> None:
    migrate(db, MIGRATIONS)


def write_all(conn: sqlite3.Connection, states: Mapping[str, Mapping[str, Any]]) -> None:
    """Upsert every device's state (inside the caller's write transaction)."""
    now = datetime.now(UTC).isoformat()
    for name, st in states.items():
        conn.execute(
            "INSERT INTO device_status(device, state, ok, updated_at) VALUES (?,?,?,?) "
            "ON CONFLICT(device) DO UPDATE SET state=excluded.state, ok=excluded.ok, "
            "updated_at=excluded.updated_at",
            (name, str(st.get("text", "")), int(bool(st.get("ok"))), now))


def read_all(db: sqlite3.Connection) -> list[DeviceRow]:
    """Every device's row, by name; empty when the station never ran (no table yet)."""
    try:
        rows = db.execute(
            "SELECT device, state, ok, updated_at FROM device_status ORDER BY device").fetchall()
    except sqlite3.OperationalError:
        return []
    return [DeviceRow(str(d), str(s), bool(o), str(u)) for d, s, o, u in rows]


def states(db: sqlite3.Connection) -> dict[str, str]:
    """device -> state text, for the uplink's status message."""
    return {r.device: r.state for r in read_all(db)}
