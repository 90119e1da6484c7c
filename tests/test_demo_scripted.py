"""The demo's scripted morning, run once as a technician would (`demo --scripted`), then read two ways.

One run serves the module (its tests only read what the morning left): the whole system starts and
stops in a minute, and the two readings need the same morning.

**The run itself**: mosquitto, central, uplink and station as processes; 26 decisions; synced and
verified; the web app's accounts made.

**The indicators over it**, as the real station records it (edge/records.py bodies, signed,
synced through the broker into central's store). The morning is honest but for what it stages on
purpose: the apple's delivery note prices it at 520 fen against the order's 480 (rejected at the
door), and five lines rejected at the door are decided again (re-tests the station flags, one of
them turned by a typed temperature). The platform must find exactly that price excess and those
re-tests, and none of the record indicators may fire on the rest. Three indicators depend on the
machine and the hour the test runs, not on the records, and are left out: ``clock_unsynced`` (this
machine's NTP state), ``delivery_outside_window`` (the demo runs at the real local time against
fixed windows), and ``acceptance_without_clip`` (the demo stops before the last clip is uploaded).
``station_offline_in_window`` is judged up to the morning's last event: the station was online
throughout; it goes offline for good when the demo stops, inside a window or not by the hour.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from central.config import load_central_config
from central.platform import engine, integrity
from central.store import Store
from central.web import accounts
from testbed.demo_data import SCHOOL_ID
from tests.conftest import CLI
from tests.sync_harness import ROOT

ENVIRONMENTAL = {"clock_unsynced", "delivery_outside_window", "acceptance_without_clip"}
OFFLINE = "station_offline_in_window"


Run = tuple[Path, "subprocess.CompletedProcess[str]"]


@pytest.fixture(scope="module")
def morning_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    d = tmp_path_factory.mktemp("scripted") / "demo"
    return d, subprocess.run([*CLI, "demo", "--scripted", "--dir", str(d)], cwd=ROOT,
                             capture_output=True, text=True, timeout=300)


@pytest.fixture
def morning_dir(morning_run: Run) -> Path:
    """The morning's directory; the run must have succeeded."""
    d, r = morning_run
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    return d


def test_demo_scripted_morning(morning_dir: Path, morning_run: Run) -> None:
    """The whole system: mosquitto, central, uplink, station; 26 decisions; synced and verified."""
    out = morning_run[1].stdout
    assert "decisions: 26, accepted 14, rejected 12" in out
    assert "12/12 rejections disposed with the driver's acknowledgement, 5/5 return slips" in out
    assert "chain verifies" in out and "✗" not in out
    # The demo's web app accounts: one per role, the school's scoped to the demo school; the
    # city bureau's password (new each run) opens the overview.
    assert "web: logged in to central as demo-bureau (city_bureau); /web/overview answered 200" in out
    store = Store(f"sqlite:///{morning_dir / 'central' / 'central.db'}")
    try:
        made = {(a.username, a.role, a.school_id) for a, disabled in accounts.accounts(store) if not disabled}
    finally:
        store.close()
    assert made == {("demo-leader", "school_leader", SCHOOL_ID), ("demo-bureau", "city_bureau", None),
                    ("demo-discipline", "discipline_committee", SCHOOL_ID), ("demo-tech", "technician", None)}


@pytest.mark.slow
def test_demo_morning_gives_exactly_its_staged_findings(morning_dir: Path) -> None:
    cfg = load_central_config(morning_dir / "central" / "central.toml")
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
