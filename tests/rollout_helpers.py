"""Central with releases and enrolment configured, as a TOML file the admin CLI reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contract.keys import public_hex
from testbed.broker import free_port
from tests.release_helpers import lock_for, make_wheel, signed_bundle


def central_toml(tmp: Path, dsn: str, release_key: Ed25519PrivateKey, *, pki: Path | None = None,
                 tls: bool = False, broker_port: int = 8883, broker_admin_port: int | None = None,
                 **releases: Any) -> tuple[Path, str]:
    """A central config (HTTP on a free port, HTTPS with the test PKI's server certificate when
    ``tls``; [enrol] CA = the PKI's stations' CA when ``pki``); (path, base URL)."""
    port = free_port()
    http = {"bind": f"127.0.0.1:{port}", "orders_dir": str(tmp / "orders"), "menus_dir": str(tmp / "menus"),
            "clips_dir": str(tmp / "central-clips"), "tokens_file": str(tmp / "central-tokens")}
    if tls and pki is not None:
        http.update(tls_cert_file=str(pki / "broker.crt"), tls_key_file=str(pki / "broker.key"))
    rel = {"dir": str(tmp / "releases"), "public_key": public_hex(release_key), **releases}
    lines = ["[store]", f"dsn = {json.dumps(dsn)}",
             "[registry]", f"keys_dir = {json.dumps(str(tmp / 'keys'))}",
             "[http]", *(f"{k} = {json.dumps(v)}" for k, v in http.items()),
             "[releases]", *(f"{k} = {json.dumps(v)}" for k, v in rel.items())]
    if pki is not None:
        lines += ["[enrol]", f"ca_cert_file = {json.dumps(str(pki / 'ca.crt'))}",
                  f"ca_key_file = {json.dumps(str(pki / 'ca.key'))}", 'broker_host = "127.0.0.1"',
                  f"broker_port = {broker_port}"]
        if broker_admin_port is not None:  # the central listener, as the plugin's admin
            lines += ["[enrol.broker_admin]", 'host = "127.0.0.1"', f"port = {broker_admin_port}",
                      "[enrol.broker_admin.tls]", f"ca_file = {json.dumps(str(pki / 'ca.crt'))}",
                      f"cert_file = {json.dumps(str(pki / 'central-admin.crt'))}",
                      f"key_file = {json.dumps(str(pki / 'central-admin.key'))}"]
    path = tmp / "central.toml"
    path.write_text("\n".join(lines) + "\n")
    return path, f"{'https' if tls else 'http'}://127.0.0.1:{port}"


FAKE_CLI = "def main(argv=None):\n    return 0\n"


def fake_program(out: Path, version: str, *, scale_fault: bool = False) -> Path:
    """A small 'acceptance-station' wheel the units stand-in (tests/update_units.py) serves from;
    ``scale_fault``: its scale link never connects."""
    core = f"__version__ = {version!r}\n" + ("SCALE_FAULT = True\n" if scale_fault else "")
    return make_wheel(out, "acceptance-station", version,
                      {"app/__init__.py": "", "app/cli.py": FAKE_CLI, "core/__init__.py": core})


def fake_bundles(tmp: Path, key: Ed25519PrivateKey, versions: dict[str, bool]) -> dict[str, Path]:
    """Signed bundles of the fake program, version -> scale_fault, sharing one locked dependency."""
    dep = make_wheel(tmp / "wh", "tinydep", "1.0", {"tinydep/__init__.py": "X = 1\n"})
    lock = lock_for(tmp / "station.lock", [dep])
    return {v: signed_bundle(tmp / "bundles" / v, v, fake_program(tmp / "prog" / v, v, scale_fault=fault),
                             lock, key, [dep])
            for v, fault in versions.items()}
