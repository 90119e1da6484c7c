"""SQLite under concurrency: processes opening one fresh file, station and uplink under load.

Both defects answered "database is locked" at once although every connection
waits 30 s for a lock: SQLite skips the busy handler when a connection must
*upgrade* a lock it already holds (switching a fresh file to WAL; beginning a
write while a read is open on the same connection). Real processes, real files.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.config import load_config
from app.station import Station
from core.db import connect
from edge.orders import store
from edge.roster import store as roster_store
from edge.verify import verify_db
from edge.web.view import snapshot
from edge.workflow.model import CloseDelivery, OpenDelivery, SignIn
from testbed.demo_data import PINS, demo_orders, demo_roster
from tests import db_race
from tests.test_core_defects import STATION_ID, _config

CTX = multiprocessing.get_context("spawn")
WORKERS = 8


@pytest.mark.parametrize("kind", ["station", "central"])
def test_many_processes_opening_a_fresh_database_at_once_never_fail(tmp_path: Path,
                                                                      kind: str) -> None:
    """core.db.connect (station and uplink on first boot) and central's SQLite store."""
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


def test_station_and_uplink_writing_under_cpu_load_never_see_database_is_locked(
        tmp_path: Path) -> None:
    """The station process (workflow writes, web and housekeeping reads on its threads) and
    the uplink process (cursor and state writes) share one database while every core is busy."""
    seconds = float(os.environ.get("DB_STRESS_SECONDS", "8"))
    station = Station(load_config(_config(tmp_path)), sim_dir=tmp_path)
    station.start()
    stop_procs = CTX.Event()
    stop_threads = threading.Event()
    out = CTX.Queue()
    db_path = str(station.cfg.station.db_path)
    procs = [CTX.Process(target=db_race.burn, args=(stop_procs,)) for _ in range(os.cpu_count() or 2)]
    procs.append(CTX.Process(target=db_race.uplink_writer,
                             args=(db_path, STATION_ID, stop_procs, out)))
    problems: list[str] = []
    try:
        j, wf, orders = station.journal, station.workflow, station.orders
        assert j is not None and wf is not None and orders is not None
        day = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
        store.adopt(j, demo_orders(STATION_ID, day), etag=None, source="test")
        roster_store.adopt(j, demo_roster(STATION_ID, cost_ln=10), etag=None, source="test")
        order_id = next(o for o in orders() if o.endswith("0012"))
        for who in ("zhang", "li"):
            assert station.handle(SignIn(who, pin=PINS[who])).refused is None
        for p in procs:
            p.start()

        def kiosk_page() -> None:  # what /api/state and /api/stream do, on their own threads
            while not stop_threads.is_set():
                try:
                    snapshot(wf.state, orders(), station.devices.snapshot())
                    station.housekeep_once()
                except Exception as exc:
                    problems.append(f"reader: {exc!r}")

        readers = [threading.Thread(target=kiosk_page, daemon=True) for _ in range(2)]
        for t in readers:
            t.start()
        deliveries = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end and not problems:
            for inp in (OpenDelivery(order_id, str(uuid.uuid4())), CloseDelivery()):
                res = station.handle(inp)
                if res.refused is not None:
                    problems.append(f"{type(inp).__name__}: {res.refused.message}")
            deliveries += 1
        stop_threads.set()
        for t in readers:
            t.join(10)
    finally:
        stop_procs.set()
        result: Any = out.get(timeout=60) if procs[-1].pid is not None else (0, [])
        for p in procs:
            if p.pid is not None:
                p.join(30)
        station.stop()
    writes, uplink_problems = result
    print(f"{seconds:.0f} s under load: {deliveries} deliveries opened and closed, "
          f"{writes} uplink write rounds")
    problems += uplink_problems
    assert problems == [], f"{len(problems)} problems: {problems[:5]}"
    assert deliveries >= 10 and writes >= 10, (deliveries, writes)
    from contract.keys import load_key

    res = verify_db(connect(db_path), load_key(tmp_path / "station.key").public_key())
    assert res.first_problem is None and res.count > deliveries * 2
