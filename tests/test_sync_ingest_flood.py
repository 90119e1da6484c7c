"""One station's garbage cannot slow another's acks (issue 17): budgets, quarantine, cheap checks first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import central.ingest as ingest_mod
from central.ingest import KeyRegistry, Outcome, prepare
from central.limits import StationLimits
from central.store import Store
from tests.ingest_flood import ATTACKER, bad_batches, measure
from tests.sync_harness import append_events, make_station


@pytest.mark.parametrize("qos", [1, 0])
def test_another_stations_acks_stay_fast_under_a_flood(tmp_path: Path, qos: int) -> None:
    """Bad batches at seq 10⁹ as fast as the broker takes them; B's acks were 30 s late before."""
    r = measure(tmp_path, seconds=6.0, qos=qos)
    assert r["honest_stored_through"] == r["honest_sent"]  # every honest batch stored, none lost
    assert r["flood_batches_sent"] > 1000, r  # it was a flood
    assert r["flood"]["p50_ms"] < 500 and r["flood"]["max_ms"] < 5000, r
    assert "Outgoing messages are being dropped" not in (tmp_path / "mosquitto.log").read_text()
    store = Store(f"sqlite:///{tmp_path / 'central.db'}")
    codes = [a[2] for a in store.alerts(ATTACKER)]
    store.close()
    assert "STATION_QUARANTINED" in codes and len(codes) <= 20, codes  # budgets bound the alert rows


def test_cheap_checks_come_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad batch at seq 10⁹ costs one signature check and no gap handling; oversize is not parsed."""
    keys_dir = tmp_path / "keys"
    j = make_station(tmp_path, ATTACKER, keys_dir)
    append_events(j, 1)
    ev = json.loads(j.db.execute("SELECT event FROM events").fetchone()[0])
    payload = bad_batches(ev, 1)[0]
    calls: list[int] = []
    real = ingest_mod.check_event
    monkeypatch.setattr(ingest_mod, "check_event", lambda e, k: calls.append(e["seq"]) or real(e, k))
    store = Store(f"sqlite:///{tmp_path / 'central.db'}")
    keys = KeyRegistry(keys_dir)
    out = prepare(store, keys, ATTACKER, payload)
    assert isinstance(out, Outcome) and out.status == "rejected" and calls == [10**9]
    assert "signature does not verify" in str(out.ack["error"])
    big = prepare(store, keys, ATTACKER, b"{" * 2_000_000, "0" * 36)
    assert isinstance(big, Outcome) and "above the limit" in str(big.ack["error"])
    assert big.ack["batch_id"] == "unknown"  # correlation data that is not a UUID is not echoed
    stranger = prepare(store, keys, "st-nobody", b"not json")
    assert isinstance(stranger, Outcome) and "not registered" in str(stranger.ack["error"])
    store.close()


def test_budgets_drop_then_quarantine_with_doubling() -> None:
    now = [0.0]
    lim = StationLimits(50, 100, 1.0, 10, quarantine_after=20, quarantine_s=60, clock=lambda: now[0])
    assert all(lim.admit("st-honest") for _ in range(100))  # a burst of good batches
    assert not lim.admit("st-honest")  # the 101st within the same instant
    now[0] += 1.0
    assert sum(lim.admit("st-honest") for _ in range(60)) == 50  # refilled at 50/s
    for _ in range(10):
        assert lim.admit("st-bad")
        lim.penalise("st-bad")
    assert not lim.admit("st-bad")  # out of bad answers: dropped before parsing
    assert lim.to_quarantine() == []
    for _ in range(19):
        lim.admit("st-bad")
    assert lim.to_quarantine() == [("st-bad", 60, 20)] and lim.quarantined() == {"st-bad"}
    for _ in range(500):  # still queued at the broker: dropped, but no new strike
        assert not lim.admit("st-bad")
    now[0] += 61
    assert lim.quarantined() == set() and lim.to_quarantine() == []
    for _ in range(10):
        lim.admit("st-bad")
        lim.penalise("st-bad")
    for _ in range(20):
        lim.admit("st-bad")
    assert lim.to_quarantine() == [("st-bad", 120, 20)]  # doubled
    assert lim.quarantined() == {"st-bad"} and "st-honest" not in lim.quarantined()
