"""The station process end to end: simulated scale on a pty, synthetic camera, the web API."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from app.config import load_config
from app.station import Station
from edge.journal import read_events
from edge.orders import store
from edge.roster import store as roster_store
from edge.web.app import create_app
from edge.web.guard import Access
from firmware_bridge.scenario import placement
from testbed.broker import free_port
from testbed.demo_data import PINS, demo_orders, demo_roster
from testbed.kiosk_client import kiosk_session
from tests.cli_inproc import run_cli
from tests.conftest import CLI
from tests.factories import write_station_config
from tests.waiting import wait_until
from tests.web_helpers import serving

STATION_ID = "e2e-station-01"


_wait = wait_until


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Station, str]]:
    port = free_port()
    cfg_path = write_station_config(
        tmp_path, STATION_ID, school_id="e2e-school", web={"port": port},
        scale={"simulate": True, "protocol": "ad"},
        camera={"source": "synthetic", "width": 640, "height": 480, "fps": 10,
                "synthetic_codes": ["(00)095212345000000018"], "synthetic_format": "code-128"})
    run_cli("keys", "init", "--config", str(cfg_path)).check_returncode()
    cfg = load_config(cfg_path)
    station = Station(cfg, sim_dir=tmp_path)
    station.start()
    assert station.journal is not None and station.orders is not None
    day = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    store.adopt(station.journal, demo_orders(STATION_ID, day, documents=True), etag=None,
                source="test")
    roster_store.adopt(station.journal, demo_roster(STATION_ID, cost_ln=10), etag=None,
                       source="test")
    with serving(lambda p: create_app(station.workflow, station.orders,  # type: ignore[arg-type]
                                      station.devices.snapshot, station.hub, access=Access(port=p),
                                      blobs=station.blobs, still=station.preview.still), port) as url:
        yield station, url
    station.stop()


def _up(url: str) -> bool:
    try:
        return requests.get(url + "/api/state", timeout=1).ok
    except requests.ConnectionError:
        return False


def _state(url: str) -> dict[str, Any]:
    return dict(requests.get(url + "/api/state", timeout=5).json())


def test_weigh_scan_and_decide_through_devices(running: tuple[Station, str]) -> None:
    station, url = running
    sim = station.scale.simulator
    _wait(lambda: _state(url)["devices"].get("scale", {}).get("ok"), what="scale connected")
    _wait(lambda: _state(url)["devices"].get("camera", {}).get("ok"), what="camera running")
    s = kiosk_session(url)
    for who in ("zhang", "li"):
        s.post(url + "/api/inspectors", json={"inspector_id": who, "pin": PINS[who]}).raise_for_status()
    orders = _state(url)["orders"]
    veg = next(o["order_id"] for o in orders if o["order_id"].endswith("0012"))
    s.post(url + "/api/deliveries", json={"order_id": veg}).raise_for_status()
    s.post(url + "/api/placement/line", json={"line_id": "1"}).raise_for_status()

    sim.play(placement(15200, oscillation_g=120, settle_ms=600))
    st = _wait(lambda: (lambda x: x if x["weight"] and x["weight"]["stable"]
                        and x["weight"]["net_g"] == 15200 else None)(_state(url)),
               what="stable 15200 g")
    r = s.post(url + "/api/confirm", json={"placement_id": st["placement"]["placement_id"]})
    assert r.status_code == 200 and r.json()["decision"]["outcome"] == "accepted"
    ev = list(read_events(station.journal.db, types=("line.accepted",)))[-1]  # type: ignore[union-attr]
    assert ev["body"]["measured"]["net_g"] == 15200 and ev["body"]["measured"]["raw"].startswith("ST")
    assert ev["body"]["measured"]["protocol"] == "ad" and ev["body"]["measured"]["stable"] is True

    sim.play(placement(0))  # taken off: a new placement
    _wait(lambda: _state(url)["placement"]["placement_id"] != st["placement"]["placement_id"],
          what="new placement")
    # A GS1 label in view identifies the next item.
    src = station.camera_source
    src.show(["(01)06901234567892(10)B2411(17)261231"], "code-128")
    _wait(lambda: _state(url)["placement"]["gtin"] == "06901234567892", what="scanned GTIN")
    assert _state(url)["placement"]["batch"] == "B2411"
    sim.play(placement(16000))
    st = _wait(lambda: (lambda x: x if x["weight"] and x["weight"]["stable"]
                        and x["weight"]["net_g"] == 16000 else None)(_state(url)), what="16000 g")
    r = s.post(url + "/api/confirm", json={"placement_id": st["placement"]["placement_id"]})
    assert r.json()["decision"]["reasons"] == ["ITEM_NOT_ON_ORDER"]

    sim.unplug()
    _wait(lambda: not _state(url)["devices"]["scale"]["ok"], what="scale fault visible")
    sim.replug()
    _wait(lambda: _state(url)["devices"]["scale"]["ok"], what="scale back")
    r = run_cli("verify", "--db", str(station.cfg.station.db_path))
    assert r.returncode == 0, r.stdout


def test_trace_qr_under_the_camera_is_kept_apart(running: tuple[Station, str]) -> None:
    """A 浙食链 trace QR (a URL) under the camera with a tapped line: accepted, and the
    code is on the record as a trace code, not as the item's identification."""
    station, url = running
    _wait(lambda: _state(url)["devices"].get("camera", {}).get("ok"), what="camera running")
    s = kiosk_session(url)
    for who in ("zhang", "li"):
        s.post(url + "/api/inspectors", json={"inspector_id": who, "pin": PINS[who]}).raise_for_status()
    veg = next(o["order_id"] for o in _state(url)["orders"] if o["order_id"].endswith("0012"))
    s.post(url + "/api/deliveries", json={"order_id": veg}).raise_for_status()
    s.post(url + "/api/placement/line", json={"line_id": "1"}).raise_for_status()
    trace = "https://zsl.zjamr.zj.gov.cn/trace?code=330106202611280012"  # a 浙食链 QR
    station.camera_source.show([trace], "qr-code")
    _wait(lambda: _state(url)["placement"]["trace_codes"], what="trace code read")
    station.scale.simulator.play(placement(15200, settle_ms=200))
    st = _wait(lambda: (lambda x: x if x["weight"] and x["weight"]["stable"]
                        and x["weight"]["net_g"] == 15200 else None)(_state(url)), what="15200 g")
    r = s.post(url + "/api/confirm", json={"placement_id": st["placement"]["placement_id"]})
    assert r.json()["decision"]["outcome"] == "accepted", r.json()["decision"]
    ev = list(read_events(station.journal.db, types=("line.accepted",)))[-1]  # type: ignore[union-attr]
    assert ev["body"]["trace_codes"] == [{"scheme": "zheshilian", "code": "330106202611280012",
                                          "url": trace}]
    assert ev["body"]["scanned"] == {"item_code": None, "gtin": None}


def test_document_photographed_by_the_camera(running: tuple[Station, str]) -> None:
    """A quarantine certificate held under the camera: a full-size still, stored by sha256,
    journaled as document.captured for the item at the scale."""
    import io

    from PIL import Image

    station, url = running
    _wait(lambda: _state(url)["devices"].get("camera", {}).get("ok"), what="camera running")
    s = kiosk_session(url)
    for who in ("zhang", "li"):
        s.post(url + "/api/inspectors", json={"inspector_id": who, "pin": PINS[who]})
    meat = next(o["order_id"] for o in _state(url)["orders"] if o["order_id"].endswith("0013"))
    s.post(url + "/api/deliveries", json={"order_id": meat}).raise_for_status()
    s.post(url + "/api/placement/line", json={"line_id": "1"}).raise_for_status()
    r = s.post(url + "/api/placement/document", json={"kind": "animal_quarantine"})
    assert r.status_code == 200, r.text
    (ev,) = read_events(station.journal.db, types=("document.captured",))  # type: ignore[union-attr]
    photo = (station.cfg.station.data_dir / "blobs" / ev["body"]["file"]).read_bytes()
    assert Image.open(io.BytesIO(photo)).size == (640, 480)  # the camera's frame, full size
    assert s.get(url + "/api/blobs/" + ev["body"]["file"]).content == photo
    assert _state(url)["placement"]["documents"][0]["kind"] == "animal_quarantine"


def test_run_process_notifies_systemd_and_stops_cleanly(
        tmp_path: Path, notify_socket: tuple[socket.socket, dict[str, str]]) -> None:
    """`run` as systemd starts it: READY=1, watchdog pings, SIGTERM ends it with exit 0."""
    import os
    import signal

    port = free_port()
    cfg = write_station_config(
        tmp_path, STATION_ID, school_id="e2e-school", web={"port": port}, scale={"simulate": True},
        camera={"source": "synthetic", "width": 320, "height": 240, "fps": 5})
    run_cli("keys", "init", "--config", str(cfg)).check_returncode()
    sock, notify_env = notify_socket
    env = {**os.environ, **notify_env, "WATCHDOG_USEC": "400000"}
    p = subprocess.Popen([*CLI, "run", "--config", str(cfg)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        got = [sock.recv(100).decode() for _ in range(3)]
        assert got[0] == "READY=1" and got[1:] == ["WATCHDOG=1", "WATCHDOG=1"], got
        # Read on meanwhile, as systemd does: the socket queues only ten messages.
        rest: list[str] = []
        exited = threading.Event()
        sock.settimeout(0.5)

        def read_until_quiet_after_exit() -> None:
            while True:
                try:
                    rest.append(sock.recv(100).decode())
                except TimeoutError:
                    if exited.is_set():
                        return

        reader = threading.Thread(target=read_until_quiet_after_exit, daemon=True)
        reader.start()
        assert _up(f"http://127.0.0.1:{port}")
        p.send_signal(signal.SIGTERM)
        assert p.wait(20) == 0
        exited.set()
        reader.join(10)
        assert rest[-1] == "STOPPING=1", rest[-3:]
    finally:
        if p.poll() is None:
            p.kill()


def test_probe_thermometer_fills_the_temperature(tmp_path: Path) -> None:
    """A serial probe on a real pty: its readings become the item's temperature."""
    import os
    import tty

    from edge.workflow.model import OpenDelivery, SelectLine, SignIn

    master, slave = os.openpty()
    tty.setraw(slave)
    cfg_path = write_station_config(
        tmp_path, STATION_ID, school_id="e2e-school", scale={"simulate": True},
        camera={"source": "synthetic", "width": 320, "height": 240, "fps": 5},
        thermometer={"port": os.ttyname(slave)})
    run_cli("keys", "init", "--config", str(cfg_path)).check_returncode()
    station = Station(load_config(cfg_path), sim_dir=tmp_path)
    station.start()
    stop = threading.Event()

    def probe() -> None:
        while not stop.wait(0.1):
            os.write(master, b"T=-19.5C\r\n")

    threading.Thread(target=probe, daemon=True).start()
    try:
        assert station.journal is not None
        day = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
        doc = demo_orders(STATION_ID, day)
        store.adopt(station.journal, doc, etag=None, source="test")
        roster_store.adopt(station.journal, demo_roster(STATION_ID, cost_ln=10), etag=None,
                           source="test")
        for who in ("zhang", "li"):
            station.handle(SignIn(who, pin=PINS[who]))
        station.handle(OpenDelivery(doc["orders"][1]["order_id"], "d-probe"))
        station.handle(SelectLine("2"))
        _wait(lambda: station.workflow is not None
              and str(station.workflow.state.placement.temperature_c) == "-19.5",
              what="probe temperature on the placement")
        assert station.devices.snapshot()["thermometer"]["text"] == "-19.5 ℃"
        assert station.workflow.state.placement.temperature_source == "probe"  # type: ignore[union-attr]
    finally:
        stop.set()
        station.stop()
        os.close(master)
        os.close(slave)


def test_central_rejection_becomes_one_alert(running: tuple[Station, str]) -> None:
    """The uplink records central's rejection in its state; the station raises one alert."""
    from core import db as dbmod
    from sync import state as sync_state

    station, _ = running
    j = station.journal
    assert j is not None
    uplink_db = dbmod.connect(station.cfg.station.db_path)  # the uplink's own connection
    sync_state.ensure_tables(uplink_db)  # as the uplink does at start: the tables are its own
    sync_state.put_state(uplink_db, "last_rejection", {"at": "2026-11-28T06:00:00.000Z",
                                                       "first_seq": 2, "last_seq": 3,
                                                       "error": "schema: $.body.x"})
    uplink_db.close()
    station.housekeep_once()
    station.housekeep_once()
    alerts = [e for e in read_events(j.db, types=("alert.raised",))
              if e["body"]["code"] == "SYNC_REJECTED"]
    assert len(alerts) == 1 and alerts[0]["body"]["refs"] == [2, 3]
    assert "schema" in alerts[0]["body"]["message"]
