"""Indicator evaluation time for a simulated city-day on PostgreSQL.

Writes 1,300 stations x 200 events of one day straight into a fresh central
store (COPY; no ingest): per station a start, 4 deliveries of 24 decided lines
with their clips, some price excesses, rejections, late and unsynced events.
The hashes are well-formed but the rows are no real chain and the signatures
do not verify: no indicator checks signatures (ingest did that before storing),
so the evaluation does the same work as on real rows. Master data (a school
per station, contract prices, diners) and a payments CSV are generated too. Only the evaluated day
is in the store (no 30-day history: rolling indicators see one day). Times the
read (query + JSON parse), all 14 indicators, and the warning inserts, each in wall time and in
this process's CPU time (the second is what a machine shared with other work distorts least), and
the memory the inputs take and the table's size on disk per event.

    .venv/bin/python bench/bench_indicators.py [STATIONS] [EVENTS_PER_STATION]
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from procstat import status_mb  # noqa: E402

from central.platform import engine  # noqa: E402
from central.platform import warnings as wt  # noqa: E402
from central.platform.config import IndicatorsSection  # noqa: E402
from central.platform.data import rfc3339  # noqa: E402
from central.store import Store  # noqa: E402
from tests.sync_harness import pg_schema  # noqa: E402

DAY = date(2026, 11, 30)
START = datetime(2026, 11, 29, 22, 0, tzinfo=UTC)  # 06:00 in Shanghai
COPY_SQL = ("COPY central_events (station_id, seq, event_id, type, at, hash, event, received_at) "
            "FROM STDIN")


def station_rows(n: int, per_station: int, start: datetime = START, seq0: int = 0) -> list[tuple[Any, ...]]:
    """Station ``n``'s morning from ``start`` (06:00 local), its seqs from ``seq0`` + 1."""
    station = f"st-{n:05d}"
    rows: list[tuple[Any, ...]] = []

    def add(typ: str, body: dict[str, Any], *, late: bool = False, synced: bool = True) -> int:
        seq = seq0 + len(rows) + 1
        at = start + timedelta(seconds=(seq - seq0) * 20 + n % 600)
        h = hashlib.sha256(f"{station}|{seq}".encode()).hexdigest()
        ev = {"seq": seq, "event_id": str(uuid.uuid4()), "type": typ, "station_id": station,
              "at": rfc3339(at), "clock_synced": synced, "boot_id": "b", "prev_hash": "0" * 64,
              "body": body, "hash": h,
              "sig": "A" * 88}
        received = at + (timedelta(hours=30) if late else timedelta(seconds=3))
        rows.append((station, seq, ev["event_id"], typ, ev["at"], h, json.dumps(ev, sort_keys=True),
                     rfc3339(received)))
        return seq

    add("station.started", {"version": "1"}, synced=n % 50 != 0)
    d = 0
    while len(rows) < per_station:
        delivery = str(uuid.uuid4())
        add("delivery.opened", {"delivery_id": delivery, "order_id": f"PO-{d}", "inspectors": ["i-1", "i-2"]})
        for line in range(24):
            if len(rows) >= per_station - 2:
                break
            rejected = (n + line) % 17 == 0
            delivered = 351 if (n + line) % 97 == 0 else 350
            seq = add("line.rejected" if rejected else "line.accepted", {
                "delivery_id": delivery, "order_id": f"PO-{d}", "line_id": str(line),
                "item": {"code": f"veg-{line:04d}", "category": "vegetable"}, "measured": {"net_g": 15000},
                "delivered_by": f"sup-{n % 40}", "supplier": {"supplier_id": f"sup-{n % 40}"},
                "price": {"ordered_unit_price_fen": 350, "delivered_unit_price_fen": delivered,
                          "price_per": "jin", "amount_fen": None if rejected else 10500},
                "inspectors": ["i-1", "i-2"], "clip_id": str(uuid.uuid4())}, late=(n + line) % 400 == 0)
            if (n + line) % 150:
                add("clip.finalized", {"clip_id": "c", "event_seq": seq, "sha256": "c" * 64})
        add("delivery.closed", {"delivery_id": delivery, "order_id": f"PO-{d}"})
        d += 1
    return rows[:per_station]


def master_files(tmp: Path, stations: int) -> IndicatorsSection:
    """Master data (a school per station, contract prices, diners) and payments, so every
    indicator has data to work through."""
    master = {"stations": {f"st-{n:05d}": f"school-{n:05d}" for n in range(stations)},
              "contract_prices": [{"supplier_id": f"sup-{s}", "item_code": f"veg-{i:04d}",
                                   "unit_price_fen": 340 if (s + i) % 50 == 0 else 350, "price_per": "jin"}
                                  for s in range(40) for i in range(24)],
              "diners": [{"school_id": f"school-{n:05d}", "date": (DAY - timedelta(days=k)).isoformat(),
                          "count": 800} for n in range(stations) for k in range(32)]}
    (tmp / "master.json").write_text(json.dumps(master))
    (tmp / "payments.csv").write_text("school_id,supplier_id,month,amount_fen\n" + "".join(
        f"school-{n:05d},sup-{n % 40},2026-11,{800000 + n}\n" for n in range(stations)))
    return IndicatorsSection(master_data_file=tmp / "master.json", payments_csv=tmp / "payments.csv")


def main() -> None:
    stations = int(sys.argv[1]) if len(sys.argv) > 1 else 1300
    per = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    days = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    old_k = int(sys.argv[4]) if len(sys.argv) > 4 else max(1, stations // 10)
    with pg_schema() as dsn, tempfile.TemporaryDirectory() as tmp:
        figures = day_only(dsn, Path(tmp), stations, per)
        if days:
            import indicator_history

            figures["history"] = indicator_history.run(dsn, tmp, stations, per, days, old_k)
    print(json.dumps(figures))


def day_only(dsn: str, tmp: Path, stations: int, per: int) -> dict[str, Any]:
    """The evaluated day alone in the store (the first figures, kept as they were measured)."""
    store = Store(dsn)
    t0 = time.perf_counter()
    with store.conn.cursor() as cur, cur.copy(COPY_SQL) as copy:
        for n in range(stations):
            for row in station_rows(n, per):
                copy.write_row(row)
    load_s = time.perf_counter() - t0
    t = master_files(tmp, stations)
    wt.ensure_tables(store)
    rss0 = status_mb("VmRSS")  # resident now: the read's inputs are what it holds
    t1, c1 = time.perf_counter(), time.process_time()
    inp = engine.gather(store, t, ROOT / "nonexistent-orders", DAY, as_of=START + timedelta(days=1))
    t2, c2 = time.perf_counter(), time.process_time()
    rss1 = status_mb("VmRSS")
    found = engine.evaluate(inp)
    t3, c3 = time.perf_counter(), time.process_time()
    new = wt.record(store, found)
    t4, c4 = time.perf_counter(), time.process_time()
    table_bytes = int(store.rows("SELECT pg_total_relation_size('central_events')")[0][0])
    store.close()
    by: dict[str, int] = {}
    for f in found:
        by[f.indicator] = by.get(f.indicator, 0) + 1
    events = len(inp.events)
    print(f"city-day: {stations} stations x {per} events = {events} events (generated in {load_s:.1f} s)")
    print(f"read + parse: {t2 - t1:.2f} s; indicators: {t3 - t2:.2f} s; store {len(new)} warnings: "
          f"{t4 - t3:.2f} s; total {t4 - t1:.2f} s")
    print(f"CPU of this process: read + parse {c2 - c1:.2f} s, indicators {c3 - c2:.2f} s, store "
          f"{c4 - c3:.2f} s; the inputs hold {rss1 - rss0:.0f} MB "
          f"({(rss1 - rss0) * 1024 / events:.1f} KB per event); load average {os.getloadavg()[0]:.1f}")
    print(f"central_events on disk (heap, TOAST, indexes): {table_bytes / len(inp.events):.0f} B per event")
    print("warnings by indicator: " + ", ".join(f"{k} {v}" for k, v in sorted(by.items())))
    return {"bench": "indicators", "store": "postgresql", "stations": stations, "events": events,
            "read_s": round(t2 - t1, 2), "evaluate_s": round(t3 - t2, 2),
            "store_warnings_s": round(t4 - t3, 2), "total_s": round(t4 - t1, 2),
            "warnings": len(new), "by_indicator": by,
            "table_bytes_per_event": round(table_bytes / len(inp.events)),
            "cpu_read_s": round(c2 - c1, 2), "cpu_evaluate_s": round(c3 - c2, 2),
            "cpu_store_s": round(c4 - c3, 2), "inputs_mb": round(rss1 - rss0),
            "load_average": round(os.getloadavg()[0], 2)}


if __name__ == "__main__":
    main()
