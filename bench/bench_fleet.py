"""The fleet view with 1,300 connected stations: offline latency and memory (issue 16).

The shipped mosquitto config (TLS, dynamic security with a role per station) on
free loopback ports with a test PKI of one certificate per station; central as
real processes (``acceptance-station central``: the supervisor with the HTTP
API, one ingest worker, SQLite); 1,300 stations simulated in this process
(``testbed.fleet_sim``: real MQTT 5 clients with retained status and wills).

Figures:
- memory (VmRSS) of the broker, central's API process and its worker, idle
  and with every station connected and its status stored;
- the time from a station's TCP connection dropping without DISCONNECT (its
  will) until ``GET /v1/fleet/stations/{s}`` shows it offline, over ``ROUNDS``
  stations; and the time of the whole fleet document (``GET /v1/fleet/stations``).

Usage: ``python bench/bench_fleet.py [N] [--plain]``. Prints the figures and ends with one JSON line.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from procstat import status_mb  # noqa: E402

from central import tokens  # noqa: E402
from testbed import fleet_sim  # noqa: E402
from testbed.broker import Broker, free_port  # noqa: E402
from testbed.pki import make_pki  # noqa: E402
from tests.fleet_harness import PUB_HEX  # noqa: E402

ROUNDS = 20


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def resident_mb(broker_pid: int, central_pid: int) -> dict[str, float]:
    """Resident memory of the broker, central's API process and its workers together."""
    return {"broker": status_mb("VmRSS", broker_pid), "central_api": status_mb("VmRSS", central_pid),
            "central_worker": sum(status_mb("VmRSS", p) for p in children(central_pid))}


def central_toml(tmp: Path, broker: Broker, pki: Path | None, port: int) -> Path:
    tls = "" if pki is None else (f'tls = {{ ca_file = "{pki / "ca.crt"}", '
                                  f'cert_file = "{pki / "central-ingest.crt"}", '
                                  f'key_file = "{pki / "central-ingest.key"}" }}')
    path = tmp / "central.toml"
    path.write_text(f"""
[store]
dsn = "sqlite:///{tmp / 'central.db'}"
[registry]
keys_dir = "{tmp / 'keys'}"
[http]
bind = "127.0.0.1:{port}"
orders_dir = "{tmp / 'orders'}"
menus_dir = "{tmp / 'menus'}"
tokens_file = "{tmp / 'tokens'}"
[ingest]
workers = 1
[indicators]
master_data_file = "{tmp / 'master.json'}"
[fleet]
technician_tokens_file = "{tmp / 'technicians'}"
bundles_dir = "{tmp / 'bundles'}"
[broker]
host = "127.0.0.1"
port = {broker.central_port}
keepalive_s = 30
connect_timeout_s = 10.0
{tls}
""")
    return path


def wait(pred: object, timeout: float, what: str, step: float = 0.2) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if pred():  # type: ignore[operator]
                return
        except requests.RequestException:
            pass
        time.sleep(step)
    raise SystemExit(f"timed out waiting for {what}")


def main(n: int, tls: bool) -> dict[str, object]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8 * n)), hard))
    tmp = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    stations = fleet_sim.station_ids(n)
    t = time.monotonic()
    pki = None
    if tls:
        pki = tmp / "pki"
        make_pki(pki, ["central-ingest", *stations])
        print(f"test PKI with {n} station certificates in {time.monotonic() - t:.1f} s")
    broker = Broker(tmp, tls_dir=pki)
    broker.start()
    (tmp / "keys").mkdir()
    for s in stations:
        (tmp / "keys" / f"{s}.pub").write_text(PUB_HEX + "\n")
    (tmp / "master.json").write_text(json.dumps(fleet_sim.master_data(n), ensure_ascii=False))
    port = free_port()
    conf = central_toml(tmp, broker, pki, port)
    token, _ = tokens.issue(tmp / "technicians", "bench")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    base = f"http://127.0.0.1:{port}"
    with open(tmp / "central.log", "wb") as log:
        central = subprocess.Popen([sys.executable, "-m", "app.cli", "central", "--config", str(conf)],
                                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    sim = None
    try:
        wait(lambda: requests.get(base + "/healthz", timeout=5).status_code == 200, 60, "central healthy")
        time.sleep(2)
        idle = resident_mb(broker.proc.pid, central.pid)  # type: ignore[union-attr]
        index = {s: i for i, s in enumerate(stations)}
        sim = fleet_sim.FleetSim("127.0.0.1", broker.port, stations,
                                 lambda s, ses: fleet_sim.sample_status(index[s], ses), tls_dir=pki)
        t = time.monotonic()
        sim.start(connect_timeout_s=600)
        connected_s = time.monotonic() - t
        wait(lambda: api.get(base + "/v1/fleet/stations", params={"state": "online"},
                             timeout=30).json()["counts"]["online"] == n, 300, "all online at central")
        stored_s = time.monotonic() - t
        full = []
        for _ in range(5):
            t0 = time.monotonic()
            r = api.get(base + "/v1/fleet/stations", timeout=30)
            full.append(time.monotonic() - t0)
            assert r.status_code == 200
        size_kb = len(r.content) / 1024
        loaded = resident_mb(broker.proc.pid, central.pid)  # type: ignore[union-attr]
        lat = []
        for k in range(ROUNDS):
            victim = stations[(k * 61) % n]
            t0 = sim.drop(victim)
            while api.get(f"{base}/v1/fleet/stations/{victim}", timeout=30).json()["state"] != "offline":
                time.sleep(0.005)
            lat.append(time.monotonic() - t0)
            time.sleep(0.2)
    finally:
        if sim is not None:
            sim.close()
        central.terminate()
        central.wait(30)
        broker.kill()
    out: dict[str, object] = {
        "bench": "fleet", "stations": n, "tls": tls, "connect_all_s": round(connected_s, 1),
        "all_online_at_central_s": round(stored_s, 1),
        "offline_p50_ms": round(statistics.median(lat) * 1000), "offline_max_ms": round(max(lat) * 1000),
        "offline_rounds": len(lat), "fleet_doc_p50_ms": round(statistics.median(full) * 1000),
        "fleet_doc_kb": round(size_kb),
        **{f"idle_{k}_mb": round(v, 1) for k, v in idle.items()},
        **{f"loaded_{k}_mb": round(v, 1) for k, v in loaded.items()},
    }
    print(f"{n} stations ({'TLS, dynamic security' if tls else 'plain'}): connected in {connected_s:.1f} s, "
          f"all online at central after {stored_s:.1f} s")
    print(f"offline (will) -> fleet view: p50 {out['offline_p50_ms']} ms, max {out['offline_max_ms']} ms "
          f"over {len(lat)} stations")
    print(f"fleet document ({size_kb:.0f} KB JSON): p50 {out['fleet_doc_p50_ms']} ms")
    for name in idle:
        print(f"RSS {name:<15} idle {idle[name]:7.1f} MB   with {n} stations {loaded[name]:7.1f} MB")
    print(f"(this machine: load average {os.getloadavg()[0]:.1f})")
    return out


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    print(json.dumps(main(int(args[0]) if args else 1300, "--plain" not in sys.argv), ensure_ascii=False))
