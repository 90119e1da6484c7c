"""Central's event store: one code path over SQLite and PostgreSQL.

The SQL is written once with ``?`` placeholders; the only dialect differences
are the placeholder style, how a write transaction starts and the row lock on a
station's head (``BEGIN IMMEDIATE`` serialises writers on SQLite, ``SELECT …
FOR UPDATE`` on PostgreSQL). Uniqueness of ``(station_id, seq)`` is enforced by
the primary key in both, so even a logic bug cannot store an event twice.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.chain import GENESIS_HASH
from core.clock import now_rfc3339
from core.db import BUSY_TIMEOUT_S, use_wal

DDL = (
    """CREATE TABLE IF NOT EXISTS central_events (
        station_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        event_id TEXT NOT NULL,
        type TEXT NOT NULL,
        at TEXT NOT NULL,
        hash TEXT NOT NULL,
        event TEXT NOT NULL,
        received_at TEXT NOT NULL,
        PRIMARY KEY (station_id, seq)
    )""",
    """CREATE TABLE IF NOT EXISTS central_heads (
        station_id TEXT PRIMARY KEY,
        last_seq BIGINT NOT NULL,
        last_hash TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS central_alerts (
        alert_id TEXT PRIMARY KEY,
        station_id TEXT NOT NULL,
        seq BIGINT,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        detail TEXT,
        raised_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS central_status (
        station_id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        received_at TEXT NOT NULL
    )""",
    # Every change of a station's online flag, as central received it (retained status / LWT).
    """CREATE TABLE IF NOT EXISTS central_status_history (
        station_id TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        online INTEGER NOT NULL
    )""",
    # The HTTP API finds a station's clip.finalized events when it receives a clip.
    "CREATE INDEX IF NOT EXISTS central_events_type ON central_events (station_id, type)",
    # The indicators read the events of a span of days.
    "CREATE INDEX IF NOT EXISTS central_events_at ON central_events (at)",
    "CREATE INDEX IF NOT EXISTS central_status_history_station ON central_status_history "
    "(station_id, changed_at)",
    # The indicator engine's immediate path polls the stations' alerts by arrival (a few rows a day).
    "CREATE INDEX IF NOT EXISTS central_events_alert_raised ON central_events (received_at) "
    "WHERE type = 'alert.raised'",
    # The public record pages (central.public) look an event up by its id.
    "CREATE INDEX IF NOT EXISTS central_events_event_id ON central_events (event_id)",
)


@dataclass(frozen=True)
class Head:
    """How far central holds a station's verified chain."""

    last_seq: int
    last_hash: str


@dataclass(frozen=True)
class StoredRow:
    seq: int
    hash: str


class Store:
    """A connection to the central store; not shared between threads."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.pg = dsn.startswith(("postgresql://", "postgres://"))
        self.conn: Any
        if self.pg:
            import psycopg

            self.conn = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
        elif dsn.startswith("sqlite:///"):
            path = dsn[len("sqlite://"):]
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_S,
                                        check_same_thread=False)
            self.conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            use_wal(self.conn)  # several workers may open a fresh file at once
            self.conn.execute("PRAGMA synchronous=FULL")
        else:
            raise ValueError(f"unsupported store DSN {dsn!r} (sqlite:/// or postgresql://)")
        with self.transaction():  # concurrent first starts must not race on CREATE TABLE
            if self.pg:
                self._exec("SELECT pg_advisory_xact_lock(727001)")
            for stmt in DDL:
                self._exec(stmt)

    # -- dialect -------------------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.pg else sql

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self._sql(sql), params)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self._exec(sql, params).fetchall())

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """A statement without rows (the tables of other central modules); the rows it changed."""
        return int(self._exec(sql, params).rowcount or 0)

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        """One statement over many parameter rows: one pipelined round trip on PostgreSQL."""
        if not params:
            return
        if self.pg:
            with self.conn.cursor() as cur:
                cur.executemany(self._sql(sql), params)
        else:
            self.conn.executemany(sql, params)

    def create_tables(self, ddl: Sequence[str], lock: int) -> None:
        """Another module's tables (idempotent; concurrent first starts serialised on PostgreSQL)."""
        with self.transaction():
            if self.pg:
                self._exec("SELECT pg_advisory_xact_lock(?)", (lock,))
            for stmt in ddl:
                self._exec(stmt)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction; commits on success (durably), rolls back on any error."""
        self._exec("BEGIN" if self.pg else "BEGIN IMMEDIATE")
        try:
            yield
            self._exec("COMMIT")
        except BaseException:
            self._rollback_quietly()
            raise

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads that see one state of the store (a read transaction)."""
        self._exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if self.pg else "BEGIN")
        try:
            yield
        finally:
            self._rollback_quietly()

    def _rollback_quietly(self) -> None:
        """Roll back without hiding the error: SQLite may already have (SQLITE_FULL, IOERR)."""
        if not self.pg and not self.conn.in_transaction:
            return
        with contextlib.suppress(Exception):  # a broken connection: the caller re-raises the cause
            self._exec("ROLLBACK")

    # -- operations (call inside ``transaction``) ------------------------------------------------
    def lock_head(self, station_id: str) -> Head:
        """The station's head, row-locked until the transaction ends (created at 0).

        One statement (a round trip per batch less than insert-then-select): the no-op update of a
        conflicting row locks it on PostgreSQL as ``FOR UPDATE`` would, and returns what it holds."""
        row = self.rows("INSERT INTO central_heads(station_id, last_seq, last_hash, updated_at) "
                        "VALUES (?,?,?,?) ON CONFLICT (station_id) DO UPDATE "
                        "SET last_seq=central_heads.last_seq RETURNING last_seq, last_hash",
                        (station_id, 0, GENESIS_HASH, now_rfc3339()))[0]
        return Head(int(row[0]), str(row[1]))

    def stored_hashes(self, station_id: str, first: int, last: int) -> dict[int, str]:
        rows = self.rows("SELECT seq, hash FROM central_events WHERE station_id=? AND seq BETWEEN ? AND ?",
                         (station_id, first, last))
        return {int(s): str(h) for s, h in rows}

    def insert_events(self, station_id: str, events: Sequence[tuple[dict[str, Any], str]]) -> None:
        """Insert (event, canonical text) pairs; the primary key refuses any repeat."""
        now = now_rfc3339()
        params = [(station_id, e["seq"], e["event_id"], e["type"], e["at"], e["hash"], text, now)
                  for e, text in events]
        self.executemany("INSERT INTO central_events(station_id, seq, event_id, type, at, hash, event, "
                         "received_at) VALUES (?,?,?,?,?,?,?,?)", params)

    def set_head(self, station_id: str, head: Head) -> None:
        self._exec("UPDATE central_heads SET last_seq=?, last_hash=?, updated_at=? WHERE station_id=?",
                   (head.last_seq, head.last_hash, now_rfc3339(), station_id))

    def add_alert(self, station_id: str, seq: int | None, code: str, message: str,
                  detail: str | None = None) -> None:
        self._exec("INSERT INTO central_alerts(alert_id, station_id, seq, code, message, detail, raised_at) "
                   "VALUES (?,?,?,?,?,?,?)",
                   (str(uuid.uuid4()), station_id, seq, code, message[:2000], detail, now_rfc3339()))

    # -- reads ---------------------------------------------------------------------------------
    def head(self, station_id: str) -> Head:
        rows = self.rows("SELECT last_seq, last_hash FROM central_heads WHERE station_id=?", (station_id,))
        return Head(int(rows[0][0]), str(rows[0][1])) if rows else Head(0, GENESIS_HASH)

    def seqs(self, station_id: str) -> list[int]:
        return [int(r[0]) for r in self.rows(
            "SELECT seq FROM central_events WHERE station_id=? ORDER BY seq", (station_id,))]

    def event_texts(self, station_id: str) -> list[str]:
        return [str(r[0]) for r in self.rows(
            "SELECT event FROM central_events WHERE station_id=? ORDER BY seq", (station_id,))]

    def alerts(self, station_id: str | None = None) -> list[tuple[str, int | None, str, str]]:
        sql = "SELECT station_id, seq, code, message FROM central_alerts"
        rows = (self.rows(sql + " WHERE station_id=? ORDER BY raised_at", (station_id,)) if station_id
                else self.rows(sql + " ORDER BY raised_at"))
        return [(str(a), None if b is None else int(b), str(c), str(d)) for a, b, c, d in rows]

    def claimed_sha256(self, station_id: str, event_type: str, field: str, value: str) -> str | None:
        """The ``sha256`` of the station's stored event of ``event_type`` whose body ``field`` is ``value``.

        How the HTTP API checks an upload (a clip or a document) against what the
        station signed; ``value`` must be an id without LIKE wildcards (a UUID).
        """
        needle = f'%"{field}":{json.dumps(value)}%'
        for (text,) in self.rows("SELECT event FROM central_events WHERE station_id=? AND type=? "
                                 "AND event LIKE ?", (station_id, event_type, needle)):
            body = json.loads(text).get("body", {})
            if body.get(field) == value and isinstance(body.get("sha256"), str):
                return str(body["sha256"])
        return None

    def save_status(self, station_id: str, status_text: str, received_at: str | None = None) -> None:
        """The station's latest status, and a history row when its online flag changed.

        The status row is written first, so on PostgreSQL it is row-locked while the history is
        compared: two workers given two statuses of one station cannot both record a change.
        """
        with self.transaction():
            self.write_status(station_id, status_text, received_at or now_rfc3339())

    def write_status(self, station_id: str, status_text: str, at: str) -> None:
        """``save_status`` inside the caller's transaction (call inside ``transaction``).

        The fleet's ingest writes the status and the station's presence in one transaction:
        one commit (one fsync on SQLite) per status message instead of two.
        """
        try:
            online = json.loads(status_text).get("online")
        except (ValueError, AttributeError):
            online = None
        self._exec("INSERT INTO central_status(station_id, status, received_at) VALUES (?,?,?) "
                   "ON CONFLICT (station_id) DO UPDATE SET status=excluded.status, "
                   "received_at=excluded.received_at", (station_id, status_text, at))
        if not isinstance(online, bool):
            return
        last = self.rows("SELECT online FROM central_status_history WHERE station_id=? "
                         "ORDER BY changed_at DESC LIMIT 1", (station_id,))
        if not last or bool(last[0][0]) != online:
            self._exec("INSERT INTO central_status_history(station_id, changed_at, online) "
                       "VALUES (?,?,?)", (station_id, at, int(online)))

    def close(self) -> None:
        self.conn.close()
