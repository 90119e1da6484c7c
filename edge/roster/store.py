"""The station's copy of its roster, and which version is in use.

Like orders (``edge/orders/store.py``): documents are stored by the sha256 of
their canonical JSON; the version in use is the one named by the latest
``roster.loaded`` event, a query over the journal. The uplink caches what it
fetched (``store_fetched``); the station adopts it (``adopt_pending``).
Tables ``roster_docs`` and ``roster_fetch`` belong to this module.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
from typing import Any

from contract.chain import canonical_json
from core import log
from core.clock import now_rfc3339
from core.db import Migration, migrate
from edge.journal import Journal
from edge.roster.model import Roster, roster_from_doc

logger = logging.getLogger("edge.roster")

MIGRATIONS: list[Migration] = [
    (
        "roster-001",
        """
        CREATE TABLE roster_docs (
            sha256 TEXT PRIMARY KEY,
            doc TEXT NOT NULL,
            received_at TEXT NOT NULL
        );
        CREATE TABLE roster_fetch (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            etag TEXT,
            sha256 TEXT,
            refused_sha256 TEXT,
            fetched_at TEXT NOT NULL
        );
        """,
    ),
]


def ensure_tables(db: sqlite3.Connection) -> None:
    migrate(db, MIGRATIONS)


def sha_in_use(db: sqlite3.Connection) -> str | None:
    row = db.execute("SELECT json_extract(event, '$.body.sha256') FROM events "
                     "WHERE type='roster.loaded' ORDER BY seq DESC LIMIT 1").fetchone()
    return None if row is None else str(row[0])


def roster_in_use(db: sqlite3.Connection) -> Roster | None:
    sha = sha_in_use(db)
    row = None if sha is None else db.execute(
        "SELECT doc FROM roster_docs WHERE sha256=?", (sha,)).fetchone()
    return None if row is None or sha is None else roster_from_doc(json.loads(row[0]), sha)


def _put(conn: sqlite3.Connection, doc: dict[str, Any] | None, etag: str | None,
         refused: str | None) -> str | None:
    sha = None if doc is None else hashlib.sha256(canonical_json(doc)).hexdigest()
    if doc is not None:
        conn.execute("INSERT OR IGNORE INTO roster_docs(sha256, doc, received_at) VALUES (?,?,?)",
                     (sha, canonical_json(doc).decode(), now_rfc3339()))
    conn.execute(
        "INSERT INTO roster_fetch(id, etag, sha256, refused_sha256, fetched_at) VALUES (1,?,?,?,?) "
        "ON CONFLICT(id) DO UPDATE SET etag=coalesce(excluded.etag, etag), "
        "sha256=coalesce(excluded.sha256, sha256), refused_sha256=excluded.refused_sha256, "
        "fetched_at=excluded.fetched_at", (etag, sha, refused, now_rfc3339()))
    return sha


def stored_etag(db: sqlite3.Connection) -> str | None:
    ensure_tables(db)
    row = db.execute("SELECT etag FROM roster_fetch WHERE id=1").fetchone()
    return None if row is None or row[0] is None else str(row[0])


def store_fetched(db: sqlite3.Connection, doc: dict[str, Any] | None, etag: str | None,
                  refused_body: bytes | None = None) -> None:
    """The uplink caches a validated roster (or the sha256 of a refused answer)."""
    ensure_tables(db)
    refused = None if refused_body is None else hashlib.sha256(refused_body).hexdigest()
    db.execute("BEGIN IMMEDIATE")
    try:
        _put(db, doc, etag, refused)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def adopt(journal: Journal, doc: dict[str, Any], *, etag: str | None, source: str) -> int | None:
    """Store a validated roster and start using it (``roster.loaded``); None if in use."""
    ensure_tables(journal.db)
    with journal.transaction() as tx:
        sha = _put(tx.conn, doc, etag, None)
        if sha_in_use(journal.db) == sha:
            return None
        ev = tx.append("roster.loaded", {"sha256": sha, "etag": etag, "source": source,
                                         "counts": {"inspectors": len(doc["inspectors"])}})
    log.kv(logger, logging.INFO, "roster loaded", sha256=(sha or "")[:12], seq=ev["seq"])
    return int(ev["seq"])


def adopt_pending(journal: Journal) -> int | None:
    """Station side: adopt the roster the uplink fetched; one alert per refused answer."""
    ensure_tables(journal.db)
    row = journal.db.execute(
        "SELECT f.etag, f.sha256, f.refused_sha256, d.doc FROM roster_fetch f "
        "LEFT JOIN roster_docs d ON d.sha256 = f.sha256 WHERE f.id = 1").fetchone()
    if row is None:
        return None
    etag, sha, refused, text = row
    seq: int | None = None
    with journal.transaction() as tx:
        if refused is not None and not tx.conn.execute(
                "SELECT 1 FROM events WHERE type='alert.raised' AND "
                "json_extract(event, '$.body.code')='ROSTER_REFUSED' AND "
                "json_extract(event, '$.body.sha256')=?", (refused,)).fetchone():
            seq = int(tx.append("alert.raised", {
                "code": "ROSTER_REFUSED", "severity": "warning", "refs": [], "sha256": refused,
                "message": "the roster fetched by the uplink was refused (see uplink log)"})["seq"])
        if sha is not None and text is not None and sha_in_use(journal.db) != sha:
            doc = json.loads(text)
            seq = int(tx.append("roster.loaded", {
                "sha256": sha, "etag": etag, "source": "uplink",
                "counts": {"inspectors": len(doc["inspectors"])}})["seq"])
    return seq


class RosterCache:
    """The roster in use, parsed once per version (the journal names the version)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal  # its ``db`` is the calling thread's connection
        self._sha: str | None = None
        self._roster: Roster | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Roster | None:
        with self._lock:
            db = self.journal.db
            sha = sha_in_use(db)
            if sha != self._sha:
                self._roster = roster_in_use(db)
                self._sha = sha
            return self._roster
