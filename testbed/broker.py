"""A private mosquitto process on a loopback port: for the demo and the tests.

Never the system broker: the config is written into the caller's folder, on a
port the kernel just handed out, with TLS, client certificates and the ACL of
``config/mosquitto/acl`` when a PKI folder is given. ``kill`` is SIGKILL (fault
tests); ``start`` again reuses the same port.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
ACL_FILE = Path(__file__).resolve().parent.parent / "config" / "mosquitto" / "acl"


def available() -> bool:
    return Path(MOSQUITTO).exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """One mosquitto process; ``kill`` is SIGKILL, ``start`` reuses the same port."""

    def __init__(self, tmp: Path, *, tls_dir: Path | None = None, conf_text: str | None = None,
                 port: int | None = None) -> None:
        self.tmp = tmp
        self.tls_dir = tls_dir
        self.port = port or free_port()
        self.conf = tmp / "mosquitto.conf"
        self.log = tmp / "mosquitto.log"
        lines = [f"user {pwd.getpwuid(os.geteuid()).pw_name}",  # as root it would switch to "mosquitto"
                 "per_listener_settings false", "persistence false", "max_queued_messages 100000",
                 f"log_dest file {self.log}", "log_type error", "log_type warning", "log_type notice",
                 f"listener {self.port} 127.0.0.1"]
        if tls_dir is None:
            lines.append("allow_anonymous true")
        else:
            lines += ["allow_anonymous false", f"cafile {tls_dir / 'ca.crt'}",
                      f"certfile {tls_dir / 'broker.crt'}", f"keyfile {tls_dir / 'broker.key'}",
                      "require_certificate true", "use_identity_as_username true",
                      f"acl_file {ACL_FILE}"]
        self.conf.write_text(conf_text if conf_text is not None else "\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text() if self.log.exists() else ''}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None
