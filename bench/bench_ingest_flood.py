"""Another station's ack latency while one station floods central with bad batches (issue 17).

Real mosquitto (shipped config, TLS), one ingest worker process, SQLite store.
Station B publishes one real batch every 50 ms and times each ack: first with
nothing else going on, then while station A publishes schema-valid batches of
100 events at seq 10⁹ with wrong signatures as fast as the broker takes them
(QoS 1, then QoS 0). Before issue 17 each such batch cost the worker ~309 ms
(all signatures checked, then a 300 ms sleep on the gap) and B's ack went from
0.02 s to 30 s. Prints the figures and ends with one JSON line.

    .venv/bin/python bench/bench_ingest_flood.py [SECONDS]
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ingest_flood import measure  # noqa: E402


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    figures: dict[str, float] = {"flood_s": seconds}
    for qos in (1, 0):
        tmp = Path(tempfile.mkdtemp(prefix=f"bench-flood-q{qos}-"))
        try:
            r = measure(tmp, seconds=seconds, qos=qos)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        base, flood = r["baseline"], r["flood"]
        print(f"QoS {qos} flood: {r['flood_batches_sent']} bad batches in {seconds:.0f} s "
              f"({r['flood_batches_sent'] / seconds:.0f}/s); {r['attacker_alert_rows']} alert rows")
        print(f"  B's ack latency  baseline p50 {base['p50_ms']} ms p95 {base['p95_ms']} ms "
              f"max {base['max_ms']} ms"
              f" | under flood p50 {flood['p50_ms']} ms p95 {flood['p95_ms']} ms max {flood['max_ms']} ms "
              f"({flood['n']} acks, all stored: {r['honest_stored_through'] == r['honest_sent']})")
        figures.update({f"q{qos}_flood_batches_per_s": round(r["flood_batches_sent"] / seconds),
                        f"q{qos}_baseline_p50_ms": base["p50_ms"], f"q{qos}_baseline_max_ms": base["max_ms"],
                        f"q{qos}_flood_p50_ms": flood["p50_ms"], f"q{qos}_flood_p95_ms": flood["p95_ms"],
                        f"q{qos}_flood_max_ms": flood["max_ms"],
                        f"q{qos}_attacker_alert_rows": r["attacker_alert_rows"]})
    print(json.dumps({"bench": "ingest_flood", **figures}))


if __name__ == "__main__":
    main()
