"""``acceptance-station demo``: the whole system on this machine, no hardware.

It starts, in order: a private ``mosquitto`` with the shipped config and a
fresh test PKI on free loopback ports (when the binary exists), the reference
central (HTTP API with today's and tomorrow's demo orders and the station's
token, ingest workers, SQLite store), the uplink, and the station itself
on a simulated scale and a synthetic camera. It prints the kiosk URL and runs
until interrupted. ``--scripted`` drives a whole morning through the same API
the kiosk page uses (see ``testbed/demo_script.py``) and exits 0 only when every
expected outcome happened and every event reached central and verified there.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from core import log
from core.errors import UsageError
from testbed.demo_data import SCHOOL_ID, STATION_ID

logger = logging.getLogger("testbed.demo")
CLI = [sys.executable, "-m", "app.cli"]


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run the whole system on simulated devices (no hardware)")
    p.add_argument("--dir", type=Path, help="state folder (default: var/demo, or a fresh "
                   "temporary folder with --scripted)")
    p.add_argument("--port", type=int, default=8080, help="kiosk web port (0: any free port)")
    p.add_argument("--scripted", action="store_true",
                   help="drive a whole morning through the API, print a summary, exit")
    p.set_defaults(handler=run)


def _free_port() -> int:
    from testbed.broker import free_port

    return free_port()


def _bound(port: int) -> socket.socket:
    """The kiosk's socket, bound now: a port picked free and bound later can be taken meanwhile
    by another process (seen under a loaded CI); a busy fixed port fails here, clearly.

    Made with ``IPPROTO_TCP`` named, as uvicorn's own sockets are: asyncio turns Nagle off only
    on sockets whose ``proto`` says TCP, and with it on, each answer on a kept-alive connection
    (headers, then body) waited out the client's delayed ACK, about 40 ms a request."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise RuntimeError(f"the kiosk port 127.0.0.1:{port} is not free: {exc}") from exc
    return sock


class DemoSystem:
    """Every process of the demo, started in order and stopped in reverse."""

    def __init__(self, state: Path, web_port: int) -> None:
        self.state = state
        self.web_socket = _bound(web_port)
        self.web_port = int(self.web_socket.getsockname()[1])
        self.http_port = _free_port()
        self.broker: Any = None
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.station: Any = None
        self.server: Any = None
        self.tz = ZoneInfo("Asia/Shanghai")
        self.token_file = state / "station.token"
        self.logins: list[Any] = []  # the demo's web app accounts (testbed.demo_web.DemoLogin)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def central_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def central_dsn(self) -> str:
        return f"sqlite:///{self.state / 'central' / 'central.db'}"

    def days(self) -> list[str]:
        today = datetime.now(UTC).astimezone(self.tz).date()
        return [today.isoformat(), (today + timedelta(days=1)).isoformat()]

    def _tls(self, cn: str) -> str:
        """The ``[… .tls]`` table of a demo client (empty without a broker)."""
        if self.broker is None:
            return ""
        d = self.state / "pki"
        return (f'tls = {{ ca_file = "{d / "ca.crt"}", cert_file = "{d / (cn + ".crt")}", '
                f'key_file = "{d / (cn + ".key")}" }}')

    def _write_central(self, broker_port: int) -> Path:
        from central import tokens
        from testbed.demo_data import demo_orders, demo_roster

        c = self.state / "central"
        for day in self.days():
            path = c / "orders" / STATION_ID / f"{day}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(demo_orders(STATION_ID, day, documents=True),
                                       ensure_ascii=False))
            menu = c / "menus" / SCHOOL_ID / f"{day}.json"
            menu.parent.mkdir(parents=True, exist_ok=True)
            menu.write_text(json.dumps({"date": day, "meals": [
                {"name": "午餐", "dishes": ["青菜炒香菇", "土豆烧肉", "番茄蛋汤", "米饭"]}]},
                ensure_ascii=False))
        roster = c / "rosters" / f"{STATION_ID}.json"
        roster.parent.mkdir(parents=True, exist_ok=True)
        roster.write_text(json.dumps(demo_roster(STATION_ID), ensure_ascii=False))
        (c / "keys").mkdir(parents=True, exist_ok=True)
        shutil.copy(self.state / "station.key.pub", c / "keys" / f"{STATION_ID}.pub")
        # The station's API token: a fresh one each start, the old ones revoked.
        (c / "tokens").unlink(missing_ok=True)
        token, _ = tokens.issue(c / "tokens", STATION_ID)
        self.token_file.write_text(token + "\n")
        self.token_file.chmod(0o600)
        # The station's school, for the platform's indicators and the public school page.
        master = c / "master.json"
        master.write_text(json.dumps({"stations": {STATION_ID: SCHOOL_ID}}))
        cfg = c / "central.toml"
        cfg.write_text(f"""
[broker]
host = "127.0.0.1"
port = {broker_port}
{self._tls("central-ingest")}
[store]
dsn = "{self.central_dsn}"
[registry]
keys_dir = "{c / 'keys'}"
[http]
enabled = true
bind = "127.0.0.1:{self.http_port}"
orders_dir = "{c / 'orders'}"
roster_dir = "{c / 'rosters'}"
menus_dir = "{c / 'menus'}"
clips_dir = "{c / 'clips'}"
tokens_file = "{c / 'tokens'}"
public_base_url = "http://127.0.0.1:{self.http_port}"
[ingest]
workers = 1
[indicators]
master_data_file = "{master}"
[web]
enabled = true
documents_dir = "{c / 'documents'}"
""")
        return cfg

    def _write_station(self, broker_port: int | None) -> Path:
        cfg = self.state / "station.toml"
        uplink = "" if broker_port is None else f"""
[uplink]
backoff_min_s = 0.2
backoff_max_s = 2.0  # the kiosk's sync badge is back within seconds
ack_timeout_s = 10.0
status_interval_s = 10.0
[uplink.broker]
host = "127.0.0.1"
port = {broker_port}
{self._tls(STATION_ID)}
"""
        cfg.write_text(f"""
[station]
station_id = "{STATION_ID}"
school_id = "{SCHOOL_ID}"
data_dir = "{self.state / 'data'}"
key_path = "{self.state / 'station.key'}"
[orders]
api_url = "http://127.0.0.1:{self.http_port}"
token_file = "{self.token_file}"
timeout_s = 3.0
retries = 2
refresh_minutes = 1
[web]
port = {self.web_port}
public_base_url = "http://127.0.0.1:{self.http_port}"
[scale]
simulate = true
protocol = "ad"
[camera]
source = "synthetic"
width = 640
height = 480
fps = 10
synthetic_codes = []
{uplink}""")
        return cfg

    def start(self) -> None:
        """Start everything; a part that does not come up stops what was started (no orphans)."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        from app.config import load_config
        from app.station import Station
        from contract.keys import init_key
        from firmware_bridge.scenario import placement
        from testbed import broker as brokers

        self.state.mkdir(parents=True, exist_ok=True)
        if not (self.state / "station.key").exists():
            init_key(self.state / "station.key")
        broker_port = None
        if brokers.available():
            from testbed.pki import make_pki

            make_pki(self.state / "pki", ["central-ingest", STATION_ID])  # fresh test certificates
            self.broker = brokers.Broker(self._dir("broker"), tls_dir=self.state / "pki")
            self.broker.start()
            broker_port = self.broker.port
        else:
            log.kv(logger, logging.WARNING, "no mosquitto binary: the demo runs without sync")
        central_port = self.broker.central_port if self.broker is not None else _free_port()
        central_cfg = self._write_central(central_port)
        station_cfg = self._write_station(broker_port)
        self._spawn("central", [*CLI, "central", "--config", str(central_cfg)])
        self._wait_http(f"{self.central_url}/healthz", timeout=60)  # slow under load
        from testbed.demo_web import make_accounts

        self.logins = make_accounts(self.central_dsn)
        if broker_port is not None:
            self._spawn("uplink", [*CLI, "sync", "--config", str(station_cfg)])
        self.station = Station(load_config(station_cfg), sim_dir=self._dir("scale"))
        self.station.start()
        self.station.scale.simulator.play(placement(0))  # an empty scale to start with
        self._serve()

    def _dir(self, name: str) -> Path:
        d = self.state / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    def _spawn(self, name: str, cmd: list[str]) -> None:
        logf = open(self.state / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        self.procs.append((name, subprocess.Popen(cmd, stdout=logf, stderr=logf)))

    def _wait_http(self, url: str, timeout: float = 60.0) -> None:  # slow under a loaded CI
        import requests

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if requests.get(url, timeout=1).status_code < 500:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{url} did not come up; see {self.state}/*.log")

    def _serve(self) -> None:
        import uvicorn

        from edge.web.app import create_app
        from edge.web.guard import Access
        from edge.web.hall import hall_source

        st = self.station
        web = st.cfg.web
        access = Access(port=self.web_port, hosts=tuple(web.trusted_hosts),
                        max_body_bytes=web.max_body_bytes)
        app = create_app(st.workflow, st.orders, st.devices.snapshot, st.hub, access=access,
                         preview=st.preview.render, hall=hall_source(st.cfg), blobs=st.blobs,
                         still=st.preview.still, sound=st.cfg.sound, voice=st.voice)
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.web_port,
                                                    log_level="warning"))
        threading.Thread(target=self.server.run, kwargs={"sockets": [self.web_socket]}, name="web",
                         daemon=True).start()
        self._wait_http(self.url + "/api/state")

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        if self.station is not None:
            self.station.stop()
        for name, p in reversed(self.procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                log.kv(logger, logging.WARNING, "killing", process=name)
                p.kill()
        if self.broker is not None:
            self.broker.kill()
        self.web_socket.close()


def run(args: argparse.Namespace) -> int:
    if args.dir is None:
        state = Path(tempfile.mkdtemp(prefix="acceptance-demo-")) if args.scripted \
            else Path("var/demo")
    else:
        state = args.dir
    try:
        system = DemoSystem(state.resolve(), 0 if args.scripted else args.port)
    except RuntimeError as exc:
        raise UsageError(f"demo could not start: {exc}") from exc
    try:
        system.start()  # a failed start has stopped what it started
    except (OSError, RuntimeError) as exc:
        raise UsageError(f"demo could not start: {exc}") from exc
    try:
        if args.scripted:
            from testbed.demo_script import run_morning

            return run_morning(system)
        print(f"kiosk: {system.url}/   hall: {system.url}/hall   (state in {state}; Ctrl-C stops)",
              flush=True)
        from testbed.demo_web import banner

        print(banner(system.central_url, system.logins), flush=True)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        return 0
    finally:
        system.stop()
