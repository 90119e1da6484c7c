"""The indicators over the demo's scripted morning, as the real station records it (edge/records.py
bodies, signed, synced through the broker into central's store).

The morning is honest but for what it stages on purpose: the apple's delivery note prices it
at 520 fen against the order's 480 (rejected at the door), and five lines rejected at the door are
decided again (re-tests the station flags, one of them turned by a typed temperature). The platform
must find exactly that price excess and those re-tests, and none of the record indicators may fire
on the rest. Three indicators depend on the
machine and the hour the test runs, not on the records, and are left out: ``clock_unsynced`` (this
machine's NTP state), ``delivery_outside_window`` (the demo runs at the real local time against
fixed windows), and ``acceptance_without_clip`` (the demo stops before the last clip is uploaded).
``station_offline_in_window`` is judged up to the morning's last event: the station was online
throughout; it goes offline for good when the demo stops, inside a window or not by the hour.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from central.config import load_central_config
from central.platform import engine, integrity
from central.store import Store
from tests.sync_harness import ROOT

ENVIRONMENTAL = {"clock_unsynced", "delivery_outside_window", "acceptance_without_clip"}
OFFLINE = "station_offline_in_window"


@pytest.mark.slow
def test_demo_morning_gives_exactly_its_staged_findings(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "app.cli", "demo", "--scripted", "--dir", str(tmp_path / "d")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    cfg = load_central_config(tmp_path / "d" / "central" / "central.toml")
    store = Store(cfg.store.dsn)
    try:
        day = engine.local_today(cfg.indicators)
        inp = engine.gather(store, cfg.indicators, cfg.http.orders_dir, day,
                            as_of=datetime.now(UTC) + timedelta(hours=2))
        found = [f for f in engine.evaluate(inp) if f.indicator not in ENVIRONMENTAL | {OFFLINE}]
        # Online through the morning: judged up to its last event (the demo then stops its station,
        # which goes offline for good; whether that is inside a window depends on the hour).
        last = max(e.received_at for e in inp.events)
        morning = engine.gather(store, cfg.indicators, cfg.http.orders_dir, day, as_of=last)
        history = store.rows("SELECT online FROM central_status_history ORDER BY changed_at")
    finally:
        store.close()
    assert morning.statuses and history[0] == (1,), history
    assert integrity.offline_in_window(morning) == []
    staged = ["price_above_order", *["retest_after_reject"] * 5, "temp_typed_after_reject"]
    assert sorted(f.indicator for f in found) == sorted(staged), [f.message for f in found]
    ev = next(f for f in found if f.indicator == "price_above_order").evidence
    assert ev["ordered_unit_price_fen"] == 480 and ev["delivered_unit_price_fen"] == 520
    assert ev["events"][0]["type"] == "line.rejected" and ev["supplier_id"] == "sup-0071"
