"""A full data disk, on a real small file system (tmpfs): the station says so truly, loses and
half-writes nothing, starts degraded instead of exiting, and recovers by itself."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import page
from tests.cli_inproc import run_cli
from tests.station_proc import AT_WORK, Operator, SmallDisk, StationProc
from tests.waiting import wait_until

SID = "disk-station-01"


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    d = SmallDisk(tmp_path / "disk", 40)
    if not d.mount():
        pytest.skip("mounting a small tmpfs needs root (the chaos test falls back to RLIMIT_FSIZE)")
    yield d
    d.umount()


@pytest.fixture
def station(tmp_path: Path, disk: SmallDisk) -> Iterator[StationProc]:
    st = StationProc(tmp_path, SID, disk.path / "data", config=AT_WORK)
    st.import_orders()
    yield st
    st.close()


def _disk(st: StationProc) -> dict[str, Any]:
    return dict(((st.state() or {}).get("devices") or {}).get("disk") or {})


def _rows(st: StationProc, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(st.db_path)) as c:
        return list(c.execute(sql))


def _verify(st: StationProc) -> str:
    r = run_cli("verify", "--db", str(st.db_path))
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_full_disk_refuses_truly_and_recovers_by_itself(station: StationProc, disk: SmallDisk) -> None:
    station.start()
    op = Operator(station)
    first, _ = op.decide(15000)
    assert first is not None
    disk.fill()
    wait_until(lambda: not _disk(station).get("ok", True), 20,
             "the disk shown as nearly full")
    rep, r = op.decide(15100)
    assert rep is None and r.status_code == 409
    assert r.json()["error"] == "DISK_FULL"
    assert r.json()["message"] == "磁盘已满，未保存：database or disk is full"
    s = station.state()
    assert s is not None and s["fault"]["code"] == "DISK_FULL" and "磁盘已满" in s["fault"]["message"]
    wait_until(lambda: str(_disk(station).get("text")).startswith("磁盘已满，未保存"), 20,
             "the disk chip: full")
    assert not s["placement"]["decided"]  # the line is still open: nothing was recorded
    disk.free()
    r = station.post("/api/confirm", {"placement_id": s["placement"]["placement_id"]})
    assert r.status_code == 200 and r.json()["decision"]["outcome"] in ("accepted", "rejected")
    wait_until(lambda: _disk(station).get("ok"), 20,
             "the disk shown as fine again")
    assert station.state()["fault"] is None  # type: ignore[index]
    assert station.proc is not None and station.proc.poll() is None
    assert station.stop() == 0
    out = _verify(station)
    lines = [json.loads(t) for (t,) in _rows(station, "SELECT event FROM events WHERE type LIKE "
                                                      "'line.%' ORDER BY seq")]
    assert [ev["body"]["measured"]["net_g"] for ev in lines] == [15000, 15100]  # once each
    assert "events, seq 1.." in out


def test_start_on_a_full_disk_is_degraded_not_a_crash_loop(station: StationProc, disk: SmallDisk,
                                                           tmp_path: Path) -> None:
    station.start()
    Operator(station).ready()
    assert station.stop() == 0  # a clean stop: SQLite checkpoints and removes its -wal and -shm
    disk.fill()
    station.start()
    s = wait_until(station.state, 60, "the degraded kiosk")
    assert s["fault"]["code"] == "DISK_FULL" and s["fault"]["message"].startswith("磁盘已满，未保存")
    assert s["delivery"] is None and s["orders"] == []
    r = station.post("/api/inspectors", {"inspector_id": "zhang"})
    assert r.status_code == 503 and r.json()["error"] == "DISK_FULL"
    assert station.post("/api/confirm", {"placement_id": 0}).status_code == 503
    with page() as p:  # the kiosk page shows the fault over everything
        p.goto(station.url + "/")
        p.wait_for_selector("#fault:not([hidden])", timeout=15000)
        assert p.inner_text("#fault").startswith("磁盘已满，未保存：无法验收")
        assert "磁盘已满" in p.inner_text("#devices")
    doc = json.loads(run_cli("doctor", "--config", str(station.config), "--json").stdout)
    disk_check = next(c for c in doc["checks"] if c["check"] == "disk")
    assert not disk_check["ok"] and disk_check["detail"].startswith("disk full:")
    assert "free space" in disk_check["fix"] and "no restart needed" in disk_check["fix"]
    assert station.proc is not None and station.proc.poll() is None  # running, not exited
    disk.free()
    s = wait_until(lambda: (lambda x: x if x and x.get("fault") is None and x["orders"] else None)(
        station.state()), 60, "the station to start by itself")
    rep, _ = Operator(station).decide(15300)
    assert rep is not None
    assert station.stop() == 0
    _verify(station)
    assert _rows(station, "SELECT count(*) FROM events WHERE type='station.started'") == [(2,)]
