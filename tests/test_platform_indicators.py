"""Each indicator fires on a crafted journal and stays silent on an honest morning; bounds are exact.

Runs on SQLite and PostgreSQL (a schema per test): events are written into central's store, the
engine reads them back, warnings are stored once by id.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from central.platform import engine
from central.platform import warnings as wt
from central.platform.config import IndicatorsSection
from central.platform.data import DataError, load_master, load_payments, rfc3339
from central.store import Store
from tests.platform_harness import DAY, STATION, Journal, put, store, utc

__all__ = ["store"]
D = date.fromisoformat(DAY)
AS_OF = utc("23:59")


def run(store: Store, tmp: Path, **t: Any) -> dict[str, list[dict[str, Any]]]:
    found = engine.run_day(store, IndicatorsSection(**t), tmp / "orders", D, as_of=AS_OF)
    out: dict[str, list[dict[str, Any]]] = {}
    for f in found:
        out.setdefault(f.indicator, []).append(f.as_json())
    return out


def orders(tmp: Path, window: tuple[str, str] = ("05:30", "09:30"), split: int = 1) -> None:
    d = tmp / "orders" / STATION
    d.mkdir(parents=True, exist_ok=True)
    docs = [{"order_id": f"PO-{n + 1}", "window": {"from": window[0], "to": window[1]},
             "lines": [{"line_id": "1", "item": {"code": "veg-0101"}}]} for n in range(split)]
    (d / f"{DAY}.json").write_text(json.dumps({"orders": docs}))


def status(store: Store, at: str, online: bool, station: str = STATION) -> None:
    """A status as the station sends it (online) or its LWT (offline), received at local ``at``."""
    doc = ({"schema": "acceptance.status/1", "station_id": station, "online": True, "at": "x"} if online
           else {"schema": "acceptance.status/1", "station_id": station, "online": False})
    store.save_status(station, json.dumps(doc), rfc3339(utc(at)))


def test_honest_morning_is_silent(store: Store, tmp_path: Path) -> None:
    j = Journal()
    j.honest_morning()
    put(store, j)
    orders(tmp_path)
    status(store, "2026-11-29 18:00", False)  # switched off overnight
    status(store, "05:25", True)
    status(store, "05:26", True)  # the retained status again: no change
    status(store, "09:31", False)  # after the window
    assert run(store, tmp_path) == {}
    assert len(store.rows("SELECT * FROM central_status_history")) == 3


def test_offline_in_window_from_status_history(store: Store, tmp_path: Path) -> None:
    orders(tmp_path, ("05:30", "09:30"))
    status(store, "2026-11-29 20:00", True)
    status(store, "07:00", False)
    status(store, "07:10", True)  # exactly 10 minutes offline inside the window
    assert run(store, tmp_path, offline_window_min=10) == {}
    found = run(store, tmp_path, offline_window_min=9)["station_offline_in_window"]
    assert found[0]["evidence"]["offline"] == [["2026-11-30T07:00:00+08:00", "2026-11-30T07:10:00+08:00"]]
    assert found[0]["evidence"]["offline_minutes"] == 10.0


def test_offline_since_the_night_before_counts_from_the_window(store: Store, tmp_path: Path) -> None:
    orders(tmp_path, ("05:30", "09:30"))
    status(store, "2026-11-29 20:00", True)
    status(store, "2026-11-29 22:00", False)  # its LWT: the link dropped
    status(store, "06:00", True)
    found = run(store, tmp_path)["station_offline_in_window"]
    assert found[0]["evidence"]["offline"] == [["2026-11-30T05:30:00+08:00", "2026-11-30T06:00:00+08:00"]]
    # Only what has happened by the evaluation counts: offline from 09:00, evaluated at 09:05.
    status(store, "09:00", False)
    inp = engine.gather(store, IndicatorsSection(), tmp_path / "orders", D, as_of=utc("09:05"))
    again = [f for f in engine.evaluate(inp) if f.indicator == "station_offline_in_window"]
    assert again[0].evidence["offline"][1] == ["2026-11-30T09:00:00+08:00", "2026-11-30T09:05:00+08:00"]
    assert again[0].evidence["offline_minutes"] == 35.0


def test_price_above_order_counts_rejected_lines_and_the_bound(store: Store, tmp_path: Path) -> None:
    j = Journal()
    on_bound = j.line(utc("06:40"), ordered=350, delivered=385)      # exactly +10 %
    above = j.line(utc("06:41"), accepted=False, ordered=350, delivered=386)
    put(store, j)
    found = run(store, tmp_path, price_over_order_pct=10)["price_above_order"]
    assert [f["evidence"]["events"][0]["seq"] for f in found] == [above]
    assert found[0]["evidence"]["events"][0]["type"] == "line.rejected" and on_bound != above
    assert found[0]["evidence"]["events"][0]["hash"] == j.rows[above - 1][5]


def test_rerun_dedups_by_warning_id(store: Store, tmp_path: Path) -> None:
    j = Journal()
    j.line(utc("06:40"), delivered=351)
    put(store, j)
    assert len(run(store, tmp_path)["price_above_order"]) == 1
    assert run(store, tmp_path) == {}
    assert [w["indicator"] for w in wt.warnings(store)] == ["price_above_order"]


def test_price_above_contract(store: Store, tmp_path: Path) -> None:
    master = tmp_path / "master.json"
    master.write_text(json.dumps({"stations": {STATION: "school-1"}, "contract_prices": [
        {"supplier_id": "sup-1", "item_code": "veg-0101", "unit_price_fen": 300, "price_per": "jin"}]}))
    j = Journal()
    j.line(utc("06:40"), ordered=330, delivered=330)  # +10 %: on the bound
    put(store, j)
    assert run(store, tmp_path, master_data_file=master, price_over_contract_pct=10) == {}
    found = run(store, tmp_path, master_data_file=master, price_over_contract_pct=9)["price_above_contract"]
    assert found[0]["school_id"] == "school-1" and found[0]["evidence"]["contract_unit_price_fen"] == 300


def test_supplier_rejection_rate_over_a_week(store: Store, tmp_path: Path) -> None:
    j = Journal()
    for n in range(10):  # 2 of 10 rejected = 20 %, on the bound; the first 6 days before
        j.line(utc(f"2026-11-{24 + n % 7} 06:40"), accepted=n >= 2, line_id=str(n))
    put(store, j)
    assert run(store, tmp_path, rejection_rate_pct=20) == {}
    found = run(store, tmp_path, rejection_rate_pct=19)["supplier_rejection_rate"]
    assert found[0]["evidence"]["lines"] == 10 and found[0]["evidence"]["rejected"] == 2
    assert run(store, tmp_path, rejection_rate_pct=1, rejection_min_lines=11) == {}


def test_delivery_outside_window_on_the_bound(store: Store, tmp_path: Path) -> None:
    orders(tmp_path, ("05:30", "06:20"))
    j = Journal()
    j.add("delivery.opened", utc("06:30"), {"delivery_id": "d-1", "order_id": "PO-1"})
    put(store, j)
    assert run(store, tmp_path, window_grace_min=10) == {}  # 06:30:00 == 06:20 + 10 min
    assert run(store, tmp_path, window_grace_min=9)["delivery_outside_window"][0]["evidence"]["window"] == {
        "from": "05:30", "to": "06:20"}


def test_station_alerts_retest_and_typed_temperature(store: Store, tmp_path: Path) -> None:
    j = Journal()
    j.honest_morning()
    a = j.add("alert.raised", utc("06:55"), {"code": "RETEST_AFTER_REJECT", "message": "m", "refs": [2]})
    b = j.add("alert.raised", utc("06:56"), {"code": "TEMP_TYPED_AFTER_REJECT", "message": "t", "refs": [3]})
    j.add("alert.raised", utc("06:57"), {"code": "CLIP_MISSING", "message": "c", "refs": []})
    put(store, j)
    found = run(store, tmp_path)
    assert set(found) == {"retest_after_reject", "temp_typed_after_reject"}
    assert found["retest_after_reject"][0]["evidence"]["events"][0]["seq"] == a
    assert found["temp_typed_after_reject"][0]["evidence"]["refs"] == [3] and b


def test_acceptance_without_clip_after_the_grace(store: Store, tmp_path: Path) -> None:
    j = Journal()
    missing = j.line(utc("23:00"), clip=False)      # 59 min before AS_OF: within the grace
    j.line(utc("22:59"), clip=False, line_id="2")   # exactly 60 min: still silent
    late = j.line(utc("22:58"), clip=False, line_id="3")
    put(store, j)
    found = run(store, tmp_path, clip_grace_min=60)["acceptance_without_clip"]
    assert [f["evidence"]["events"][0]["seq"] for f in found] == [late] and missing


def test_same_two_inspectors_for_thirty_days(store: Store, tmp_path: Path) -> None:
    j = Journal()
    for n in range(10):
        day = (D - timedelta(days=29 - 3 * n)).isoformat()
        j.honest_morning(day, delivery=f"d-{n}")
    put(store, j)
    found = run(store, tmp_path, same_inspectors_min_deliveries=10)["same_inspectors"]
    assert found[0]["evidence"]["inspectors"] == ["i-1", "i-2"] and found[0]["evidence"]["deliveries"] == 10
    assert "same_inspectors" not in run(store, tmp_path, same_inspectors_min_deliveries=11)


def test_rotating_inspectors_are_silent(store: Store, tmp_path: Path) -> None:
    j = Journal()
    for n in range(12):
        j.line(utc(f"{(D - timedelta(days=29 - 2 * n)).isoformat()} 06:40"), delivery=f"d-{n}",
               inspectors=("i-1", "i-2") if n % 2 else ("i-1", "i-3"))
    put(store, j)
    assert "same_inspectors" not in run(store, tmp_path, same_inspectors_min_deliveries=10)


def test_late_arrival_and_unsynced_clock(store: Store, tmp_path: Path) -> None:
    j = Journal()
    j.add("station.started", utc("06:00"), {}, delay=timedelta(hours=24))  # exactly on the bound
    late = j.add("station.started", utc("06:01"), {}, delay=timedelta(hours=24, milliseconds=1))
    unsynced = j.add("station.started", utc("06:02"), {}, synced=False)
    put(store, j)
    found = run(store, tmp_path, late_arrival_h=24)
    assert [e["seq"] for e in found["late_arrival"][0]["evidence"]["events"]] == [late]
    assert [e["seq"] for e in found["clock_unsynced"][0]["evidence"]["events"]] == [unsynced]


def test_chain_alerts_from_ingest(store: Store, tmp_path: Path) -> None:
    with store.transaction():
        store.add_alert(STATION, 7, "FORK", "seq 7: fork")
    store._exec("UPDATE central_alerts SET raised_at=?", ("2026-11-30T01:00:00.000Z",))
    found = run(store, tmp_path)["chain_integrity"]
    assert found[0]["evidence"]["code"] == "FORK" and found[0]["evidence"]["seq"] == 7


def test_quantity_per_diner_band(store: Store, tmp_path: Path) -> None:
    master = tmp_path / "master.json"
    days = [(D - timedelta(days=n)).isoformat() for n in range(6)]
    master.write_text(json.dumps({"diners": [{"school_id": STATION, "date": d, "count": 100} for d in days]}))
    j = Journal()
    for d in days[1:]:
        j.line(utc(f"{d} 06:40"), net_g=10000)   # 100 g per diner for 5 days
    j.line(utc(f"{DAY} 06:40"), net_g=13000)     # 130 g: +30 %, on the bound
    put(store, j)
    assert run(store, tmp_path, master_data_file=master, quantity_band_pct=30) == {}
    found = run(store, tmp_path, master_data_file=master, quantity_band_pct=29)["quantity_per_diner"]
    ev = found[0]["evidence"]
    assert ev["g_per_diner"] == "130.0" and ev["median_g_per_diner"] == "100.0"


def test_split_orders(store: Store, tmp_path: Path) -> None:
    orders(tmp_path, split=3)
    assert run(store, tmp_path, split_orders_min=4) == {}
    assert run(store, tmp_path, split_orders_min=3)["split_orders"][0]["evidence"]["order_ids"] == [
        "PO-1", "PO-2", "PO-3"]


def test_finance_against_payments(store: Store, tmp_path: Path) -> None:
    j = Journal()
    j.honest_morning()  # 3 lines x 350 fen/jin x 30 jin = 31,500 fen
    put(store, j)
    pay = tmp_path / "payments.csv"
    pay.write_text(f"school_id,supplier_id,month,amount_fen\n{STATION},sup-1,2026-11,31400\n")
    assert run(store, tmp_path, payments_csv=pay, finance_tolerance_fen=100) == {}
    found = run(store, tmp_path, payments_csv=pay, finance_tolerance_fen=99)["finance"]
    assert found[0]["evidence"]["accepted_fen"] == 31500 and found[0]["evidence"]["paid_fen"] == 31400


def test_odd_bodies_and_orders_are_skipped_not_fatal(store: Store, tmp_path: Path) -> None:
    """Central stores any body (the signature covers it): an odd shape must not stop the evaluation."""
    d = tmp_path / "orders" / STATION
    d.mkdir(parents=True)
    (d / f"{DAY}.json").write_text(json.dumps({"orders": [
        {"order_id": "PO-1", "window": {"from": "7am", "to": None}, "lines": "x"}, 5]}))
    j = Journal()
    j.add("delivery.opened", utc("04:00"), {"delivery_id": "d-1", "order_id": "PO-1"})
    j.add("line.rejected", utc("06:40"), {"price": "x", "item": 5, "inspectors": "ab", "measured": None})
    j.add("clip.finalized", utc("06:41"), {"event_seq": "2"})
    j.add("alert.raised", utc("06:42"), {"code": None})
    put(store, j)
    master = tmp_path / "m.json"
    master.write_text(json.dumps({"diners": [{"school_id": STATION, "date": DAY, "count": 1}],
                                  "contract_prices": [{"supplier_id": "?", "item_code": "None",
                                                       "unit_price_fen": 1, "price_per": "jin"}]}))
    assert run(store, tmp_path, master_data_file=master) == {}


def test_bad_master_data_and_payments_are_refused_whole(tmp_path: Path) -> None:
    bad = tmp_path / "m.json"
    bad.write_text('{"contract_prices": [{"supplier_id": "s", "item_code": "i", "unit_price_fen": -1, '
                   '"price_per": "jin"}]}')
    with pytest.raises(DataError, match="negative"):
        load_master(bad)
    pay = tmp_path / "p.csv"
    pay.write_text("school_id,supplier_id,month,amount_fen\ns,p,2026-13,5\n")
    with pytest.raises(DataError, match="line 2: month"):
        load_payments(pay)


def test_history_is_read_from_day_aggregates(store: Store, tmp_path: Path) -> None:
    """Before the evaluated day no event is loaded: the days before come as stored per-station
    summaries (``central.platform.aggregates``); the day and the next are read whole (clips,
    arrivals, alerts)."""
    j = Journal()
    j.honest_morning(day="2026-11-20", delivery="d-old")
    j.honest_morning()
    j.add("clip.finalized", utc("2026-12-01 00:10"), {"clip_id": "late", "event_seq": 1, "sha256": "c" * 64})
    put(store, j)
    inp = engine.gather(store, IndicatorsSection(), tmp_path / "orders", D, as_of=AS_OF)
    assert not [e for e in inp.events if inp.local_day(e.at) < D]
    assert [(a.day.isoformat(), a.lines, a.deliveries) for a in inp.history] == [
        ("2026-11-20", 3, {"d-old": ["i-1", "i-2"]})]
    assert {e.type for e in inp.today()} == {"delivery.opened", "line.accepted", "clip.finalized",
                                              "delivery.closed"}
    assert any(inp.local_day(e.at) > D for e in inp.events)  # the next day's late clip
