"""Central ingest events/s on SQLite and on PostgreSQL, verification included.

Drives ``central.ingest.ingest`` directly (no broker) with batches of 500
from a signed backlog: schema validation, hash, prev_hash link, Ed25519
signature, the insert and the commit of each batch. Also times the
verification alone (contract.chain.check_event) as the peer figure: the ceiling
one core can reach. Prints the figures and ends with one JSON line.

    .venv/bin/python bench/bench_sync_ingest.py [N_EVENTS]
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from central.ingest import KeyRegistry, ingest  # noqa: E402
from central.store import Store  # noqa: E402
from contract import protocol  # noqa: E402
from contract.chain import check_event  # noqa: E402
from tests.sync_harness import make_station, pg_schema, seal_backlog  # noqa: E402


def run(dsn: str, payloads: list[bytes], keys: KeyRegistry, n: int) -> float:
    store = Store(dsn)
    t0 = time.perf_counter()
    for p in payloads:
        out = ingest(store, keys, "st-bench", p)
        assert out.status == "stored", out.ack
    dt = time.perf_counter() - t0
    assert store.head("st-bench").last_seq == n
    store.close()
    return n / dt


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    j = make_station(tmp, "st-bench", tmp / "keys")
    seal_backlog(j, n)
    rows = [(int(s), str(t)) for s, t in j.db.execute("SELECT seq, event FROM events ORDER BY seq")]
    j.close()
    payloads = [b.payload for b in protocol.frame_batches(rows, "st-bench", "2026-11-28T06:00:00.000Z",
                                                          max_events=500, max_bytes=10**7)]
    keys = KeyRegistry(tmp / "keys")
    pub = keys("st-bench")
    assert pub is not None
    events = [json.loads(t) for _, t in rows]
    t0 = time.perf_counter()
    for e in events:
        assert check_event(e, pub) is None
    verify_only = n / (time.perf_counter() - t0)
    sqlite = run(f"sqlite:///{tmp / 'central.db'}", payloads, keys, n)
    with pg_schema() as dsn:
        pg = run(dsn, payloads, keys, n)
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"{n} events in batches of 500, one process, one core:")
    print(f"  verification alone (hash + Ed25519, peer ceiling) {verify_only:8.0f} ev/s")
    print(f"  ingest on SQLite (WAL, synchronous=FULL)          {sqlite:8.0f} ev/s")
    print(f"  ingest on PostgreSQL (local server)               {pg:8.0f} ev/s")
    print(json.dumps({"bench": "sync_ingest", "events": n, "verify_only_ev_s": round(verify_only),
                      "sqlite_ingest_ev_s": round(sqlite), "postgresql_ingest_ev_s": round(pg)}))


if __name__ == "__main__":
    main()
