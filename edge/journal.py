"""The station's journal: append-only, signed, hash-chained events in SQLite.

The station is the only writer. Each append runs in one ``BEGIN IMMEDIATE``
transaction together with whatever the event implies (see ``transaction``), and
returns only after the commit is durable (WAL + ``synchronous=FULL``). Triggers
refuse UPDATE and DELETE on the events table, so a bug cannot rewrite history;
``verify`` catches anyone who goes around them.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contract.chain import GENESIS_HASH, canonical_json, check_no_floats, seal
from contract.keys import public_hex
from core import db as dbmod
from core.clock import Clock

MIGRATIONS: list[dbmod.Migration] = [
    (
        "journal-001-events",
        """
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            event_id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            at TEXT NOT NULL,
            hash TEXT NOT NULL,
            event TEXT NOT NULL
        );
        CREATE INDEX events_type ON events(type);
        CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'journal events are append-only'); END;
        CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'journal events are append-only'); END;
        CREATE TABLE journal_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """,
    ),
]


_BODY_PATH = re.compile(r"[a-z_]+(\[\d+\])?")


def _body_path(path: str) -> str:
    if not _BODY_PATH.fullmatch(path):
        raise ValueError(f"not a body path: {path!r}")
    return path


class JournalError(Exception):
    """The journal cannot be opened or an event cannot be appended."""


def new_event_id() -> str:
    return str(uuid.uuid4())


class Tx:
    """An open journal transaction: append events and write what they imply."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.conn: sqlite3.Connection = journal.db
        self.events: list[dict[str, Any]] = []
        row = self.conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        self._last_seq: int = int(row[0]) if row else 0
        self._last_hash: str = str(row[1]) if row else GENESIS_HASH

    def append(self, type_: str, body: dict[str, Any]) -> dict[str, Any]:
        """Append one event; it becomes durable when the transaction commits."""
        check_no_floats(body)
        j = self.journal
        unsigned = {
            "seq": self._last_seq + 1,
            "event_id": new_event_id(),
            "type": type_,
            "station_id": j.station_id,
            "at": j.clock.now(),
            "clock_synced": j.clock.synced(),
            "boot_id": j.boot_id,
            "prev_hash": self._last_hash,
            "body": body,
        }
        event = seal(unsigned, j.key)
        self.conn.execute(
            "INSERT INTO events(seq, event_id, type, at, hash, event) VALUES (?,?,?,?,?,?)",
            (event["seq"], event["event_id"], type_, event["at"], event["hash"],
             canonical_json(event).decode("utf-8")),
        )
        self._last_seq, self._last_hash = event["seq"], event["hash"]
        self.events.append(event)
        return event


class Journal:
    """The append-only event log of one station.

    ``db`` is a connection of the calling thread's own. The station's threads (web
    handlers, event stream, housekeeping, devices) all read the journal's database;
    had they shared one connection, a read in progress on one thread would hold a
    read transaction under another thread's ``BEGIN IMMEDIATE``, turning it into a
    lock upgrade that SQLite refuses at once with "database is locked" (no busy
    wait) whenever the uplink has written meanwhile.
    """

    def __init__(
        self,
        db_path: Path | str,
        key: Ed25519PrivateKey,
        station_id: str,
        *,
        clock: Clock | None = None,
        synchronous: str = "FULL",
    ) -> None:
        self._path = db_path
        self._synchronous = synchronous
        self._local = threading.local()
        self._opened: weakref.WeakSet[sqlite3.Connection] = weakref.WeakSet()
        self._opened_lock = threading.Lock()
        self._closed = False
        # A memory database exists only in its one connection: shared (tests only).
        self._shared = dbmod.connect(db_path, synchronous=synchronous) \
            if str(db_path) == ":memory:" else None
        dbmod.migrate(self.db, MIGRATIONS)
        self.key = key
        self.station_id = station_id
        self.clock = clock or Clock()
        self.boot_id = self.clock.boot_id()
        self._lock = threading.Lock()
        self.disk_full = False  # the last write failed for want of space (cleared by a commit)
        self._bind_identity()

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection to the journal's database (opened on first use)."""
        if self._shared is not None:
            return self._shared
        mine: sqlite3.Connection | None = getattr(self._local, "db", None)
        if mine is None:
            if self._closed:
                raise JournalError("the journal is closed")
            mine = dbmod.connect(self._path, synchronous=self._synchronous)
            self._local.db = mine
            with self._opened_lock:
                self._opened.add(mine)
        return mine

    def _bind_identity(self) -> None:
        """Record station id and public key once; refuse to sign with another key."""
        pub = public_hex(self.key)
        with self.transaction_raw():
            c = self.db
            for k, v in (("station_id", self.station_id), ("public_key", pub)):
                row = c.execute("SELECT value FROM journal_meta WHERE key=?", (k,)).fetchone()
                if row is None:
                    c.execute("INSERT INTO journal_meta(key, value) VALUES (?,?)", (k, v))
                elif row[0] != v:
                    raise JournalError(
                        f"this journal belongs to {k}={row[0]}, not {v}; refusing to append"
                    )

    @contextmanager
    def transaction_raw(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self.db
            changes = conn.total_changes
            try:
                with dbmod.write_transaction(conn):
                    yield conn
            except BaseException as exc:
                if dbmod.is_disk_full(exc):
                    self.disk_full = True
                raise
            if conn.total_changes != changes:  # something was written: there is room again
                self.disk_full = False

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """One durable transaction: events appended and rows written commit together."""
        with self.transaction_raw():
            yield Tx(self)

    def append(self, type_: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.transaction() as tx:
            return tx.append(type_, body)

    def append_once(self, type_: str, body: dict[str, Any],
                    match: dict[str, Any]) -> dict[str, Any] | None:
        """Append unless an event of ``type_`` whose body has the ``match`` values exists.

        ``match`` maps body paths (``code``, ``refs[0]``) to values; used for alerts
        that must be raised once however often their cause is seen (every restart).
        """
        where = " AND ".join(f"json_extract(event, '$.body.{_body_path(k)}') = ?" for k in match)
        with self.transaction() as tx:
            seen = tx.conn.execute(f"SELECT 1 FROM events WHERE type = ? AND {where} LIMIT 1",
                                   (type_, *match.values())).fetchone()
            return None if seen else tx.append(type_, body)

    def last_seq(self) -> int:
        row = self.db.execute("SELECT max(seq) FROM events").fetchone()
        return int(row[0] or 0)

    def close(self) -> None:
        """Close every thread's connection (a thread's connection also closes when it ends)."""
        self._closed = True
        with self._opened_lock:
            opened = [*self._opened, *([self._shared] if self._shared is not None else [])]
        for db in opened:
            db.close()


def read_events(
    db: sqlite3.Connection, *, from_seq: int = 1, to_seq: int | None = None,
    types: tuple[str, ...] = (),
) -> Iterator[dict[str, Any]]:
    """Events in seq order, parsed from their stored canonical JSON."""
    sql = "SELECT event FROM events WHERE seq >= ?"
    params: list[Any] = [from_seq]
    if to_seq is not None:
        sql += " AND seq <= ?"
        params.append(to_seq)
    if types:
        sql += f" AND type IN ({','.join('?' * len(types))})"
        params.extend(types)
    for (text,) in db.execute(sql + " ORDER BY seq", params):
        yield json.loads(text)


class JournalReader:
    """Read-only access to the journal for other modules and processes (the uplink).

    The ``events`` table belongs to this module; the uplink reads it through this
    class, handed to it by the application, and never runs SQL on it. The uplink
    may start before the station has created its journal: then the journal is empty.
    """

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self.db.execute(sql, params))
        except sqlite3.OperationalError as exc:
            if "no such table: events" in str(exc):
                return []
            raise

    def last_seq(self) -> int:
        rows = self._query("SELECT max(seq) FROM events")
        return int(rows[0][0] or 0) if rows else 0

    def hash_at(self, seq: int) -> str | None:
        """The hash of event ``seq``, or None when there is no such event."""
        rows = self._query("SELECT hash FROM events WHERE seq = ?", (seq,))
        return str(rows[0][0]) if rows else None

    def at_of(self, seq: int) -> str | None:
        """When event ``seq`` was recorded (RFC 3339), or None when there is no such event."""
        rows = self._query("SELECT at FROM events WHERE seq = ?", (seq,))
        return str(rows[0][0]) if rows else None

    def rows_from(self, from_seq: int, limit: int) -> list[tuple[int, str]]:
        """(seq, canonical event text) from ``from_seq`` on, as stored."""
        return [(int(s), str(t)) for s, t in self._query(
            "SELECT seq, event FROM events WHERE seq >= ? ORDER BY seq LIMIT ?", (from_seq, limit))]

    def bodies_of_type(self, type_: str, after_seq: int) -> list[tuple[int, dict[str, Any]]]:
        """(seq, body) of each event of ``type_`` after ``after_seq``, in seq order."""
        return [(int(s), json.loads(e)["body"]) for s, e in self._query(
            "SELECT seq, event FROM events WHERE type = ? AND seq > ? ORDER BY seq", (type_, after_seq))]


def stored_rows(db: sqlite3.Connection) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(seq column, parsed event or the parse error) for ``verify``: trusts nothing."""
    for seq, text in db.execute("SELECT seq, event FROM events ORDER BY seq"):
        try:
            yield seq, json.loads(text)
        except (ValueError, TypeError) as exc:
            yield seq, f"stored event is not valid JSON ({exc})"


def meta(db: sqlite3.Connection, key: str) -> str | None:
    try:
        row = db.execute("SELECT value FROM journal_meta WHERE key=?", (key,)).fetchone()
    except sqlite3.OperationalError:
        return None
    return None if row is None else str(row[0])
