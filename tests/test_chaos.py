"""Chaos: the whole system as real processes, faults injected from outside at random (seeded).

A private mosquitto, central (supervisor and two ingest workers), the uplink, and the station on
a pty scale simulator with staff deciding through the kiosk API all along. Faults: SIGKILL of the
station, the uplink, a worker, central's supervisor alone; a broker outage; a full data disk (a
small tmpfs where root may mount one, else RLIMIT_FSIZE on the station process). Afterwards
central must equal the journal seq by seq and hash by hash, the chain verify on both sides, and
every decision the API reported be in the journal exactly once. ``CHAOS_SEED`` replays a run.

The pauses wait on the staff rather than on a guessed time, each no longer than the fixed pause
it replaced (a fault may stop the staff): before each fault until zero or one more decision was
reported (at most 4 s), then up to a second more, so a fault lands anywhere in a decision's
cycle or on the heels of the previous fault; a broker outage until staff began and finished two
to four decisions during it (at least the uplink's 4 s backoff cap, at most 10 s); a full disk
until an attempt begun on it was refused (at most 5 s). At the end, until one more decision and
ten in all. On a quiet machine a run takes what the staff's work takes.
"""

from __future__ import annotations

import json
import os
import random
import resource
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import requests

from central.store import Store
from sync.config import UplinkSection
from tests.cli_inproc import run_cli
from tests.station_proc import AT_WORK, Operator, Reported, SmallDisk, StationProc
from tests.sync_harness import Broker, central_config, cli, free_port
from tests.waiting import wait_until

SID = "chaos-station-01"


class System:
    """The processes of one run, each restartable."""

    def __init__(self, tmp: Path, seed: int) -> None:
        self.tmp, self.seed, self.rng = tmp, seed, random.Random(seed)
        self.broker = Broker(tmp)
        self.disk = SmallDisk(tmp / "disk", 64)
        self.disk_mode = "tmpfs" if os.environ.get("CHAOS_DISK") != "rlimit" and self.disk.mount() \
            else "rlimit"
        self.station = StationProc(tmp, SID, self.disk.path / "data", broker=self.broker, config=AT_WORK)
        keys = tmp / "keys"
        keys.mkdir()
        (keys / f"{SID}.pub").write_text(self.station.cli("keys", "show", "--config",
                                                          str(self.station.config)).stdout.split()[-1])
        self.dsn = f"sqlite:///{tmp / 'central.db'}"
        self.http = free_port()
        self.central_cfg = central_config(tmp, self.broker, self.dsn, keys, workers=2,
                                          http_port=self.http)
        from central import tokens  # the head route answers only the station, with its token

        self.token, _ = tokens.issue(tmp / "central-tokens", SID)
        self.central: subprocess.Popen[bytes] | None = None
        self.uplink: subprocess.Popen[bytes] | None = None
        self.log = tmp / "procs.log"
        self.staff: Staff | None = None  # at work from the first fault on

    def decisions(self, n: int, at_most: float) -> None:
        """Let staff report ``n`` more decisions (for at most ``at_most`` s: a fault may stop them)."""
        assert self.staff is not None
        self.staff.await_more(n, at_most)

    def start(self) -> None:
        self.broker.start()
        self.station.import_orders()
        self.station.start()
        self.start_central()
        self.start_uplink()

    def start_central(self) -> None:
        self.central = cli("central", "--config", str(self.central_cfg), log=self.log)

    def start_uplink(self) -> None:
        self.uplink = cli("sync", "--config", str(self.station.config), log=self.log)

    def workers(self) -> list[int]:
        assert self.central is not None
        try:
            return [int(x) for x in Path(f"/proc/{self.central.pid}/task/{self.central.pid}/children")
                    .read_text().split()]
        except FileNotFoundError:
            return []

    def stop(self) -> None:
        """Everything asked to stop at once, then waited for (each stops on its own)."""
        procs = (self.uplink, self.central, self.station.proc)
        running = [p for p in procs if p is not None and p.poll() is None]
        for p in running:
            p.send_signal(signal.SIGTERM)
        for p in running:
            if p is not self.station.proc:
                p.wait(30)
        self.station.close()  # waits for the station (SIGKILL after 30 s)
        self.broker.kill()
        self.disk.umount()


def _head(s: System) -> dict[str, Any] | None:
    """Central's view of the station's chain; None while its HTTP server is not listening (after
    a supervisor restart the ingest workers start first, and may have caught up already)."""
    try:
        r = requests.get(f"http://127.0.0.1:{s.http}/v1/stations/{SID}/head", timeout=10,
                         headers={"Authorization": f"Bearer {s.token}"})
    except (requests.ConnectionError, requests.Timeout):
        return None
    return dict(r.json())


# -- the faults ----------------------------------------------------------------------------------

def kill_station(s: System) -> None:
    s.station.kill()
    time.sleep(s.rng.uniform(0.2, 2.0))
    s.station.start()


def kill_uplink(s: System) -> None:
    assert s.uplink is not None
    s.uplink.send_signal(signal.SIGKILL)
    s.uplink.wait(10)
    time.sleep(s.rng.uniform(0.2, 2.0))
    s.start_uplink()


def kill_worker(s: System) -> None:
    pids = s.workers()
    if pids:
        os.kill(s.rng.choice(pids), signal.SIGKILL)  # the supervisor restarts it


def kill_supervisor(s: System) -> None:
    assert s.central is not None
    pids = s.workers()
    s.central.send_signal(signal.SIGKILL)
    s.central.wait(10)
    # Seconds at most (test_central_service measures it); more only when a worker was
    # itself just starting on a machine this loaded.
    wait_until(lambda: all(_gone(p) for p in pids), 15, "central's workers to die with it")
    time.sleep(s.rng.uniform(0.5, 2.0))  # systemd's RestartSec
    s.start_central()


def broker_outage(s: System) -> None:
    s.broker.kill()
    # At least the uplink's longest reconnect backoff (it reaches its cap while the broker is
    # away), and until decisions begun during the outage were journaled where nothing reaches central.
    at_least = time.monotonic() + UplinkSection().backoff_max_s
    assert s.staff is not None
    s.staff.await_fresh(s.rng.randint(2, 4), 10.0, reported=True)
    time.sleep(max(0.0, at_least - time.monotonic()))
    s.broker.start()


def full_disk(s: System) -> None:
    assert s.staff is not None
    if s.disk_mode == "tmpfs":
        s.disk.fill()
        s.staff.await_fresh(1, 5.0, reported=False)  # an attempt on it refused
        s.disk.free()
        return
    assert s.station.proc is not None
    pid = s.station.proc.pid
    hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)[1]
    resource.prlimit(pid, resource.RLIMIT_FSIZE, (0, hard))
    s.staff.await_fresh(1, 5.0, reported=False)  # an attempt on it refused
    if s.station.proc.poll() is None and s.station.proc.pid == pid:
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (hard, hard))


FAULTS: list[Callable[[System], None]] = [kill_station, kill_station, kill_uplink, kill_uplink,
                                          kill_worker, kill_worker, kill_supervisor, broker_outage,
                                          full_disk]


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] in "ZX"
    except (FileNotFoundError, ProcessLookupError):
        return True


# -- staff at work all along ---------------------------------------------------------------------

class Staff(threading.Thread):
    def __init__(self, station: StationProc) -> None:
        super().__init__(name="staff", daemon=True)
        self.op = Operator(station)
        self.stop = threading.Event()
        self.reported: list[Reported] = []
        self.refused: dict[str, int] = {}
        self.attempts = 0
        self.finished: list[tuple[int, bool]] = []  # (attempt, reported) as each attempt ends
        self.changed = threading.Condition()  # notified after each attempt's outcome

    def await_more(self, n: int, at_most: float) -> None:
        """Until ``n`` more decisions were reported, or ``at_most`` seconds passed."""
        with self.changed:
            target = len(self.reported) + n
            self.changed.wait_for(lambda: len(self.reported) >= target, at_most)

    def await_fresh(self, n: int, at_most: float, *, reported: bool) -> None:
        """Until ``n`` attempts begun from now on ended reported (or not, as ``reported`` says),
        or ``at_most`` seconds passed."""
        with self.changed:
            since = self.attempts
            self.changed.wait_for(lambda: sum(1 for a, ok in self.finished
                                              if a > since and ok is reported) >= n, at_most)

    def run(self) -> None:
        while not self.stop.is_set():
            with self.changed:
                self.attempts += 1
                attempt = self.attempts
            rep, code = None, "no answer"
            try:  # a weight of its own, so the journal shows which attempt an event is
                rep, r = self.op.decide(10_000 + 10 * attempt)
                code = str(r.json().get("error")) if rep is None else ""
            except (requests.RequestException, AssertionError, KeyError, TypeError, ValueError):
                pass  # the station was killed meanwhile, or its disk is full
            with self.changed:
                if rep is None:
                    self.refused[code] = self.refused.get(code, 0) + 1
                else:
                    self.reported.append(rep)
                self.finished.append((attempt, rep is not None))
                self.changed.notify_all()
            if rep is None:
                time.sleep(0.3)


# -- the checks ----------------------------------------------------------------------------------

def _journal(s: System) -> list[tuple[int, str, str]]:
    with closing(sqlite3.connect(s.station.db_path)) as c:
        return [(int(a), str(b), str(t)) for a, b, t in
                c.execute("SELECT seq, hash, event FROM events ORDER BY seq")]


def _central(s: System) -> list[tuple[int, str, str]]:
    store = Store(s.dsn)
    try:
        return [(int(a), str(b), str(t)) for a, b, t in store.rows(
            "SELECT seq, hash, event FROM central_events WHERE station_id=? ORDER BY seq", (SID,))]
    finally:
        store.close()


def _check_reported(journal: list[tuple[int, str, str]], reported: list[Reported]) -> None:
    lines = {seq: json.loads(text) for seq, _, text in journal if '"type":"line.' in text}
    by_weight: dict[int, list[int]] = {}
    for seq, ev in lines.items():
        by_weight.setdefault(int(ev["body"]["measured"]["net_g"]), []).append(seq)
    for rep in reported:
        ev = lines.get(rep.seq)
        assert ev is not None, f"reported decision seq {rep.seq} is not a line event in the journal"
        assert ev["type"] == f"line.{rep.outcome}" and ev["body"]["measured"]["net_g"] == rep.net_g
        assert by_weight[rep.net_g] == [rep.seq], f"{rep} recorded {len(by_weight[rep.net_g])} times"
    assert len({r.seq for r in reported}) == len(reported)


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    seed = int(os.environ.get("CHAOS_SEED") or time.time_ns() % 2**31)
    print(f"\nCHAOS_SEED={seed}")
    s = System(tmp_path, seed)
    try:
        yield s
    finally:
        s.stop()


@pytest.mark.slow
def test_chaos_nothing_lost_nothing_twice(system: System) -> None:
    s = system
    t0 = time.monotonic()
    s.start()
    wait_until(lambda: s.station.state() is not None, 30, "the station")
    phases = {"start": time.monotonic() - t0}
    staff = s.staff = Staff(s.station)
    staff.start()
    faults = list(FAULTS) + [s.rng.choice(FAULTS) for _ in range(2)]
    s.rng.shuffle(faults)
    done = []
    try:
        for fault in faults:
            s.decisions(s.rng.choice([0, 1]), 4.0)
            time.sleep(s.rng.uniform(0.0, 1.0))  # anywhere in a decision's cycle
            t1 = time.monotonic()
            fault(s)
            done.append(f"{fault.__name__}({time.monotonic() - t1:.1f}s)")
        # The system at work again after the last fault, and at least ten decisions in the run.
        s.decisions(max(1, 10 - len(staff.reported)), 60.0)
    finally:
        staff.stop.set()
        staff.join(30)
    phases["faults"] = time.monotonic() - t0 - phases["start"]
    where = f"seed {s.seed} ({s.disk_mode}), faults {done}"
    # Everything reaches central without anyone's help.
    wait_until(lambda: len(_central(s)) == len(_journal(s)) and _journal(s), 60,
             f"central to catch up; {where}")
    phases["catch-up"] = time.monotonic() - t0 - sum(phases.values())
    journal, central = _journal(s), _central(s)
    assert [r[0] for r in journal] == list(range(1, len(journal) + 1)), where
    assert central == journal, f"central differs from the journal; {where}"
    _check_reported(journal, staff.reported)
    r = run_cli("verify", "--db", str(s.station.data_dir / "station.db"))
    assert r.returncode == 0, r.stdout + r.stderr
    head = wait_until(lambda: _head(s), 60, f"central's HTTP API; {where}")
    assert head["verified"] and head["count"] == head["head_seq"] == len(journal), head
    assert Store(s.dsn).alerts() == [], where
    takeovers = s.broker.log.read_text().count("already connected")
    assert takeovers == 0, f"{takeovers} session takeovers; {where}"
    print(f"{where}: {len(journal)} events, {len(staff.reported)} decisions reported of "
          f"{staff.attempts} attempts (not reported: {staff.refused}); central equal seq by seq "
          f"and hash by hash; seconds: {', '.join(f'{k} {v:.1f}' for k, v in phases.items())}")
    assert len(staff.reported) >= 10, where
