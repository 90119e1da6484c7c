"""Updates with rollback in a scratch root: real venvs, real processes behind a fake systemctl."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from app import release, update_events
from contract.keys import public_hex
from edge.journal import Journal
from edge.verify import verify_db
from testbed.broker import free_port
from tests.cli_inproc import run_cli
from tests.conftest import CLI, ROOT
from tests.factories import write_station_config
from tests.release_helpers import lock_for, make_wheel, signed_bundle
from tests.update_units import write_fake_systemctl


def _window_around_now(hours: int) -> str:
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    a, b = now - timedelta(hours=hours), now + timedelta(hours=hours)
    return f"{a:%H:%M}-{b:%H:%M}"


def _window_not_now() -> str:
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    a, b = now + timedelta(hours=2), now + timedelta(hours=3)
    return f"{a:%H:%M}-{b:%H:%M}"


def _page(port: int) -> str | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
            return str(r.read().decode())
    except (OSError, http.client.HTTPException):  # refused, or cut off by the restart: no page
        return None


def _apply(cfg: Path, bundle: Path, *extra: str, process: bool = False) -> tuple[int, str]:
    """``update apply``, in this process (what it runs is real: venv, uv, systemctl, kiosk) or,
    with ``process``, as its own process the way a technician's shell runs it."""
    args = ["update", "apply", str(bundle), "--config", str(cfg), *extra]
    if process:
        r = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, cwd=ROOT)
    else:
        r = run_cli(*args)
    return r.returncode, r.stdout + r.stderr


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.glob("releases/*"))


class Downtime:
    """Polls the kiosk page every 10 ms; the longest run without an answer."""

    def __init__(self, port: int) -> None:
        self.port, self.longest, self.stop = port, 0.0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        down_since: float | None = None
        while not self.stop.is_set():
            ok = _page(self.port) is not None
            now = time.monotonic()
            if not ok and down_since is None:
                down_since = now
            if ok and down_since is not None:
                self.longest, down_since = max(self.longest, now - down_since), None
            time.sleep(0.01)

    def __enter__(self) -> Downtime:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join()


@pytest.fixture
def scratch(tmp_path: Path, key: Ed25519PrivateKey) -> Any:
    opt = tmp_path / "root" / "opt" / "acceptance-station"
    port = free_port()
    state = tmp_path / "units"
    systemctl = write_fake_systemctl(tmp_path / "systemctl", opt, state, port, tmp_path / "data")
    update = {"release_public_key": public_hex(key), "root": str(opt), "window": _window_around_now(2),
              "systemctl": [str(systemctl)], "python": sys.executable, "health_deadline_s": 8.0,
              "health_interval_s": 0.05, "min_free_mb": 10}
    # An 8 s health deadline (the product's default is 120 s): the stand-in of a good release
    # answers within about a second of the switch (printed below), and what is tested here is
    # the rollback when the deadline passes, not the deadline's length.
    cfg = write_station_config(tmp_path, web={"port": port}, update=update)
    yield tmp_path, opt, port, state, cfg, update
    subprocess.run([str(systemctl), "stop"], check=False)
    pid = (state / "kiosk.pid")
    if pid.exists():
        subprocess.run(["kill", pid.read_text()], check=False, capture_output=True)


@pytest.mark.slow  # four real venvs (made without pip, installed by uv): about 40 s alone
@pytest.mark.timeout(900)
def test_update_good_then_failing_release_rolls_back(scratch: Any, key: Ed25519PrivateKey) -> None:
    tmp, opt, port, state, cfg, update = scratch
    # The journal the health check verifies, written by the station's own Journal.
    station_key = Ed25519PrivateKey.generate()
    j = Journal(tmp / "data" / "station.db", station_key, "test-station-01")
    for i in range(5):
        j.append("alert.raised", {"code": "TEST", "severity": "info", "message": f"第 {i} 条"})
    j.close()
    dep = make_wheel(tmp / "wh", "tinydep", "1.0", {"tinydep/__init__.py": "X = 1\n"})
    lock = lock_for(tmp / "station.lock", [dep])
    out = tmp / "bundles"
    r = run_cli("release", "build", "--version", "0.1.0", "--out", str(out / "a"), "--source", str(ROOT),
                "--lock", str(lock), "--wheelhouse", str(dep.parent))
    assert r.returncode == 0, r.stderr
    first = Path(r.stdout.strip())
    release.sign(first, key)
    real_wheel = tmp / "real"
    with __import__("tarfile").open(first) as tar:
        tar.extractall(real_wheel, filter="data")
    wheel = next((real_wheel / "wheels").glob("*.whl"))
    good = signed_bundle(out / "b", "0.2.0", wheel, lock, key, [dep])
    # A release whose program does not import: its station never comes up.
    broken = make_wheel(tmp / "broken", "acceptance-station", "0.3.0",
                        {"app/__init__.py": "raise SystemExit(3)\n"})
    bad = signed_bundle(out / "c", "0.3.0", broken, lock, key, [dep])

    # First install: no station answers yet; the journal replayed shows no open delivery.
    code, text = _apply(cfg, first)
    assert code == 0 and '"result": "applied"' in text, text
    assert "kiosk 0.1.0 " in (_page(port) or "")

    # Refusals change nothing: an open delivery, outside the window, a bad signature,
    # a truncated bundle, too little disk.
    before = _tree(opt)
    (state / "delivery-open").touch()
    code, text = _apply(cfg, good)
    assert code == 1 and "a delivery is open" in text, text
    (state / "delivery-open").unlink()
    closed = write_station_config(tmp, name="closed.toml", web={"port": port},
                                  update={**update, "window": _window_not_now()})
    code, text = _apply(closed, good)
    assert code == 1 and "outside the maintenance window" in text, text
    forged = signed_bundle(out / "forged", "0.2.0", wheel, lock, Ed25519PrivateKey.generate(), [dep])
    code, text = _apply(cfg, forged)
    assert code == 1 and "bad signature" in text, text
    cut = out / "cut" / good.name
    cut.parent.mkdir()
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    release.sig_path(cut).write_bytes(release.sig_path(good).read_bytes())
    code, text = _apply(cfg, cut)
    assert code == 1 and "REFUSED" in text, text
    full = write_station_config(tmp, name="full.toml", web={"port": port},
                                update={**update, "min_free_mb": 10**9})
    code, text = _apply(full, good)
    assert code == 1 and "not enough disk" in text, text
    assert _tree(opt) == before and "kiosk 0.1.0 " in (_page(port) or "")

    # The good release: installed beside, switched, restarted, healthy.
    with Downtime(port) as dt:
        t0 = time.monotonic()
        code, text = _apply(cfg, good, process=True)
        took = time.monotonic() - t0
    assert code == 0 and '"result": "applied"' in text, text
    assert "kiosk 0.2.0 " in (_page(port) or "")
    assert _tree(opt) == ["releases/0.1.0", "releases/0.2.0"]
    at = {s["step"]: datetime.fromisoformat(s["at"])
          for s in json.loads((opt / "update-state.json").read_text())["steps"]}
    healthy_after = (at["update.applied"] - at["update.switched"]).total_seconds()
    print(f"update: {took:.2f} s wall, kiosk page down {dt.longest * 1000:.0f} ms, "
          f"healthy {healthy_after:.2f} s after the switch")

    # The failing release: health fails, rolled back, the old version serves again.
    t0 = time.monotonic()
    code, text = _apply(cfg, bad)
    assert code == 1 and '"result": "rolled_back"' in text, text
    print(f"rollback: {time.monotonic() - t0:.2f} s wall (deadline {update['health_deadline_s']} s)")
    assert "units: not active" in text and "kiosk: no answer" in text
    assert "kiosk 0.2.0 " in (_page(port) or "")
    assert (opt / "current").resolve() == opt / "releases" / "0.2.0"
    assert (opt / "venv").resolve() == opt / "releases" / "0.2.0" / "venv"
    r = run_cli("verify", "--db", str(tmp / "data" / "station.db"))
    assert r.returncode == 0 and "5 events" in r.stdout, r.stdout
    r = run_cli("update", "status", "--config", str(cfg))
    status = json.loads(r.stdout)
    assert status["current"] == "0.2.0" and status["state"] == "rolled_back"
    r = run_cli("status", "--once", "--config", str(cfg))
    assert "update: release 0.2.0, last step update.rolled_back 0.3.0" in r.stdout, r.stdout + r.stderr
    steps = [s["step"] for s in status["steps"]]
    assert steps[-4:] == ["update.started", "update.installed", "update.switched", "update.rolled_back"]

    # The next good release: applied, and only it and the one before it are kept (A/B).
    newer = signed_bundle(out / "d", "0.4.0", wheel, lock, key, [dep])
    code, text = _apply(cfg, newer)
    assert code == 0 and '"result": "applied"' in text, text
    assert _tree(opt) == ["releases/0.2.0", "releases/0.4.0"] and "kiosk 0.4.0 " in (_page(port) or "")

    # Every step was handed to the station (the only journal writer); journaled, they verify.
    pending = sorted(p.name.split("-", 1)[1] for p in (tmp / "data" / "update-events").glob("*.json"))
    assert pending.count("rolled_back.json") == 1 and pending.count("applied.json") == 3
    assert pending.count("refused.json") == 5
    j = Journal(tmp / "data" / "station.db", station_key, "test-station-01")
    try:
        assert update_events.drain(j, tmp / "data") == len(pending)
        assert verify_db(j.db, station_key.public_key()).first_problem is None
    finally:
        j.close()
