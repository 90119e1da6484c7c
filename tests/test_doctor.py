"""doctor passes on a healthy demo set-up and names each broken condition; status prints."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from testbed.broker import Broker, free_port
from testbed.demo import DemoSystem
from testbed.demo_data import STATION_ID
from testbed.demo_script import Driver
from testbed.pki import make_pki
from tests.cli_inproc import run_cli
from tests.conftest import CLI


def fake_clock(tmp: Path, synced: bool) -> dict[str, str]:
    """A faked time source: a `timedatectl` on PATH answering NTPSynchronized."""
    bin_dir = tmp / f"fakebin-{synced}"
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / "timedatectl"
    tool.write_text(f"#!/bin/sh\necho {'yes' if synced else 'no'}\n")
    tool.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def doctor(config: Path, env: dict[str, str]) -> tuple[int, dict[str, dict[str, Any]]]:
    """``doctor --json`` in this process, under ``env`` (its PATH finds the fake time source);
    the process as a technician starts it is ``test_healthy_demo_passes``'s text run."""
    with mock.patch.dict(os.environ, env):
        r = run_cli("doctor", "--config", str(config), "--json")
    doc = json.loads(r.stdout)
    return r.returncode, {c["check"]: c for c in doc["checks"]}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSystem]:
    s = DemoSystem(tmp_path_factory.mktemp("doctor") / "demo", 0)
    s.start()
    Driver(s).wait(lambda st: st["devices"].get("sync", {}).get("ok") is True
                   and st["devices"].get("camera", {}).get("ok") is True, "station healthy", 60)
    yield s
    s.stop()


def test_healthy_demo_passes(demo: DemoSystem, tmp_path: Path) -> None:
    code, checks = doctor(demo.state / "station.toml", fake_clock(tmp_path, True))
    assert code == 0, checks
    assert set(checks) == {"config", "key", "database", "replay", "scale", "camera", "disk", "clock",
                           "broker", "central-api", "central-head", "backlog"}
    assert "chain verifies there); hashes agree at seq" in checks["central-head"]["detail"]
    r = subprocess.run([*CLI, "doctor", "--config", str(demo.state / "station.toml")],
                       capture_output=True, text=True, env=fake_clock(tmp_path, True), timeout=120)
    assert r.returncode == 0 and "broker" in r.stdout and "FAIL" not in r.stdout
    s = run_cli("status", "--config", str(demo.state / "station.toml"), "--once")
    assert s.returncode == 0 and f"station {STATION_ID}" in s.stdout
    assert "scale" in s.stdout and "backlog:" in s.stdout and "uplink:" in s.stdout


def _variant(demo: DemoSystem, tmp: Path, edit: Any) -> Path:
    text = (demo.state / "station.toml").read_text()
    path = tmp / "station.toml"
    path.write_text(edit(text))
    return path


def test_clock_unsynced(demo: DemoSystem, tmp_path: Path) -> None:
    code, checks = doctor(demo.state / "station.toml", fake_clock(tmp_path, False))
    assert code == 1 and not checks["clock"]["ok"] and "not synchronised" in checks["clock"]["detail"]
    assert checks["clock"]["fix"]


@pytest.mark.parametrize("name,edit,check,needle", [
    ("no config key", lambda t: re.sub(r'school_id = ".*"\n', "", t), "config", "school_id"),
    ("missing port", lambda t: t.replace("simulate = true", 'simulate = false\n'
                                         'port = "/dev/nonexistent-scale"'), "scale", "does not exist"),
    ("no camera", lambda t: t.replace('source = "synthetic"', 'source = "camera"\n'
                                      'device = "/dev/video99"'), "camera", "does not exist"),
    ("broker down", lambda t: re.sub(r"(\[uplink\.broker\]\nhost = \"127.0.0.1\"\nport = )\d+",
                                     lambda m: m.group(1) + str(free_port()), t),
     "broker", "unreachable"),
])
def test_broken_condition_named(demo: DemoSystem, tmp_path: Path, name: str, edit: Any,
                                check: str, needle: str) -> None:
    code, checks = doctor(_variant(demo, tmp_path, edit), fake_clock(tmp_path, True))
    assert code == 1
    assert not checks[check]["ok"] and needle in checks[check]["detail"], checks[check]
    failing = [c for c, f in checks.items() if not f["ok"]]
    assert failing == [check], failing


def test_tampered_database(demo: DemoSystem, tmp_path: Path) -> None:
    copy = tmp_path / "data" / "station.db"
    copy.parent.mkdir()
    src = sqlite3.connect(demo.state / "data" / "station.db")
    dst = sqlite3.connect(copy)
    src.backup(dst)
    src.close()
    dst.execute("DROP TRIGGER events_no_update")
    dst.execute("UPDATE events SET event = replace(event, 'demo', 'dem0') WHERE seq = 2")
    dst.commit()
    dst.close()
    cfg = _variant(demo, tmp_path, lambda t: re.sub(r'data_dir = ".*"', f'data_dir = "{copy.parent}"',
                                                     t))
    code, checks = doctor(cfg, fake_clock(tmp_path, True))
    assert code == 1 and not checks["database"]["ok"]
    assert "chain broken at seq 2" in checks["database"]["detail"]


def test_bad_certificate(demo: DemoSystem, tmp_path: Path) -> None:
    """A broker requiring client certificates from its CA; ours is from another CA."""
    make_pki(tmp_path / "pki", [STATION_ID])
    make_pki(tmp_path / "other", [STATION_ID])
    (tmp_path / "broker").mkdir()
    broker = Broker(tmp_path / "broker", tls_dir=tmp_path / "pki")
    broker.start()
    try:
        tls = (f'[uplink.broker]\nhost = "127.0.0.1"\nport = {broker.port}\n'
               f'tls = {{ ca_file = "{tmp_path / "pki" / "ca.crt"}", '
               f'cert_file = "{tmp_path / "other" / (STATION_ID + ".crt")}", '
               f'key_file = "{tmp_path / "other" / (STATION_ID + ".key")}" }}\n')
        cfg = _variant(demo, tmp_path, lambda t: re.sub(
            r"\[uplink\.broker\]\nhost = \"127.0.0.1\"\nport = \d+\n(tls = .*\n)?", tls, t))
        code, checks = doctor(cfg, fake_clock(tmp_path, True))
        assert code == 1 and not checks["broker"]["ok"], checks["broker"]
        assert "TLS" in checks["broker"]["detail"] or "refused" in checks["broker"]["detail"]
        # Told at once, not after [uplink.broker] connect_timeout_s spent spinning on a
        # connection the broker had closed.
        assert "timed out" not in checks["broker"]["detail"], checks["broker"]
        assert "certificate" in checks["broker"]["fix"] or "TLS" in checks["broker"]["fix"]
    finally:
        broker.kill()


def test_central_head_compared_with_the_journal() -> None:
    from app.doctor import compare_head

    hashes = {5: "a" * 64, 9: "b" * 64}
    good = {"head_seq": 5, "head_hash": "a" * 64, "count": 5, "verified": True, "problem": None}
    assert compare_head(good, 9, hashes.get).ok
    assert compare_head({**good, "head_seq": 0, "count": 0}, 0, None).ok
    fork = compare_head({**good, "head_hash": "c" * 64}, 9, hashes.get)
    assert not fork.ok and fork.detail.startswith("fork at seq 5") and "evidence" in fork.fix
    ahead = compare_head({**good, "head_seq": 12}, 9, hashes.get)
    assert not ahead.ok and "this journal ends at 9" in ahead.detail
    broken = compare_head({**good, "verified": False, "problem": "seq 3: hash mismatch"}, 9, hashes.get)
    assert not broken.ok and "seq 3: hash mismatch" in broken.detail
