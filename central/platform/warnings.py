"""The ``platform_warnings`` table (owned here): every warning the indicators raised, once by id.

Same SQL on SQLite and PostgreSQL through ``central.store.Store``'s dialect handling.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from central.platform.model import Finding
from central.store import Store
from core.clock import now_rfc3339

DDL = """CREATE TABLE IF NOT EXISTS platform_warnings (
    warning_id TEXT PRIMARY KEY,
    indicator TEXT NOT NULL,
    station_id TEXT NOT NULL,
    school_id TEXT NOT NULL,
    day TEXT NOT NULL,
    message TEXT NOT NULL,
    evidence TEXT NOT NULL,
    created_at TEXT NOT NULL
)"""
INDEX = "CREATE INDEX IF NOT EXISTS platform_warnings_school ON platform_warnings (school_id, day)"
COLUMNS = "warning_id, indicator, station_id, school_id, day, message, evidence, created_at"


def ensure_tables(store: Store, ddl: Sequence[str] = (DDL, INDEX), lock: int = 727015) -> None:
    """Create the tables (idempotent; concurrent first starts serialised on PostgreSQL)."""
    store.create_tables(ddl, lock)


INSERT = (f"INSERT INTO platform_warnings({COLUMNS}) VALUES (?,?,?,?,?,?,?,?) "
          "ON CONFLICT (warning_id) DO NOTHING RETURNING warning_id")


def record(store: Store, findings: Sequence[Finding]) -> list[Finding]:
    """Store the findings not stored yet (by warning id); returns those that were new.

    The insert that wins is the one that returns the id, so of several engine processes recording
    the same finding exactly one is told it is new. On PostgreSQL the inserts go in one pipelined
    ``executemany`` (a city-day's thousands of findings in one round trip, not one each)."""
    now = now_rfc3339()
    params = [(f.warning_id, f.indicator, f.station_id, f.school_id, f.day, f.message[:2000],
               f.evidence_text(), now) for f in findings]
    inserted: set[str] = set()
    with store.transaction():
        if store.pg and params:
            with store.conn.cursor() as cur:
                cur.executemany(store._sql(INSERT), params, returning=True)
                for result in cur.results():
                    inserted.update(str(r[0]) for r in result.fetchall())
        else:
            for p in params:
                inserted.update(str(r[0]) for r in store.rows(INSERT, p))
    new = []
    for f in findings:  # a finding listed twice is new once
        if f.warning_id in inserted:
            inserted.discard(f.warning_id)
            new.append(f)
    return new


def warnings(store: Store, school_id: str | None = None, since: str = "") -> list[dict[str, Any]]:
    """Stored warnings (of one school; created at ``since`` or later), oldest first, as dicts."""
    sql = f"SELECT {COLUMNS} FROM platform_warnings WHERE created_at >= ?"
    rows = (store.rows(sql + " AND school_id=? ORDER BY created_at, warning_id", (since, school_id))
            if school_id else store.rows(sql + " ORDER BY created_at, warning_id", (since,)))
    return [_as_dict(r) for r in rows]


def _as_dict(r: Sequence[Any]) -> dict[str, Any]:
    return {"warning_id": r[0], "indicator": r[1], "station_id": r[2], "school_id": r[3], "day": r[4],
            "message": r[5], "evidence": json.loads(r[6]), "created_at": r[7]}


def warning(store: Store, warning_id: str) -> dict[str, Any] | None:
    """One stored warning by id, as a dict (None when there is none)."""
    rows = store.rows(f"SELECT {COLUMNS} FROM platform_warnings WHERE warning_id=?", (warning_id[:64],))
    if not rows:
        return None
    return _as_dict(rows[0])


def by_ids(store: Store, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The stored warnings with these ids, oldest first."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    return _dicts(store.rows(f"SELECT {COLUMNS} FROM platform_warnings WHERE warning_id IN ({marks}) "
                             "ORDER BY created_at, warning_id", tuple(ids)))


def _dicts(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [_as_dict(r) for r in rows]
