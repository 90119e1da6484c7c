"""The stored per-station, per-day summaries the rolling indicators read (tables owned here).

An evaluation of day D needs up to 31 days before it (30-day medians, 30 days of inspectors, the
month's amounts, the week's rejections). Reading those days' events cost a city about 2 million
events per evaluation (docs/scale.md). Instead each past day is summarised once
(``central.platform.daily.summarise``: one small row per station) and the evaluation reads those rows.

Late events: ingest order is not day order (a station syncs days of backlog after an outage), so a
summarised day can still gain lines. Ingest stores a station's events in seq order and advances its
head (``central_heads``) in the same transaction, so every event stored since the last refresh has a
seq above the station's *mark* (its head at that refresh): each refresh reads the ``type`` and
``at`` of those events alone (a primary-key range, no JSON), and summarises again every
(station, day) that gained a line. A row records what it covers (``lines``, ``max_seq``).

Tables (SQLite and PostgreSQL, keyed by the time zone that drew the day boundaries):
``platform_day_aggregates`` (a station-day's summary), ``platform_aggregate_days`` (the days
summarised, every station), ``platform_aggregate_marks`` (each station's seq accounted for).
Refreshes run one at a time (a PostgreSQL advisory lock; SQLite's ``BEGIN IMMEDIATE``), so two engine
processes never store summaries older than their marks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from central.platform import daily
from central.platform.daily import LINES
from central.platform.data import EVENT_SQL, day_bounds, event_from_row, load_events, parse_at
from central.platform.model import DayAgg
from central.store import Store
from core import log
from core.clock import now_rfc3339

logger = logging.getLogger("central.platform.aggregates")

DDL = (
    """CREATE TABLE IF NOT EXISTS platform_day_aggregates (
        zone TEXT NOT NULL,
        station_id TEXT NOT NULL,
        day TEXT NOT NULL,
        lines INTEGER NOT NULL,
        max_seq BIGINT NOT NULL,
        data TEXT NOT NULL,
        computed_at TEXT NOT NULL,
        PRIMARY KEY (zone, day, station_id)
    )""",
    """CREATE TABLE IF NOT EXISTS platform_aggregate_days (
        zone TEXT NOT NULL,
        day TEXT NOT NULL,
        computed_at TEXT NOT NULL,
        PRIMARY KEY (zone, day)
    )""",
    """CREATE TABLE IF NOT EXISTS platform_aggregate_marks (
        zone TEXT NOT NULL,
        station_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        PRIMARY KEY (zone, station_id)
    )""",
)
LOCK = 727040
UPSERT = ("INSERT INTO platform_day_aggregates(zone, station_id, day, lines, max_seq, data, computed_at) "
          "VALUES (?,?,?,?,?,?,?) ON CONFLICT (zone, day, station_id) DO UPDATE SET lines=excluded.lines, "
          "max_seq=excluded.max_seq, data=excluded.data, computed_at=excluded.computed_at")
NEW_LINES = ("SELECT type, at FROM central_events WHERE station_id=? AND seq > ? AND seq <= ? "
             "AND type IN ('line.accepted', 'line.rejected')")
STATION_DAY = EVENT_SQL + " AND station_id=? AND type IN ('line.accepted', 'line.rejected')"


@dataclass(frozen=True)
class Refreshed:
    """What one refresh did: days summarised whole, station-days summarised again, stations rescanned."""

    days: int
    stale: int
    rescanned: int


def ensure_tables(store: Store) -> None:
    store.create_tables(DDL, LOCK)


def history(store: Store, zone: str, first: date, last: date) -> list[DayAgg]:
    """Every station's summary of the local days ``first``..``last`` in ``zone``, brought up to date
    first (days not summarised yet, and station-days that gained lines since, are summarised)."""
    ensure_tables(store)
    with store.transaction():
        if store.pg:
            store.execute("SELECT pg_advisory_xact_lock(?)", (LOCK,))
        done = refresh(store, zone, first, last)
        rows = store.rows("SELECT station_id, day, lines, max_seq, data FROM platform_day_aggregates "
                          "WHERE zone=? AND day >= ? AND day <= ?",
                          (zone, first.isoformat(), last.isoformat()))
    if done.days or done.stale:
        log.kv(logger, logging.INFO, "day aggregates refreshed", days=done.days, stale=done.stale,
               rescanned=done.rescanned)
    return sorted((daily.from_json(str(s), date.fromisoformat(str(d)), int(n), int(m), str(t))
                   for s, d, n, m, t in rows), key=lambda a: (a.day, a.station_id))


def refresh(store: Store, zone: str, first: date, last: date) -> Refreshed:
    """Summarise the days of ``first``..``last`` not summarised yet, and again every summarised
    station-day (of any date) that gained a line since the station's mark; then move the marks to
    the heads read at the start. Call inside a transaction that serialises refreshes (``history``)."""
    tz = ZoneInfo(zone)
    heads = [(str(s), int(h)) for s, h in store.rows("SELECT station_id, last_seq FROM central_heads")]
    marks = {str(s): int(q) for s, q in store.rows(
        "SELECT station_id, seq FROM platform_aggregate_marks WHERE zone=?", (zone,))}
    covered = {date.fromisoformat(str(d)) for (d,) in store.rows(
        "SELECT day FROM platform_aggregate_days WHERE zone=?", (zone,))}
    stale: set[tuple[str, date]] = set()
    rescanned = 0
    for station, head in heads:
        mark = marks.get(station, 0)
        if covered and head > mark:
            rescanned += 1
            for _typ, at in store.rows(NEW_LINES, (station, mark, head)):
                day = parse_at(str(at)).astimezone(tz).date()
                if day in covered:
                    stale.add((station, day))
    missing = [d for d in _days(first, last) if d not in covered]
    for day in missing:
        summaries = daily.summarise((day, e) for e in load_events(store, day, day, tz, LINES))
        store.execute("DELETE FROM platform_day_aggregates WHERE zone=? AND day=?", (zone, day.isoformat()))
        _store_rows(store, zone, summaries)
        store.execute("INSERT INTO platform_aggregate_days(zone, day, computed_at) VALUES (?,?,?) "
                      "ON CONFLICT (zone, day) DO NOTHING", (zone, day.isoformat(), now_rfc3339()))
    for station, day in sorted(stale):
        rows = store.rows(STATION_DAY, (*day_bounds(day, day, tz), station))
        _store_rows(store, zone, daily.summarise((day, event_from_row(r)) for r in rows))
    store.executemany("INSERT INTO platform_aggregate_marks(zone, station_id, seq) VALUES (?,?,?) "
                      "ON CONFLICT (zone, station_id) DO UPDATE SET seq=excluded.seq",
                      [(zone, s, h) for s, h in heads if h != marks.get(s)])
    return Refreshed(len(missing), len(stale), rescanned)


def _days(first: date, last: date) -> Iterable[date]:
    return (first + timedelta(days=n) for n in range((last - first).days + 1))


def _store_rows(store: Store, zone: str, summaries: list[DayAgg]) -> None:
    now = now_rfc3339()
    store.executemany(UPSERT, [(zone, a.station_id, a.day.isoformat(), a.lines, a.max_seq,
                               daily.to_json(a), now) for a in summaries])
