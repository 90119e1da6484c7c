"""The station as a real process (``acceptance-station run``) on a pty scale simulator, an operator
driving it through the kiosk API, and a small file system of its own to fill up.

Used by the full-disk and chaos tests. The scale simulator lives in the test process
(``ScaleSimulator`` on a pty behind a symlink); the station opens that path as a real port.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests

from firmware_bridge.scenario import placement
from firmware_bridge.simulator import ScaleSimulator
from testbed.demo_data import PINS, demo_orders, demo_roster
from testbed.kiosk_client import kiosk_session
from tests.conftest import CLI
from tests.factories import write_station_config
from tests.sync_harness import ROOT, free_port
from tests.waiting import wait_until


class SmallDisk:
    """A tmpfs of ``size_mb`` mounted at ``path`` (root only); ``fill`` and ``free`` a ballast file."""

    def __init__(self, path: Path, size_mb: int) -> None:
        self.path = path
        self.size_mb = size_mb
        self.ballast = path / "ballast"
        self.mounted = False

    def mount(self) -> bool:
        """Mount it; False where this user may not mount (the caller then skips or falls back)."""
        self.path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            return False
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m", "tmpfs", str(self.path)],
                           capture_output=True, text=True)
        self.mounted = r.returncode == 0
        return self.mounted

    def fill(self) -> None:
        """Take every free byte (appending to the ballast until ENOSPC)."""
        fd = os.open(self.ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        chunk = b"\0" * (1 << 16)
        try:
            while True:
                try:
                    os.write(fd, chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    if len(chunk) == 1:
                        return
                    chunk = chunk[: len(chunk) // 2]
        finally:
            os.close(fd)

    def free(self) -> None:
        self.ballast.unlink(missing_ok=True)

    def umount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)
            self.mounted = False


def today(tz: str = "Asia/Shanghai") -> str:
    return datetime.now(UTC).astimezone(ZoneInfo(tz)).date().isoformat()


@dataclass
class StationProc:
    """One station process with its own config, key, orders and scale simulator."""

    tmp: Path
    station_id: str
    data_dir: Path
    broker: Any = None  # tests.sync_harness.Broker when the uplink is wanted
    reserve_mb: int = 5

    def __post_init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sim = ScaleSimulator("ad", placement(0), link_path=self.tmp / f"{self.station_id}-scale",
                                  period_s=0.05).start()
        self.log = self.tmp / f"{self.station_id}-station.log"
        self.proc: subprocess.Popen[bytes] | None = None
        sections: dict[str, Any] = {
            "station": {"data_dir": str(self.data_dir),
                        "key_path": str(self.tmp / f"{self.station_id}.key"),
                        "journal_reserve_mb": self.reserve_mb},
            "orders": {"api_url": "http://127.0.0.1:9", "timeout_s": 2.0, "retries": 0},
            "web": {"port": self.port, "hall_port": 0},
            "scale": {"simulate": False, "port": self.sim.path, "protocol": "ad"},
            "camera": {"source": "synthetic", "width": 320, "height": 240, "fps": 2,
                       "synthetic_codes": ["(00)095212345000000018"], "synthetic_format": "code-128"},
            "video": {"enabled": False}}
        if self.broker is not None:  # the uplink's section, timings left at their defaults
            sections["uplink"] = {"batch_max_events": 500, "orders_fetch": False, "clip_upload": False,
                                  "broker": {"host": "127.0.0.1", "port": self.broker.port}}
        self.config = write_station_config(self.tmp, self.station_id,
                                           name=f"{self.station_id}-station.toml", **sections)
        self.session: requests.Session | None = None
        self.cli("keys", "init", "--config", str(self.config))

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=ROOT, timeout=120,
                              check=False)

    def import_orders(self) -> None:
        """Today's demo orders and the demo roster (the staff who sign in), as central sends."""
        for what, doc in (("orders", demo_orders(self.station_id, today())),
                          ("roster", demo_roster(self.station_id, cost_ln=10))):
            f = self.tmp / f"{self.station_id}-{what}.json"
            f.write_text(json.dumps(doc, ensure_ascii=False))
            r = self.cli(what, "import", str(f), "--config", str(self.config))
            assert r.returncode == 0, r.stderr

    def start(self) -> None:
        out = open(self.log, "ab")  # noqa: SIM115 (the process keeps it)
        self.proc = subprocess.Popen([*CLI, "--log-level", "INFO", "run", "--config", str(self.config)],
                                     stdout=out, stderr=out, cwd=ROOT)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def close(self) -> None:
        self.stop()
        self.sim.stop()

    def state(self) -> dict[str, Any] | None:
        try:
            r = requests.get(self.url + "/api/state", timeout=3)
            return dict(r.json()) if r.ok else None
        except (requests.RequestException, ValueError):
            return None

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        """POST as the kiosk page does: with the token of the page this process serves."""
        if self.session is None:
            self.session = kiosk_session(self.url)
        r = self.session.post(self.url + path, json=body, timeout=10)
        if r.status_code == 403:  # a restarted station has a new per-boot token
            self.session = kiosk_session(self.url)
            r = self.session.post(self.url + path, json=body, timeout=10)
        return r


@dataclass(frozen=True)
class Reported:
    """A decision the kiosk API reported: the journal seq it names, its outcome, the weight."""

    seq: int
    outcome: str
    net_g: int


class Operator:
    """Staff at the kiosk: sign in, open a delivery, weigh and confirm, take the item off."""

    def __init__(self, st: StationProc) -> None:
        self.st = st

    def live(self) -> dict[str, Any]:
        """The kiosk state, ``{}`` while the API does not answer."""
        return self.st.state() or {}

    def ready(self) -> dict[str, Any]:
        s = wait_until(self.live, 60, "the kiosk API (the station starting)")
        for who in ("zhang", "li"):
            if who not in s["inspectors"]:
                self.st.post("/api/inspectors", {"inspector_id": who, "pin": PINS[who]})
        s = self.st.state() or s
        if s["delivery"] is None:
            order = next(o["order_id"] for o in s["orders"] if o["order_id"].endswith("0012"))
            self.st.post("/api/deliveries", {"order_id": order})
        s = self.st.state() or s
        p = s["placement"]
        if p["decided"]:  # left over from an attempt cut short: a new placement first
            if not p["loaded"]:
                self.st.sim.play(placement(3000))
                wait_until(lambda: (self.st.state() or {}).get("placement", {}).get("loaded"), 10, "loaded")
            self.take_off(p["placement_id"])
            s = wait_until(self.live, 5, "the kiosk API")
        if s["placement"]["line_id"] is None:
            self.st.post("/api/placement/line", {"line_id": "1"})
        return wait_until(self.live, 5, "the kiosk API")

    def weigh(self, grams: int) -> dict[str, Any]:
        self.st.sim.play(placement(grams))
        def stable() -> dict[str, Any]:
            s = self.live()
            w = s.get("weight") or {}
            ok = w.get("stable") and w.get("net_g") == grams and s["placement"]["loaded"]
            return s if ok else {}

        return wait_until(stable, 20, f"{grams} g stable")

    def take_off(self, placement_id: str) -> None:
        self.st.sim.play(placement(0))
        wait_until(lambda: (lambda s: s is not None and s["placement"]["placement_id"] != placement_id)(
            self.st.state()), 20, "the item taken off")

    def decide(self, grams: int) -> tuple[Reported | None, requests.Response]:
        """One decision; the API's answer, and what it reported (None when it refused)."""
        self.ready()
        s = self.weigh(grams)
        pid = s["placement"]["placement_id"]
        r = self.st.post("/api/confirm", {"placement_id": pid})
        rep = None
        if r.status_code == 200 and "decision" in r.json():
            last = r.json()["state"]["last"]
            rep = Reported(int(last["seq"]), str(r.json()["decision"]["outcome"]), grams)
            self.take_off(pid)
        return rep, r

    def try_decide(self, grams: int) -> Reported | None:
        """``decide`` where the station may be killed meanwhile: None when it did not report."""
        with contextlib.suppress(requests.RequestException, AssertionError, KeyError, TypeError,
                                 ValueError):
            rep, _ = self.decide(grams)
            return rep
        return None
