"""Journal appends per second, synchronous=FULL beside NORMAL, and the signing cost.

Each append is its own committed transaction (as the station does for a line
decision). Prints figures, then one JSON line with all of them.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contract.chain import canonical_json, event_hash, seal
from edge.journal import Journal

BODY = {"delivery_id": "0b6f7c1e-9a3f-4a55-8f7e-2d1f3f2f9a10", "order_id": "PO-20261128-0012",
        "line_id": "1", "item": {"code": "veg-0101", "name": "上海青", "spec": "散装"},
        "measured": {"net_g": 15200, "raw": "S S     15.200 kg"}, "reasons": [],
        "checks": [{"check": "quantity", "result": "pass", "detail": "实收 30.4 斤，订单 30 斤"}]}


def appends_per_s(sync: str, n: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        j = Journal(Path(d) / "b.db", Ed25519PrivateKey.generate(), "bench-station",
                    synchronous=sync)
        t = time.perf_counter()
        for _ in range(n):
            j.append("line.accepted", BODY)
        dt = time.perf_counter() - t
        j.close()
    return n / dt


def signing_us(n: int) -> tuple[float, float]:
    key = Ed25519PrivateKey.generate()
    ev = {"seq": 1, "event_id": "x", "type": "line.accepted", "station_id": "s", "at": "t",
          "clock_synced": True, "boot_id": "b", "prev_hash": "0" * 64, "body": BODY}
    t = time.perf_counter()
    for _ in range(n):
        event_hash(ev)
        canonical_json(ev)
    hash_us = (time.perf_counter() - t) / n * 1e6
    t = time.perf_counter()
    for _ in range(n):
        seal(ev, key)
    seal_us = (time.perf_counter() - t) / n * 1e6
    return hash_us, seal_us


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    full = appends_per_s("FULL", n)
    normal = appends_per_s("NORMAL", n)
    hash_us, seal_us = signing_us(5000)
    print(f"journal appends/s, synchronous=FULL:   {full:8.0f}  (target >= 300)")
    print(f"journal appends/s, synchronous=NORMAL: {normal:8.0f}  (peer; FULL/NORMAL = "
          f"{full / normal:.2f})")
    print(f"hash + canonical JSON per event: {hash_us:.1f} µs; hash + Ed25519 sign: {seal_us:.1f} µs")
    print(json.dumps({"appends_per_s_full": round(full), "appends_per_s_normal": round(normal),
                      "full_over_normal": round(full / normal, 3),
                      "hash_us_per_event": round(hash_us, 1),
                      "seal_us_per_event": round(seal_us, 1), "events": n}))


if __name__ == "__main__":
    main()
