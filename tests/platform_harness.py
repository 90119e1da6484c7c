"""Crafted central events for the platform's indicator tests: rows written straight into the store."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from central.platform.data import rfc3339
from central.store import Store
from tests.sync_harness import pg_schema

DAY = "2026-11-30"  # a Monday; local Asia/Shanghai
STATION = "st-a"


def utc(local: str) -> datetime:
    """``HH:MM`` (or a full ``YYYY-MM-DD HH:MM``) local Shanghai time as an aware UTC datetime."""
    text = local if " " in local else f"{DAY} {local}"
    return datetime.fromisoformat(text + ":00+08:00").astimezone(UTC)


class Journal:
    """Builds one station's events with consecutive seqs."""

    def __init__(self, station: str = STATION) -> None:
        self.station = station
        self.rows: list[tuple[Any, ...]] = []

    def add(self, typ: str, at: datetime, body: dict[str, Any], *, delay: timedelta = timedelta(seconds=2),
            synced: bool = True) -> int:
        seq = len(self.rows) + 1
        h = hashlib.sha256(f"{self.station}|{seq}".encode()).hexdigest()
        ev = {"seq": seq, "event_id": str(uuid.uuid4()), "type": typ, "station_id": self.station,
              "at": rfc3339(at), "clock_synced": synced, "boot_id": "b", "prev_hash": "0" * 64,
              "body": body, "hash": h, "sig": "x"}
        self.rows.append((self.station, seq, ev["event_id"], typ, ev["at"], h,
                          json.dumps(ev, sort_keys=True), rfc3339(at + delay)))
        return seq

    def line(self, at: datetime, *, accepted: bool = True, ordered: int = 350, delivered: int | None = 350,
             supplier: str = "sup-1", inspectors: tuple[str, ...] = ("i-1", "i-2"), delivery: str = "d-1",
             line_id: str = "1", net_g: int = 15000, category: str = "vegetable", clip: bool = True,
             **kw: Any) -> int:
        body = {"delivery_id": delivery, "order_id": "PO-1", "line_id": line_id,
                "item": {"code": "veg-0101", "name": "上海青", "category": category},
                "measured": {"net_g": net_g}, "delivered_by": supplier, "supplier": {"supplier_id": supplier},
                "price": {"ordered_unit_price_fen": ordered, "delivered_unit_price_fen": delivered,
                          "price_per": "jin", "amount_fen": ordered * net_g // 500 if accepted else None},
                "inspectors": list(inspectors), "clip_id": str(uuid.uuid4())}
        seq = self.add("line.accepted" if accepted else "line.rejected", at, body, **kw)
        if clip:
            self.add("clip.finalized", at + timedelta(seconds=30),
                     {"clip_id": body["clip_id"], "event_seq": seq, "sha256": "c" * 64})
        return seq

    def honest_morning(self, day: str = DAY, delivery: str = "d-1") -> None:
        self.add("delivery.opened", utc(f"{day} 06:30"), {"delivery_id": delivery, "order_id": "PO-1",
                                                            "inspectors": ["i-1", "i-2"]})
        for n in range(3):
            self.line(utc(f"{day} 06:4{n}"), line_id=str(n + 1), delivery=delivery)
        self.add("delivery.closed", utc(f"{day} 06:50"), {"delivery_id": delivery, "order_id": "PO-1"})


def put(store: Store, *journals: Journal, start: int = 0) -> None:
    """Store the journals' rows from the ``start``-th on, and advance each station's head in the same
    transaction, as ingest does (the day aggregates find late events by the heads)."""
    with store.transaction():
        for j in journals:
            for row in j.rows[start:]:
                store._exec("INSERT INTO central_events(station_id, seq, event_id, type, at, hash, event, "
                            "received_at) VALUES (?,?,?,?,?,?,?,?)", row)
            if j.rows[start:]:
                store._exec("INSERT INTO central_heads(station_id, last_seq, last_hash, updated_at) "
                            "VALUES (?,?,?,?) ON CONFLICT (station_id) DO UPDATE SET "
                            "last_seq=excluded.last_seq, last_hash=excluded.last_hash",
                            (j.station, j.rows[-1][1], j.rows[-1][5], "x"))


def at_once(dsn: str, work: Callable[[Store], dict[str, Any]], n: int = 2) -> list[dict[str, Any]]:
    """Run ``work`` in ``n`` threads at the same moment, each on its own connection (as ``n``
    processes would); returns their results."""
    go = threading.Barrier(n)
    outs: list[dict[str, Any]] = []

    def one() -> None:
        own = Store(dsn)
        try:
            go.wait(10)
            outs.append(work(own))
        finally:
            own.close()

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(outs) == n, "a thread failed or did not finish"
    return outs


@pytest.fixture(params=["sqlite", "pg"])
def store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Store]:
    if request.param == "sqlite":
        s = Store(f"sqlite:///{tmp_path}/central.db")
        yield s
        s.close()
        return
    with pg_schema() as dsn:
        s = Store(dsn)
        yield s
        s.close()
