"""A private mosquitto process on loopback ports: for the demo and the tests.

Never the system broker: the config is written into the caller's folder, on
ports the kernel just handed out. With a PKI folder it is the *shipped* config
(``config/mosquitto/mosquitto.conf``) with only paths, ports and logging
rewritten, and the dynamic-security data rendered for the PKI's client
certificates (``contract.broker_acl``): stations on ``port``, central on
``central_port``. Without one it is a plain anonymous broker on one port.
``kill`` is SIGKILL (fault tests); ``start`` again reuses the same ports.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from contract.broker_acl import dynsec_config
from testbed.pki import is_central

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
SHIPPED_CONF = Path(__file__).resolve().parent.parent / "config" / "mosquitto" / "mosquitto.conf"
NOT_CLIENTS = {"ca", "central-ca", "broker"}


def available() -> bool:
    return Path(MOSQUITTO).exists()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A loopback port nobody listens on, for a server started afterwards.

    Drawn at random below the kernel's ephemeral range: a port from ``bind(0)`` lies inside
    it, where any outgoing connection (an HTTP request, an MQTT client) can take it as its
    source port before the server binds; under a loaded CI a central then failed with
    "address already in use". Below the range only another caller of this function competes,
    one port in about 12,000.
    """
    high = min(_ephemeral_low(), 32768)
    low = max(1024, high - 12000)
    pick = random.SystemRandom()
    for _ in range(200):
        port = pick.randrange(low, high)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # that part of the range is full: the kernel's choice
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dynsec_plugin() -> str:
    found = sorted(glob.glob("/usr/lib/*/mosquitto_dynamic_security.so")
                   + glob.glob("/usr/lib/mosquitto_dynamic_security.so"))
    if not found:
        raise RuntimeError("mosquitto_dynamic_security.so not found (Debian package mosquitto)")
    return found[0]


def pki_clients(tls_dir: Path) -> list[str]:
    """The CN of every client certificate in a PKI folder."""
    cns = []
    for crt in sorted(tls_dir.glob("*.crt")):
        if crt.stem in NOT_CLIENTS:
            continue
        cert = x509.load_pem_x509_certificate(crt.read_bytes())
        cns.append(str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value))
    return cns


def acl_for_pki(tls_dir: Path) -> dict[str, object]:
    """Dynamic-security data for a PKI's certificates, by CN.

    ``central-admin``: the admin; other CNs starting with ``central``: central's
    users; ``school-<id>``: that school's warnings subscriber; the rest: stations.
    """
    cns = pki_clients(tls_dir)
    schools = [c for c in cns if c.startswith("school-")]
    return dynsec_config(stations=[c for c in cns if not is_central(c) and c not in schools],
                         central_users=[c for c in cns if is_central(c) and c != "central-admin"],
                         admins=[c for c in cns if c == "central-admin"],
                         schools=[(c, c.removeprefix("school-")) for c in schools])


def render_shipped(text: str, *, tls_dir: Path, state_dir: Path, port: int, central_port: int) -> str:
    """The shipped config with only paths and listener ports changed; each must be found."""
    swaps = {"/etc/mosquitto/acceptance/": f"{tls_dir}/", "/var/lib/mosquitto/": f"{state_dir}/",
             "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so": dynsec_plugin(),
             "listener 8883\n": f"listener {port} 127.0.0.1\n",
             "listener 8884\n": f"listener {central_port} 127.0.0.1\n"}
    for old, new in swaps.items():
        if old not in text:
            raise RuntimeError(f"shipped mosquitto.conf changed: {old.strip()!r} not found")
        text = text.replace(old, new)
    return text


class Broker:
    """One mosquitto process; ``kill`` is SIGKILL, ``start`` reuses the same ports."""

    def __init__(self, tmp: Path, *, tls_dir: Path | None = None, conf_text: str | None = None,
                 port: int | None = None) -> None:
        self.tmp = tmp
        self.tls_dir = tls_dir
        self.port = port or free_port()
        self.central_port = self.port if tls_dir is None else free_port()
        self.conf = tmp / "mosquitto.conf"
        self.log = tmp / "mosquitto.log"
        self.dynsec_file: Path | None = None  # the plugin's data, with a PKI
        head = [f"user {pwd.getpwuid(os.geteuid()).pw_name}",  # as root it would switch to "mosquitto"
                f"log_dest file {self.log}", "log_type error", "log_type warning", "log_type notice"]
        if tls_dir is None:
            body = ["per_listener_settings false", "persistence false", "max_queued_messages 100000",
                    f"listener {self.port} 127.0.0.1", "allow_anonymous true"]
            text = "\n".join(head + body) + "\n"
        else:
            state = tmp / "broker-state"
            state.mkdir(parents=True, exist_ok=True)
            self.dynsec_file = state / "dynamic-security.json"
            self.dynsec_file.write_text(json.dumps(acl_for_pki(tls_dir), indent=1))
            text = "\n".join(head) + "\n" + render_shipped(
                SHIPPED_CONF.read_text(), tls_dir=tls_dir, state_dir=state, port=self.port,
                central_port=self.central_port)
        self.conf.write_text(conf_text if conf_text is not None else text)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text() if self.log.exists() else ''}")
            try:
                for p in {self.port, self.central_port}:
                    socket.create_connection(("127.0.0.1", p), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None
