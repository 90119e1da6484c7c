"""Per-worker ingest capacity: N simulated stations over a real mosquitto to K ingest workers on PostgreSQL.

Each simulated station has its own Ed25519 key (registered in central's keys folder) and a signed
journal of one morning (``EVENTS`` events: deliveries of lines accepted or rejected with their
clips, as the stations record them), framed into batches of ``BATCH`` events exactly as the uplink
frames them. The stations are multiplexed over ``PUBLISHERS`` MQTT 5 connections (one per station
would measure the simulator, not central); like the uplink each station keeps one batch in flight
and sends the next on its ack. ``WORKERS`` real ingest worker processes (``central --worker``) take
the per-station shared subscriptions ``$share/ingest/...`` and verify, store and ack.

The first batch of every station is a warm-up (the workers' subscriptions, PostgreSQL's caches);
the rest is timed for ``WINDOW_S`` seconds or until every station has sent its morning (then the
batches in flight are acked, and every acked event is checked stored exactly once). A live station
sends one or two events per batch (its uplink polls the journal every 0.2 s and events come a few
a minute), hence ``BATCH`` 2 by default: the cost per batch, not per event, is what sizes central.

Figures: events/s and batches/s through the system, each worker's CPU seconds (from /proc) and so
its events and batches per CPU-second (the capacity of one worker on one core, which a machine
shared with other work does not distort the way it distorts wall-clock rates), its peak RSS, the
CPU of the PostgreSQL backends serving the workers and of mosquitto per 1,000 events, the acks'
round trip (p50, p99), then the indicator evaluation rate over the stored day (gather + all
indicators). The load average before and after is printed: the machine may be shared.

    .venv/bin/python bench/bench_scale_sim.py [STATIONS=300] [WORKERS=2] [EVENTS=200] [BATCH=2] [WINDOW_S=60]
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
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion  # noqa: E402
from procstat import status_mb  # noqa: E402

from central.platform import engine  # noqa: E402
from central.platform.config import IndicatorsSection  # noqa: E402
from central.platform.data import rfc3339  # noqa: E402
from central.store import Store  # noqa: E402
from contract import protocol  # noqa: E402
from contract.chain import GENESIS_HASH, canonical_json, seal  # noqa: E402
from contract.keys import public_hex  # noqa: E402
from contract.mqtt import publish_props  # noqa: E402
from tests.sync_harness import Broker, central_config, pg_schema  # noqa: E402
from tests.waiting import wait_until  # noqa: E402

DAY = date(2026, 11, 30)
START = datetime(2026, 11, 29, 22, 30, tzinfo=UTC)  # 06:30 in Shanghai
PUBLISHERS = 16
TICK = os.sysconf("SC_CLK_TCK")


def morning(station: str, key: Ed25519PrivateKey, n: int) -> list[tuple[int, str]]:
    """One station's signed morning: deliveries of 24 lines (1 in 17 rejected), each with its clip."""
    rows: list[tuple[int, str]] = []
    prev = GENESIS_HASH

    def add(typ: str, body: dict[str, Any]) -> int:
        nonlocal prev
        seq = len(rows) + 1
        ev = seal(
            {
                "seq": seq,
                "event_id": str(uuid.uuid4()),
                "type": typ,
                "station_id": station,
                "at": rfc3339(START + timedelta(seconds=30 * seq)),
                "clock_synced": True,
                "boot_id": "sim",
                "prev_hash": prev,
                "body": body,
            },
            key,
        )
        prev = ev["hash"]
        rows.append((seq, canonical_json(ev).decode("utf-8")))
        return seq

    add("station.started", {"version": "sim"})
    d = 0
    while len(rows) < n:
        delivery = str(uuid.uuid4())
        add("delivery.opened", {"delivery_id": delivery, "order_id": f"PO-{d}", "inspectors": ["i-1", "i-2"]})
        for line in range(24):
            if len(rows) >= n - 2:
                break
            rejected = line % 17 == 16
            clip = str(uuid.uuid4())
            seq = add(
                "line.rejected" if rejected else "line.accepted",
                {
                    "delivery_id": delivery,
                    "order_id": f"PO-{d}",
                    "line_id": str(line),
                    "item": {"code": f"veg-{line:04d}", "category": "vegetable"},
                    "measured": {"net_g": 15000},
                    "delivered_by": "sup-1",
                    "supplier": {"supplier_id": "sup-1"},
                    "price": {
                        "ordered_unit_price_fen": 350,
                        "delivered_unit_price_fen": 350,
                        "price_per": "jin",
                        "amount_fen": None if rejected else 10500,
                    },
                    "inspectors": ["i-1", "i-2"],
                    "clip_id": clip,
                },
            )
            add("clip.finalized", {"clip_id": clip, "event_seq": seq, "sha256": "c" * 64})
        add("delivery.closed", {"delivery_id": delivery, "order_id": f"PO-{d}"})
        d += 1
    return rows[:n]


class Fleet:
    """The simulated stations' side: batches per station, one in flight each, next on its ack."""

    def __init__(self, broker: Broker, batches: dict[str, list[bytes]], events: dict[str, list[int]]) -> None:
        self.batches, self.events = batches, events
        self.next = dict.fromkeys(batches, 0)
        self.sent_at: dict[str, float] = {}
        self.rtts: list[float] = []
        self.acked_events = 0
        self.bad: list[str] = []
        self.lock = threading.Lock()
        self.warm = threading.Event()
        self.timed = False
        self.done = threading.Event()
        self.remaining = len(batches)
        self.stopping = False  # the window is over: acks still count as stored, nothing more is sent
        self.inflight = 0
        self.all_acked = 0
        stations = sorted(batches)
        self.clients = []
        for i in range(PUBLISHERS):
            c = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=f"sim-{i}", protocol=MQTTProtocolVersion.MQTTv5
            )
            c.max_inflight_messages_set(1000)
            c.max_queued_messages_set(0)
            c.on_message = self._on_ack
            c.connect("127.0.0.1", broker.port)
            mine = stations[i::PUBLISHERS]
            for k in range(0, len(mine), 200):
                c.subscribe([(protocol.topic(s, "acks"), 1) for s in mine[k : k + 200]])
            c.loop_start()
            self.clients.append((c, set(mine)))
        self.owner = {s: c for c, mine in self.clients for s in mine}

    def send(self, station: str) -> None:
        i = self.next[station]
        with self.lock:
            self.inflight += 1
        self.sent_at[station] = time.perf_counter()
        self.owner[station].publish(
            protocol.topic(station, "events"),
            self.batches[station][i],
            qos=1,
            properties=publish_props(None, str(uuid.uuid4()).encode()),
        )

    def _on_ack(self, c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
        ack = json.loads(msg.payload)
        station = protocol.station_of(msg.topic)
        assert station is not None
        now = time.perf_counter()
        with self.lock:
            i = self.next[station]
            self.inflight -= 1
            if ack["status"] != "stored":
                self.bad.append(f"{station} batch {i}: {ack}")
            self.all_acked += self.events[station][i]
            if self.timed and not self.stopping:
                self.rtts.append(now - self.sent_at[station])
                self.acked_events += self.events[station][i]
            self.next[station] = i + 1
            more = self.next[station] < len(self.batches[station]) and not self.stopping
            if not self.timed and i == 0:
                self.remaining -= 1
                if self.remaining == 0:
                    self.warm.set()
                return  # the warm-up: the timed phase sends the rest
            if not more:
                self.remaining -= 1
                if self.remaining == 0:
                    self.done.set()
        if more:
            self.send(station)

    def close(self) -> None:
        for c, _ in self.clients:
            c.loop_stop()
            c.disconnect()


def cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), seconds; 0 when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def main() -> None:
    args = [int(a) for a in sys.argv[1:]] + [300, 2, 200, 2, 60][len(sys.argv) - 1 :]
    stations_n, workers, per, batch, window = args[:5]
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-sim-"))
    keys_dir = tmp / "keys"
    keys_dir.mkdir()
    t0 = time.perf_counter()
    batches: dict[str, list[bytes]] = {}
    sizes: dict[str, list[int]] = {}
    for n in range(stations_n):
        s = f"sim-{n:05d}"
        key = Ed25519PrivateKey.generate()
        (keys_dir / f"{s}.pub").write_text(public_hex(key) + "\n")
        framed = list(
            protocol.frame_batches(morning(s, key, per), s, rfc3339(START), max_events=batch, max_bytes=10**6)
        )
        batches[s] = [b.payload for b in framed]
        sizes[s] = [
            json.loads(b.payload)["last_seq"] - json.loads(b.payload)["first_seq"] + 1 for b in framed
        ]
    gen_s = time.perf_counter() - t0
    broker = Broker(tmp)
    broker.start()
    procs: list[subprocess.Popen[bytes]] = []
    with pg_schema() as base_dsn:
        dsn = base_dsn + "&application_name=bench-scale-sim"
        conf = central_config(tmp, broker, dsn, keys_dir, workers=workers)
        Store(dsn).close()  # the tables, before K workers race to create them
        logs = [tmp / f"worker-{i}.log" for i in range(workers)]
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "app.cli",
                    "--log-level",
                    "INFO",
                    "central",
                    "--config",
                    str(conf),
                    "--worker",
                    str(i),
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=logs[i].open("wb"),
            )
            for i in range(workers)
        ]
        fleet = None
        try:
            wait_until(lambda: all("connected" in p.read_text() for p in logs), 60, "the workers to connect")
            fleet = Fleet(broker, batches, sizes)
            for s in batches:
                fleet.send(s)
            if not fleet.warm.wait(120):
                raise SystemExit("warm-up did not finish")
            probe = Store(base_dsn)
            pg_pids = [
                int(r[0])
                for r in probe.rows(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = 'bench-scale-sim'"
                )
            ]
            assert broker.proc is not None
            watched = [p.pid for p in procs] + pg_pids + [broker.proc.pid]
            cpu0 = {pid: cpu_s(pid) for pid in watched}
            t1 = time.perf_counter()
            with fleet.lock:
                fleet.timed = True
                fleet.remaining = sum(1 for s in batches if len(batches[s]) > 1)
                todo = [s for s in batches if len(batches[s]) > 1]
            for s in todo:
                fleet.send(s)
            fleet.done.wait(window)
            with fleet.lock:
                fleet.stopping = True
                wall = time.perf_counter() - t1
                timed_events, rtts = fleet.acked_events, sorted(fleet.rtts)
            cpu = {pid: cpu_s(pid) - cpu0[pid] for pid in watched}
            wait_until(lambda: fleet.inflight == 0, 60, "the batches in flight to be acked")
            rss = [status_mb("VmHWM", p.pid) for p in procs]
            stored = probe.rows("SELECT count(*), count(DISTINCT station_id) FROM central_events")[0]
            t = IndicatorsSection()
            t2 = time.perf_counter()
            inp = engine.gather(probe, t, tmp / "orders", DAY, as_of=START + timedelta(days=1))
            t3 = time.perf_counter()
            found = engine.evaluate(inp)
            t4 = time.perf_counter()
            probe.close()
        finally:
            if fleet is not None:
                fleet.close()
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(15)
            broker.kill()
    assert not fleet.bad, fleet.bad[:3]
    assert int(stored[0]) == fleet.all_acked and int(stored[1]) == stations_n, (stored, fleet.all_acked)
    worker_cpu = [cpu[p.pid] for p in procs]
    pg_cpu = sum(cpu[p] for p in pg_pids)
    mosq_cpu = cpu[watched[-1]]
    p50, p99 = statistics.median(rtts), rtts[int(0.99 * (len(rtts) - 1))]
    per_cpu = timed_events / sum(worker_cpu)
    batches_per_cpu = len(rtts) / sum(worker_cpu)
    load_after = os.getloadavg()
    ev_s = timed_events / wall
    print(
        f"{stations_n} stations x {per} events in batches of {batch}, {workers} ingest workers, "
        f"PostgreSQL, {PUBLISHERS} publisher connections (signed in {gen_s:.0f} s)"
    )
    print(
        f"  timed: {timed_events} events, {len(rtts)} batches in {wall:.1f} s = {ev_s:.0f} ev/s, "
        f"{len(rtts) / wall:.0f} batches/s; ack round trip p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms"
    )
    print(
        "  worker CPU s: "
        + ", ".join(f"{c:.1f}" for c in worker_cpu)
        + f" -> {per_cpu:.0f} events, {batches_per_cpu:.0f} batches per worker CPU-second; peak RSS "
        + ", ".join(f"{r:.0f}" for r in rss)
        + " MB"
    )
    print(
        f"  PostgreSQL backends {pg_cpu:.1f} CPU s ({pg_cpu / timed_events * 1000:.2f} s per 1,000 events); "
        f"mosquitto {mosq_cpu:.1f} CPU s ({mosq_cpu / timed_events * 1000:.3f} s per 1,000 events)"
    )
    print(
        f"  indicators over the stored day: read {t3 - t2:.2f} s + evaluate {t4 - t3:.2f} s for "
        f"{len(inp.events)} events = {len(inp.events) / (t4 - t2):.0f} ev/s ({len(found)} warnings)"
    )
    print(
        f"  load average before {load_before[0]:.2f} {load_before[1]:.2f}, after {load_after[0]:.2f} "
        f"{load_after[1]:.2f} (2 cores, shared)"
    )
    print(
        json.dumps(
            {
                "bench": "scale_sim",
                "stations": stations_n,
                "workers": workers,
                "events_per_station": per,
                "batch_events": batch,
                "timed_events": timed_events,
                "timed_batches": len(rtts),
                "wall_s": round(wall, 2),
                "ev_s": round(ev_s),
                "batches_s": round(len(rtts) / wall),
                "ack_p50_ms": round(p50 * 1000, 1),
                "ack_p99_ms": round(p99 * 1000, 1),
                "worker_cpu_s": [round(c, 2) for c in worker_cpu],
                "events_per_worker_cpu_s": round(per_cpu),
                "batches_per_worker_cpu_s": round(batches_per_cpu),
                "worker_peak_rss_mb": [round(r) for r in rss],
                "pg_cpu_s_per_1000_events": round(pg_cpu / timed_events * 1000, 3),
                "mosquitto_cpu_s_per_1000_events": round(mosq_cpu / timed_events * 1000, 4),
                "indicator_read_s": round(t3 - t2, 2),
                "indicator_evaluate_s": round(t4 - t3, 2),
                "indicator_ev_s": round(len(inp.events) / (t4 - t2)),
                "load_before": [round(x, 2) for x in load_before],
                "load_after": [round(x, 2) for x in load_after],
            }
        )
    )


if __name__ == "__main__":
    main()
