"""Central with the fleet view in this process: one ingest worker thread and the HTTP API."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central import tokens
from central.config import CentralConfig
from contract.keys import public_hex
from testbed.broker import Broker, free_port

PUB_HEX = public_hex(Ed25519PrivateKey.from_private_bytes(b"\x01" * 32))


def fleet_config(tmp: Path, broker: Broker, dsn: str, stations: list[str],
                 master: dict[str, Any] | None = None, tls: dict[str, str] | None = None,
                 **fleet: Any) -> CentralConfig:
    """Central's config for these registered stations (a .pub each), with master data."""
    keys = tmp / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    for s in stations:
        (keys / f"{s}.pub").write_text(PUB_HEX + "\n")
    indicators: dict[str, Any] = {}
    if master is not None:
        (tmp / "master.json").write_text(json.dumps(master, ensure_ascii=False))
        indicators["master_data_file"] = str(tmp / "master.json")
    port = free_port()
    return CentralConfig.model_validate({
        "store": {"dsn": dsn}, "registry": {"keys_dir": str(keys)},
        "http": {"bind": f"127.0.0.1:{port}", "orders_dir": str(tmp / "orders"),
                 "menus_dir": str(tmp / "menus"), "clips_dir": str(tmp / "clips"),
                 "tokens_file": str(tmp / "central-tokens")},
        "broker": {"host": "127.0.0.1", "port": broker.central_port, "keepalive_s": 30,
                   "connect_timeout_s": 5.0, **({"tls": tls} if tls else {})},
        "ingest": {"workers": 1, "station_batches_per_s": 50.0},
        "indicators": indicators,
        "fleet": {"technician_tokens_file": str(tmp / "technician-tokens"),
                  "bundles_dir": str(tmp / "bundles"), **fleet},
    })


class Central:
    """A worker thread and the HTTP API; ``get`` asks the API as a technician."""

    def __init__(self, cfg: CentralConfig) -> None:
        from central.api import serve_in_thread
        from central.worker import Worker

        self.cfg = cfg
        self.base = f"http://{cfg.http.bind}"
        self.token, _ = tokens.issue(cfg.fleet.technician_tokens_file, "tech-wang")
        self.stop = threading.Event()
        self.worker = Worker(cfg, 0)
        self.thread = threading.Thread(target=self.worker.run, args=(self.stop,), daemon=True)
        self.thread.start()
        self.http = serve_in_thread(cfg)
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def get(self, path: str, **params: Any) -> Any:
        r = self.session.get(self.base + path, params=params, timeout=30)
        r.raise_for_status()
        return r.json()

    def close(self) -> None:
        self.http.shutdown()
        self.stop.set()
        self.thread.join(15)
