"""Wrong-PIN counts and lockouts that survive a station restart (table ``roster_pin_failures``).

The workflow counts wrong PINs in its state against the monotonic clock
(``edge.workflow.people``); a restart would forget them, and a guesser could
restart the station (pull the plug) to get five more tries. The driver saves the
counts here after every change and loads them when it starts. A lockout is
stored as wall-clock seconds remaining at the time of saving (``locked_until``,
epoch seconds) and turned back into the monotonic clock on load, never longer
than the configured lockout (a wall clock set back cannot lock an id for ever).
This module is the table's one owner.
"""

from __future__ import annotations

import sqlite3

from core.db import Migration, migrate
from edge.journal import Journal

MIGRATIONS: list[Migration] = [
    (
        "roster-002",
        """
        CREATE TABLE roster_pin_failures (
            inspector_id TEXT PRIMARY KEY,
            fails INTEGER NOT NULL,
            locked_until REAL NOT NULL
        );
        """,
    ),
]

Failures = dict[str, tuple[int, float]]  # inspector id -> (wrong PINs in a row, locked until)


def ensure_tables(db: sqlite3.Connection) -> None:
    migrate(db, MIGRATIONS)


def save(journal: Journal, failures: Failures, *, mono: float, wall: float) -> None:
    """Replace the stored counts with ``failures`` (lock times on the monotonic clock ``mono``)."""
    with journal.transaction_raw() as db:
        db.execute("DELETE FROM roster_pin_failures")
        db.executemany("INSERT INTO roster_pin_failures(inspector_id, fails, locked_until) VALUES (?,?,?)",
                       [(iid, n, wall + (until - mono) if until > mono else 0.0)
                        for iid, (n, until) in failures.items()])


def load(db: sqlite3.Connection, *, mono: float, wall: float, lockout_s: float) -> Failures:
    """The stored counts, with lock times on the monotonic clock ``mono`` (expired locks dropped)."""
    ensure_tables(db)
    out: Failures = {}
    for iid, n, until in db.execute("SELECT inspector_id, fails, locked_until FROM roster_pin_failures"):
        left = min(float(until) - wall, lockout_s)
        if left > 0:
            out[str(iid)] = (int(n), mono + left)
        elif int(n) > 0:
            out[str(iid)] = (int(n), 0.0)
    return out
