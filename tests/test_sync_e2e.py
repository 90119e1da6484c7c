"""End to end against real mosquitto processes: TLS + ACL, rejections, commands, the CLI.

Each test starts its own broker on a free loopback port with a config in tmp;
uplink and ingest workers run in threads (when the test reads their counters)
or as real ``acceptance-station`` processes. Fault tests are in test_sync_faults.py.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from app.config import load_config
from app.sync_cli import build_uplink
from central.config import load_central_config
from central.ingest import KeyRegistry
from central.store import Store
from central.worker import Worker
from contract import protocol
from contract.chain import verify_chain
from sync import state
from testbed.pki import is_central, make_pki
from tests.cli_inproc import run_cli
from tests.sync_harness import (
    ROOT,
    Broker,
    InThread,
    append_events,
    central_config,
    central_holds,
    cli,
    cursor_of,
    make_station,
    pg_schema,
    station_config,
)
from tests.waiting import wait_until


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    make_pki(tmp_path / "pki", ["central-ingest", "st-aaa", "st-bbb"])
    return tmp_path / "pki"


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Path) -> Iterator[Broker]:
    b = Broker(tmp_path, tls_dir=pki)
    b.start()
    yield b
    b.kill()


def test_happy_path_with_tls_and_acl(tmp_path: Path, tls_broker: Broker) -> None:
    keys = tmp_path / "keys"
    j = make_station(tmp_path, "st-aaa", keys)
    append_events(j, 1200)
    dsn = f"sqlite:///{tmp_path / 'central.db'}"
    worker = InThread(Worker(load_central_config(central_config(tmp_path, tls_broker, dsn, keys)), 0))
    up = InThread(build_uplink(load_config(station_config(tmp_path, "st-aaa", tls_broker))))
    try:
        wait_until(lambda: up.target.cursor == 1200, 60, "cursor to reach 1200")
        append_events(j, 55, start=1200)  # recorded while connected: goes out too
        wait_until(lambda: up.target.cursor == 1255, 30, "cursor to reach 1255")
        store = Store(dsn)
        assert store.seqs("st-aaa") == list(range(1, 1256))
        pub = KeyRegistry(keys)("st-aaa")
        assert pub is not None
        assert list(verify_chain([json.loads(t) for t in store.event_texts("st-aaa")], pub)) == []
        assert store.alerts() == []
        assert up.target.counters["refused"] == 0
        # The retained status reached central through the ACL.
        up.target.next_status = 0.0
        wait_until(lambda: bool(store.rows("SELECT status FROM central_status WHERE station_id='st-aaa' "
                                           "AND status LIKE '%\"stored_through_seq\":1255%'")), 15, "status")
        status = json.loads(store.rows("SELECT status FROM central_status")[0][0])
        assert protocol.schemas.errors("status.v1", status) == []
        assert status["online"] is True and status["backlog"]["events"] == 0
        store.close()
    finally:
        up.close()
        worker.close()
    assert cursor_of(j, "st-aaa") == 1255


def _client(broker: Broker, pki: Path, client_id: str, cert: str) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5)
    c.tls_set(ca_certs=str(pki / "ca.crt"), certfile=str(pki / f"{cert}.crt"),
              keyfile=str(pki / f"{cert}.key"))
    c.connect("127.0.0.1", broker.central_port if is_central(cert) else broker.port)
    c.loop_start()
    return c


def test_acl_confines_a_station_and_the_uplink_shows_the_refusal(tmp_path: Path, tls_broker: Broker,
                                                                 pki: Path) -> None:
    keys = tmp_path / "keys"
    jb = make_station(tmp_path, "st-bbb", keys)
    append_events(jb, 20)
    dsn = f"sqlite:///{tmp_path / 'central.db'}"
    worker = InThread(Worker(load_central_config(central_config(tmp_path, tls_broker, dsn, keys)), 0))
    # Station B's uplink, but holding station A's certificate (CN st-aaa).
    cfg = load_config(station_config(tmp_path, "st-bbb", tls_broker, cert="st-aaa"))
    up = InThread(build_uplink(cfg))
    try:
        # In memory first, then in its state table (a separate write): wait for both.
        wait_until(lambda: up.target.uplink_state == "refused"
                   and state.get_state(jb.db).get("uplink", {}).get("state") == "refused",
                   20, "the uplink to show the refusal")
        assert "Not authorized" in str(up.target.error)
        assert up.target.cursor == 0 and central_holds(dsn, "st-bbb") == []
        shown = state.get_state(jb.db)["uplink"]
        assert shown["state"] == "refused" and "Not authorized" in shown["error"]
    finally:
        up.close()
    # A's certificate cannot read B's acks; B's own can (the positive control).
    got: dict[str, list[bytes]] = {"a": [], "b": []}
    a = _client(tls_broker, pki, "spy-a", "st-aaa")
    b = _client(tls_broker, pki, "st-bbb", "st-bbb")
    central = _client(tls_broker, pki, "central-x", "central-ingest")
    try:
        a.on_message = lambda c, u, m: got["a"].append(m.payload)
        b.on_message = lambda c, u, m: got["b"].append(m.payload)
        a.subscribe("acceptance/v1/st-bbb/acks", qos=1)
        a.subscribe("acceptance/v1/st-bbb/commands", qos=1)
        b.subscribe("acceptance/v1/st-bbb/acks", qos=1)
        time.sleep(0.5)
        central.publish("acceptance/v1/st-bbb/acks", b'{"probe":1}', qos=1).wait_for_publish(5)
        central.publish("acceptance/v1/st-bbb/commands", b'{"probe":2}', qos=1).wait_for_publish(5)
        wait_until(lambda: len(got["b"]) == 1, 10, "B to receive its ack")
        time.sleep(0.5)
        assert got["a"] == []
    finally:
        for c in (a, b, central):
            c.loop_stop()
            c.disconnect()
        worker.close()


def test_rejected_batch_is_an_alert_state_at_the_station(tmp_path: Path, broker: Broker) -> None:
    keys = tmp_path / "keys"
    j = make_station(tmp_path, "st-aaa", keys)
    append_events(j, 10)
    # Tamper with event 6 behind the journal's back (the triggers forbid it, so drop them).
    j.db.execute("DROP TRIGGER events_no_update")
    text = j.db.execute("SELECT event FROM events WHERE seq=6").fetchone()[0]
    j.db.execute("UPDATE events SET event=? WHERE seq=6", (text.replace('"i":5', '"i":7'),))
    dsn = f"sqlite:///{tmp_path / 'central.db'}"
    worker = InThread(Worker(load_central_config(central_config(tmp_path, broker, dsn, keys)), 0))
    up = InThread(build_uplink(load_config(station_config(tmp_path, "st-aaa", broker))))
    try:
        wait_until(lambda: up.target.uplink_state == "rejected", 20, "rejected state")
        assert "seq 6" in str(up.target.error)
        assert up.target.cursor == 1  # the one-event probe; a rejection never moves the cursor
        assert central_holds(dsn, "st-aaa") == [1, 2, 3, 4, 5]  # the verified prefix
        alerts = Store(dsn).alerts("st-aaa")
        assert [(a[1], a[2]) for a in alerts][:1] == [(6, "EVENT_ALTERED")]
        status = state.get_state(j.db)
        rejection = status["last_rejection"]  # the batch holding seq 6 (after the one-event probe)
        assert status["uplink"]["state"] == "rejected"
        assert rejection["first_seq"] <= 6 <= rejection["last_seq"]
    finally:
        up.close()
        worker.close()


def test_two_workers_share_the_load_and_store_everything_once(tmp_path: Path, broker: Broker) -> None:
    keys = tmp_path / "keys"
    stations = ["st-aaa", "st-bbb", "st-ccc"]
    journals = [make_station(tmp_path, s, keys) for s in stations]
    for jj in journals:
        append_events(jj, 1500)
    dsn = f"sqlite:///{tmp_path / 'central.db'}"
    ccfg = load_central_config(central_config(tmp_path, broker, dsn, keys))
    workers = [InThread(Worker(ccfg, i)) for i in (0, 1)]
    ups = [InThread(build_uplink(load_config(station_config(tmp_path, s, broker)))) for s in stations]
    try:
        wait_until(lambda: all(u.target.cursor == 1500 for u in ups), 90, "all cursors at 1500")
    finally:
        for u in ups:
            u.close()
        for w in workers:
            w.close()
    for s in stations:
        assert central_holds(dsn, s) == list(range(1, 1501))
    assert all(w.target.batches > 0 for w in workers), [w.target.batches for w in workers]
    assert Store(dsn).alerts() == []


def test_resend_from_command(tmp_path: Path, broker: Broker) -> None:
    keys = tmp_path / "keys"
    j = make_station(tmp_path, "st-aaa", keys)
    append_events(j, 300)
    dsn = f"sqlite:///{tmp_path / 'central.db'}"
    ccfg = central_config(tmp_path, broker, dsn, keys)
    worker = InThread(Worker(load_central_config(ccfg), 0))
    up = InThread(build_uplink(load_config(station_config(tmp_path, "st-aaa", broker))))
    try:
        wait_until(lambda: up.target.cursor == 300, 30, "cursor at 300")
        acks_before = up.target.counters["acks"]
        sent = run_cli("central-command", "--config", str(ccfg), "--station", "st-aaa", "resend_from",
                       "--seq", "101")
        assert sent.returncode == 0, sent.stderr
        wait_until(lambda: up.target.counters["acks"] >= acks_before + 1 and up.target.cursor == 300, 20,
                   "the resent range to be acked as duplicate")
        assert central_holds(dsn, "st-aaa") == list(range(1, 301))
        bad = run_cli("central-command", "--config", str(ccfg), "--station", "st-aaa", "resend_from")
        assert bad.returncode == 2 and "seq" in bad.stderr
    finally:
        up.close()
        worker.close()


def test_cli_processes_on_postgresql_with_tls(tmp_path: Path, tls_broker: Broker) -> None:
    """`acceptance-station central` (2 supervised workers) + `sync`, TLS + ACL, PostgreSQL store."""
    keys = tmp_path / "keys"
    j = make_station(tmp_path, "st-aaa", keys)
    append_events(j, 2000)
    log = tmp_path / "procs.log"
    with pg_schema() as dsn:
        ccfg = central_config(tmp_path, tls_broker, dsn, keys, workers=2)
        scfg = station_config(tmp_path, "st-aaa", tls_broker)
        central = cli("central", "--config", str(ccfg), log=log)
        uplink = cli("sync", "--config", str(scfg), log=log)
        store = Store(dsn)
        try:
            wait_until(lambda: cursor_of(j, "st-aaa") == 2000, 60, "cursor at 2000")
            uplink.send_signal(signal.SIGTERM)
            assert uplink.wait(20) == 0
            # The uplink's clean exit leaves an offline retained status, and central keeps it.
            wait_until(lambda: '"online":false' in (store.rows("SELECT status FROM central_status")
                                                    or [("",)])[0][0], 10, "offline status")
            # ... and its history: online while it synced, then offline.
            history = [bool(o) for (o,) in store.rows(
                "SELECT online FROM central_status_history ORDER BY changed_at")]
            assert history == [True, False], history
        finally:
            for p in (uplink, central):
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            assert central.wait(20) == 0
        assert store.seqs("st-aaa") == list(range(1, 2001))
        pub = KeyRegistry(keys)("st-aaa")
        assert pub is not None
        assert list(verify_chain([json.loads(t) for t in store.event_texts("st-aaa")], pub)) == []
        store.close()
    out = run_cli("sync", "--config", str(scfg), "--status")
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    assert shown["stored_through_seq"] == 2000 and shown["backlog_events"] == 0
    assert shown["uplink"]["state"] == "ok"


def test_uplink_started_before_the_station_waits_for_the_journal(tmp_path: Path, broker: Broker) -> None:
    keys = tmp_path / "keys"
    dsn = f"sqlite:///{tmp_path / 'central.db'}"
    worker = InThread(Worker(load_central_config(central_config(tmp_path, broker, dsn, keys)), 0))
    up = InThread(build_uplink(load_config(station_config(tmp_path, "st-aaa", broker))))
    try:
        wait_until(lambda: up.target.link.connected, 10, "the uplink to connect")
        time.sleep(0.3)
        assert up.target.status_doc(True)["backlog"]["events"] == 0
        j = make_station(tmp_path, "st-aaa", keys)  # the station starts later
        append_events(j, 40)
        wait_until(lambda: up.target.cursor == 40, 20, "cursor at 40")
    finally:
        up.close()
        worker.close()
    assert central_holds(dsn, "st-aaa") == list(range(1, 41))


def test_shipped_broker_config_works(tmp_path: Path, pki: Path) -> None:
    """config/mosquitto/mosquitto.conf, only paths and ports rewritten: TLS, certs, access enforced."""
    b = Broker(tmp_path, tls_dir=pki)
    text = b.conf.read_text()
    shipped = (ROOT / "config" / "mosquitto" / "mosquitto.conf").read_text()
    kept = [line for line in shipped.splitlines() if line and not line.startswith("#")
            and "/" not in line and not line.startswith("listener")]
    assert kept and all(line in text.splitlines() for line in kept)
    b.start()
    got: list[bytes] = []
    try:
        ok = _client(b, pki, "st-aaa", "st-aaa")
        ok.on_publish = lambda c, u, mid, rc, p: got.append(str(rc).encode())
        ok.publish("acceptance/v1/st-aaa/events", b"{}", qos=1).wait_for_publish(5)
        ok.publish("acceptance/v1/st-bbb/events", b"{}", qos=1).wait_for_publish(5)
        wait_until(lambda: len(got) == 2, 5, "two PUBACKs")
        assert got[1] == b"Not authorized" and got[0] != b"Not authorized"
        ok.loop_stop()
        ok.disconnect()
        # No client certificate: the TLS handshake is refused.
        anon = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="anon", protocol=MQTTProtocolVersion.MQTTv5)
        anon.tls_set(ca_certs=str(pki / "ca.crt"))
        with pytest.raises(OSError):
            anon.connect("127.0.0.1", b.port)
            for _ in range(20):
                if anon.loop(0.1) != mqtt.MQTT_ERR_SUCCESS:
                    raise OSError("connection closed by the broker")
    finally:
        b.kill()
