"""Events/s from a 100,000-event backlog to central's acks, plain and TLS, beside raw paho.

For each transport (plain TCP, TLS with client certificates + ACL) on a
mosquitto started on a free loopback port:
  - uplink: time from start until the cursor (moved only by central's acks)
    reaches the last seq, with one central ingest worker (separate process,
    SQLite store, full verification) answering;
  - raw paho QoS 1, the same events one per message, nobody verifying or
    storing them, two ways: "raw_seq" publishes each event and waits for its
    PUBACK before the next (what an uplink that must not lose an event does
    without batches), "raw_window" lets paho pipeline up to its default 20
    unacknowledged messages (a window of 20, paho's default in-flight limit) and
    waits for the last PUBACK.
  - uplink_transport: the same uplink against an ack-only responder that
    answers ``stored`` without verifying or storing: the uplink's own
    publishing rate, doing the same (no) work as the raw publisher.
Prints the figures and ends with one JSON line.

    .venv/bin/python bench/bench_sync_throughput.py [N_EVENTS]
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion  # noqa: E402

from app.config import load_config  # noqa: E402
from app.sync_cli import build_uplink  # noqa: E402
from contract import protocol  # noqa: E402
from testbed.pki import make_pki  # noqa: E402
from tests.sync_harness import (  # noqa: E402
    Broker,
    InThread,
    central_config,
    cli,
    make_station,
    seal_backlog,
    station_config,
)
from tests.waiting import wait_until  # noqa: E402


def raw_paho(broker: Broker, texts: list[str], pki: Path | None, *, sequential: bool) -> float:
    """Raw publishing; the window of 20 is kept by a semaphore (paho's own queue is O(n) per
    PUBACK once 100,000 messages are queued behind its in-flight limit)."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="raw-bench", protocol=MQTTProtocolVersion.MQTTv5)
    if pki is not None:
        c.tls_set(ca_certs=str(pki / "ca.crt"), certfile=str(pki / "st-bench.crt"),
                  keyfile=str(pki / "st-bench.key"))
    c.max_inflight_messages = 0
    window = threading.Semaphore(1 if sequential else 20)
    acked = [0]

    def on_publish(cl: mqtt.Client, u: object, mid: int, rc: object, p: object) -> None:
        acked[0] += 1
        window.release()

    c.on_publish = on_publish
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    time.sleep(0.3)
    t0 = time.perf_counter()
    for t in texts:
        if not window.acquire(timeout=10):
            raise RuntimeError("no PUBACK in 10 s")
        c.publish("acceptance/v1/st-bench/events", t, qos=1)
    wait_until(lambda: acked[0] == len(texts), 600, "raw PUBACKs", step=0.005)
    dt = time.perf_counter() - t0
    c.loop_stop()
    c.disconnect()
    return len(texts) / dt


class AckOnly:
    """Answers every batch ``stored`` through its last seq: no verification, no store."""

    def __init__(self, broker: Broker, pki: Path | None) -> None:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ack-only",
                        protocol=MQTTProtocolVersion.MQTTv5)
        if pki is not None:
            c.tls_set(ca_certs=str(pki / "ca.crt"), certfile=str(pki / "central-ingest.crt"),
                      keyfile=str(pki / "central-ingest.key"))
        c.on_message = self._on_message
        c.on_connect = lambda cl, u, f, rc, p: cl.subscribe(protocol.SHARED_EVENTS, qos=1)
        c.connect("127.0.0.1", broker.central_port)
        c.loop_start()
        self.c = c

    def _on_message(self, c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        doc = json.loads(msg.payload)
        ack = protocol.make_ack(doc["batch_id"], "stored", doc["last_seq"])
        station = doc["station_id"]
        c.publish(protocol.topic(station, "acks"), protocol.dumps(ack), qos=1)

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def transport_run(tmp: Path, broker: Broker, backlog_db: Path, n: int, pki: Path | None) -> float:
    responder = AckOnly(broker, pki)
    time.sleep(0.5)
    try:
        return _timed_uplink(tmp, broker, backlog_db, n)
    finally:
        responder.close()


def _timed_uplink(tmp: Path, broker: Broker, backlog_db: Path, n: int) -> float:
    station_dir = tmp / "st-bench"
    if station_dir.exists():
        shutil.rmtree(station_dir)
    station_dir.mkdir()
    shutil.copy(backlog_db, station_dir / "station.db")
    cfg = load_config(station_config(tmp, "st-bench", broker, batch_max_events=500, max_in_flight=4,
                                     ack_timeout_s=60.0))
    up = build_uplink(cfg)
    t0 = time.perf_counter()
    th = InThread(up)
    wait_until(lambda: up.cursor == n, 900, "cursor at the end of the backlog", step=0.01)
    dt = time.perf_counter() - t0
    th.close()
    return n / dt


def uplink_run(tmp: Path, broker: Broker, backlog_db: Path, keys: Path, n: int, workers: int = 1) -> float:
    dsn = f"sqlite:///{tmp / ('central-' + str(broker.port) + '-' + str(workers) + '.db')}"
    log = tmp / f"central-{workers}.log"
    central = cli("central", "--config", str(central_config(tmp, broker, dsn, keys, workers=workers)),
                  log=log)
    # Let the supervisor start the workers and them subscribe (slow on a loaded machine).
    wait_until(lambda: log.read_text().count("connected client_id=central-ingest") >= workers, 60,
               "the workers to connect")
    time.sleep(0.5)
    rate = _timed_uplink(tmp, broker, backlog_db, n)
    central.terminate()
    central.wait(10)
    return rate


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    keys = tmp / "keys"
    t0 = time.perf_counter()
    j = make_station(tmp / "src", "st-bench", keys)
    seal_backlog(j, n)
    texts = [t for (t,) in j.db.execute("SELECT event FROM events ORDER BY seq")]
    backlog_db = tmp / "src" / "st-bench" / "station.db"
    j.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    j.close()
    print(f"backlog: {n} signed events built in {time.perf_counter() - t0:.1f} s "
          f"(mean {sum(map(len, texts)) // n} bytes/event)")
    make_pki(tmp / "pki", ["central-ingest", "st-bench"])
    figures: dict[str, float] = {"events": n}
    for name, tls in (("plain", None), ("tls", tmp / "pki")):
        bdir = tmp / name
        bdir.mkdir()
        broker = Broker(bdir, tls_dir=tls)
        broker.start()
        try:
            raw_seq = raw_paho(broker, texts, tls, sequential=True)
            raw_win = raw_paho(broker, texts, tls, sequential=False)
            up = uplink_run(bdir, broker, backlog_db, keys, n)
            transport = transport_run(bdir, broker, backlog_db, n, tls)
            up2 = uplink_run(bdir, broker, backlog_db, keys, n, workers=2)
        finally:
            broker.kill()
        figures[f"{name}_uplink_ev_s"] = round(up)
        figures[f"{name}_uplink_2workers_ev_s"] = round(up2)
        figures[f"{name}_uplink_transport_ev_s"] = round(transport)
        figures[f"{name}_transport_ratio_vs_raw_window"] = round(transport / raw_win, 2)
        figures[f"{name}_raw_seq_ev_s"] = round(raw_seq)
        figures[f"{name}_raw_window_ev_s"] = round(raw_win)
        figures[f"{name}_ratio_vs_raw_seq"] = round(up / raw_seq, 2)
        figures[f"{name}_ratio_vs_raw_window"] = round(up / raw_win, 2)
        print(f"{name:5s}: uplink to central's acks (verified, stored) {up:7.0f} ev/s | raw paho QoS 1 "
              f"one per message: wait each PUBACK {raw_seq:7.0f} ev/s, window 20 {raw_win:7.0f} ev/s | "
              f"ratios {up / raw_seq:.2f}x, {up / raw_win:.2f}x")
        print(f"{'':5s}  the same with 2 central workers (shared subscription) {up2:7.0f} ev/s")
        print(f"{'':5s}  uplink transport with an ack-only responder {transport:7.0f} ev/s = "
              f"{transport / raw_win:.2f}x raw window 20, {transport / raw_seq:.2f}x raw wait-each")
    shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"bench": "sync_throughput", **figures}))


if __name__ == "__main__":
    main()
