"""One station floods central with bad batches; another's ack latency is measured (issue 17).

The real pieces: mosquitto with the shipped config and a test PKI, one ingest
worker as its own process (``acceptance-station central --worker 0``), an
attacker holding station A's certificate and key registration, publishing
batches of ``EVENTS_PER_BAD`` events at seq 10⁹ whose hashes are right but whose
signatures come from another key, as fast as the broker takes them; and station
B publishing one real batch at a time, timing each ack. Used by
``tests/test_sync_ingest_flood.py`` and ``bench/bench_ingest_flood.py``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from central.store import Store
from contract import protocol
from contract.chain import seal
from contract.mqtt import publish_props
from core.clock import now_rfc3339
from testbed.pki import make_pki
from tests.sync_harness import Broker, append_events, central_config, cli, make_station

HONEST, ATTACKER = "st-honest", "st-flood"
EVENTS_PER_BAD = 100


def _client(broker: Broker, pki: Path, cn: str) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cn, protocol=MQTTProtocolVersion.MQTTv5)
    c.tls_set(ca_certs=str(pki / "ca.crt"), certfile=str(pki / f"{cn}.crt"), keyfile=str(pki / f"{cn}.key"))
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    return c


def bad_batches(template: dict[str, Any], n: int) -> list[bytes]:
    """``n`` schema-valid batches at seq 10⁹ + …, each event hashed right and signed by a stranger."""
    stranger = Ed25519PrivateKey.generate()
    out = []
    for b in range(n):
        first = 10**9 + b * EVENTS_PER_BAD
        events = []
        for i in range(EVENTS_PER_BAD):
            unsigned = {k: v for k, v in template.items() if k not in ("hash", "sig")}
            events.append(seal({**unsigned, "seq": first + i}, stranger))
        doc = {"schema": protocol.BATCH_SCHEMA, "batch_id": f"00000000-0000-4000-8000-{b:012d}",
               "station_id": ATTACKER, "first_seq": first, "last_seq": first + EVENTS_PER_BAD - 1,
               "sent_at": now_rfc3339(), "events": events}
        out.append(protocol.dumps(doc))
    return out


class Flood(threading.Thread):
    """Publishes the bad batches round and round until stopped, as fast as the broker takes them.

    QoS 1 keeps the broker's receive maximum (20) in flight; QoS 0 has no flow control
    at all, optionally paced to ``bytes_per_s`` (what a kitchen's uplink could carry).
    """

    def __init__(self, client: mqtt.Client, payloads: list[bytes], qos: int,
                 bytes_per_s: float | None = None) -> None:
        super().__init__(daemon=True)
        self.client, self.payloads, self.qos, self.bytes_per_s = client, payloads, qos, bytes_per_s
        self.stop = threading.Event()
        self.sent = 0
        self.acked = 0
        client.on_publish = self._on_puback

    def _on_puback(self, c: mqtt.Client, u: Any, mid: int, rc: Any, p: Any) -> None:
        self.acked += 1

    def run(self) -> None:
        topic = protocol.topic(ATTACKER, "events")
        t0, size = time.monotonic(), 0
        while not self.stop.is_set():
            if self.qos and self.sent - self.acked >= 20:
                time.sleep(0.0005)
                continue
            if self.bytes_per_s and size > (time.monotonic() - t0) * self.bytes_per_s:
                time.sleep(0.001)
                continue
            payload = self.payloads[self.sent % len(self.payloads)]
            self.client.publish(topic, payload, qos=self.qos)
            self.sent += 1
            size += len(payload)


class Honest:
    """Station B: one real batch of one event at a time; the time from publish to ack."""

    def __init__(self, client: mqtt.Client, rows: list[tuple[int, str]]) -> None:
        self.client, self.rows = client, rows
        self.acks: dict[str, float] = {}
        self.next = 0
        client.on_message = self._on_ack
        client.subscribe(protocol.topic(HONEST, "acks"), qos=1)

    def _on_ack(self, c: mqtt.Client, u: Any, msg: mqtt.MQTTMessage) -> None:
        self.acks[json.loads(msg.payload)["batch_id"]] = time.monotonic()

    def one(self, timeout: float = 60.0, resend_s: float | None = None) -> float:
        """Publish the next event as a batch and wait for its ack; the latency in seconds."""
        batch = next(protocol.frame_batches(self.rows[self.next:self.next + 1], HONEST, now_rfc3339(),
                                            max_events=1, max_bytes=1 << 20))
        self.next += 1
        t0 = time.monotonic()
        end = t0 + timeout
        while batch.batch_id not in self.acks and time.monotonic() < end:
            props = publish_props(protocol.topic(HONEST, "acks"), batch.batch_id.encode())
            self.client.publish(protocol.topic(HONEST, "events"), batch.payload, qos=1, properties=props)
            again = min(end, time.monotonic() + (resend_s or timeout))
            while batch.batch_id not in self.acks and time.monotonic() < again:
                time.sleep(0.002)
        if batch.batch_id not in self.acks:
            raise AssertionError(f"no ack for the honest station's batch in {timeout} s")
        return self.acks[batch.batch_id] - t0


def _probe(honest: Honest, seconds: float, every_s: float) -> list[float]:
    out: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        out.append(honest.one())
        time.sleep(every_s)
    return out


def _stats(latencies: list[float]) -> dict[str, float]:
    s = sorted(latencies)
    return {"n": len(s), "p50_ms": round(statistics.median(s) * 1000, 1),
            "p95_ms": round(s[int(0.95 * (len(s) - 1))] * 1000, 1), "max_ms": round(s[-1] * 1000, 1)}


def measure(tmp: Path, *, seconds: float = 6.0, qos: int = 1, bytes_per_s: float | None = None,
            probes_every_s: float = 0.05) -> dict[str, Any]:
    """Baseline latency, then latency under the flood; returns the figures."""
    pki = tmp / "pki"
    make_pki(pki, ["central-ingest", HONEST, ATTACKER])
    keys = tmp / "keys"
    honest_j = make_station(tmp, HONEST, keys)
    append_events(honest_j, 2000)
    rows = [(int(s), str(t))
            for s, t in honest_j.db.execute("SELECT seq, event FROM events ORDER BY seq")]
    attacker_j = make_station(tmp, ATTACKER, keys)
    append_events(attacker_j, 1)
    template = json.loads(attacker_j.db.execute("SELECT event FROM events").fetchone()[0])
    broker = Broker(tmp, tls_dir=pki)
    broker.start()
    dsn = f"sqlite:///{tmp / 'central.db'}"
    worker = cli("central", "--config", str(central_config(tmp, broker, dsn, keys)), "--worker", "0",
                 log=tmp / "worker.log")
    b = _client(broker, pki, HONEST)
    a = _client(broker, pki, ATTACKER)
    try:
        honest = Honest(b, rows)
        honest.one(timeout=30, resend_s=1.0)  # the worker is up and subscribed
        base = _probe(honest, 2.0, probes_every_s)
        flood = Flood(a, bad_batches(template, 20), qos, bytes_per_s)
        flood.start()
        under = _probe(honest, seconds, probes_every_s)
        flood.stop.set()
        flood.join(10)
        store = Store(dsn)
        alerts = len(store.alerts(ATTACKER))
        held = store.head(HONEST).last_seq
        store.close()
    finally:
        for c in (a, b):
            c.loop_stop()
            c.disconnect()
        worker.terminate()
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)
        broker.kill()
    return {"baseline": _stats(base), "flood": _stats(under), "flood_batches_sent": flood.sent,
            "flood_s": seconds, "flood_qos": qos, "attacker_alert_rows": alerts,
            "honest_stored_through": held, "honest_sent": honest.next}
