"""The station as a real process (``acceptance-station run``), its scale simulator, staff at the
kiosk, and a small file system of its own to fill up: for the tests that kill, restart or starve it.

One station class for every such test. Its scale is either a ``ScaleSimulator`` in the test
process on a pty behind a symlink (the default: ``StationProc.sim``, driven with ``play``), or,
given ``scale_link``, whatever serves that link, normally a ``SimProcess``
(``acceptance-station scale simulate --control``, driven by JSON commands) that a test can kill
like an unplugged scale. The config comes from the suite's one factory; key, orders and roster
go in through the CLI, in this process.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import sqlite3
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
from tests.cli_inproc import run_cli
from tests.conftest import CLI
from tests.factories import write_station_config
from tests.sync_harness import ROOT, free_port
from tests.waiting import wait_until

# What the chaos, full-disk and recovery runs configure on top of the defaults: a small journal
# reserve, no central to fetch orders from, and a camera showing an SSCC (no line to match).
AT_WORK: dict[str, dict[str, Any]] = {
    "station": {"journal_reserve_mb": 5},
    "orders": {"api_url": "http://127.0.0.1:9", "timeout_s": 2.0, "retries": 0},
    "camera": {"fps": 2, "synthetic_codes": ["(00)095212345000000018"], "synthetic_format": "code-128"},
}


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


class SimProcess:
    """A simulated indicator as its own process, driven by JSON commands on its stdin."""

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


def _merged(base: dict[str, dict[str, Any]], over: dict[str, Any]) -> dict[str, Any]:
    """Config sections ``over`` laid on ``base``, table by table (top-level keys pass through)."""
    out: dict[str, Any] = {k: dict(v) for k, v in base.items()}
    for k, v in over.items():
        out[k] = {**out.get(k, {}), **v} if isinstance(v, dict) else v
    return out


class StationProc:
    """One ``acceptance-station run`` with its own config, key and scale; ``start`` again after
    ``kill``. ``config``: tables laid over the default config (and ``school_id``), as ``AT_WORK``."""

    def __init__(self, tmp: Path, station_id: str, data_dir: Path | None = None, *,
                 broker: Any = None, scale_link: Path | None = None,
                 config: dict[str, Any] | None = None) -> None:
        """``broker``: a tests.sync_harness.Broker when the uplink is wanted; ``scale_link``: the
        link a ``SimProcess`` serves, else the station gets an in-process simulator of its own."""
        self.tmp = tmp
        self.station_id = station_id
        self.data_dir = data_dir or tmp / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sim: ScaleSimulator | None = None
        if scale_link is None:
            self.sim = ScaleSimulator("ad", placement(0), link_path=tmp / f"{station_id}-scale",
                                      period_s=0.05).start()
        self.log = tmp / f"{station_id}-station.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.session: requests.Session | None = None
        base: dict[str, dict[str, Any]] = {
            "station": {"data_dir": str(self.data_dir), "key_path": str(tmp / f"{station_id}.key")},
            "web": {"port": self.port, "hall_port": 0},
            "scale": {"simulate": False, "port": str(scale_link) if self.sim is None else self.sim.path,
                      "protocol": "ad"},
            "camera": {"source": "synthetic", "width": 320, "height": 240, "fps": 5},
            "video": {"enabled": False}}
        if broker is not None:  # the uplink's section, timings left at their defaults
            base["uplink"] = {"batch_max_events": 500, "orders_fetch": False, "clip_upload": False,
                              "broker": {"host": "127.0.0.1", "port": broker.port}}
        self.config = write_station_config(tmp, station_id, name=f"{station_id}-station.toml",
                                           **_merged(base, config or {}))
        self.cli("keys", "init", "--config", str(self.config)).check_returncode()

    @property
    def db_path(self) -> Path:
        return self.data_dir / "station.db"

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """An ``acceptance-station`` command as a technician types it (run in this process)."""
        return run_cli(*args)

    def import_orders(self) -> None:
        """Today's demo orders and the demo roster (the staff who sign in), as central sends."""
        for what, doc in (("orders", demo_orders(self.station_id, today())),
                          ("roster", demo_roster(self.station_id, cost_ln=10))):
            f = self.tmp / f"{self.station_id}-{what}.json"
            f.write_text(json.dumps(doc, ensure_ascii=False))
            r = self.cli(what, "import", str(f), "--config", str(self.config))
            assert r.returncode == 0, r.stderr

    def start(self) -> StationProc:
        """Start the process; ``up`` waits until it answers."""
        with open(self.log, "ab") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen([*CLI, "--log-level", "INFO", "run", "--config", str(self.config)],
                                         stdout=out, stderr=out, cwd=ROOT)
        return self

    def up(self, timeout: float = 30) -> StationProc:
        """Wait for the kiosk API, and take this boot's kiosk token as the page does."""
        wait_until(self.state, timeout, "the station's web app")
        self.session = kiosk_session(self.url)
        return self

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
        if self.sim is not None:
            self.sim.stop()

    def state(self) -> dict[str, Any] | None:
        """The kiosk state, None while the API does not answer (for polling)."""
        try:
            r = requests.get(self.url + "/api/state", timeout=3)
            return dict(r.json()) if r.ok else None
        except (requests.RequestException, ValueError):
            return None

    def state_now(self) -> dict[str, Any]:
        """The kiosk state; an error when the API does not answer."""
        return dict(requests.get(self.url + "/api/state", timeout=5).json())

    def post(self, path: str, body: Any = None) -> requests.Response:
        """POST as the kiosk page does: with the token of the page this process serves."""
        body = body if body is not None else {}
        if self.session is None:
            self.session = kiosk_session(self.url)
        r = self.session.post(self.url + path, json=body, timeout=10)
        if r.status_code == 403:  # a restarted station has a new per-boot token
            self.session = kiosk_session(self.url)
            r = self.session.post(self.url + path, json=body, timeout=10)
        return r

    def sign_in(self, *who: str) -> None:
        for person in who:
            r = self.post("/api/inspectors", {"inspector_id": person, "pin": PINS[person]})
            assert r.ok, r.text

    def events(self, *types: str) -> list[dict[str, Any]]:
        """The journal's events as on disk (of ``types`` when given), read by a separate connection."""
        with contextlib.closing(sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)) as conn:
            rows = conn.execute("SELECT type, event FROM events ORDER BY seq").fetchall()
        return [json.loads(e) for t, e in rows if not types or t in types]


@dataclass(frozen=True)
class Reported:
    """A decision the kiosk API reported: the journal seq it names, its outcome, the weight."""

    seq: int
    outcome: str
    net_g: int


class Operator:
    """Staff at the kiosk: sign in, open a delivery, weigh and confirm, take the item off
    (on a station with its in-process simulator)."""

    def __init__(self, st: StationProc) -> None:
        assert st.sim is not None, "the operator puts weights on the station's own simulator"
        self.st = st
        self.sim = st.sim

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
            order = next((o["order_id"] for o in s["orders"] if o["order_id"].endswith("0012")), None)
            assert order is not None, "no order offered (a station started on a full disk shows none)"
            self.st.post("/api/deliveries", {"order_id": order})
        s = self.st.state() or s
        p = s["placement"]
        if p["decided"]:  # left over from an attempt cut short: a new placement first
            if not p["loaded"]:
                self.sim.play(placement(3000))
                wait_until(lambda: (self.st.state() or {}).get("placement", {}).get("loaded"), 10, "loaded")
            self.take_off(p["placement_id"])
            s = wait_until(self.live, 5, "the kiosk API")
        if s["placement"]["line_id"] is None:
            self.st.post("/api/placement/line", {"line_id": "1"})
        return wait_until(self.live, 5, "the kiosk API")

    def weigh(self, grams: int) -> dict[str, Any]:
        self.sim.play(placement(grams))
        def stable() -> dict[str, Any]:
            s = self.live()
            w = s.get("weight") or {}
            ok = w.get("stable") and w.get("net_g") == grams and s["placement"]["loaded"]
            return s if ok else {}

        return wait_until(stable, 20, f"{grams} g stable")

    def take_off(self, placement_id: str) -> None:
        self.sim.play(placement(0))
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
