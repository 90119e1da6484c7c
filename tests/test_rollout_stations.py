"""The staged rollout end to end: central over HTTPS, stations in scratch roots running ``update poll``.

Each station has its own root, journal, kiosk port and fake ``systemctl`` driving the
units stand-in (tests/update_units.py), which serves from the release the ``current``
link names and reports the scale and the uplink as the station would. Releases are a
small program wheel (real venvs are built, so this takes a minute): 1.0.0 and a
2.0.0 whose scale link never connects, so its post-update health check fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from central import tokens
from central.api import serve_in_thread
from central.config import load_central_config
from contract.keys import public_hex
from edge.journal import Journal
from edge.verify import verify_db
from testbed.broker import free_port
from testbed.pki import make_pki
from tests.cli_inproc import run_cli
from tests.factories import write_station_config
from tests.rollout_helpers import central_toml, fake_bundles
from tests.test_update import _window_around_now
from tests.update_units import write_fake_systemctl

CANARY, REST = "st-canary-01", "st-rest-01"


class Station:
    def __init__(self, tmp: Path, sid: str, url: str, token: str, ca: Path, release_key: str) -> None:
        self.dir, self.sid = tmp / sid, sid
        self.opt = self.dir / "root" / "opt" / "acceptance-station"
        self.units = self.dir / "units"
        self.port = free_port()
        self.dir.mkdir(parents=True)
        (self.dir / "token").write_text(token + "\n")
        systemctl = write_fake_systemctl(self.dir / "systemctl", self.opt, self.units, self.port,
                                         self.dir / "data")
        update = {"release_public_key": release_key, "root": str(self.opt), "window": _window_around_now(2),
                  "systemctl": [str(systemctl)], "python": sys.executable, "health_deadline_s": 8.0,
                  "health_interval_s": 0.1, "min_free_mb": 10}
        self.cfg = write_station_config(self.dir, sid, web={"port": self.port}, update=update,
                                        orders={"api_url": url, "token_file": str(self.dir / "token"),
                                                "ca_file": str(ca)})
        self.key = Ed25519PrivateKey.generate()
        j = Journal(self.dir / "data" / "station.db", self.key, sid)
        for i in range(3):
            j.append("alert.raised", {"code": "TEST", "severity": "info", "message": f"第 {i} 条"})
        j.close()

    def poll(self) -> dict[str, Any]:
        r = run_cli("update", "poll", "--config", str(self.cfg))
        assert r.stdout.strip(), r.stderr
        return dict(json.loads(r.stdout.strip().splitlines()[-1]))

    def page(self) -> str:
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/", timeout=2).text
        except requests.RequestException:
            return ""

    def current(self) -> str | None:
        link = self.opt / "current"
        return os.readlink(link).rsplit("/", 1)[-1] if link.is_symlink() else None

    def stop(self) -> None:
        pid = self.units / "kiosk.pid"
        if pid.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.killpg(int(pid.read_text()), signal.SIGTERM)


@pytest.fixture
def fleet(tmp_path: Path, key: Ed25519PrivateKey) -> Iterator[tuple[Any, dict[str, Station], Path]]:
    pki = tmp_path / "pki"
    make_pki(pki, [])
    path, url = central_toml(tmp_path, f"sqlite:///{tmp_path / 'central.db'}", key, pki=pki, tls=True)
    cfg = load_central_config(path)
    server = serve_in_thread(cfg)
    stations = {s: Station(tmp_path, s, url, tokens.issue(cfg.http.tokens_file, s)[0], pki / "ca.crt",
                           public_hex(key)) for s in (CANARY, REST)}
    try:
        yield path, stations, tmp_path
    finally:
        for st in stations.values():
            st.stop()
        server.shutdown()


@pytest.mark.slow  # three real venvs
@pytest.mark.timeout(900)
def test_rollout_follows_good_canaries_halts_on_bad(
        fleet: tuple[Path, dict[str, Station], Path], key: Ed25519PrivateKey) -> None:
    cfg, st, tmp = fleet
    c, rest = st[CANARY], st[REST]

    def admin(*args: str) -> Any:
        r = run_cli("central-admin", *args, "--config", str(cfg))
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    bundles = fake_bundles(tmp, key, {"1.0.0": False, "2.0.0": True})
    for b in bundles.values():
        admin("release", "publish", str(b))
    admin("group", "canary", CANARY)

    # 1.0.0: the rest wait until the canary runs it, then follow.
    admin("rollout", "start", "1.0.0")
    assert rest.poll()["action"] == "none" and rest.current() is None
    out = c.poll()
    assert out["action"] == "updated" and out["result"] == "applied", out
    assert "kiosk 1.0.0" in c.page()
    assert "stage all, active" in admin("rollout", "status")
    out = rest.poll()
    assert out["result"] == "applied" and "kiosk 1.0.0" in rest.page(), out
    assert c.poll()["action"] == "current"

    # 2.0.0: the canary's scale never connects after the switch; it rolls back, and the
    # rollout halts by itself: the rest never get 2.0.0.
    admin("rollout", "start", "2.0.0")
    assert rest.poll()["action"] == "none"
    out = c.poll()
    assert out["result"] == "rolled_back", out
    assert any(f.startswith("scale: scale not connected") for f in out["failures"]), out
    assert c.current() == "1.0.0" and "kiosk 1.0.0" in c.page()
    status = admin("rollout", "status")
    assert "2.0.0 stage canary, halted" in status and "1 of 1 canaries failed" in status, status
    assert rest.poll()["action"] == "none" and rest.current() == "1.0.0"
    assert not (rest.opt / "releases" / "2.0.0").exists()
    assert not list((rest.opt / "downloads").glob("*2.0.0*"))
    assert c.poll()["action"] == "none"  # halted: the canary is not offered it again either

    # Central holds each station's version and outcome; the canary's journal is intact and
    # its update steps are handed to the station to journal.
    rows = json.loads(admin("rollout", "status", "--json"))["stations"]
    by = {r["station_id"]: r for r in rows}
    assert by[CANARY]["version"] == "1.0.0" and by[CANARY]["result"] == "rolled_back"
    assert by[REST]["version"] == "1.0.0" and by[REST]["result"] == "applied"
    j = Journal(c.dir / "data" / "station.db", c.key, CANARY)
    try:
        assert verify_db(j.db, c.key.public_key()).first_problem is None
    finally:
        j.close()
    spool = sorted(p.name.split("-", 1)[1] for p in (c.dir / "data" / "update-events").glob("*.json"))
    assert spool.count("rolled_back.json") == 1 and spool.count("applied.json") == 1
