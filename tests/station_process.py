"""The real station process and a scale simulator process, for tests that kill them.

``SimProcess`` is ``acceptance-station scale simulate --control`` on a stable
link path; ``StationProcess`` is ``acceptance-station run`` reading that path,
with today's demo orders imported through the CLI, reached over its HTTP API.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

from testbed.demo_data import PINS, demo_orders, demo_roster
from testbed.kiosk_client import kiosk_session
from tests.conftest import CLI, ROOT
from tests.test_web_api import _free_port
from tests.waiting import wait_until

STATION_ID = "evidence-station-01"


wait_for = wait_until  # the suite's one wait helper (tests/waiting.py)


class SimProcess:
    """A simulated indicator driven by JSON commands on its stdin."""

    def __init__(self, link: Path, protocol: str = "ad", on_pan_g: int = 0) -> None:
        """``on_pan_g``: what is on the pan from the first frame (a scale plugged back in)."""
        self.link = link
        scenario = link.with_name(link.name + ".scenario.json")
        scenario.write_text(json.dumps({"loop": True, "steps": [
            {"weight_g": on_pan_g, "duration_ms": 600_000}]}))
        self.proc = subprocess.Popen(
            [*CLI, "scale", "simulate", "--protocol", protocol, "--link", str(link),
             "--control", "--period-ms", "100", "--scenario", str(scenario)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == str(link)

    def send(self, cmd: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        reply: dict[str, Any] = json.loads(self.proc.stdout.readline())
        return reply

    def kill(self) -> None:
        """Stop the simulator dead: its pty closes, as when the scale is unplugged.

        Its link path goes too, as a USB serial device's node does: left behind, it
        names a /dev/pts number the kernel hands to the next pty opened on the
        machine (another test's simulator), which the station's reconnecting link
        would then read (a 0 g frame there ended the placement: PLACEMENT_GONE).
        """
        self.proc.kill()
        self.proc.wait(5)
        self.link.unlink(missing_ok=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class StationProcess:
    """``acceptance-station run`` on a config in ``root``; ``start`` again after ``kill``."""

    def __init__(self, root: Path, scale_port: Path, extra: str = "") -> None:
        self.root = root
        self.port = _free_port()
        self.cfg = root / "station.toml"
        self.cfg.write_text(f"""
[station]
station_id = "{STATION_ID}"
school_id = "evidence-school"
data_dir = "{root}/data"
key_path = "{root}/station.key"
[web]
port = {self.port}
hall_port = 0
[video]
enabled = false
[scale]
port = "{scale_port}"
protocol = "ad"
silence_timeout_ms = 1000
[camera]
source = "synthetic"
width = 320
height = 240
fps = 5
{extra}""")
        subprocess.run([*CLI, "keys", "init", "--config", str(self.cfg)], check=True,
                       capture_output=True)
        self.proc: subprocess.Popen[str] | None = None
        self.log = open(root / "station.log", "a")  # noqa: SIM115 (closed in stop)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.root / "data" / "station.db"

    def start(self) -> StationProcess:
        self.proc = subprocess.Popen([*CLI, "run", "--config", str(self.cfg)], cwd=ROOT,
                                     stdout=self.log, stderr=self.log, text=True)
        wait_for(self._up, 30, "the station's web app")
        self.kiosk = kiosk_session(self.url)  # this boot's token, as the page has it
        return self

    def _up(self) -> bool:
        try:
            return requests.get(self.url + "/api/state", timeout=1).ok
        except requests.ConnectionError:
            return False

    def import_orders(self) -> None:
        day = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
        path = self.root / "orders.json"
        path.write_text(json.dumps(demo_orders(STATION_ID, day), ensure_ascii=False))
        subprocess.run([*CLI, "orders", "import", str(path), "--config", str(self.cfg)],
                       check=True, capture_output=True)
        wait_for(lambda: len(self.state()["orders"]) == 5, what="orders in use")

    def import_roster(self) -> None:
        path = self.root / "roster.json"
        path.write_text(json.dumps(demo_roster(STATION_ID, cost_ln=10), ensure_ascii=False))
        subprocess.run([*CLI, "roster", "import", str(path), "--config", str(self.cfg)],
                       check=True, capture_output=True)

    def sign_in(self, *who: str) -> None:
        for person in who:
            r = self.post("/api/inspectors", {"inspector_id": person, "pin": PINS[person]})
            assert r.ok, r.text

    def state(self) -> dict[str, Any]:
        return dict(requests.get(self.url + "/api/state", timeout=5).json())

    def post(self, path: str, body: Any = None) -> requests.Response:
        return self.kiosk.post(self.url + path, json=body if body is not None else {}, timeout=10)

    def events(self, *types: str) -> list[dict[str, Any]]:
        """The journal as on disk, read by a separate connection."""
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT type, event FROM events ORDER BY seq").fetchall()
        finally:
            conn.close()
        return [json.loads(e) for t, e in rows if not types or t in types]

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()
