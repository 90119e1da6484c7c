"""``acceptance-station enrol``: first boot against central with a one-time code (docs/deployment.md).

The kiosk makes its keys here and sends only public halves: the journal's Ed25519
public key, and a CSR for a new EC P-256 MQTT key. Central answers with the station
id and school its code was made for, the signed client certificate, the CA, the API
token and the broker's address; they are written beside the config (secrets 0600)
and the config's identity, API and broker keys are set in place (the rest of the
file, comments included, is left as it was). Nothing is written when central refuses.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path
from typing import Any

from core.errors import UsageError


def register(sub: Any) -> None:
    p = sub.add_parser("enrol", help="first boot: enrol this kiosk at central with a one-time code")
    p.add_argument("--config", type=Path, required=True, help="the station config to complete")
    p.add_argument("--central", required=True, help="central's API base URL, e.g. https://central.example")
    p.add_argument("--code", required=True, help="the one-time enrolment code from central's admin")
    p.add_argument("--ca-file", type=Path, help="CA of central's HTTPS certificate "
                                                 "(becomes [orders] ca_file)")
    p.set_defaults(handler=_enrol)


def _quote(value: Any) -> str:
    return str(value) if isinstance(value, int) else json.dumps(str(value), ensure_ascii=False)


def set_keys(text: str, updates: dict[tuple[str, str], Any]) -> str:
    """Set ``key = value`` in ``[table]`` for each update: an existing (or commented-out) line of
    that key in the table is replaced, else one is added under the table's header (a missing table
    is appended)."""
    lines = text.splitlines()
    for (table, key), value in updates.items():
        new = f"{key} = {_quote(value)}  # set by enrol"
        header = re.compile(rf"^\[{re.escape(table)}\]\s*(#.*)?$")
        start = next((i for i, ln in enumerate(lines) if header.match(ln.strip())), None)
        if start is None:
            lines += ["", f"[{table}]", new]
            continue
        end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
        pat = re.compile(rf"^#?\s*{re.escape(key)}\s*=")
        at = next((i for i in range(start + 1, end) if pat.match(lines[i].strip())), None)
        if at is None:
            lines.insert(start + 1, new)
        else:
            lines[at] = new
    return "\n".join(lines) + "\n"


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _enrol(args: argparse.Namespace) -> int:
    import requests
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from app.commands import _cfg
    from contract.keys import KeyError_, init_key, load_key, public_hex

    t0 = time.monotonic()
    cfg = _cfg(args.config)
    etc = args.config.parent
    try:
        kp = cfg.station.key_path
        key = load_key(kp) if kp.exists() else init_key(kp)
    except KeyError_ as exc:
        raise UsageError(str(exc)) from exc
    tls = cfg.uplink.broker.tls
    paths = {"token": cfg.orders.token_file or etc / "api.token", "cert": tls.cert_file or etc / "mqtt.crt",
             "key": tls.key_file or etc / "mqtt.key", "ca": tls.ca_file or etc / "mqtt-ca.pem"}
    mqtt_key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cfg.station.station_id)]))
           .sign(mqtt_key, hashes.SHA256()))
    body = {"code": args.code, "public_key": public_hex(key),
            "csr": csr.public_bytes(serialization.Encoding.PEM).decode("ascii")}
    verify: Any = str(args.ca_file) if args.ca_file else True
    try:
        r = requests.post(args.central.rstrip("/") + "/v1/enrol", json=body, timeout=30, verify=verify)
    except requests.RequestException as exc:
        print(f"REFUSED: central unreachable: {exc}")
        return 1
    if r.status_code != 200:
        try:
            why = r.json().get("error", r.text)
        except ValueError:
            why = r.text
        print(f"REFUSED: central answered {r.status_code}: {str(why)[:300]}")
        return 1
    doc = r.json()
    _write(paths["key"], mqtt_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()), 0o600)
    _write(paths["cert"], doc["certificate"].encode("ascii"), 0o644)
    _write(paths["ca"], doc["ca_certificate"].encode("ascii"), 0o644)
    _write(paths["token"], (doc["token"] + "\n").encode("ascii"), 0o600)
    updates: dict[tuple[str, str], Any] = {
        ("station", "station_id"): doc["station_id"], ("station", "school_id"): doc["school_id"],
        ("orders", "api_url"): args.central.rstrip("/"), ("orders", "token_file"): paths["token"],
        ("uplink.broker", "host"): doc["broker"]["host"],
        ("uplink.broker", "port"): int(doc["broker"]["port"]),
        ("uplink.broker.tls", "ca_file"): paths["ca"], ("uplink.broker.tls", "cert_file"): paths["cert"],
        ("uplink.broker.tls", "key_file"): paths["key"]}
    if args.ca_file:
        ca_copy = etc / "central-ca.pem"
        if args.ca_file.resolve() != ca_copy.resolve():
            _write(ca_copy, args.ca_file.read_bytes(), 0o644)
        updates[("orders", "ca_file")] = ca_copy
    text = set_keys(args.config.read_text(encoding="utf-8"), updates)
    from app.config import parse_config
    parse_config(text, str(args.config))  # the result must be a valid config before it replaces the file
    _write(args.config, text.encode("utf-8"), os.stat(args.config).st_mode & 0o777)
    print(json.dumps({"station_id": doc["station_id"], "school_id": doc["school_id"],
                      "certificate": str(paths["cert"]), "token_file": str(paths["token"]),
                      "broker_role": str(doc["broker"].get("role", "")),
                      "seconds": round(time.monotonic() - t0, 3)}))
    return 0
