"""Opening the station database and running migrations.

One SQLite file, WAL, ``synchronous=FULL`` so a commit that returned is on disk
before the UI may say "accepted". Each owner (the station's journal, the uplink)
has its own list of migrations, applied at start, recorded by name.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

Migration = tuple[str, str]  # (unique name, SQL script)
BUSY_TIMEOUT_S = 30.0


class Connection(sqlite3.Connection):
    """A plain sqlite3 connection that can be weakly referenced (the journal tracks each
    thread's connection in a WeakSet so a finished thread's connection can close)."""


def connect(path: Path | str, *, synchronous: str = "FULL") -> sqlite3.Connection:
    """Open (creating) the DB in autocommit mode so transactions are explicit."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                           timeout=BUSY_TIMEOUT_S, factory=Connection)
    conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    use_wal(conn)
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    # A REPLACE that deletes a row fires DELETE triggers only with recursive triggers on:
    # without it, INSERT OR REPLACE would go around the journal's append-only triggers.
    conn.execute("PRAGMA recursive_triggers=ON")
    return conn


def use_wal(conn: sqlite3.Connection, timeout_s: float = BUSY_TIMEOUT_S) -> None:
    """Switch the database to WAL, waiting out other processes opening it at the same time.

    Switching needs an exclusive lock on a file this connection already reads, and
    SQLite answers that lock upgrade with SQLITE_BUSY at once, without the busy
    handler; so several processes opening a fresh file together would fail at random.
    Retried here until the busy timeout; a file already in WAL answers at once.
    """
    deadline = time.monotonic() + timeout_s
    pause = 0.001
    while True:
        try:
            mode = str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    if mode not in ("wal", "memory"):
        raise sqlite3.OperationalError(f"cannot use WAL for this database (journal mode {mode})")


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction on an autocommit connection: commit on success, else roll back.

    ``BEGIN IMMEDIATE`` takes the write lock first, waiting out the busy timeout; a
    deferred transaction that reads and then writes would have to upgrade its lock,
    which SQLite refuses at once ("database is locked") when another process wrote.
    The connection must not be shared with a thread that reads through it meanwhile.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already: keep the first error
            conn.execute("ROLLBACK")
        raise


def is_disk_full(exc: BaseException) -> bool:
    """Whether an error means the file system is full (SQLite's or the OS's word for it)."""
    import errno

    for e in (exc, exc.__cause__, exc.__context__):
        # SHMSIZE: the WAL index could not be grown on opening, which on a sound file
        # system means there is no space for it.
        if isinstance(e, sqlite3.Error) and getattr(e, "sqlite_errorname", "") in (
                "SQLITE_FULL", "SQLITE_IOERR_SHMSIZE"):
            return True
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
    return False


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration]) -> list[str]:
    """Apply the migrations not yet recorded, each in its own transaction."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT "
        "NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
    )
    done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
    applied = []
    for name, sql in migrations:
        if name in done:
            continue
        with write_transaction(conn):
            if conn.execute("SELECT 1 FROM schema_migrations WHERE name=?", (name,)).fetchone():
                continue  # another process applied it meanwhile
            for stmt in _statements(sql):
                conn.execute(stmt)
            conn.execute("INSERT INTO schema_migrations(name) VALUES (?)", (name,))
        applied.append(name)
    return applied


def _statements(script: str) -> list[str]:
    """Split a script into complete statements (triggers contain semicolons)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
