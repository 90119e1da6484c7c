"""First boot: one-time enrolment codes and the stations' CA (docs/deployment.md, "Enrolment").

An admin makes a code for one station (``central-admin enrol-code``); it is shown
once, stored only as its sha256 (``central_enrol_codes``, owned here), expires after
``[enrol] code_ttl_s`` and can be used once. With it, a new kiosk sends its journal
public key and a CSR for its MQTT key; central checks the CSR's signature (the
kiosk holds the key), issues a client certificate whose CN is the code's station id
(whatever the CSR asked), registers the public key in ``[registry] keys_dir`` and
issues the station's API token. The code is spent in the same statement that checks
it (``UPDATE … WHERE used_at IS NULL AND expires_at > now``), so two kiosks racing
with one code cannot both enrol. The table is created with the rollout's
(``central.rollout.db.open_store``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from central.store import Store
from contract.chain import public_key_from_hex
from contract.ids import is_valid_id
from core.clock import now_rfc3339

DDL = ("""CREATE TABLE IF NOT EXISTS central_enrol_codes (
    code_hash TEXT PRIMARY KEY,
    station_id TEXT NOT NULL,
    school_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    used_at TEXT
)""",)


class EnrolError(ValueError):
    """Refused: the code is unknown, used or expired, or the request is malformed."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def normalise(code: str) -> str:
    return code.replace("-", "").replace(" ", "").strip().lower()


def code_hash(code: str) -> str:
    return hashlib.sha256(normalise(code).encode()).hexdigest()


def new_code(store: Store, station: str, school: str, ttl_s: float) -> str:
    """A new code for ``station`` (five groups of four hex digits: 80 random bits), shown once."""
    if not is_valid_id(station) or not is_valid_id(school):
        raise EnrolError(f"not a station and school id: {station!r}, {school!r}")
    raw = secrets.token_hex(10)
    with store.transaction():
        store.execute("INSERT INTO central_enrol_codes(code_hash, station_id, school_id, created_at, "
                      "expires_at) VALUES (?,?,?,?,?)",
                      (code_hash(raw), station, school, now_rfc3339(), time.time() + ttl_s))
    return "-".join(raw[i:i + 4] for i in range(0, 20, 4))


def _refusal(rows: list[tuple[object, ...]], now: float) -> EnrolError:
    if not rows:
        return EnrolError("unknown enrolment code", 403)
    if rows[0][2] is None and float(str(rows[0][3])) <= now:
        return EnrolError("the enrolment code has expired; ask for a new one", 403)
    return EnrolError("the enrolment code was used already; ask for a new one", 403)


def _code_rows(store: Store, h: str) -> list[tuple[object, ...]]:
    return store.rows("SELECT station_id, school_id, used_at, expires_at FROM central_enrol_codes "
                      "WHERE code_hash=?", (h,))


def usable_station(store: Store, code: str, now: float | None = None) -> str:
    """The station of a code that is usable now, without spending it; EnrolError otherwise."""
    now = time.time() if now is None else now
    rows = _code_rows(store, code_hash(code))
    if rows and rows[0][2] is None and float(str(rows[0][3])) > now:
        return str(rows[0][0])
    raise _refusal(rows, now)


def key_conflict(keys_dir: Path, station: str, public_hex: str) -> bool:
    try:
        return (keys_dir / f"{station}.pub").read_text(encoding="ascii").strip() != public_hex
    except FileNotFoundError:
        return False


def spend_code(store: Store, code: str, now: float | None = None) -> tuple[str, str]:
    """(station, school) of a valid code, which is used up by this call; EnrolError otherwise."""
    now = time.time() if now is None else now
    h = code_hash(code)
    with store.transaction():
        spent = store.execute("UPDATE central_enrol_codes SET used_at=? WHERE code_hash=? "
                              "AND used_at IS NULL AND expires_at > ?", (now_rfc3339(), h, now))
        rows = _code_rows(store, h)
    if spent == 1:
        return str(rows[0][0]), str(rows[0][1])
    raise _refusal(rows, now)


@dataclass(frozen=True)
class Csr:
    public_key: ec.EllipticCurvePublicKey


def check_csr(pem: str) -> Csr:
    """A PEM CSR for an EC P-256 key, whose signature verifies (its sender holds the key)."""
    try:
        csr = x509.load_pem_x509_csr(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise EnrolError(f"the CSR is not a PEM certificate request: {exc}") from exc
    if not csr.is_signature_valid:
        raise EnrolError("the CSR's signature does not verify")
    key = csr.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise EnrolError("the CSR's key must be EC P-256")
    return Csr(key)


def check_public_key(hex_key: str) -> str:
    try:
        public_key_from_hex(hex_key)
    except ValueError as exc:
        raise EnrolError(f"public_key is not an Ed25519 public key in hex: {exc}") from exc
    return hex_key.strip().lower()


def sign_certificate(csr: Csr, station: str, ca_cert_file: Path, ca_key_file: Path,
                     days: int) -> tuple[str, str]:
    """(client certificate PEM with CN = station, CA certificate PEM)."""
    ca_pem = ca_cert_file.read_bytes()
    ca = x509.load_pem_x509_certificate(ca_pem)
    ca_key = serialization.load_pem_private_key(ca_key_file.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise EnrolError("the stations' CA key is not an EC key", 500)
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, station)]))
            .issuer_name(ca.subject).public_key(csr.public_key).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii"), ca_pem.decode("ascii")


def register_key(keys_dir: Path, station: str, public_hex: str) -> None:
    """Write ``<station>.pub``; a station registered with another key is refused (its chain is signed
    with that key: revoke it at central first)."""
    path = keys_dir / f"{station}.pub"
    if key_conflict(keys_dir, station, public_hex):
        raise EnrolError(f"station {station} is registered with another key at central", 409)
    if not path.exists():
        keys_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(public_hex + "\n", encoding="ascii")
        os.replace(tmp, path)
