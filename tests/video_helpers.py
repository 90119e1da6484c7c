"""Helpers for the video tests: a station config with a synthetic camera and simulated scale,
and one decided line driven through the workflow. ``python -m tests.video_helpers CFG SIM``
runs a station that decides one line and then waits (to be killed mid-recording)."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from app.config import load_config
from app.station import Station
from edge.orders import store
from edge.roster import store as roster_store
from edge.workflow.model import Confirm, OpenDelivery, SelectLine, SignIn
from firmware_bridge.scenario import placement
from testbed.demo_data import PINS, demo_orders, demo_roster
from tests.conftest import CLI
from tests.factories import write_station_config
from tests.test_station_e2e import _wait as wait

STATION_ID = "video-station-01"


def write_config(tmp: Path, *, post_roll_s: float = 0.5, web_port: int = 8080,
                 hall_port: int = 8081) -> Path:
    cfg = write_station_config(
        tmp, STATION_ID, school_id="video-school",
        web={"port": web_port, "hall_port": hall_port},
        scale={"simulate": True, "protocol": "ad"},
        camera={"source": "synthetic", "width": 320, "height": 240, "fps": 10,
                "synthetic_codes": ["(00)095212345000000018"], "synthetic_format": "code-128"},
        video={"pre_roll_s": 1.0, "post_roll_s": post_roll_s, "fps": 10})
    if not (tmp / "station.key").exists():
        r = subprocess.run([*CLI, "keys", "init", "--config", str(cfg)], capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stderr
    return cfg


def start_station(cfg_path: Path, sim_dir: Path) -> Station:
    station = Station(load_config(cfg_path), sim_dir=sim_dir)
    station.start()
    assert station.journal is not None
    day = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    if not store.sha_in_use(station.journal.db, day):
        store.adopt(station.journal, demo_orders(STATION_ID, day), etag=None, source="test")
        roster_store.adopt(station.journal, demo_roster(STATION_ID, cost_ln=10), etag=None,
                           source="test")
    return station


def decide_line(station: Station, grams: int) -> dict[str, Any]:
    """Weigh and accept one line of the vegetables order; returns the line event."""
    wf = station.workflow
    assert wf is not None and station.orders is not None
    sim = station.scale.simulator
    wait(lambda: station.devices.snapshot().get("camera", {}).get("ok"), what="camera")
    if wf.state.placement.decided:  # a decided item is still on the scale: take it off
        sim.play(placement(grams))
        wait(lambda: wf.state.placement.loaded, what="loaded")
        sim.play(placement(0))
        wait(lambda: not wf.state.placement.decided, what="new placement")
    for who in ("zhang", "li"):
        if who not in wf.state.inspectors:
            station.handle(SignIn(who, pin=PINS[who]))
    if wf.state.delivery is None:
        veg = next(o for o in station.orders() if o.endswith("0012"))
        station.handle(OpenDelivery(veg, "0b7e4bde-4c5e-4f0a-9d35-7f7f52a1c001"))
    station.handle(SelectLine("1"))
    sim.play(placement(grams, settle_ms=300))
    wait(lambda: wf.state.weight and wf.state.weight.stable and wf.state.weight.net_g == grams,
         what=f"stable {grams} g")
    res = station.handle(Confirm(wf.state.placement.placement_id))
    assert res.refused is None, res.refused
    from edge.journal import read_events

    return list(read_events(station.journal.db, types=("line.accepted", "line.rejected")))[-1]  # type: ignore[union-attr]


if __name__ == "__main__":
    st = start_station(Path(sys.argv[1]), Path(sys.argv[2]))
    ev = decide_line(st, 15200)
    print("DECIDED", ev["body"]["clip_id"], flush=True)
    time.sleep(600)
