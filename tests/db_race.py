"""Process bodies for the SQLite concurrency tests (importable by ``spawn`` children).

Each runs in its own process because SQLite's file locks are per process: the
races under test are between processes, as between the station, the uplink
and central's workers on a real machine.
"""

from __future__ import annotations

import os
from multiprocessing.synchronize import Barrier
from typing import Any


def open_fresh(kind: str, folder: str, rounds: int, barrier: Barrier, out: Any) -> None:
    """Each round, open the same fresh database as every other worker at once."""
    failures = []
    for r in range(rounds):
        path = os.path.join(folder, f"{kind}-{r}.db")
        barrier.wait()
        try:
            if kind == "station":
                from edge.db import connect

                db = connect(path)
                db.conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
                db.conn.close()
            else:
                from sync.central.store import Store

                Store(f"sqlite:///{path}").close()
        except Exception as exc:
            failures.append(f"round {r}: {exc!r}")
    out.put(failures)
