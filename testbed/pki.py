"""A test PKI for the broker: two CAs, the broker's certificate and client certificates.

For tests, the demo and a lab broker only (production certificates come from
the platform's own CAs). ``ca.crt`` signs the broker's certificate and the
stations' (the stations' listener trusts it); ``central-ca.crt`` signs central's
clients, whose CN starts with ``central`` (central's own listener trusts only
it, so a station's certificate cannot reach the listener where client ids are
free). Each client certificate carries its MQTT identity as CN, which
Mosquitto's ``use_identity_as_username`` turns into the username the
dynamic-security plugin knows (``contract.broker_acl``).

    python -m testbed.pki OUT_DIR central-ingest hz-xh-zjg-01 ...
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "acceptance-station test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(out: Path, stem: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
    key_path = out / f"{stem}.key"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    os.chmod(key_path, 0o600)
    (out / f"{stem}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _issue(cn: str, ca_key: ec.EllipticCurvePrivateKey, ca_name: x509.Name, *, server: bool,
           days: int) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_name)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                               else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    if server:
        b = b.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return key, b.sign(ca_key, hashes.SHA256())


def is_central(cn: str) -> bool:
    """Central's clients (ingest workers, commands, the broker admin) have CNs starting with central."""
    return cn.startswith("central")


def _make_ca(out: Path, stem: str, title: str, days: int) -> tuple[ec.EllipticCurvePrivateKey, x509.Name]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(title)
    now = dt.datetime.now(dt.UTC)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    _write(out, stem, ca_key, ca)
    return ca_key, ca_name


def make_pki(out: Path, clients: list[str], *, days: int = 30) -> None:
    """Write ca, central-ca, broker and <client> .crt/.key files for every client CN into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    ca_key, ca_name = _make_ca(out, "ca", "acceptance-station test CA", days)
    central_key, central_name = _make_ca(out, "central-ca", "acceptance-central test CA", days)
    _write(out, "broker", *_issue("localhost", ca_key, ca_name, server=True, days=days))
    for cn in clients:
        key, name = (central_key, central_name) if is_central(cn) else (ca_key, ca_name)
        _write(out, cn, *_issue(cn, key, name, server=False, days=days))


def main(argv: list[str]) -> int:
    if len(argv) < 1:
        print("usage: python -m testbed.pki OUT_DIR [CLIENT_CN ...]", file=sys.stderr)
        return 2
    make_pki(Path(argv[0]), argv[1:])
    print(f"test PKI written to {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
