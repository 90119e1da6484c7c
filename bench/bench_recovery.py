"""Recovery time per fault kind, with the example configs' defaults (p50 and max over N rounds).

Real processes: a private mosquitto, central (``acceptance-station central``: supervisor, two
ingest workers, SQLite store), the uplink (``acceptance-station sync``), and for the station kill
the station itself (``acceptance-station run`` on a pty scale simulator). Configs set only ids,
paths and the broker's address; every timing option is the default, which is what
``config/*.example.toml`` shows. Each sync round writes a backlog of 1,000 signed events while
the fault lasts, then measures from the moment the system is whole again (the broker's return,
central's restart, the uplink's restart, the worker's kill) until central's head is the
journal's last seq. The station kill measures from the kill and restart until the kiosk API
answers. ``python bench/bench_recovery.py [--rounds N]``; ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.station_proc import AT_WORK, StationProc  # noqa: E402
from tests.sync_harness import Broker, cli, free_port, make_station, seal_backlog  # noqa: E402

SID = "bench-station-01"
BACKLOG = 1000
OUTAGE_S = 5.0


class Rig:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.broker = Broker(tmp)
        self.journal = make_station(tmp, SID, tmp / "keys")
        self.db = tmp / "central.db"
        self.central_cfg = tmp / "central.toml"
        self.central_cfg.write_text(
            f'[store]\ndsn = "sqlite:///{self.db}"\n[registry]\nkeys_dir = "{tmp / "keys"}"\n'
            f'[http]\nbind = "127.0.0.1:{free_port()}"\norders_dir = "{tmp / "orders"}"\n'
            f'menus_dir = "{tmp / "menus"}"\nclips_dir = "{tmp / "clips"}"\n'
            f'[broker]\nhost = "127.0.0.1"\nport = {self.broker.port}\n')
        self.station_cfg = tmp / "station.toml"
        self.station_cfg.write_text(
            f'[station]\nstation_id = "{SID}"\nschool_id = "bench-school"\ndata_dir = "{tmp / SID}"\n'
            f'key_path = "{tmp / "unused.key"}"\n[uplink]\norders_fetch = false\nclip_upload = false\n'
            f'[uplink.broker]\nhost = "127.0.0.1"\nport = {self.broker.port}\n')
        self.log = tmp / "procs.log"
        self.central: subprocess.Popen[bytes] | None = None
        self.uplink: subprocess.Popen[bytes] | None = None
        self.rng = random.Random(18)

    def start(self) -> None:
        self.broker.start()
        self.central = cli("central", "--config", str(self.central_cfg), log=self.log)
        self.uplink = cli("sync", "--config", str(self.station_cfg), log=self.log)

    def stop(self) -> None:
        for p in (self.uplink, self.central):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(30)
        self.broker.kill()

    def head(self) -> int:
        try:
            with closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)) as c:
                row = c.execute("SELECT last_seq FROM central_heads WHERE station_id=?", (SID,)).fetchone()
        except sqlite3.Error:
            return -1
        return -1 if row is None else int(row[0])

    def caught_up_after(self, t0: float, limit_s: float = 120.0) -> float:
        last = self.journal.last_seq()
        while self.head() < last:
            if time.monotonic() - t0 > limit_s:
                raise RuntimeError(f"central not caught up after {limit_s} s ({self.head()} < {last})")
            time.sleep(0.02)
        return time.monotonic() - t0

    def workers(self) -> list[int]:
        assert self.central is not None
        pid = self.central.pid
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    # -- faults: each returns the seconds to recovery ---------------------------------------
    def broker_outage(self) -> float:
        self.broker.kill()
        seal_backlog(self.journal, BACKLOG)
        time.sleep(OUTAGE_S)
        self.broker.start()
        return self.caught_up_after(time.monotonic())

    def central_restart(self) -> float:
        assert self.central is not None
        self.central.send_signal(signal.SIGKILL)  # the supervisor; its workers die with it
        self.central.wait(10)
        seal_backlog(self.journal, BACKLOG)
        self.central = cli("central", "--config", str(self.central_cfg), log=self.log)
        return self.caught_up_after(time.monotonic())

    def worker_kill(self) -> float:
        seal_backlog(self.journal, BACKLOG)
        time.sleep(0.05)  # mid-ingest
        os.kill(self.rng.choice(self.workers()), signal.SIGKILL)
        return self.caught_up_after(time.monotonic())

    def uplink_restart(self) -> float:
        assert self.uplink is not None
        self.uplink.send_signal(signal.SIGKILL)
        self.uplink.wait(10)
        seal_backlog(self.journal, BACKLOG)
        self.uplink = cli("sync", "--config", str(self.station_cfg), log=self.log)
        return self.caught_up_after(time.monotonic())


def station_restart(st: StationProc) -> float:
    st.kill()
    t0 = time.monotonic()
    st.start()
    while st.state() is None:
        if time.monotonic() - t0 > 60:
            raise RuntimeError("station API not back in 60 s")
        time.sleep(0.02)
    return time.monotonic() - t0


def summary(name: str, times: list[float]) -> dict[str, float]:
    return {f"{name}_p50_s": round(statistics.median(times), 2), f"{name}_max_s": round(max(times), 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    out: dict[str, object] = {"bench": "recovery", "rounds": args.rounds, "backlog_events": BACKLOG,
                              "broker_outage_s": OUTAGE_S}
    with tempfile.TemporaryDirectory() as d:
        rig = Rig(Path(d))
        rig.start()
        try:
            seal_backlog(rig.journal, 10)
            rig.caught_up_after(time.monotonic())
            kinds: list[tuple[str, Callable[[], float], str]] = [
                ("broker_outage", rig.broker_outage, "broker's return -> central holds the backlog"),
                ("central_restart", rig.central_restart, "central restarted -> central holds it"),
                ("worker_kill", rig.worker_kill, "a worker SIGKILLed mid-ingest -> central holds it"),
                ("uplink_restart", rig.uplink_restart, "uplink restarted -> central holds it"),
            ]
            for name, fault, what in kinds:
                times = []
                for _ in range(args.rounds):
                    times.append(fault())
                    time.sleep(rig.rng.uniform(0.5, 1.5))
                out.update(summary(name, times))
                print(f"{name:16} p50 {statistics.median(times):6.2f} s  max {max(times):6.2f} s   ({what})",
                      flush=True)
        finally:
            rig.stop()
        st = StationProc(Path(d), "bench-kiosk-01", Path(d) / "kiosk", config=AT_WORK)
        st.import_orders()
        st.start()
        try:
            while st.state() is None:
                time.sleep(0.1)
            times = [station_restart(st) for _ in range(args.rounds)]
        finally:
            st.close()
        out.update(summary("station_restart", times))
        print(f"{'station_restart':16} p50 {statistics.median(times):6.2f} s  max {max(times):6.2f} s   "
              "(station SIGKILLed and restarted -> kiosk API answers)")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
