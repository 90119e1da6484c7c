"""Test harness for sync: real mosquitto brokers on free loopback ports, configs, processes.

Never touches the system broker on 1883: every broker here is started from a
config written into the test's tmp dir, on a port the kernel just handed out.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contract.keys import public_hex
from edge.journal import Journal
from testbed.broker import Broker, free_port
from testbed.pki import is_central
from tests.factories import toml_table, write_station_config

__all__ = ["Broker", "free_port"]  # re-exported for the sync tests

ROOT = Path(__file__).resolve().parent.parent
PG_BASE = os.environ.get("ACCEPTANCE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def broker_settings(broker: Broker, client: str | None) -> dict[str, Any]:
    """The ``[broker]`` table for ``client``: central's clients use central's listener."""
    port = broker.central_port if client is not None and is_central(client) else broker.port
    table: dict[str, Any] = {"host": "127.0.0.1", "port": port, "keepalive_s": 10,
                             "connect_timeout_s": 3.0}
    if broker.tls_dir is not None and client is not None:
        d = broker.tls_dir
        table["tls"] = {"ca_file": str(d / "ca.crt"), "cert_file": str(d / (client + ".crt")),
                        "key_file": str(d / (client + ".key"))}
    return table


def broker_toml(broker: Broker, client: str | None) -> str:
    """The ``[broker]`` table (and its ``[broker.tls]``) for ``client``, as TOML."""
    return "\n".join(toml_table("broker", broker_settings(broker, client)))


UPLINK_TEST_DEFAULTS: dict[str, Any] = {
    "batch_max_events": 200, "ack_timeout_s": 3.0, "backoff_min_s": 0.1, "backoff_max_s": 1.0,
    "rejected_retry_s": 2.0, "status_interval_s": 5.0, "poll_interval_s": 0.05, "orders_fetch": False,
}


def station_config(tmp: Path, station_id: str, broker: Broker, *, cert: str | None = None,
                   api_url: str = "http://127.0.0.1:9", **uplink: Any) -> Path:
    """A station config for the uplink with short timeouts (``uplink`` overrides); returns its path."""
    return write_station_config(
        tmp, station_id, name=f"{station_id}.toml",
        station={"data_dir": str(tmp / station_id), "key_path": str(tmp / station_id / "station.key")},
        orders={"api_url": api_url, "timeout_s": 2.0, "retries": 0},
        uplink={**UPLINK_TEST_DEFAULTS, **uplink, "broker": broker_settings(broker, cert or station_id)})


def central_config(tmp: Path, broker: Broker, dsn: str, keys_dir: Path, *, workers: int = 1,
                   http_port: int | None = None, orders_dir: Path | None = None) -> Path:
    path = tmp / "central.toml"
    path.write_text(f"""
[store]
dsn = "{dsn}"

[registry]
keys_dir = "{keys_dir}"

[http]
enabled = {"true" if http_port else "false"}
bind = "127.0.0.1:{http_port or 8780}"
orders_dir = "{orders_dir or tmp / 'orders'}"
menus_dir = "{tmp / 'menus'}"
tokens_file = "{tmp / 'central-tokens'}"

[ingest]
workers = {workers}
gap_wait_ms = 300

{broker_toml(broker, "central-ingest")}
""")
    return path


def make_station(tmp: Path, station_id: str, keys_dir: Path) -> Journal:
    """A station journal in ``tmp/<station_id>/station.db`` and its key registered at central."""
    key = Ed25519PrivateKey.generate()
    keys_dir.mkdir(parents=True, exist_ok=True)
    (keys_dir / f"{station_id}.pub").write_text(public_hex(key) + "\n")
    return Journal(tmp / station_id / "station.db", key, station_id, synchronous="NORMAL")


def append_events(journal: Journal, n: int, *, per_tx: int = 500, start: int = 0) -> None:
    done = 0
    while done < n:
        with journal.transaction() as tx:
            for _ in range(min(per_tx, n - done)):
                tx.append("test.event", {"i": start + done, "note": "测试"})
                done += 1


def cli(*args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    out: Any = open(log, "ab") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "app.cli", "--log-level", "INFO", *args],
                            stdout=out, stderr=out, cwd=ROOT)


class InThread:
    """Run something with ``run(stop)`` in a thread; ``close`` stops and joins it."""

    def __init__(self, target: Any) -> None:
        self.stop = threading.Event()
        self.target = target
        self.thread = threading.Thread(target=target.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh schema on the test PostgreSQL server; yields a DSN using it, drops it after.

    An unreachable server is an error (CI runs PostgreSQL as a service), never a skip.
    """
    import psycopg

    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_BASE, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_BASE, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def seal_backlog(journal: Journal, n: int) -> None:
    """Append ``n`` signed events in one transaction, fast (for benchmarks' backlogs)."""
    with journal.transaction() as tx:
        for i in range(n):
            tx.append("line.accepted", {
                "delivery_id": "00000000-0000-4000-8000-000000000000", "order_id": "PO-20261128-0012",
                "line_id": str(i % 7 + 1), "item": {"code": "veg-0101", "name": "上海青"},
                "net_g": 15000 + i % 500, "gross_g": 15800 + i % 500, "tare_g": 800,
                "inspectors": ["insp-01", "insp-02"], "reasons": [], "raw_frame": "ST,GS,+  15.800kg",
            })


def central_holds(dsn: str, station: str) -> list[int]:
    from central.store import Store

    s = Store(dsn)
    try:
        return s.seqs(station)
    finally:
        s.close()


def cursor_of(journal: Journal, station: str) -> int:
    from sync import state

    state.ensure_tables(journal.db)
    return state.get_cursor(journal.db, station)


def central_http(tmp: Path, *, dsn: str | None = None, **http: Any) -> tuple[Any, str]:
    """A central config whose HTTP API binds a free port (tokens, folders in ``tmp``); (cfg, base URL)."""
    from central.config import CentralConfig

    port = free_port()
    opts = {"bind": f"127.0.0.1:{port}", "orders_dir": str(tmp / "orders"), "menus_dir": str(tmp / "menus"),
            "clips_dir": str(tmp / "central-clips"), "tokens_file": str(tmp / "central-tokens"), **http}
    store = {"dsn": dsn or f"sqlite:///{tmp / 'central.db'}"}
    cfg = CentralConfig.model_validate({"http": opts, "store": store,
                                        "registry": {"keys_dir": str(tmp / "keys")}})
    return cfg, f"http://127.0.0.1:{port}"


def station_token(cfg: Any, station: str, tmp: Path) -> Path:
    """Issue ``station`` a token at central and write it where a station config's token_file points."""
    from central import tokens

    token, _ = tokens.issue(cfg.http.tokens_file, station)
    path = tmp / f"{station}.token"
    path.write_text(token + "\n")
    return path


def sync_to_central(journal: Journal, station: str, dsn: str, keys_dir: Path) -> int:
    """Store the journal's events at central through the real ingest (no MQTT); central's head."""
    from central.ingest import KeyRegistry, ingest
    from central.store import Store
    from contract import protocol

    rows = [(int(s), str(t))
            for s, t in journal.db.execute("SELECT seq, event FROM events ORDER BY seq")]
    store = Store(dsn)
    try:
        for batch in protocol.frame_batches(rows, station, "2026-11-28T08:00:00.000Z", max_events=500,
                                            max_bytes=1 << 19):
            out = ingest(store, KeyRegistry(keys_dir), station, batch.payload)
            assert out.status == "stored", out.ack
        return store.head(station).last_seq
    finally:
        store.close()
