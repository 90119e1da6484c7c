"""Presence and diagnosis rows on SQLite and PostgreSQL; the view's rules on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.fleet_status import update_summary
from central.fleet import store as fs
from central.fleet.config import FleetSection
from central.fleet.view import Filter, Places, fleet
from central.store import Store
from contract import schemas
from core.clock import now_rfc3339

T0 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return now_rfc3339(T0 + timedelta(minutes=minutes))


def online(session: str, backlog: int = 0, **extra: Any) -> dict[str, Any]:
    return {"schema": "acceptance.status/1", "station_id": "st-aaa", "online": True, "session": session,
            "backlog": {"events": backlog, "clips": 0}, **extra}


def offline(session: str) -> dict[str, Any]:
    return {"schema": "acceptance.status/1", "station_id": "st-aaa", "online": False, "session": session}


def test_presence_since_sessions_and_backlog_age_on_both_stores(dsn: str) -> None:
    store = Store(dsn)
    fs.ensure(store)
    fs.ensure(store)  # idempotent
    put = lambda doc, m: fs.record_status(store, "st-aaa", doc, "{}", at(m))  # noqa: E731
    snap = lambda: fs.snapshot(store, at(-60)).presence["st-aaa"]  # noqa: E731
    assert put(online("s1"), 0)
    assert put(online("s1", backlog=3), 1)
    assert snap() == fs.Presence(True, at(0), at(1), "s1", at(1))
    assert put(online("s1", backlog=9), 2) and snap().backlog_since == at(1)  # still the same backlog
    assert put(offline("s1"), 5)
    assert snap() == fs.Presence(False, at(5), at(5), "s1", at(1))  # the will keeps the backlog's age
    assert not put(online("s1"), 6)  # that connection's late status: stale, ignored
    assert snap().online is False
    assert put(online("s2"), 7)
    assert snap() == fs.Presence(True, at(7), at(7), "s2", None)
    fs.add_request(store, "00000000-0000-4000-8000-000000000001", "st-aaa", "tech-wang", at(8))
    fs.mark_received(store, "00000000-0000-4000-8000-000000000001", "ab" * 32, 123,
                     {"ok": False, "checks": [{"check": "scale", "ok": False}]}, at(9))
    d = fs.diagnosis(store, "00000000-0000-4000-8000-000000000001")
    assert d is not None and d["state"] == "received" and d["doctor_ok"] is False
    assert fs.requests_since(store, at(0)) == 1 and fs.requests_since(store, at(10)) == 0
    store.close()



def test_status_and_presence_are_one_transaction(dsn: str) -> None:
    """A presence write that fails leaves no status behind (and the status is kept with it)."""
    store = Store(dsn)
    fs.ensure(store)
    write = store.execute

    def failing(sql: str, params: Any = ()) -> int:
        if "fleet_presence" in sql:
            raise RuntimeError("presence write failed")
        return write(sql, params)

    store.execute = failing  # type: ignore[method-assign]
    try:
        fs.record_status(store, "st-aaa", online("s1"), '{"online": true}', at(0))
    except RuntimeError:
        pass
    else:
        raise AssertionError("the presence write did not fail")
    store.execute = write  # type: ignore[method-assign]
    assert store.rows("SELECT station_id FROM central_status WHERE station_id='st-aaa'") == []
    assert store.rows("SELECT station_id FROM central_status_history WHERE station_id='st-aaa'") == []
    assert fs.record_status(store, "st-aaa", online("s1"), '{"online": true}', at(1))
    kept = store.rows("SELECT status FROM central_status WHERE station_id='st-aaa'")
    assert kept == [('{"online": true}',)]
    assert fs.snapshot(store, at(-60)).presence["st-aaa"].online is True
    store.close()

def snapshot(presence: fs.Presence | None, status: dict[str, Any]) -> fs.Snapshot:
    return fs.Snapshot({"st-aaa": status} if status else {}, {"st-aaa": presence} if presence else {},
                       {}, {}, {})


def row(presence: fs.Presence | None, status: dict[str, Any], minutes: float) -> dict[str, Any]:
    doc = fleet(["st-aaa"], Places({"st-aaa": "sch-1"}, {"sch-1": {"name": "一小", "district": "东城区"}}),
                snapshot(presence, status), T0 + timedelta(minutes=minutes), FleetSection(), Filter())
    return dict(doc["stations"][0])


def test_view_states_faults_and_visits() -> None:
    never = row(None, {}, 0)
    assert never["state"] == "never" and never["needs_visit"] and never["district"] == "东城区"
    p = fs.Presence(True, at(0), at(0), "s1", None)
    assert row(p, online("s1"), 1)["state"] == "online"
    silent = row(p, online("s1"), 4)  # no status for longer than heartbeat_stale_s (180 s)
    assert silent["state"] == "silent" and "silent" in silent["faults"] and not silent["needs_visit"]
    assert row(p, online("s1"), 61)["visit_reasons"] == ["silent"]
    gone = fs.Presence(False, at(0), at(0), "s1", at(0))
    r = row(gone, online("s1", backlog=5), 45)
    assert r["faults"] == ["offline", "backlog"] and not r["needs_visit"] and r["backlog"]["age_s"] == 2700
    bad = online("s1", devices={"scale": "无响应"}, devices_ok={"scale": False}, disk_free_bytes=5,
                 clock_synced=False, update={"state": "rolled_back", "step": "update.rolled_back"},
                 uplink={"state": "rejected", "error": "x"})
    r = row(p, bad, 1)
    assert r["faults"] == ["scale", "disk", "clock", "uplink", "update"]
    assert r["visit_reasons"] == ["scale", "disk"]


def test_update_summary_fits_the_status_schema() -> None:
    state = {"state": "switched", "steps": [
        {"step": "update.started", "at": "t0"},
        {"step": "update.rolled_back", "at": "t1", "version": "1.5.0", "failures": ["kiosk: no answer"]},
        {"step": "update.started", "at": "t2"}, {"step": "update.switched", "version": "1.5.1"}]}
    s = update_summary(state)
    assert s == {"state": "switched", "step": "update.rolled_back", "version": "1.5.0", "at": "t1",
                 "reason": "kiosk: no answer"}
    doc = {"schema": "acceptance.status/1", "station_id": "st-aaa", "online": True, "update": s,
           "release": "1.5.0", "session": "abc", "devices_ok": {"scale": True}}
    assert schemas.errors("status.v1", doc) == []
    assert update_summary({}) == {"state": "idle"}
