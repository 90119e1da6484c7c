"""Journals written before issue 11 still verify, replay and print in the ledger.

``tests/data/journal-before-issue11.db`` was made once with the code of main at
commit 6820538 (before placement ids, scale freshness, rosters and the new
event types): two deliveries through the workflow (an acceptance, a QTY_OVER
rejection, a close, an alert, a TEMP_TOO_HIGH rejection and its re-test left
open). Its test key is beside it so the station can keep appending to it.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from core.clock import parse_rfc3339
from edge import ledger
from edge.journal import Journal, read_events
from edge.matching.types import Policy
from edge.orders import store
from edge.workflow.driver import WORKFLOW_TYPES, Workflow
from edge.workflow.machine import replay
from edge.workflow.model import Confirm, Reading, ScanItem, SelectLine, SetTemperature, Weight
from tests.conftest import CLI

DATA = Path(__file__).parent / "data"
NOW = datetime(2026, 11, 28, 6, 50, tzinfo=ZoneInfo("Asia/Shanghai"))
OLD_DB = DATA / "journal-before-issue11.db"


def _copy(tmp_path: Path) -> tuple[Path, Ed25519PrivateKey]:
    db = tmp_path / "station.db"
    shutil.copy(OLD_DB, db)
    key = serialization.load_pem_private_key(
        (DATA / "journal-before-issue11.key").read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return db, key


def test_old_journal_verifies(tmp_path: Path) -> None:
    db, _ = _copy(tmp_path)
    r = subprocess.run([*CLI, "verify", "--db", str(db)], capture_output=True, text=True)
    assert r.returncode == 0 and "10 events" in r.stdout, r.stdout + r.stderr


def test_old_journal_replays_and_the_station_appends_to_it(tmp_path: Path) -> None:
    db, key = _copy(tmp_path)
    j = Journal(db, key, "old-station-01")
    try:
        state = replay(read_events(j.db, types=WORKFLOW_TYPES))
        d = state.delivery
        assert d is not None and d.order_id == "PO-20261128-0013"
        assert d.progress["1"].accepted == 1 and d.progress["1"].rejected == 1
        assert state.inspectors == ("zhang", "li")
        tz = ZoneInfo("Asia/Shanghai")
        first = next(read_events(j.db, types=("line.accepted",)))
        rows = list(ledger.rows(j.db, parse_rfc3339(first["at"]).astimezone(tz).date(), tz))
        assert [r["outcome"] for r in rows] == ["合格", "不合格（退货）", "不合格（退货）", "合格"]
        assert rows[1]["reasons"] == "数量超出订单上限"
        # Today's station resumes the open delivery and decides the next item on it.
        orders = store.orders_in_use(j.db, "2026-11-28")
        wf = Workflow(j, lambda: orders, Policy(), now=lambda: NOW)
        assert wf.state.delivery is not None and not wf.state.placement.decided
        wf.handle(SelectLine("2"))
        wf.handle(ScanItem(gtin="06901234567892", batch="B2411"))
        wf.handle(Reading(Weight(net_g=16000, stable=True, raw="ST,+016.000  kg")))
        wf.handle(SetTemperature(Decimal("-19")))
        res = wf.handle(Confirm(wf.state.placement.placement_id))
        assert res.decision is not None and res.decision.outcome == "accepted", res.decision
    finally:
        j.close()
    r = subprocess.run([*CLI, "verify", "--db", str(db)], capture_output=True, text=True)
    assert r.returncode == 0 and "12 events" in r.stdout, r.stdout + r.stderr
