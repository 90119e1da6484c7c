"""The city-day's evaluation with 30 days of history in the store (part of bench_indicators.py).

Writes ``days`` more days of the same generated mornings before the evaluated day (COPY), sets the
stations' heads as ingest would, and measures whole evaluations (gather + all indicators), each in a
fresh spawned process so its CPU time (user + sys, ``getrusage``) and peak memory are its own. The
peak is the process's ``VmHWM`` (/proc/self/status): Linux carries ``ru_maxrss`` across ``exec`` from
the forked copy of the parent, so in a spawned child it starts at the parent's size.

- ``old``: the path before the day aggregates, every line event of the 31 days before D read and
  parsed (``engine.gather`` as it was), with the history of the first ``old_k`` stations only (all
  stations' would need more memory than this machine has); with ``old_k`` = 0 too, so the cost per
  station of history is measured and extrapolated linearly to all stations, and said so;
- ``backfill``: the first evaluation on a store whose history was never summarised (each past day
  summarised once from its line events, one day in memory at a time);
- ``steady``: every evaluation after it (the summaries read, no past events);
- ``late``: the same after one late line landed on a summarised day (one station-day again).

The PostgreSQL server's own CPU is not in these figures; the wall times include it.
"""

from __future__ import annotations

import multiprocessing
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench_indicators import COPY_SQL, DAY, ROOT, START, station_rows
from procstat import status_mb

from central.platform import engine
from central.platform.config import IndicatorsSection
from central.platform.data import (
    EVENT_SQL,
    day_bounds,
    event_from_row,
    load_alerts,
    load_events,
    load_master,
    load_payments,
    load_statuses,
)
from central.platform.model import Inputs
from central.store import Store

AGGREGATE_TABLES = ("platform_day_aggregates", "platform_aggregate_days", "platform_aggregate_marks")


def copy_history(store: Store, stations: int, per: int, days: int) -> float:
    """``days`` generated mornings before D for every station; returns the seconds it took."""
    t0 = time.perf_counter()
    with store.conn.cursor() as cur, cur.copy(COPY_SQL) as copy:
        for k in range(1, days + 1):
            for n in range(stations):
                for row in station_rows(n, per, START - timedelta(days=k), seq0=k * per):
                    copy.write_row(row)
    store.execute("INSERT INTO central_heads(station_id, last_seq, last_hash, updated_at) "
                  "SELECT station_id, MAX(seq), 'h', 'x' FROM central_events GROUP BY station_id "
                  "ON CONFLICT (station_id) DO UPDATE SET last_seq=excluded.last_seq")
    for table in AGGREGATE_TABLES:  # the day-only run summarised the (then empty) days before D
        store.execute(f"DELETE FROM {table}")
    store.execute("ANALYZE central_events")
    return time.perf_counter() - t0


def old_gather(store: Store, t: IndicatorsSection, stations: int) -> Inputs:
    """``engine.gather`` before the day aggregates: the 31 days' line events, of the first
    ``stations`` stations here, then D and D + 1 whole."""
    tz = ZoneInfo(t.timezone)
    first = DAY - timedelta(days=max(engine.HISTORY_DAYS, t.same_inspectors_days))
    rows = store.rows(EVENT_SQL + " AND type IN ('line.accepted', 'line.rejected') AND station_id < ?",
                      (*day_bounds(first, DAY - timedelta(days=1), tz), f"st-{stations:05d}"))
    history = [event_from_row(r) for r in rows]
    return Inputs(day=DAY, tz=tz, as_of=START + timedelta(days=1),
                  events=history + load_events(store, DAY, DAY + timedelta(days=1), tz),
                  alerts=load_alerts(store, DAY, tz), orders={}, master=load_master(t.master_data_file),
                  payments=load_payments(t.payments_csv), t=t, statuses=load_statuses(store, DAY, tz))


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(dsn: str, tmp: str, mode: str, old_k: int = 0) -> dict[str, Any]:
    """One whole evaluation in this (fresh) process: CPU-s, wall s, peak memory."""
    start_mb = status_mb("VmHWM")  # the interpreter and the imports
    store = Store(dsn)
    t = IndicatorsSection(master_data_file=Path(tmp) / "master.json", payments_csv=Path(tmp) / "payments.csv")
    c0, w0 = _cpu(), time.perf_counter()
    inp = (old_gather(store, t, old_k) if mode == "old"
           else engine.gather(store, t, ROOT / "nonexistent-orders", DAY, as_of=START + timedelta(days=1)))
    c1, w1 = _cpu(), time.perf_counter()
    found = engine.evaluate(inp)
    c2, w2 = _cpu(), time.perf_counter()
    store.close()
    by: dict[str, int] = {}
    for f in found:
        by[f.indicator] = by.get(f.indicator, 0) + 1
    return {"mode": mode, "history_stations": old_k if mode == "old" else None, "events": len(inp.events),
            "summaries": len(inp.history), "cpu_gather_s": round(c1 - c0, 2),
            "cpu_evaluate_s": round(c2 - c1, 2), "cpu_s": round(c2 - c0, 2), "wall_s": round(w2 - w0, 2),
            "wall_gather_s": round(w1 - w0, 2),
            "peak_mb": round(status_mb("VmHWM")),
            "start_mb": round(start_mb), "warnings": len(found), "by_indicator": by}


def in_child(*args: Any) -> dict[str, Any]:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(measure, *args).result()


def late_line(store: Store) -> None:
    """One line of station 5 for D - 5, stored now (seq past its head), its head advanced."""
    head = int(store.rows("SELECT last_seq FROM central_heads WHERE station_id='st-00005'")[0][0])
    row = station_rows(5, 5, START - timedelta(days=5), seq0=head - 2)[2]
    with store.transaction():
        store.execute("INSERT INTO central_events (station_id, seq, event_id, type, at, hash, event, "
                      "received_at) VALUES (?,?,?,?,?,?,?,?)", row)
        store.execute("UPDATE central_heads SET last_seq=? WHERE station_id='st-00005'", (row[1],))


def run(dsn: str, tmp: str, stations: int, per: int, days: int, old_k: int) -> dict[str, Any]:
    store = Store(dsn)
    load_s = copy_history(store, stations, per, days)
    total = int(store.rows("SELECT COUNT(*) FROM central_events")[0][0])
    print(f"history: {days} days x {stations} stations x {per} events written (COPY) in {load_s:.0f} s; "
          f"{total} events in the store")
    out: dict[str, Any] = {"days": days, "events_in_store": total, "generate_s": round(load_s)}
    old0, oldk = in_child(dsn, tmp, "old", 0), in_child(dsn, tmp, "old", old_k)
    scale = stations / old_k
    old = {"measured": [old0, oldk],
           "extrapolated_cpu_s": round(old0["cpu_s"] + (oldk["cpu_s"] - old0["cpu_s"]) * scale, 1),
           "extrapolated_peak_mb": round(old0["peak_mb"] + (oldk["peak_mb"] - old0["peak_mb"]) * scale),
           "extrapolated_events": round(old0["events"] + (oldk["events"] - old0["events"]) * scale)}
    out["old"] = old
    for r in (old0, oldk):
        print(f"old path, history of {r['history_stations']} stations: {r['events']} events, "
              f"{r['cpu_s']} CPU-s ({r['wall_s']} s wall), peak {r['peak_mb']} MB")
    print(f"old path extrapolated to {stations} stations' history: {old['extrapolated_events']} events, "
          f"{old['extrapolated_cpu_s']} CPU-s, peak {old['extrapolated_peak_mb']} MB")
    for mode in ("backfill", "steady", "late"):
        if mode == "late":
            late_line(store)
        r = out[mode] = in_child(dsn, tmp, mode)
        print(f"{mode}: {r['events']} events + {r['summaries']} day summaries, {r['cpu_s']} CPU-s "
              f"(gather {r['cpu_gather_s']}, indicators {r['cpu_evaluate_s']}; {r['wall_s']} s wall), "
              f"peak {r['peak_mb']} MB; warnings {r['warnings']}")
    out["aggregate_bytes"] = int(store.rows("SELECT pg_total_relation_size('platform_day_aggregates')")[0][0])
    store.close()
    return out
