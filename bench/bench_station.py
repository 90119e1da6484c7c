"""Station figures: decision latency from the scale's last byte, and resident memory.

1. Latency: a real ScaleLink reads A&D frames from a pty that this script
   writes; when the workflow has applied the stable reading, a "staff" hook
   confirms at once; we time last byte written → reading applied → line event
   committed (synchronous=FULL). The workflow part alone is the peer figure.
2. Memory: ``acceptance-station run`` with a simulated scale, a synthetic camera
   (640×480 and 1280×720 at 15 fps) and the web app; VmRSS and CPU after warm-up.

Prints figures, then one JSON line with all of them.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tty
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from procstat import status_mb

from app.config import load_config
from app.station import Station
from contract.keys import init_key
from edge.orders import store
from edge.roster import store as roster_store
from edge.workflow.model import Confirm, OpenDelivery, Reading, SelectLine, SignIn
from firmware_bridge.protocols import get_spec
from firmware_bridge.protocols.base import DeviceState
from testbed.demo_data import PINS, demo_orders, demo_roster


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def latency(n: int) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-station-"))
    master, slave = os.openpty()
    tty.setraw(slave)
    init_key(tmp / "station.key")
    (tmp / "station.toml").write_text(
        f'[station]\nstation_id = "bench-station"\nschool_id = "bench-school"\n'
        f'data_dir = "{tmp}/data"\nkey_path = "{tmp}/station.key"\n'
        f'[scale]\nport = "{os.ttyname(slave)}"\nprotocol = "ad"\n'
        '[camera]\nsource = "folder"\npath = "/nonexistent"\n')
    st = Station(load_config(tmp / "station.toml"))
    st.start()
    assert st.journal is not None and st.workflow is not None
    day = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    doc = demo_orders("bench-station", day)
    store.adopt(st.journal, doc, etag=None, source="bench")
    roster_store.adopt(st.journal, demo_roster(st.cfg.station.station_id, cost_ln=10), etag=None,
                       source="bench")
    for who in ("zhang", "li"):
        st.handle(SignIn(who, pin=PINS[who]))
    st.handle(OpenDelivery(doc["orders"][0]["order_id"], "bench-delivery"))
    spec = get_spec("ad")
    applied = threading.Event()
    committed = threading.Event()
    target = {"g": 0}
    handle = st.handle

    def hooked(inp: Any) -> Any:  # staff who confirm the instant the weight is stable
        res = handle(inp)
        if isinstance(inp, Reading) and inp.weight.stable and inp.weight.net_g == target["g"]:
            applied.set()
            out = handle(Confirm(st.workflow.state.placement.placement_id))  # type: ignore[union-attr]
            if out.decision is not None:
                committed.set()
        return res

    st.handle = hooked  # type: ignore[method-assign]
    to_apply, to_commit, workflow_only = [], [], []
    for i in range(n):
        os.write(master, spec.encode(DeviceState(0), "kg") * 2)  # empty: a new placement
        time.sleep(0.05)
        st.handle(SelectLine("1"))
        target["g"] = 15000 + i
        applied.clear()
        committed.clear()
        frame = spec.encode(DeviceState(target["g"]), "kg")
        t0 = time.perf_counter()
        # A&D has no check: the link takes a weight on the second frame that carries it
        # (docs/scales.md). Both are written at once; a real indicator adds a frame period.
        os.write(master, frame + frame)
        applied.wait(5)
        t1 = time.perf_counter()
        committed.wait(5)
        t2 = time.perf_counter()
        to_apply.append((t1 - t0) * 1000)
        to_commit.append((t2 - t0) * 1000)
        workflow_only.append((t2 - t1) * 1000)
    st.stop()
    os.close(master)
    os.close(slave)
    return {"decisions": n, "to_reading_p50_ms": statistics.median(to_apply),
            "to_commit_p50_ms": statistics.median(to_commit), "to_commit_p99_ms": pct(to_commit, 0.99),
            "decide_and_commit_p50_ms": statistics.median(workflow_only),
            "decide_and_commit_p99_ms": pct(workflow_only, 0.99)}


def memory(width: int, height: int, seconds: float) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-rss-"))
    init_key(tmp / "station.key")
    from testbed.broker import free_port

    (tmp / "station.toml").write_text(
        f'[station]\nstation_id = "bench-station"\nschool_id = "bench-school"\n'
        f'data_dir = "{tmp}/data"\nkey_path = "{tmp}/station.key"\n[web]\nport = {free_port()}\n'
        f'[scale]\nsimulate = true\n[camera]\nsource = "synthetic"\nwidth = {width}\n'
        f'height = {height}\nfps = 15\n')
    p = subprocess.Popen([sys.executable, "-m", "app.cli", "run", "--config", str(tmp / "station.toml")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(seconds / 2)
    cpu0, t0 = _cpu_s(p.pid), time.monotonic()
    time.sleep(seconds / 2)
    cpu = (_cpu_s(p.pid) - cpu0) / (time.monotonic() - t0)
    rss = status_mb("VmRSS", p.pid, missing=float("nan"))
    p.terminate()
    p.wait(20)
    return {"rss_mb": round(rss, 1), "cpu_share": round(cpu, 3)}


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    lat = latency(n)
    print(f"decision latency, last byte of the stable frame -> committed line event ({n} decisions): "
          f"p50 {lat['to_commit_p50_ms']:.1f} ms, p99 {lat['to_commit_p99_ms']:.1f} ms (aim p99 <= 100)")
    print(f"  of which frame -> reading applied p50 {lat['to_reading_p50_ms']:.1f} ms; "
          f"decide + sign + commit p50 {lat['decide_and_commit_p50_ms']:.1f} ms, "
          f"p99 {lat['decide_and_commit_p99_ms']:.1f} ms")
    small = memory(640, 480, 16)
    big = memory(1280, 720, 16)
    print(f"station process RSS with camera + web: 640x480 {small['rss_mb']} MB "
          f"(cpu {small['cpu_share']:.0%}), 1280x720 {big['rss_mb']} MB (cpu {big['cpu_share']:.0%}) "
          "(aim <= 250 MB)")
    print(json.dumps({"bench": "station", **{k: round(v, 2) for k, v in lat.items()},
                      "rss_mb_640x480": small["rss_mb"], "cpu_640x480": small["cpu_share"],
                      "rss_mb_1280x720": big["rss_mb"], "cpu_1280x720": big["cpu_share"]}))


if __name__ == "__main__":
    main()
