"""Process bodies for the SQLite concurrency tests (importable by ``spawn`` children).

Each runs in its own process because SQLite's file locks are per process: the
races under test are between processes, as between the station, the uplink
and central's workers on a real machine.
"""

from __future__ import annotations

import os
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path
from typing import Any


def burn(stop: Event) -> None:
    """Keep one core busy until ``stop`` (other processes' load on a small Pi)."""
    while not stop.is_set():
        for _ in range(20000):
            pass


def open_fresh(kind: str, folder: str, rounds: int, barrier: Barrier, out: Any) -> None:
    """Each round, open the same fresh database as every other worker at once."""
    failures = []
    for r in range(rounds):
        path = os.path.join(folder, f"{kind}-{r}.db")
        barrier.wait()
        try:
            if kind == "station":
                from core.db import connect

                db = connect(path)
                db.execute("CREATE TABLE IF NOT EXISTS t (x)")
                db.close()
            else:
                from central.store import Store

                Store(f"sqlite:///{path}").close()
        except Exception as exc:
            failures.append(f"round {r}: {exc!r}")
    out.put(failures)


def uplink_writer(path: str, station_id: str, stop: Event, out: Any) -> None:
    """What the uplink does to the station database: read events, move the cursor, set state."""
    from core.db import connect
    from edge.journal import JournalReader
    from sync import state

    db = connect(Path(path))
    journal = JournalReader(db)
    state.ensure_tables(db)
    failures: list[str] = []
    writes = 0
    while not stop.is_set() and len(failures) < 10:
        try:
            cursor = state.get_cursor(db, station_id)
            rows = journal.rows_from(cursor + 1, 50)
            if rows:
                state.set_cursor(db, station_id, min(rows[-1][0], journal.last_seq()))
            state.put_state(db, "uplink", {"state": "connected", "n": writes})
            writes += 1
        except Exception as exc:
            failures.append(f"uplink: {exc!r}")
    db.close()
    out.put((writes, failures))
