"""The fleet's tables: presence (online since when) and diagnosis requests (docs/fleet.md).

This module owns ``fleet_presence`` and ``fleet_diagnoses`` in central's store
(same SQL on SQLite and PostgreSQL, through ``central.store.Store``);
``central_status`` stays ``central.store``'s, written here through it right
before the presence row.

Presence is decided by ``next_presence`` (pure): a station's ``online`` flag
changes ``since``; its will (``online: false``) names the connection (``session``)
it ends, so an online status of that same session processed after the will (two
workers of the shared subscription) is stale and ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from central.store import Store
from core.clock import now_rfc3339

DDL = (
    """CREATE TABLE IF NOT EXISTS fleet_presence (
        station_id TEXT PRIMARY KEY,
        online INTEGER NOT NULL,
        since TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        session TEXT,
        backlog_since TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS fleet_diagnoses (
        request_id TEXT PRIMARY KEY,
        station_id TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        requested_at TEXT NOT NULL,
        state TEXT NOT NULL,
        received_at TEXT,
        bundle_sha256 TEXT,
        bundle_bytes BIGINT,
        doctor_ok INTEGER,
        doctor TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS fleet_diagnoses_station ON fleet_diagnoses (station_id, requested_at)",
)


@dataclass(frozen=True)
class Presence:
    online: bool
    since: str
    last_seen: str
    session: str | None
    backlog_since: str | None


def ensure(store: Store) -> None:
    with store.transaction():
        if store.pg:
            store.execute("SELECT pg_advisory_xact_lock(727016)")
        for stmt in DDL:
            store.execute(stmt)


def next_presence(prev: Presence | None, doc: dict[str, Any], now: str) -> Presence | None:
    """The presence after status ``doc`` arrived at ``now``; None: the doc is stale, ignore it."""
    online = bool(doc.get("online"))
    session = doc.get("session") if isinstance(doc.get("session"), str) else None
    if prev is not None and online and not prev.online and session is not None and session == prev.session:
        return None  # the will of this very connection was already processed
    backlog = doc.get("backlog") if isinstance(doc.get("backlog"), dict) else None
    pending = backlog is not None and (backlog.get("events", 0) > 0 or backlog.get("clips", 0) > 0)
    if backlog is None:  # the will says nothing about the backlog: keep what was known
        backlog_since = None if prev is None else prev.backlog_since
    else:
        backlog_since = ((prev.backlog_since if prev is not None and prev.backlog_since else now)
                         if pending else None)
    since = prev.since if prev is not None and prev.online == online else now
    return Presence(online, since, now, session or (None if prev is None else prev.session), backlog_since)


def _presence(row: tuple[Any, ...]) -> Presence:
    return Presence(bool(row[0]), str(row[1]), str(row[2]), row[3], row[4])


def _current(store: Store, station: str, lock: bool) -> Presence | None:
    rows = store.rows("SELECT online, since, last_seen, session, backlog_since FROM fleet_presence "
                      "WHERE station_id=?" + (" FOR UPDATE" if lock and store.pg else ""), (station,))
    return _presence(rows[0]) if rows else None


def record_status(store: Store, station: str, doc: dict[str, Any], text: str,
                  now: str | None = None) -> bool:
    """Keep the status (``central_status``) and the presence in one transaction; False when the
    doc is stale (then neither is written).

    One transaction, so whoever sees the new presence (the view's state) finds the status it
    came from, and one commit per status message: 1,300 stations' statuses are 1,300 fsyncs on
    SQLite, not 2,600. The staleness check runs first without a lock (a stale doc costs no
    write transaction) and again under the presence row's lock before anything is written.
    """
    now = now or now_rfc3339()
    if next_presence(_current(store, station, False), doc, now) is None:
        return False
    with store.transaction():
        nxt = next_presence(_current(store, station, True), doc, now)
        if nxt is None:
            return False
        store.write_status(station, text, now)
        store.execute(
            "INSERT INTO fleet_presence(station_id, online, since, last_seen, session, backlog_since) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT (station_id) DO UPDATE SET online=excluded.online, "
            "since=excluded.since, last_seen=excluded.last_seen, session=excluded.session, "
            "backlog_since=excluded.backlog_since",
            (station, int(nxt.online), nxt.since, nxt.last_seen, nxt.session, nxt.backlog_since))
    return True


@dataclass(frozen=True)
class Snapshot:
    """Everything the fleet view is computed from, read in one read transaction."""

    statuses: dict[str, dict[str, Any]]
    presence: dict[str, Presence]
    last_sync: dict[str, str]
    alerts: dict[str, list[dict[str, Any]]]
    diagnoses: dict[str, dict[str, Any]]


def snapshot(store: Store, alerts_since: str, station: str | None = None) -> Snapshot:
    """The whole fleet's rows, or only ``station``'s (one station's page need not read 1,300)."""
    one, only = ("", ()) if station is None else (" AND station_id=?", (station,))
    with store.snapshot():
        statuses: dict[str, dict[str, Any]] = {}
        for sid, text in store.rows("SELECT station_id, status FROM central_status WHERE 1=1" + one, only):
            try:
                doc = json.loads(text)
            except ValueError:
                continue
            if isinstance(doc, dict):
                statuses[str(sid)] = doc
        presence = {str(r[0]): _presence(r[1:]) for r in store.rows(
            "SELECT station_id, online, since, last_seen, session, backlog_since FROM fleet_presence "
            "WHERE 1=1" + one, only)}
        last_sync = {str(s): str(u) for s, u in store.rows(
            "SELECT station_id, updated_at FROM central_heads WHERE last_seq > 0" + one, only)}
        alerts: dict[str, list[dict[str, Any]]] = {}
        for sid, code, msg, at in store.rows(
                "SELECT station_id, code, message, raised_at FROM central_alerts WHERE raised_at >= ?"
                + one + " ORDER BY raised_at", (alerts_since, *only)):
            alerts.setdefault(str(sid), []).append({"code": str(code), "message": str(msg)[:300],
                                                    "at": str(at)})
        diagnoses = {d["station_id"]: d for d in _diagnoses(store, "WHERE 1=1" + one, only)}
    return Snapshot(statuses, presence, last_sync, alerts, diagnoses)


DIAG_COLS = ("request_id", "station_id", "requested_by", "requested_at", "state", "received_at",
             "bundle_sha256", "bundle_bytes", "doctor_ok", "doctor")


def _diag(row: tuple[Any, ...]) -> dict[str, Any]:
    d = dict(zip(DIAG_COLS, row, strict=True))
    d["doctor"] = json.loads(d["doctor"]) if d["doctor"] else None
    d["doctor_ok"] = None if d["doctor_ok"] is None else bool(d["doctor_ok"])
    return d


def _diagnoses(store: Store, where: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Diagnoses in request order (so a dict by station keeps each station's latest)."""
    return [_diag(r) for r in store.rows(f"SELECT {', '.join(DIAG_COLS)} FROM fleet_diagnoses {where} "
                                         "ORDER BY requested_at, request_id", params)]


def diagnosis(store: Store, request_id: str) -> dict[str, Any] | None:
    found = _diagnoses(store, "WHERE request_id=?", (request_id,))
    return found[0] if found else None


def station_diagnoses(store: Store, station: str) -> list[dict[str, Any]]:
    return _diagnoses(store, "WHERE station_id=?", (station,))


def requests_since(store: Store, since: str) -> int:
    return int(store.rows("SELECT COUNT(*) FROM fleet_diagnoses WHERE requested_at >= ?", (since,))[0][0])


def add_request(store: Store, request_id: str, station: str, by: str, now: str) -> None:
    with store.transaction():
        store.execute("INSERT INTO fleet_diagnoses(request_id, station_id, requested_by, requested_at, "
                      "state) VALUES (?,?,?,?,?)", (request_id, station, by, now, "requested"))


def mark_received(store: Store, request_id: str, sha: str, size: int, doctor: dict[str, Any] | None,
                  now: str | None = None) -> None:
    ok = None if doctor is None else int(bool(doctor.get("ok")))
    with store.transaction():
        store.execute("UPDATE fleet_diagnoses SET state='received', received_at=?, bundle_sha256=?, "
                      "bundle_bytes=?, doctor_ok=?, doctor=? WHERE request_id=?",
                      (now or now_rfc3339(), sha, size, ok,
                       None if doctor is None else json.dumps(doctor, ensure_ascii=False), request_id))
