"""Remote diagnosis end to end: technician → central → broker (TLS, dynsec) → uplink → bundle → central.

The real shipped broker config with the test PKI; central's worker and HTTP API
in this process; the station's real uplink (``build_uplink`` with its config
path). The bundle is searched for the station key's bytes (PEM lines, raw,
hex), the API token and the MQTT client key, which the test also plants in a
station log file.
"""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization

from app.config import load_config
from app.sync_cli import build_uplink
from central import tokens
from contract import protocol
from contract.keys import init_key
from edge.journal import Journal
from testbed.pki import make_pki
from tests.factories import write_station_config
from tests.fleet_harness import Central, fleet_config
from tests.sync_harness import UPLINK_TEST_DEFAULTS, Broker, InThread, append_events, broker_settings
from tests.test_sync_broker_security import Probe
from tests.waiting import wait_until

CLIENTS = ["central-ingest", "st-aaa", "st-bbb"]


@pytest.fixture
def system(tmp_path: Path) -> Iterator[dict[str, Any]]:
    pki = tmp_path / "pki"
    make_pki(pki, CLIENTS)
    broker = Broker(tmp_path, tls_dir=pki)
    broker.start()
    tls = {"ca_file": str(pki / "ca.crt"), "cert_file": str(pki / "central-ingest.crt"),
           "key_file": str(pki / "central-ingest.key")}
    cfg = fleet_config(tmp_path, broker, f"sqlite:///{tmp_path / 'central.db'}", [], tls=tls,
                       diagnose_min_interval_s=300)
    key = init_key(tmp_path / "st-aaa" / "station.key")
    (cfg.registry.keys_dir / "st-aaa.pub").write_text((tmp_path / "st-aaa" / "station.key.pub").read_text())
    (cfg.registry.keys_dir / "st-bbb.pub").write_text((tmp_path / "st-aaa" / "station.key.pub").read_text())
    journal = Journal(tmp_path / "st-aaa" / "station.db", key, "st-aaa", synchronous="NORMAL")
    append_events(journal, 20)
    central = Central(cfg)
    token, _ = tokens.issue(cfg.http.tokens_file, "st-aaa")
    (tmp_path / "st-aaa.token").write_text(token + "\n")
    path = write_station_config(
        tmp_path, "st-aaa", name="st-aaa.toml",
        station={"data_dir": str(tmp_path / "st-aaa"), "key_path": str(tmp_path / "st-aaa" / "station.key")},
        orders={"api_url": central.base, "timeout_s": 2.0, "retries": 0,
                "token_file": str(tmp_path / "st-aaa.token")},
        uplink={**UPLINK_TEST_DEFAULTS, "broker": broker_settings(broker, "st-aaa")})
    pem = (tmp_path / "st-aaa" / "station.key").read_bytes()
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    (tmp_path / "st-aaa" / "uplink.log").write_text(
        f"GET /orders Authorization: Bearer {token}\nkey {raw.hex()}\n{pem.decode()}\nall good\n")
    uplink = build_uplink(load_config(path), config_path=path)
    up = InThread(uplink)
    wait_until(lambda: central.get("/v1/fleet/stations/st-aaa")["state"] == "online", 30,
               "st-aaa online at central")
    try:
        yield {"central": central, "uplink": uplink, "broker": broker, "pki": pki, "token": token,
               "secrets": [pem.strip(), raw, raw.hex().encode(), token.encode(),
                           (pki / "st-aaa.key").read_bytes().strip(),
                           *[ln for ln in pem.splitlines() if not ln.startswith(b"-----")]],
               "tmp": tmp_path}
    finally:
        up.close()
        central.close()
        broker.kill()


def test_technician_gets_doctor_and_a_secret_free_bundle(system: dict[str, Any]) -> None:
    central: Central = system["central"]
    r = central.session.post(central.base + "/v1/fleet/stations/st-aaa/diagnose", timeout=30)
    assert r.status_code == 202, r.text
    rid = r.json()["request_id"]
    again = central.session.post(central.base + "/v1/fleet/stations/st-aaa/diagnose", timeout=30)
    assert again.status_code == 429  # rate-limited per station
    d = wait_until(lambda: (x := central.get(f"/v1/fleet/diagnoses/{rid}"))["state"] == "received" and x,
                   timeout=90, what="the support bundle at central", step=0.2)
    assert d["requested_by"] == "tech-wang" and d["doctor"]["checks"]
    bundle = central.session.get(central.base + f"/v1/fleet/diagnoses/{rid}/bundle", timeout=30).content
    names, data = [], b""
    with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as tar:
        for m in tar:
            names.append(m.name)
            f = tar.extractfile(m)
            data += f.read() if f is not None else b""
            if m.name == "database.txt":
                report = tar.extractfile(m)
    assert names[0] == "doctor.json"
    assert {"versions.json", "config.json", "database.txt", "sync.json", "logs/uplink.log",
            "MANIFEST.json"} <= set(names)
    assert b"integrity_check ok" in data and b"events rows 20 max 20" in data
    assert b"all good" in data and b"[REDACTED]" in data  # the log is there, scrubbed
    for secret in system["secrets"]:
        assert secret not in data, f"a secret ({len(secret)} bytes) is in the bundle"
        assert secret not in bundle
    assert report is not None
    row = central.get("/v1/fleet/stations/st-aaa")
    assert row["doctor"]["request_id"] == rid and row["doctor"]["state"] == "received"
    by_check = {c["check"]: c["ok"] for c in d["doctor"]["checks"]}
    assert by_check["key"] is True and by_check["database"] is True and by_check["broker"] is True
    assert row["doctor"]["ok"] is (all(by_check.values()))


def test_nobody_else_can_command_a_diagnosis_or_upload_one(system: dict[str, Any]) -> None:
    central: Central = system["central"]
    uplink = system["uplink"]
    # Another station's certificate cannot publish on st-aaa's commands topic.
    thief = Probe(system["broker"], system["pki"], "st-bbb", "st-bbb")
    cmd = {"schema": protocol.COMMAND_SCHEMA, "command_id": "x", "command": "diagnose",
           "request_id": str(uuid.uuid4())}
    thief.publish(protocol.topic("st-aaa", "commands"), json.dumps(cmd).encode())
    wait_until(lambda: thief.pubacks, 10, "the broker's PUBACK")
    assert thief.pubacks == ["Not authorized"]
    thief.close()
    # Nor upload a bundle central did not ask for, nor another station's.
    url = central.base + f"/v1/stations/st-aaa/diagnoses/{uuid.uuid4()}"
    headers = {"Authorization": f"Bearer {system['token']}", "X-Content-SHA256": "0" * 64}
    assert requests.put(url, data=b"x", headers=headers, timeout=10).status_code == 404
    r = central.session.post(central.base + "/v1/fleet/stations/st-aaa/diagnose", timeout=30)
    rid = r.json()["request_id"]
    other, _ = tokens.issue(central.cfg.http.tokens_file, "st-bbb")
    r = requests.put(central.base + f"/v1/stations/st-aaa/diagnoses/{rid}", data=b"x",
                     headers={"Authorization": f"Bearer {other}", "X-Content-SHA256": "0" * 64}, timeout=10)
    assert r.status_code == 403
    r = requests.put(central.base + f"/v1/stations/st-bbb/diagnoses/{rid}", data=b"x",
                     headers={"Authorization": f"Bearer {other}", "X-Content-SHA256": "0" * 64}, timeout=10)
    assert r.status_code == 404  # st-bbb's token, but the request is st-aaa's
    wait_until(lambda: central.get(f"/v1/fleet/diagnoses/{rid}")["state"] == "received", 90,
               "the requested bundle")
    # Central has the bundle once the PUT's body is in; the station records its result only when
    # the PUT's answer is back, a moment later, in its diagnose thread: wait for that record.
    wait_until(lambda: uplink.on_diagnose.results, 30, "the station's record of the diagnosis")
    assert [x["request_id"] for x in uplink.on_diagnose.results] == [rid]  # the forged one never ran
