"""Evidence at the door, on the real station process and a pty scale simulator process.

A weight is evidence only from a connected scale; one placement gets one
decision, even when the station is killed right after the commit.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.station_proc import SimProcess, StationProc
from tests.waiting import wait_until

LINES = ("line.accepted", "line.rejected")


@pytest.fixture
def door(tmp_path: Path) -> Iterator[tuple[StationProc, list[SimProcess]]]:
    link = tmp_path / "scale"
    sims = [SimProcess(link)]
    station = StationProc(tmp_path, "evidence-station-01", scale_link=link, config={
        "school_id": "evidence-school", "scale": {"silence_timeout_ms": 1000}})
    try:
        station.start().up()
        station.import_orders()
        wait_until(lambda: len(station.state_now()["orders"]) == 5, what="orders in use")
        wait_until(lambda: station.state_now()["scale"]["fresh"], what="fresh readings")
        station.sign_in("zhang", "li")
        veg = next(o["order_id"] for o in station.state_now()["orders"]
                   if o["order_id"].endswith("0012"))
        assert station.post("/api/deliveries", {"order_id": veg}).ok
        yield station, sims
    finally:
        station.close()
        for s in sims:
            s.stop()


def _stable(station: StationProc, grams: int) -> dict[str, Any]:
    return dict(wait_until(lambda: (lambda s: s if s["weight"] and s["weight"]["stable"]
                                    and s["weight"]["net_g"] == grams else None)(station.state_now()),
                           what=f"stable {grams} g"))


def test_unplugged_scale_refuses_confirm_replugged_accepts(
        door: tuple[StationProc, list[SimProcess]], tmp_path: Path) -> None:
    station, sims = door
    assert station.post("/api/placement/line", {"line_id": "1"}).ok
    assert sims[0].send({"place_g": 15200}) == {"ok": True, "did": "place_g"}
    st = _stable(station, 15200)
    pid = st["placement"]["placement_id"]

    sims[0].kill()  # the scale is unplugged: its simulator stops dead (and its device node goes)
    wait_until(lambda: not station.state_now()["scale"]["connected"], 1.0, "the unplug seen within 1 s")
    r = station.post("/api/confirm", {"placement_id": pid})
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "SCALE_OFFLINE" and "秤" in r.json()["message"]
    assert station.events(*LINES) == []
    seen = station.state_now()
    assert not seen["scale"]["connected"] and not seen["weight"]["fresh"]
    assert not seen["weight"]["stable"]

    sims.append(SimProcess(sims[0].link, on_pan_g=15200))  # plugged back in, item still on
    wait_until(lambda: station.state_now()["scale"]["fresh"], what="scale back")
    st = _stable(station, 15200)
    assert st["placement"]["placement_id"] == pid  # a lost link does not end a placement
    r = station.post("/api/confirm", {"placement_id": pid})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["decision"]["outcome"] == "accepted" and body["existing"] is False
    (ev,) = station.events(*LINES)
    assert (body["committed"]["seq"], body["committed"]["event_id"]) == (ev["seq"], ev["event_id"])
    m = ev["body"]["measured"]
    assert m["net_g"] == 15200 and m["raw"].startswith("ST") and m["received_at"]
    assert 0 <= m["age_ms"] <= 1500 and ev["body"]["placement_id"] == pid


def test_control_unplug_and_silence_refuse_at_once(
        door: tuple[StationProc, list[SimProcess]]) -> None:
    station, sims = door
    sim = sims[0]
    assert station.post("/api/placement/line", {"line_id": "1"}).ok
    sim.send({"place_g": 15000, "settle_ms": 0})
    pid = _stable(station, 15000)["placement"]["placement_id"]
    sim.send({"unplug": True})
    t0 = time.monotonic()
    wait_until(lambda: not station.state_now()["scale"]["connected"], 1.0, "link loss shown")
    r = station.post("/api/confirm", {"placement_id": pid})
    assert r.status_code == 409 and r.json()["error"] == "SCALE_OFFLINE"
    assert time.monotonic() - t0 < 1.0
    sim.send({"replug": True})
    _stable(station, 15000)
    sim.send({"silent": True})  # the indicator goes quiet, the cable still in
    time.sleep(1.6)
    r = station.post("/api/confirm", {"placement_id": pid})
    assert r.status_code == 409 and r.json()["error"] in ("WEIGHT_STALE", "SCALE_OFFLINE")
    assert station.events(*LINES) == []
    sim.send({"silent": False})
    _stable(station, 15000)
    assert station.post("/api/confirm", {"placement_id": pid}).status_code == 200
    assert len(station.events(*LINES)) == 1


def test_killed_after_commit_the_same_placement_answers_its_decision(
        door: tuple[StationProc, list[SimProcess]]) -> None:
    station, sims = door
    assert station.post("/api/placement/line", {"line_id": "1"}).ok
    sims[0].send({"place_g": 15200, "settle_ms": 0})
    pid = _stable(station, 15200)["placement"]["placement_id"]
    # Confirm, and kill -9 the station the moment its decision is on disk.
    threading.Thread(target=lambda: _quietly(station, pid), daemon=True).start()
    wait_until(lambda: station.events(*LINES), 10, "the committed decision")
    station.kill()
    (ev,) = station.events(*LINES)
    station.start().up()
    st = _stable(station, 15200)  # the item is still on the pan
    assert st["placement"]["placement_id"] == pid and st["placement"]["decided"]
    r = station.post("/api/confirm", {"placement_id": pid})
    assert r.status_code == 200 and r.json()["existing"] is True
    assert r.json()["committed"] == {"seq": ev["seq"], "event_id": ev["event_id"],
                                     "type": ev["type"]}
    again = station.post("/api/placement/line", {"line_id": "1"})  # a re-tap changes nothing
    assert again.status_code == 409 and again.json()["error"] == "ALREADY_DECIDED"
    assert station.post("/api/confirm", {"placement_id": pid}).json()["existing"] is True
    assert len(station.events(*LINES)) == 1
    sims[0].send({"empty": True})  # taken off: only now a new placement
    wait_until(lambda: station.state_now()["placement"]["placement_id"] != pid, what="new placement")
    ended = station.events("placement.ended")
    assert ended[-1]["body"] == {"placement_id": pid, "decided": True}


def _quietly(station: StationProc, pid: str) -> None:
    # The station may die before it answers: that is the point.
    with contextlib.suppress(Exception):
        station.post("/api/confirm", {"placement_id": pid})
