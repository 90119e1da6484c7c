"""Fault tests against real processes: the broker SIGKILLed and restarted, uplink and
central workers SIGKILLed at random moments, the central supervisor restarting a worker.

After every fault, central must hold seq 1..N exactly once and the station's cursor reach N.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from app.config import load_config
from app.sync_cli import build_uplink
from central import tokens
from central.config import load_central_config
from central.store import Store
from central.worker import Worker
from edge.journal import Journal
from tests.sync_harness import (
    Broker,
    InThread,
    append_events,
    central_config,
    central_holds,
    cli,
    cursor_of,
    free_port,
    make_station,
    station_config,
)
from tests.waiting import wait_until


def _writer(journal: Journal, total: int, seconds: float) -> threading.Thread:
    """Append ``total`` events spread over about ``seconds`` (a live stream)."""
    def run() -> None:
        chunks = 50
        for i in range(chunks):
            append_events(journal, total // chunks, per_tx=total // chunks, start=i * (total // chunks))
            time.sleep(seconds / chunks)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.mark.slow
def test_broker_killed_and_restarted_five_times(tmp_path: Path, broker: Broker,
                                                 fault_rng: random.Random) -> None:
    keys = tmp_path / "keys"
    j = make_station(tmp_path, "st-aaa", keys)
    dsn = f"sqlite:///{tmp_path / 'central.db'}"
    worker = InThread(Worker(load_central_config(central_config(tmp_path, broker, dsn, keys)), 0))
    up = InThread(build_uplink(load_config(station_config(tmp_path, "st-aaa", broker))))
    writer = _writer(j, 5000, 6.0)
    try:
        for _ in range(5):
            time.sleep(fault_rng.uniform(0.4, 1.0))
            broker.kill()
            time.sleep(fault_rng.uniform(0.1, 0.5))
            broker.start()
        writer.join(30)
        wait_until(lambda: up.target.cursor == 5000, 60, "cursor to reach 5000")
    finally:
        up.close()
        worker.close()
    assert central_holds(dsn, "st-aaa") == list(range(1, 5001))
    assert Store(dsn).alerts() == []
    assert up.target.link.attempts_made >= 6  # it really reconnected


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["uplink", "central"])
def test_sigkill_at_twenty_random_moments(tmp_path: Path, broker: Broker, victim: str,
                                          fault_rng: random.Random) -> None:
    keys = tmp_path / "keys"
    j = make_station(tmp_path, "st-aaa", keys)
    dsn = f"sqlite:///{tmp_path / 'central.db'}"
    ccfg_path = central_config(tmp_path, broker, dsn, keys, workers=2)
    scfg_path = station_config(tmp_path, "st-aaa", broker)
    log = tmp_path / "procs.log"
    procs: list[Any] = []
    threads: list[InThread] = []
    if victim == "uplink":
        threads.append(InThread(Worker(load_central_config(ccfg_path), 0)))
        procs.append(cli("sync", "--config", str(scfg_path), log=log))
    else:
        threads.append(InThread(build_uplink(load_config(scfg_path))))
        procs += [cli("central", "--config", str(ccfg_path), "--worker", str(i), log=log) for i in (0, 1)]
    writer = _writer(j, 5000, 12.0)
    rng = fault_rng
    try:
        for _ in range(20):
            time.sleep(rng.uniform(0.2, 0.9))
            i = rng.randrange(len(procs))
            procs[i].send_signal(signal.SIGKILL)
            procs[i].wait(10)
            args = (["sync", "--config", str(scfg_path)] if victim == "uplink"
                    else ["central", "--config", str(ccfg_path), "--worker", str(i)])
            procs[i] = cli(*args, log=log)
        writer.join(30)
        wait_until(lambda: cursor_of(j, "st-aaa") == 5000, 90, "cursor to reach 5000")
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
        for t in threads:
            t.close()
    assert central_holds(dsn, "st-aaa") == list(range(1, 5001))
    assert Store(dsn).alerts() == []


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(x) for x in text.split()]


def test_central_supervisor_restarts_a_killed_worker_and_serves_http(tmp_path: Path, broker: Broker) -> None:
    keys = tmp_path / "keys"
    j = make_station(tmp_path, "st-aaa", keys)
    append_events(j, 500)
    port = free_port()
    orders = tmp_path / "orders" / "st-aaa"
    orders.mkdir(parents=True)
    (orders / "2026-11-29.json").write_text('{"schema": "acceptance.orders/1"}')
    dsn = f"sqlite:///{tmp_path / 'central.db'}"
    central = cli("central", "--config", str(central_config(tmp_path, broker, dsn, keys, workers=1,
                                                            http_port=port)), log=tmp_path / "c.log")
    try:
        wait_until(lambda: len(_children(central.pid)) == 1, 15, "the worker process")
        (first,) = _children(central.pid)
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: _children(central.pid) not in ([], [first]), 15, "a restarted worker")
        token, _ = tokens.issue(tmp_path / "central-tokens", "st-aaa")
        r = requests.get(f"http://127.0.0.1:{port}/v1/stations/st-aaa/orders",
                         params={"delivery_date": "2026-11-29"}, timeout=5,
                         headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.headers["ETag"]
        up = InThread(build_uplink(load_config(station_config(tmp_path, "st-aaa", broker))))
        try:
            wait_until(lambda: up.target.cursor == 500, 30, "the restarted worker to ingest")
        finally:
            up.close()
    finally:
        central.send_signal(signal.SIGTERM)
        assert central.wait(20) == 0
    assert central_holds(dsn, "st-aaa") == list(range(1, 501))


