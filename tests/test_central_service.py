"""Central as a service: workers die with their supervisor, unique client ids, /healthz,
the head route and ``central-verify`` (SQLite and PostgreSQL), systemd notify."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from central import audit, health
from central.api import serve_in_thread
from central.ingest import KeyRegistry, ingest
from central.store import Store
from contract import protocol
from tests.cli_inproc import run_cli
from tests.conftest import CLI, assert_ready_then_pings
from tests.sync_harness import (
    Broker,
    append_events,
    central_config,
    central_http,
    cli,
    free_port,
    make_station,
    station_token,
)
from tests.waiting import wait_until

STATION = "st-aaa"


def _gone(pid: int) -> bool:
    """Exited (a zombie waiting for a reaper counts as exited)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] in "ZX"
    except (FileNotFoundError, ProcessLookupError):
        return True


def _health(port: int) -> tuple[int, dict[str, Any]]:
    try:
        r = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    except requests.RequestException:
        return 0, {}
    return r.status_code, r.json()


def _start_central(tmp_path: Path, broker: Broker, port: int) -> subprocess.Popen[bytes]:
    keys = tmp_path / "keys"
    keys.mkdir(exist_ok=True)
    cfg = central_config(tmp_path, broker, f"sqlite:///{tmp_path / 'central.db'}", keys, workers=2,
                         http_port=port)
    return cli("central", "--config", str(cfg), log=tmp_path / "central.log")


class Central:
    """``acceptance-station central`` with two workers on a broker of its own, shared by the tests
    below (starting it is most of their time); ``healthy`` starts it again if a test killed it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.broker = Broker(tmp)
        self.broker.start()
        self.port = free_port()
        self.proc = _start_central(tmp, self.broker, self.port)

    def healthy(self, what: str = "both workers alive and connected") -> subprocess.Popen[bytes]:
        if self.proc.poll() is not None:
            self.proc = _start_central(self.tmp, self.broker, self.port)
        wait_until(lambda: _health(self.port)[0] == 200, 30, what)
        return self.proc

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                assert self.proc.wait(20) == 0
        finally:
            self.broker.kill()


@pytest.fixture(scope="module")
def central2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Central]:
    c = Central(tmp_path_factory.mktemp("central2"))
    try:
        yield c
    finally:
        c.close()


def test_supervisor_kill_takes_its_workers_and_a_restart_takes_over_nothing(central2: Central) -> None:
    port, broker = central2.port, central2.broker
    central = central2.healthy()
    workers = _health(port)[1]["workers"]
    pids = [w["pid"] for w in workers]
    ids = {w["client_id"] for w in workers}
    assert len(ids) == 2 and all(i.startswith(f"central-ingest-{n}-") for n, i in
                                 zip((0, 1), sorted(ids), strict=True))
    central.send_signal(signal.SIGKILL)  # the supervisor only
    central.wait(10)
    t0 = time.monotonic()
    # They end at once (the figure is printed; ~0.1 s when calm): the bound only allows for a
    # loaded machine, where a worker's orderly stop after SIGTERM took over 5 s.
    wait_until(lambda: all(_gone(p) for p in pids), 15, "the orphaned workers to exit")
    exit_s = time.monotonic() - t0
    central2.healthy("the restarted central")
    again = {w["client_id"] for w in _health(port)[1]["workers"]}
    assert not again & ids  # new ids on every start
    time.sleep(3)
    takeovers = broker.log.read_text().count("already connected")
    assert takeovers == 0, takeovers
    print(f"workers exited {exit_s:.2f} s after the supervisor's SIGKILL")


def test_die_with_parent_alone_ends_an_orphan(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG without the beat pipe: the child gets SIGTERM when its parent is killed."""
    pid_file = tmp_path / "child.pid"
    child = ("import os, signal, time\nfrom core.process import die_with_parent\n"
             "signal.signal(signal.SIGTERM, lambda *a: os._exit(0))\n"
             f"die_with_parent(os.getppid())\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
             "time.sleep(60)\n")
    parent = subprocess.Popen([*CLI[:1], "-c", f"import subprocess, sys, time\n"
                               f"subprocess.Popen([sys.executable, '-c', {child!r}])\ntime.sleep(60)\n"],
                              cwd=Path(__file__).resolve().parent.parent)
    try:
        wait_until(lambda: pid_file.exists() and pid_file.read_text() != "", 15, "the child")
        pid = int(pid_file.read_text())
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        wait_until(lambda: _gone(pid), 3, "the orphan to end")
    finally:
        if parent.poll() is None:
            parent.kill()


def test_healthz_reports_workers_broker_and_store(central2: Central) -> None:
    port, broker = central2.port, central2.broker
    central2.healthy("healthy central")
    code, doc = _health(port)
    assert doc["store"] == {"ok": True, "error": None}
    assert doc["broker"]["connected_workers"] == 2
    assert all(w["alive"] and w["connected"] and w["last_beat_s_ago"] < 3 for w in doc["workers"])
    restarts = doc["workers"][0]["restarts"]  # 0 in a central started for this test
    broker.kill()
    wait_until(lambda: _health(port)[1].get("broker", {}).get("connected_workers") == 0, 10,
               "the broker outage in /healthz")
    code, doc = _health(port)
    assert code == 503 and doc["broker"]["connected_workers"] == 0 and doc["broker"]["errors"]
    assert all(w["alive"] for w in doc["workers"])  # still beating, only disconnected
    broker.start()
    wait_until(lambda: _health(port)[0] == 200, 10, "reconnected within the backoff cap")
    pid = doc["workers"][0]["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: _health(port)[1]["workers"][0]["alive"] is False, 10, "a dead worker")
    wait_until(lambda: _health(port)[0] == 200, 15, "the restarted worker")
    assert _health(port)[1]["workers"][0]["restarts"] == restarts + 1


def test_healthz_names_a_store_that_does_not_answer() -> None:
    probe = health.StoreProbe("postgresql://nobody@127.0.0.1:9/none")
    code, doc = health.report([], probe.check())
    assert code == 503 and doc["store"]["ok"] is False and "OperationalError" in doc["store"]["error"]


def test_central_notifies_systemd(tmp_path: Path, broker: Broker,
                                  notify_socket: tuple[socket.socket, dict[str, str]]) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    cfg = central_config(tmp_path, broker, f"sqlite:///{tmp_path / 'central.db'}", keys, workers=1)
    assert_ready_then_pings([*CLI, "central", "--config", str(cfg)], notify_socket)


# -- what central holds: central-verify and GET /v1/stations/{s}/head ------------------------------

def _ingest_all(j: Any, store: Store, keys: KeyRegistry, after: int = 0) -> None:
    rows = [(int(s), str(t)) for s, t in j.db.execute(
        "SELECT seq, event FROM events WHERE seq > ? ORDER BY seq", (after,))]
    for b in protocol.frame_batches(rows, STATION, "2026-11-28T06:00:00.000Z", max_events=100,
                                    max_bytes=10**8):
        assert ingest(store, keys, STATION, b.payload).status == "stored"


def _verify_cli(tmp_path: Path, dsn: str, *, json_out: bool = True) -> subprocess.CompletedProcess[str]:
    """``central-verify`` as an operator runs it (in this process: the command is under test, not
    its process start)."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\ndsn = "{dsn}"\n[registry]\nkeys_dir = "{tmp_path / "keys"}"\n')
    return run_cli("central-verify", "--config", str(cfg), "--station", STATION,
                   *(["--json"] if json_out else []))


def test_central_verify_and_the_head_route_say_the_same(tmp_path: Path, dsn: str) -> None:
    j = make_station(tmp_path, STATION, tmp_path / "keys")
    append_events(j, 450)
    keys = KeyRegistry(tmp_path / "keys")
    store = Store(dsn)
    _ingest_all(j, store, keys)
    audit.install(audit.Auditor(health.StoreProbe(dsn).use, keys))
    cfg, base = central_http(tmp_path, dsn=dsn)
    h = {"Authorization": "Bearer " + station_token(cfg, STATION, tmp_path).read_text().strip()}
    other = {"Authorization": "Bearer " + station_token(cfg, "st-zzz", tmp_path).read_text().strip()}
    server = serve_in_thread(cfg)
    url = f"{base}/v1/stations/{STATION}/head"
    try:
        r = _verify_cli(tmp_path, dsn)
        assert r.returncode == 0, r.stderr
        by_cli = json.loads(r.stdout)
        head_hash = j.db.execute("SELECT hash FROM events WHERE seq=450").fetchone()[0]
        assert by_cli == {"station_id": STATION, "count": 450, "head_seq": 450, "head_hash": head_hash,
                          "verified": True, "problem": None}
        assert requests.get(url, timeout=10).status_code == 401
        assert requests.get(url, headers=other, timeout=10).status_code == 403
        assert requests.get(url, headers=h, timeout=10).json() == by_cli
        append_events(j, 50, start=450)  # the route verifies only what is new
        _ingest_all(j, store, keys, after=450)
        doc = requests.get(url, headers=h, timeout=10).json()
        assert (doc["count"], doc["head_seq"], doc["verified"]) == (500, 500, True)
        assert requests.get(f"{base}/v1/stations/st-zzz/head", headers=other, timeout=10).status_code == 404
        # An event altered in central's store: both name it.
        store._exec("UPDATE central_events SET event = replace(event, '\"i\":7,', '\"i\":8,') "
                    "WHERE station_id=? AND seq=8", (STATION,))
        r = _verify_cli(tmp_path, dsn)
        assert r.returncode == 1 and json.loads(r.stdout)["problem"].startswith("seq 8: hash mismatch")
        audit.install(audit.Auditor(health.StoreProbe(dsn).use, keys))  # a fresh process' view
        doc = requests.get(url, headers=h, timeout=10).json()
        assert doc["verified"] is False and doc["problem"].startswith("seq 8:")
        text = _verify_cli(tmp_path, dsn, json_out=False)
        assert "events   500" in text.stdout and "DOES NOT VERIFY: seq 8" in text.stdout
    finally:
        server.shutdown()
        store.close()
        j.close()
