"""Warnings' end-to-end latency: from a station's event commit to the webhook's arrival (p50, p99).

Everything real: a station journal (edge) and its uplink (sync, default ``poll_interval_s`` 0.2 s) on
a mosquitto on a free loopback port; one central ingest worker process (``central --worker``) on
PostgreSQL; the indicator engine process in its periodic mode (``central indicators --periodic``,
full cycle every ``INTERVAL_S``, the immediate path every ``IMMEDIATE_POLL_S``; 0 = off, the
way it ran before); an HTTP receiver that checks
each POST's HMAC-SHA256 signature. The station records ``N`` rejected lines each followed by a
re-test-after-reject alert, at a random 0.3–1.0 s pace (seeded); the latency of one warning is the
webhook's arrival time minus the commit time of its alert event (both on this machine's clock).

    .venv/bin/python bench/bench_warning_latency.py [N=100] [IMMEDIATE_POLL_S=1.0] [INTERVAL_S=300]
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import load_config  # noqa: E402
from app.sync_cli import build_uplink  # noqa: E402
from tests.sync_harness import (  # noqa: E402
    Broker,
    InThread,
    central_config,
    make_station,
    pg_schema,
    station_config,
)
from tests.waiting import wait_until  # noqa: E402

SECRET = b"bench-latency-hook-secret"


class Receiver(BaseHTTPRequestHandler):
    got: dict[int, float]  # alert seq -> arrival time
    refused: list[int]

    def do_POST(self) -> None:
        now = time.time()
        body = self.rfile.read(int(self.headers["Content-Length"]))
        good = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(good, self.headers.get("X-Acceptance-Signature", "")):
            w = json.loads(body)
            if w["indicator"] == "retest_after_reject":
                self.got.setdefault(int(w["evidence"]["events"][0]["seq"]), now)
            self.send_response(204)
        else:
            self.refused.append(1)
            self.send_response(401)
        self.end_headers()

    def log_message(self, *a: Any) -> None:
        pass


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    poll = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    interval = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    rng = random.Random(15)
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    got: dict[int, float] = {}
    refused: list[int] = []
    http = ThreadingHTTPServer(("127.0.0.1", 0), type("R", (Receiver,), {"got": got, "refused": refused}))
    threading.Thread(target=http.serve_forever, daemon=True).start()
    (tmp / "hook.key").write_bytes(SECRET)
    broker = Broker(tmp)
    broker.start()
    keys = tmp / "keys"
    journal = make_station(tmp, "st-lat", keys)
    committed: dict[int, float] = {}
    procs: list[subprocess.Popen[bytes]] = []
    with pg_schema() as dsn:
        conf = central_config(tmp, broker, dsn, keys)
        conf.write_text(
            conf.read_text()
            + f"""
[indicators]
interval_s = {interval}
immediate_poll_s = {poll}

[warnings]
enabled = true
retries = 2
backoff_min_s = 0.1

[warnings.schools.'*']
mqtt = false

[[warnings.schools.'*'.webhooks]]
url = "http://127.0.0.1:{http.server_port}/hook"
secret_file = "{tmp / "hook.key"}"
"""
        )
        logs = {name: tmp / f"{name}.log" for name in ("worker", "engine")}
        cmds = {
            "worker": ["central", "--config", str(conf), "--worker", "0"],
            "engine": ["central", "indicators", "--config", str(conf), "--periodic"],
        }
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "app.cli", "--log-level", "INFO", *cmds[k]],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=logs[k].open("wb"),
            )
            for k in cmds
        ]
        uplink = InThread(
            build_uplink(load_config(station_config(tmp, "st-lat", broker, poll_interval_s=0.2)))
        )
        try:
            wait_until(lambda: "connected" in logs["worker"].read_text(), 60, "the worker to connect")
            wait_until(
                lambda: "indicators evaluated" in logs["engine"].read_text(), 60, "the first full cycle"
            )
            for _ in range(n):
                line = journal.append(
                    "line.rejected",
                    {
                        "delivery_id": "d-1",
                        "order_id": "PO-1",
                        "line_id": "1",
                        "delivered_by": "sup-1",
                        "price": {
                            "ordered_unit_price_fen": 350,
                            "delivered_unit_price_fen": 350,
                            "price_per": "jin",
                            "amount_fen": None,
                        },
                        "inspectors": ["i-1", "i-2"],
                    },
                )
                alert = journal.append(
                    "alert.raised",
                    {
                        "code": "RETEST_AFTER_REJECT",
                        "severity": "warning",
                        "message": "拒收后复检",
                        "refs": [line["seq"]],
                    },
                )
                committed[int(alert["seq"])] = time.time()
                time.sleep(rng.uniform(0.3, 1.0))  # the station's pace, not a wait on a condition
            wait_until(lambda: set(committed) <= set(got), 120, "every warning at the webhook")
        finally:
            uplink.close()
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(15)
            broker.kill()
            http.shutdown()
            journal.close()
    lat = sorted(got[s] - committed[s] for s in committed)
    p50, p99 = statistics.median(lat), lat[int(0.99 * (len(lat) - 1))]
    load_after = os.getloadavg()
    print(
        f"{n} re-test-after-reject alerts, station journal + uplink (poll 0.2 s) -> mosquitto -> 1 ingest "
        f"worker (PostgreSQL) -> indicator engine (--periodic, immediate poll {poll} s, "
        f"full cycle every {interval} s) -> HMAC webhook"
    )
    print(
        f"  latency event commit -> webhook: p50 {p50:.2f} s, p99 {p99:.2f} s, max {lat[-1]:.2f} s, "
        f"min {lat[0]:.2f} s; bad signatures {len(refused)}"
    )
    print(f"  load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (2 cores, shared)")
    print(
        json.dumps(
            {
                "bench": "warning_latency",
                "alerts": n,
                "immediate_poll_s": poll,
                "interval_s": interval,
                "p50_s": round(p50, 3),
                "p99_s": round(p99, 3),
                "max_s": round(lat[-1], 3),
                "min_s": round(lat[0], 3),
                "bad_signatures": len(refused),
                "load_before": round(load_before[0], 2),
                "load_after": round(load_after[0], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
