"""The shipped broker config under attack by a station's certificate (issue 17).

Every test runs the real mosquitto with ``config/mosquitto/mosquitto.conf`` (only
paths and ports rewritten) and the dynamic-security data of ``contract.broker_acl``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from app.config import load_config
from app.sync_cli import build_uplink
from central.config import load_central_config
from central.worker import Worker
from contract import broker_acl, protocol
from testbed.pki import is_central, make_pki
from tests.sync_harness import (
    Broker,
    InThread,
    append_events,
    central_config,
    central_holds,
    make_station,
    station_config,
)
from tests.waiting import wait_until

CLIENTS = ["central-ingest", "central-admin", "st-aaa", "st-bbb", "school-sch-001"]


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    make_pki(tmp_path / "pki", CLIENTS)
    return tmp_path / "pki"


@pytest.fixture
def broker(tmp_path: Path, pki: Path) -> Iterator[Broker]:
    b = Broker(tmp_path, tls_dir=pki)
    b.start()
    yield b
    b.kill()


class Probe:
    """A raw MQTT 5 client with a certificate, recording what the broker does to it."""

    def __init__(self, broker: Broker, pki: Path, cert: str, client_id: str, *,
                 port: int | None = None) -> None:
        self.got: list[str] = []
        self.subacks: list[list[str]] = []
        self.pubacks: list[str] = []
        self.disconnects: list[str] = []
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5)
        c.tls_set(ca_certs=str(pki / "ca.crt"), certfile=str(pki / f"{cert}.crt"),
                  keyfile=str(pki / f"{cert}.key"))
        c.on_message = lambda cl, u, m: self.got.append(m.topic)
        c.on_subscribe = lambda cl, u, mid, rcs, p: self.subacks.append([str(r) for r in rcs])
        c.on_publish = lambda cl, u, mid, rc, p: self.pubacks.append(str(rc))
        c.on_disconnect = lambda cl, u, f, rc, p: self.disconnects.append(str(rc))
        self.connected = False
        c.on_connect = lambda cl, u, f, rc, p: setattr(self, "connected", not rc.is_failure)
        c.connect("127.0.0.1", port or (broker.central_port if is_central(cert) else broker.port))
        c.loop_start()
        # A refused TLS handshake ends in a disconnect at once: no need to wait the whole time.
        wait_until(lambda: self.connected or self.disconnects, 10, f"{client_id} to connect")
        if not self.connected:
            c.loop_stop()
            raise OSError(f"{client_id} was not let in: {self.disconnects}")
        self.client = c

    def subscribe(self, *topics: str) -> list[list[str]]:
        n = len(self.subacks)
        for t in topics:
            self.client.subscribe(t, qos=1)
        wait_until(lambda: len(self.subacks) == n + len(topics), 5, "SUBACKs")
        return self.subacks[n:]

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_a_station_cannot_join_the_ingest_group_nor_read_others(tmp_path: Path, broker: Broker,
                                                                pki: Path) -> None:
    """A on $share/ingest/…, $SYS, B's acks: refused at SUBSCRIBE; B gets every ack (was 2 of 12)."""
    keys = tmp_path / "keys"
    jb = make_station(tmp_path, "st-bbb", keys)
    append_events(jb, 120)
    dsn = f"sqlite:///{tmp_path / 'central.db'}"
    worker = InThread(Worker(load_central_config(central_config(tmp_path, broker, dsn, keys)), 0))
    thief = Probe(broker, pki, "st-aaa", "thief")
    refused = thief.subscribe(protocol.SHARED_EVENTS, "$share/ingest/acceptance/v1/+/status",
                              "$share/other/acceptance/v1/+/events", "$SYS/#", "acceptance/v1/st-bbb/acks",
                              "acceptance/v1/+/events", "#")
    assert refused == [["Not authorized"]] * 7
    up = InThread(build_uplink(load_config(station_config(tmp_path, "st-bbb", broker, batch_max_events=10))))
    try:
        wait_until(lambda: up.target.cursor == 120, 30, "B's 12 batches to be acked")
        assert up.target.counters["timeouts"] == 0 and up.target.counters["acks"] >= 12
        assert central_holds(dsn, "st-bbb") == list(range(1, 121))
        assert thief.got == []
    finally:
        up.close()
        worker.close()
        thief.close()
    # The positive control (after B's uplink: one certificate, one session): B's own are granted.
    own = Probe(broker, pki, "st-bbb", "st-bbb-probe")
    assert own.subscribe("acceptance/v1/st-bbb/acks", "acceptance/v1/st-bbb/commands") == [
        ["Granted QoS 1"], ["Granted QoS 1"]]
    own.close()


def test_client_ids_are_bound_to_the_certificate(tmp_path: Path, broker: Broker, pki: Path) -> None:
    """A's certificate asking for B's or central's client id gets its own; nobody is kicked."""
    real_b = Probe(broker, pki, "st-bbb", "st-bbb")
    central = Probe(broker, pki, "central-ingest", "central-ingest-0")
    real_b.subscribe("acceptance/v1/st-bbb/acks")
    try:
        for wanted in ("st-bbb", "central-ingest-0"):
            impostor = Probe(broker, pki, "st-aaa", wanted)
            assert impostor.subscribe("acceptance/v1/st-bbb/acks") == [["Not authorized"]]
            central.publish("acceptance/v1/st-bbb/acks", b'{"probe":1}')
            wait_until(lambda: len(real_b.got) == 1, 5, "B's ack")
            real_b.got.clear()
            impostor.close()
        assert real_b.disconnects == [] and central.disconnects == []
        log = broker.log.read_text()
        assert "u'st-aaa'" in log and "as st-bbb (p5, c1, k60, u'st-aaa')" not in log
        assert "as central-ingest-0 (p5, c1, k60, u'st-aaa')" not in log
        # A second connection of one certificate replaces the first: a station can only kick itself.
        first = Probe(broker, pki, "st-aaa", "one")
        first.client.reconnect_delay_set(60, 120)
        second = Probe(broker, pki, "st-aaa", "two")
        wait_until(lambda: first.disconnects != [], 5, "the first session to be taken over")
        assert "Client st-aaa already connected, closing old connection." in broker.log.read_text()
        assert second.disconnects == []
        first.close()
        second.close()
        # A station's certificate is not accepted on central's listener (another CA).
        with pytest.raises((OSError, AssertionError)):
            Probe(broker, pki, "st-aaa", "central-ingest-0", port=broker.central_port)
        assert central.disconnects == [] and real_b.disconnects == []
    finally:
        for p in (real_b, central):
            p.close()


def test_oversize_messages_are_refused(tmp_path: Path, broker: Broker, pki: Path) -> None:
    """The broker took a 250 MB message; now anything above max_packet_size (1 MiB) is refused."""
    central = Probe(broker, pki, "central-ingest", "central-ingest-0")
    central.subscribe(protocol.SHARED_EVENTS)
    a = Probe(broker, pki, "st-aaa", "st-aaa")
    try:
        a.client.reconnect_delay_set(60, 120)
        a.publish("acceptance/v1/st-aaa/events", b"x" * 1000)
        wait_until(lambda: a.pubacks == ["Success"], 5, "the small message's PUBACK")
        a.publish("acceptance/v1/st-aaa/events", b"x" * 1_100_000)
        wait_until(lambda: a.disconnects != [], 10, "the broker to drop the oversize sender")
        time.sleep(0.5)
        assert central.got == ["acceptance/v1/st-aaa/events"]  # only the small one went through
        assert "st-aaa disconnected due to oversize packet" in broker.log.read_text()
    finally:
        a.close()
        central.close()


def _control(admin: Probe, doc: dict[str, Any]) -> list[dict[str, Any]]:
    answers: list[dict[str, Any]] = []
    admin.client.on_message = lambda c, u, m: answers.append(json.loads(m.payload))
    admin.client.publish(broker_acl.CONTROL_TOPIC, json.dumps(doc), qos=1)
    wait_until(lambda: bool(answers), 5, "the plugin's answer")
    return list(answers[0]["responses"])


def test_a_station_is_removed_and_added_on_a_running_broker(tmp_path: Path, broker: Broker,
                                                            pki: Path) -> None:
    """What docs/security.md tells operators to do: revoke a station's broker access, then restore it."""
    admin = Probe(broker, pki, "central-admin", "central-admin")
    admin.subscribe(broker_acl.CONTROL_RESPONSE)
    b = Probe(broker, pki, "st-bbb", "st-bbb")
    try:
        b.publish("acceptance/v1/st-bbb/events", b"{}")
        wait_until(lambda: b.pubacks == ["No matching subscribers"], 5, "B's first PUBACK")
        answers = _control(admin, broker_acl.control_commands(remove=["st-bbb"]))
        assert all("error" not in r for r in answers), answers
        wait_until(lambda: b.disconnects != [], 5, "the plugin to disconnect the removed station")
        b.close()
        b = Probe(broker, pki, "st-bbb", "st-bbb")  # the certificate still connects ...
        b.publish("acceptance/v1/st-bbb/events", b"{}")
        wait_until(lambda: len(b.pubacks) == 1, 5, "a PUBACK")
        assert b.pubacks == ["Not authorized"]  # ... but may do nothing
        answers = _control(admin, broker_acl.control_commands(add=["st-bbb"]))
        assert all("error" not in r for r in answers), answers
        b.publish("acceptance/v1/st-bbb/events", b"{}")
        wait_until(lambda: len(b.pubacks) == 2, 5, "a second PUBACK")
        assert b.pubacks[1] == "No matching subscribers"
    finally:
        b.close()
        admin.close()


def test_the_uplink_never_sends_what_the_broker_would_disconnect_it_for(tmp_path: Path,
                                                                        broker: Broker) -> None:
    """A journaled event above the broker's max_packet_size: `refused` with the reason, no reconnect loop."""
    keys = tmp_path / "keys"
    j = make_station(tmp_path, "st-aaa", keys)
    append_events(j, 30)
    j.append("test.event", {"blob": "x" * 1_100_000})
    append_events(j, 5, start=30)
    dsn = f"sqlite:///{tmp_path / 'central.db'}"
    worker = InThread(Worker(load_central_config(central_config(tmp_path, broker, dsn, keys)), 0))
    up = InThread(build_uplink(load_config(station_config(tmp_path, "st-aaa", broker))))
    try:
        wait_until(lambda: up.target.uplink_state == "refused" and up.target.cursor == 30, 20,
                   "events 1..30 stored and the refusal")
        assert "event seq 31" in str(up.target.error)
        assert "1048576" in str(up.target.error)
        time.sleep(1.0)
        assert up.target.link.attempts_made == 1 and up.target.link.connected
        assert central_holds(dsn, "st-aaa") == list(range(1, 31))
    finally:
        up.close()
        worker.close()


def test_a_school_reads_only_its_own_warnings(tmp_path: Path, broker: Broker, pki: Path) -> None:
    school = Probe(broker, pki, "school-sch-001", "school-sch-001")
    central = Probe(broker, pki, "central-ingest", "central-ingest-0")
    try:
        assert school.subscribe(broker_acl.warnings_topic("sch-001"), broker_acl.warnings_topic("sch-002"),
                                protocol.SHARED_EVENTS) == [["Granted QoS 1"], ["Not authorized"],
                                                            ["Not authorized"]]
        central.publish(broker_acl.warnings_topic("sch-001"), b"{}")
        wait_until(lambda: school.got == [broker_acl.warnings_topic("sch-001")], 5, "the warning")
        school.publish(broker_acl.warnings_topic("sch-001"), b"{}")  # a subscriber may not publish
        wait_until(lambda: school.pubacks == ["Not authorized"], 5, "the refusal")
    finally:
        school.close()
        central.close()
