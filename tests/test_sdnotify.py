"""sd_notify over a real datagram socket; the watchdog stops pinging when a loop stalls."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from core.sdnotify import Watchdog, notify, watchdog_interval_s


def test_notify_sends_and_is_a_noop_without_systemd(notify_socket: tuple[socket.socket,
                                                                         dict[str, str]]) -> None:
    s, env = notify_socket
    assert notify("READY=1", env)
    assert s.recv(100) == b"READY=1"
    assert not notify("READY=1", {})


def test_notify_never_blocks_on_a_full_queue(notify_socket: tuple[socket.socket,
                                                                    dict[str, str]]) -> None:
    """Nobody reading: the datagram queue (net.unix.max_dgram_qlen) fills, and a send then
    gives up after SEND_TIMEOUT_S instead of hanging its thread (a stop would hang with it)."""
    _, env = notify_socket
    queue_len = int(Path("/proc/sys/net/unix/max_dgram_qlen").read_text())
    results: list[bool] = []
    sender = threading.Thread(target=lambda: results.extend(notify("WATCHDOG=1", env)
                                                            for _ in range(queue_len + 2)),
                              daemon=True)
    sender.start()
    sender.join(30)
    assert not sender.is_alive() and len(results) == queue_len + 2
    assert all(results[:queue_len]) and not results[-1]  # the queue's worth sent, then refused


def test_watchdog_interval_from_env() -> None:
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000"}) == 15
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000",
                                "WATCHDOG_PID": str(os.getpid())}) == 15
    assert watchdog_interval_s({}) is None


def test_pings_stop_when_a_loop_freezes(notify_socket: tuple[socket.socket,
                                                             dict[str, str]]) -> None:
    s, env = notify_socket
    wd = Watchdog(0.05, send=lambda m: notify(m, env))
    wd.register("main", deadline_s=0.3)
    wd.start()
    alive = True

    def main_loop_tick() -> None:
        if alive:
            wd.beat("main")

    deadline = time.monotonic() + 0.5
    while time.monotonic() < deadline:
        main_loop_tick()
        time.sleep(0.02)
    assert s.recv(100) == b"WATCHDOG=1"
    alive = False  # the test hook: the main loop freezes
    time.sleep(0.5)
    s.settimeout(0.05)
    with pytest.raises(TimeoutError):
        while True:  # drain what was sent before the freeze was noticed
            s.recv(100)
    pings = wd.pings
    time.sleep(0.4)
    assert wd.pings == pings and wd.withheld == "main"
    alive = True
    main_loop_tick()
    time.sleep(0.2)
    assert wd.pings > pings
    wd.stop()


def test_stopping_is_the_last_message() -> None:
    """No ping follows STOPPING=1 (one did, once in CI): ``stopping`` is called while a ping is
    on its way out, as it was then, and the ping must land first."""
    sent: list[str] = []
    pinging = threading.Event()

    def send(message: str) -> bool:
        if message == "WATCHDOG=1":
            pinging.set()
            time.sleep(0.05)  # mid-send when the service stops
        sent.append(message)
        return True

    wd = Watchdog(0.001, send=send)
    wd.register("main", deadline_s=60)
    wd.start()
    assert pinging.wait(5)
    wd.stopping()
    time.sleep(0.1)  # a ping the thread still had in hand would arrive meanwhile
    assert sent[-1] == "STOPPING=1" and sent.count("STOPPING=1") == 1, sent[-3:]


def test_station_watchdog_stops_when_its_loop_freezes(tmp_path: Path) -> None:
    """The real station: its scale loop hangs (test hook) and the pings stop until it recovers."""
    from app.config import load_config
    from app.station import Station
    from tests.cli_inproc import run_cli
    from tests.factories import write_station_config

    cfg = write_station_config(tmp_path, "wd-station-01", scale={"simulate": True},
                               camera={"source": "synthetic", "width": 320, "height": 240, "fps": 5})
    run_cli("keys", "init", "--config", str(cfg)).check_returncode()
    sent: list[str] = []
    station = Station(load_config(cfg), sim_dir=tmp_path)
    station.watchdog = Watchdog(0.05, send=lambda m: sent.append(m) is None)
    station.loop_deadline_s = 1.0
    station.start()
    station.watchdog.start()
    try:
        time.sleep(0.5)
        assert sent and station.watchdog.withheld is None
        station.freeze_loops.set()
        time.sleep(1.5)  # past the loops' deadline
        n = len(sent)
        time.sleep(0.3)
        assert len(sent) == n and station.watchdog.withheld == "scale-consumer"
        station.freeze_loops.clear()
        time.sleep(0.5)
        assert len(sent) > n and station.watchdog.withheld is None
    finally:
        station.watchdog.stop()
        station.stop()
