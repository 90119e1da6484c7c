"""SQLite under concurrency: many processes opening one fresh database file at once.

Switching a fresh file to WAL answered "database is locked" at once although
every connection waits 30 s for a lock: SQLite skips the busy handler when a
connection must upgrade a lock it already holds. Real processes, real files.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from tests import db_race

CTX = multiprocessing.get_context("spawn")
WORKERS = 8


@pytest.mark.parametrize("kind", ["station", "central"])
def test_many_processes_opening_a_fresh_database_at_once_never_fail(tmp_path: Path,
                                                                      kind: str) -> None:
    """edge.db.connect (station and uplink on first boot) and central's SQLite store."""
    rounds = int(os.environ.get("DB_RACE_ROUNDS", "100"))
    barrier = CTX.Barrier(WORKERS)
    out = CTX.Queue()
    procs = [CTX.Process(target=db_race.open_fresh, args=(kind, str(tmp_path), rounds, barrier, out))
             for _ in range(WORKERS)]
    for p in procs:
        p.start()
    failures = [f for _ in procs for f in out.get(timeout=300)]
    for p in procs:
        p.join(30)
    assert failures == [], f"{len(failures)} failed opens in {rounds} rounds: {failures[:5]}"
