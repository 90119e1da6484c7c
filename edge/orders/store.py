"""The station's copy of its orders, and which version is in use.

Documents are stored content-addressed (sha256 of their canonical JSON). The
version in use for a date is the one named by the latest ``orders.loaded``
event for that date: a query over the journal, not a mutable flag.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from typing import Any

from contract.chain import canonical_json
from core import log
from core.clock import now_rfc3339
from core.db import Migration, migrate, write_transaction
from edge.journal import Journal, Tx
from edge.matching.types import Order
from edge.orders.model import orders_from_doc

logger = logging.getLogger("edge.orders")

MIGRATIONS: list[Migration] = [
    (
        "orders-001",
        """
        CREATE TABLE orders_docs (
            sha256 TEXT PRIMARY KEY,
            station_id TEXT NOT NULL,
            delivery_date TEXT NOT NULL,
            doc TEXT NOT NULL,
            received_at TEXT NOT NULL
        );
        CREATE TABLE orders_fetch (
            delivery_date TEXT PRIMARY KEY,
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


def doc_sha256(doc: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(doc)).hexdigest()


def sha_in_use(db: sqlite3.Connection, delivery_date: str) -> str | None:
    row = db.execute(
        "SELECT json_extract(event, '$.body.sha256') FROM events WHERE type='orders.loaded' "
        "AND json_extract(event, '$.body.delivery_date')=? ORDER BY seq DESC LIMIT 1",
        (delivery_date,),
    ).fetchone()
    return None if row is None else str(row[0])


def doc_in_use(db: sqlite3.Connection, delivery_date: str) -> dict[str, Any] | None:
    sha = sha_in_use(db, delivery_date)
    if sha is None:
        return None
    row = db.execute("SELECT doc FROM orders_docs WHERE sha256=?", (sha,)).fetchone()
    if row is None:
        return None
    doc: dict[str, Any] = json.loads(row[0])
    return doc


def orders_in_use(db: sqlite3.Connection, delivery_date: str) -> dict[str, Order]:
    doc = doc_in_use(db, delivery_date)
    return {} if doc is None else orders_from_doc(doc)


def _counts(doc: dict[str, Any]) -> dict[str, int]:
    return {
        "orders": len(doc["orders"]),
        "lines": sum(len(o["lines"]) for o in doc["orders"]),
        "suppliers": len({o["supplier"]["supplier_id"] for o in doc["orders"]}),
    }


def adopt(journal: Journal, doc: dict[str, Any], *, etag: str | None, source: str) -> int | None:
    """Store a validated document and start using it: one transaction, one event.

    Returns the ``orders.loaded`` seq, or None when this version is already in use.
    """
    ensure_tables(journal.db)
    sha = doc_sha256(doc)
    day = doc["delivery_date"]
    with journal.transaction() as tx:
        if sha_in_use(journal.db, day) == sha:
            _record_fetch(tx, day, etag, sha, refused=None)
            return None
        tx.conn.execute(
            "INSERT OR IGNORE INTO orders_docs(sha256, station_id, delivery_date, doc, received_at) "
            "VALUES (?,?,?,?,?)",
            (sha, doc["station_id"], day, canonical_json(doc).decode(), now_rfc3339()),
        )
        _record_fetch(tx, day, etag, sha, refused=None)
        ev = tx.append("orders.loaded", {
            "delivery_date": day, "etag": etag, "sha256": sha, "source": source,
            "counts": _counts(doc),
        })
    log.kv(logger, logging.INFO, "orders loaded", delivery_date=day, sha256=sha[:12],
           seq=ev["seq"], source=source)
    return int(ev["seq"])


def _record_fetch(tx: Tx, day: str, etag: str | None, sha: str | None, *,
                  refused: str | None) -> None:
    tx.conn.execute(
        "INSERT INTO orders_fetch(delivery_date, etag, sha256, refused_sha256, fetched_at) "
        "VALUES (?,?,?,?,?) ON CONFLICT(delivery_date) DO UPDATE SET "
        "etag=coalesce(excluded.etag, etag), sha256=coalesce(excluded.sha256, sha256), "
        "refused_sha256=excluded.refused_sha256, fetched_at=excluded.fetched_at",
        (day, etag, sha, refused, now_rfc3339()),
    )


def refuse(journal: Journal, day: str, body: bytes, reason: str, *, source: str) -> int | None:
    """Record a refused document: an ``alert.raised`` once per distinct bad answer.

    The last good copy stays in use; the same bad answer fetched again raises no
    new alert (it is still visible in the fetch state).
    """
    ensure_tables(journal.db)
    bad_sha = hashlib.sha256(body).hexdigest()
    log.kv(logger, logging.WARNING, "orders refused", delivery_date=day, reason=reason,
           source=source)
    with journal.transaction() as tx:
        row = tx.conn.execute(
            "SELECT refused_sha256 FROM orders_fetch WHERE delivery_date=?", (day,)
        ).fetchone()
        _record_fetch(tx, day, None, None, refused=bad_sha)
        if row is not None and row[0] == bad_sha:
            return None
        ev = tx.append("alert.raised", {
            "code": "ORDERS_REFUSED", "severity": "warning",
            "message": f"orders for {day} from {source} refused: {reason}"[:2000],
            "refs": [], "sha256": bad_sha,
        })
    return int(ev["seq"])


def stored_etag(db: sqlite3.Connection, day: str) -> str | None:
    ensure_tables(db)
    row = db.execute("SELECT etag FROM orders_fetch WHERE delivery_date=?", (day,)).fetchone()
    return None if row is None or row[0] is None else str(row[0])


# -- the uplink's scheduled fetch (it may not append events) and the station's adoption --------

def store_fetched(db: sqlite3.Connection, doc: dict[str, Any], etag: str | None) -> str:
    """Cache a validated document fetched by the uplink, without adopting it.

    Writes only ``orders_docs``/``orders_fetch`` (the orders cache the uplink
    owns with the station); the station adopts it with ``adopt_pending``.
    Returns the document's sha256.
    """
    ensure_tables(db)
    sha = doc_sha256(doc)
    day = doc["delivery_date"]
    with write_transaction(db) as conn:
        conn.execute(
            "INSERT OR IGNORE INTO orders_docs(sha256, station_id, delivery_date, doc, received_at) "
            "VALUES (?,?,?,?,?)",
            (sha, doc["station_id"], day, canonical_json(doc).decode(), now_rfc3339()),
        )
        _upsert_fetch(conn, day, etag, sha, None)
    return sha


def refuse_fetched(db: sqlite3.Connection, day: str, body: bytes) -> str:
    """Record that the uplink refused an answer (its sha256); the good copy stays in use."""
    ensure_tables(db)
    bad_sha = hashlib.sha256(body).hexdigest()
    _upsert_fetch(db, day, None, None, bad_sha)
    return bad_sha


def _upsert_fetch(conn: Any, day: str, etag: str | None, sha: str | None, refused: str | None) -> None:
    conn.execute(
        "INSERT INTO orders_fetch(delivery_date, etag, sha256, refused_sha256, fetched_at) "
        "VALUES (?,?,?,?,?) ON CONFLICT(delivery_date) DO UPDATE SET "
        "etag=coalesce(excluded.etag, etag), sha256=coalesce(excluded.sha256, sha256), "
        "refused_sha256=excluded.refused_sha256, fetched_at=excluded.fetched_at",
        (day, etag, sha, refused, now_rfc3339()),
    )


def adopt_pending(journal: Journal, day: str) -> int | None:
    """Station side: start using the newest document the uplink fetched for ``day``.

    Appends ``orders.loaded`` when it differs from the version in use, and an
    ``alert.raised`` (once per bad answer) when the uplink's last fetch was
    refused. Returns the seq of the last event appended, or None.
    """
    ensure_tables(journal.db)
    row = journal.db.execute(
        "SELECT f.etag, f.sha256, f.refused_sha256, d.doc FROM orders_fetch f "
        "LEFT JOIN orders_docs d ON d.sha256 = f.sha256 WHERE f.delivery_date=?", (day,)
    ).fetchone()
    if row is None:
        return None
    etag, sha, refused, text = row
    seq: int | None = None
    with journal.transaction() as tx:
        if refused is not None and not tx.conn.execute(
            "SELECT 1 FROM events WHERE type='alert.raised' AND json_extract(event, '$.body.sha256')=?",
            (refused,),
        ).fetchone():
            seq = int(tx.append("alert.raised", {
                "code": "ORDERS_REFUSED", "severity": "warning",
                "message": f"orders for {day} fetched by the uplink were refused (see uplink log)",
                "refs": [], "sha256": refused,
            })["seq"])
        if sha is not None and text is not None and sha_in_use(journal.db, day) != sha:
            doc = json.loads(text)
            seq = int(tx.append("orders.loaded", {
                "delivery_date": day, "etag": etag, "sha256": sha, "source": "uplink",
                "counts": _counts(doc),
            })["seq"])
    return seq
