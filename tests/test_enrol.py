"""First boot: a kiosk enrols at a real central over HTTPS with a one-time code.

The code is made by the admin CLI, spent once, and refused used or expired; the
kiosk's new certificate connects to the test mosquitto (stations' listener, TLS with
a client certificate) and, once the broker role is added as docs/security.md says,
publishes; central verifies the events its registered key signed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from app.config import load_config
from app.enrol_cli import set_keys
from central.api import serve_in_thread
from central.config import load_central_config
from central.rollout import db, enrol
from contract.keys import load_key, public_hex
from edge.journal import Journal
from testbed.broker import Broker
from testbed.pki import make_pki
from tests.cli_inproc import run_cli
from tests.conftest import ROOT
from tests.rollout_helpers import central_toml
from tests.sync_harness import sync_to_central
from tests.test_sync_broker_security import Probe
from tests.waiting import wait_until

NEW = "hz-new-01"


@pytest.fixture
def site(tmp_path: Path, key: Ed25519PrivateKey) -> Iterator[dict[str, Any]]:
    pki = tmp_path / "pki"
    make_pki(pki, ["central-admin"])
    broker = Broker(tmp_path, tls_dir=pki)
    broker.start()
    dsn = f"sqlite:///{tmp_path / 'central.db'}"
    path, url = central_toml(tmp_path, dsn, key, pki=pki, tls=True, broker_port=broker.port,
                             broker_admin_port=broker.central_port)
    server = serve_in_thread(load_central_config(path))
    try:
        yield {"cfg": path, "url": url, "pki": pki, "broker": broker, "dsn": dsn, "tmp": tmp_path}
    finally:
        server.shutdown()
        broker.kill()


def _kiosk(tmp: Path, name: str) -> Path:
    """A fresh install's config: the example, with data and key under ``tmp`` (install.sh's --root)."""
    etc = tmp / name / "etc"
    etc.mkdir(parents=True)
    text = set_keys((ROOT / "config" / "station.example.toml").read_text(encoding="utf-8"), {
        ("station", "data_dir"): tmp / name / "data", ("station", "key_path"): etc / "station.key"})
    (etc / "station.toml").write_text(text, encoding="utf-8")
    return etc / "station.toml"


def _code(site: dict[str, Any], *extra: str) -> str:
    r = run_cli("central-admin", "enrol-code", "--config", str(site["cfg"]), "--station", NEW,
                "--school", "hz-school", *extra)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def _enrol(site: dict[str, Any], cfg: Path, code: str) -> Any:
    return run_cli("enrol", "--config", str(cfg), "--central", site["url"], "--code", code,
                   "--ca-file", str(site["pki"] / "ca.crt"))


def test_enrol_end_to_end(site: dict[str, Any]) -> None:
    code = _code(site)
    cfg_path = _kiosk(site["tmp"], "kiosk")
    r = _enrol(site, cfg_path, code)
    assert r.returncode == 0, r.stdout + r.stderr
    out = json.loads(r.stdout)
    print(f"enrolment: {out['seconds'] * 1000:.0f} ms (keys, CSR, HTTPS round trip, files, config)")
    cfg = load_config(cfg_path)
    tls = cfg.uplink.broker.tls
    assert (cfg.station.station_id, cfg.station.school_id) == (NEW, "hz-school")
    assert cfg.uplink.broker.port == site["broker"].port and cfg.orders.api_url == site["url"]
    assert tls.key_file is not None and tls.cert_file is not None and tls.ca_file is not None
    assert cfg.orders.token_file is not None and cfg.orders.ca_file is not None
    for secret in (tls.key_file, cfg.orders.token_file, cfg.station.key_path):
        assert os.stat(secret).st_mode & 0o777 == 0o600, secret
    cert = x509.load_pem_x509_certificate(tls.cert_file.read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == NEW
    station_key = load_key(cfg.station.key_path)
    assert (site["tmp"] / "keys" / f"{NEW}.pub").read_text().strip() == public_hex(station_key)
    token = cfg.orders.token_file.read_text().strip()
    r2 = requests.get(f"{site['url']}/v1/stations/{NEW}/update-target", timeout=10,
                      headers={"Authorization": f"Bearer {token}"}, verify=str(cfg.orders.ca_file))
    assert r2.status_code == 200, r2.text

    # The same code again, from another kiosk: refused, and that kiosk's files unchanged.
    other = _kiosk(site["tmp"], "other")
    before = other.read_text()
    r = _enrol(site, other, code)
    assert r.returncode == 1 and "used already" in r.stdout, r.stdout
    assert other.read_text() == before and not (other.parent / "mqtt.crt").exists()

    # Central gave the station its broker role: the new certificate connects and may publish
    # its own events (nobody else's).
    assert out["broker_role"] == "added", out
    certs = site["tmp"] / "station-certs"
    certs.mkdir()
    shutil.copy(tls.ca_file, certs / "ca.crt")
    shutil.copy(tls.cert_file, certs / f"{NEW}.crt")
    shutil.copy(tls.key_file, certs / f"{NEW}.key")
    st = Probe(site["broker"], certs, NEW, NEW)
    try:
        st.publish(f"acceptance/v1/{NEW}/events", b"{}")
        st.publish("acceptance/v1/hz-other-01/events", b"{}")
        wait_until(lambda: len(st.pubacks) == 2, 5, "two PUBACKs")
        assert st.pubacks == ["No matching subscribers", "Not authorized"]
    finally:
        st.close()

    # Events signed with the station's key verify at central with the key it registered.
    j = Journal(cfg.station.data_dir / "station.db", station_key, NEW)
    try:
        for i in range(3):
            j.append("alert.raised", {"code": "TEST", "severity": "info", "message": f"第 {i} 条"})
        assert sync_to_central(j, NEW, site["dsn"], site["tmp"] / "keys") == 3
    finally:
        j.close()


def test_expired_code_refused(site: dict[str, Any]) -> None:
    code = _code(site, "--ttl-s", "0.5")
    t_made = time.monotonic()
    wait_until(lambda: time.monotonic() - t_made > 0.6, 5, "the code to expire")
    cfg = _kiosk(site["tmp"], "late")
    r = _enrol(site, cfg, code)
    assert r.returncode == 1 and "expired" in r.stdout, r.stdout
    assert not (site["tmp"] / "keys" / f"{NEW}.pub").exists()
    assert _enrol(site, cfg, "0000-0000-0000-0000-0000").returncode == 1


def _csr(key: Any) -> str:
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "central-ingest")])).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def test_bad_requests_refused_before_the_code_is_spent(site: dict[str, Any]) -> None:
    code = _code(site)
    url = site["url"] + "/v1/enrol"
    verify = str(site["pki"] / "ca.crt")
    pub = public_hex(Ed25519PrivateKey.generate())
    for body in ({"code": code}, {"code": code, "public_key": "zz", "csr": _csr(ec.generate_private_key(
            ec.SECP256R1()))}, {"code": code, "public_key": pub, "csr": "-----BEGIN nothing"},
            {"code": code, "public_key": pub, "csr": _csr(rsa.generate_private_key(65537, 2048))}):
        r = requests.post(url, json=body, timeout=10, verify=verify)
        assert r.status_code == 400, (body, r.text)
    assert requests.post(url, data=b"x" * 20000, timeout=10, verify=verify).status_code == 413
    # The code still works; the certificate's CN is the code's station, whatever the CSR asked.
    r = requests.post(url, json={"code": code, "public_key": pub, "csr": _csr(ec.generate_private_key(
        ec.SECP256R1()))}, timeout=10, verify=verify)
    assert r.status_code == 200, r.text
    cert = x509.load_pem_x509_certificate(r.json()["certificate"].encode())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == NEW
    # Another key for a registered station is refused (its chain is signed with the first).
    second = _code(site)
    body = {"code": second, "public_key": public_hex(Ed25519PrivateKey.generate()),
            "csr": _csr(ec.generate_private_key(ec.SECP256R1()))}
    r = requests.post(url, json=body, timeout=10, verify=verify)
    assert r.status_code == 409, r.text
    r = requests.post(url, json={**body, "public_key": pub}, timeout=10, verify=verify)
    assert r.status_code == 200, r.text  # the refusal did not spend the code; the same key re-enrols


def test_a_code_is_spent_once_on_both_stores(tmp_path: Path, dsn: str) -> None:
    store = db.open_store(dsn)
    try:
        code = enrol.new_code(store, NEW, "hz-school", 60)
        assert enrol.spend_code(store, code.upper()) == (NEW, "hz-school")  # typed in capitals: same code
        with pytest.raises(enrol.EnrolError, match="used already"):
            enrol.spend_code(store, code)
        late = enrol.new_code(store, NEW, "hz-school", 60)
        with pytest.raises(enrol.EnrolError, match="expired"):
            enrol.spend_code(store, late, now=time.time() + 61)
        with pytest.raises(enrol.EnrolError, match="unknown"):
            enrol.spend_code(store, "ffff-ffff-ffff-ffff-ffff")
    finally:
        store.close()


def test_install_sh_enrols_a_fresh_kiosk(site: dict[str, Any]) -> None:
    """install.sh --enrol-code in a scratch root: config from the example, key, enrolment, one command."""
    from tests.test_deploy_update import _install

    root = site["tmp"] / "root"
    etc = root / "etc" / "acceptance-station"
    bad = _install(root, "--skip-venv", "--enrol-code", "0000-0000-0000-0000-0000", "--central", site["url"],
                   "--central-ca", str(site["pki"] / "ca.crt"))
    assert bad.returncode == 1 and "unknown enrolment code" in bad.stderr, bad.stderr
    assert "hz-xh-zjg-01" in (etc / "station.toml").read_text()  # nothing enrolled
    t0 = time.monotonic()
    r = _install(root, "--skip-venv", "--enrol-code", _code(site), "--central", site["url"],
                 "--central-ca", str(site["pki"] / "ca.crt"))
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    print(f"install.sh --skip-packages --skip-venv --enrol-code: {took:.2f} s")
    cfg = load_config(etc / "station.toml")
    assert cfg.station.station_id == NEW and cfg.uplink.broker.tls.cert_file == etc / "mqtt.crt"
    assert (site["tmp"] / "keys" / f"{NEW}.pub").read_text().strip() == \
        (etc / "station.key.pub").read_text().strip()
    assert os.stat(etc / "api.token").st_mode & 0o777 == 0o600
