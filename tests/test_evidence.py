"""Evidence rules of the workflow over a real journal, with the scale's clock in the test's hands.

A weight decides only while fresh and of the current placement; a placement is
decided once (by its UUID, across restarts); no fact flows from one item to the next.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.journal import Journal, read_events
from edge.matching.types import RapidTest
from edge.orders.model import orders_from_doc
from edge.workflow.driver import Workflow
from edge.workflow.model import (
    CaptureDocument,
    Confirm,
    Input,
    MarkPartial,
    OpenDelivery,
    Reading,
    ScanItem,
    ScanTrace,
    SelectLine,
    SetPieces,
    SetRapidTest,
    SetSensory,
    SetTemperature,
    SignIn,
    Tare,
    Weight,
)
from edge.workflow.scale_feed import ScaleFeed
from testbed.demo_data import PINS, demo_orders
from tests.test_workflow import MEAT, NOW, POLICY, ROSTER, VEG

LINES = ("line.accepted", "line.rejected")
# Today's orders with the documents central requires (meat and poultry: a quarantine cert).
WITH_DOCS = orders_from_doc(demo_orders("test-station-01", "2026-11-28", documents=True))


class Door:
    """A workflow whose scale clock the test moves."""

    def __init__(self, journal: Journal, **kw: Any) -> None:
        self.t = 100.0
        self.feed = ScaleFeed(connected=True, clock=lambda: self.t)
        self.wf = Workflow(journal, lambda: WITH_DOCS, POLICY, now=lambda: NOW, scale=self.feed,
                           roster=lambda: ROSTER, **kw)
        self.journal = journal

    def start(self, order_id: str = VEG) -> Door:
        for who in ("zhang", "li"):
            self.wf.handle(SignIn(who, pin=PINS[who]))
        assert self.wf.handle(OpenDelivery(order_id, str(uuid.uuid4()))).refused is None
        return self

    def put(self, grams: int, stable: bool = True) -> None:
        self.wf.handle(Reading(Weight(net_g=grams, stable=stable, raw=f"ST,+{grams:08d} g",
                                      protocol="ad")))

    def do(self, *inputs: Input) -> None:
        for inp in inputs:
            res = self.wf.handle(inp)
            assert res.refused is None, (inp, res.refused)

    def confirm(self, pid: str | None = None) -> Any:
        return self.wf.handle(Confirm(pid or self.wf.state.placement.placement_id))

    def lines(self) -> list[dict[str, Any]]:
        return list(read_events(self.journal.db, types=LINES))


# -- 1. a weight is evidence only while fresh ------------------------------------------------


def test_stale_weight_is_refused_and_records_nothing(journal: Journal) -> None:
    door = Door(journal).start()
    door.do(SelectLine("1"))
    door.put(15200)
    door.t += 1.6  # no reading for 1.6 s: the number on screen is not evidence
    res = door.confirm()
    assert res.refused is not None and res.refused.code == "WEIGHT_STALE"
    assert "秤" in res.refused.message and door.lines() == []
    door.feed.note(Weight(net_g=15200, stable=True, raw="ST,+00015200 g", protocol="ad"))
    res = door.confirm()  # the same weight, received again just now
    assert res.decision is not None and res.decision.outcome == "accepted"
    (ev,) = door.lines()
    m = ev["body"]["measured"]
    assert m["age_ms"] == 0 and m["raw"] == "ST,+00015200 g" and m["received_at"].endswith("Z")


def test_max_age_is_configurable(journal: Journal) -> None:
    door = Door(journal, max_weight_age_s=0.5).start()
    door.do(SelectLine("1"))
    door.put(15200)
    door.t += 0.6
    assert door.confirm().refused.code == "WEIGHT_STALE"  # type: ignore[union-attr]


def test_lost_link_refuses_and_the_load_must_be_seen_again(journal: Journal) -> None:
    door = Door(journal).start()
    door.do(SelectLine("1"))
    door.put(15200)
    door.feed.link(False)
    assert door.confirm().refused.code == "SCALE_OFFLINE"  # type: ignore[union-attr]
    door.t += 0.2
    door.feed.link(True)  # back, but nothing read since: the old reading is not evidence
    assert door.confirm().refused.code == "WEIGHT_STALE"  # type: ignore[union-attr]
    door.t += 0.1
    door.put(15200)  # the first reading of the new session (the station feeds it)
    assert door.confirm().decision.outcome == "accepted"  # type: ignore[union-attr]
    assert len(door.lines()) == 1


def test_unstable_or_unloaded_weight_refused(journal: Journal) -> None:
    door = Door(journal).start()
    door.do(SelectLine("1"))
    door.put(15200, stable=False)
    assert door.confirm().refused.code == "NOT_STABLE"  # type: ignore[union-attr]
    door.put(2000)  # a crate goes on, is tared: net 0 is not the item
    door.do(Tare())
    door.put(0)
    assert door.confirm().refused.code == "NOT_LOADED"  # type: ignore[union-attr]
    door.put(15200)
    assert door.confirm().decision is not None
    assert [e["body"]["measured"]["net_g"] for e in door.lines()] == [15200]


def test_no_scale_link_no_weighed_decision(journal: Journal) -> None:
    door = Door(journal).start()
    door.feed = ScaleFeed(connected=False)
    door.wf.scale = door.feed
    door.do(SelectLine("1"))
    door.put(15200)
    assert door.confirm().refused.code == "SCALE_OFFLINE"  # type: ignore[union-attr]


# -- 2. one placement, one decision ----------------------------------------------------------


def test_placement_ids_are_uuids_journaled_and_unique_across_restarts(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    j = Journal(tmp_path / "s.db", key, "test-station-01")
    door = Door(j).start()
    door.do(SelectLine("1"))
    door.put(15200)
    pid = door.wf.state.placement.placement_id
    assert uuid.UUID(pid).version == 4
    first = door.confirm()
    (ev,) = door.lines()
    assert ev["body"]["placement_id"] == pid and first.committed[0]["seq"] == ev["seq"]
    again = door.confirm(pid)  # a double tap
    assert again.refused is None and again.existing is not None
    assert (again.existing["seq"], again.existing["event_id"]) == (ev["seq"], ev["event_id"])
    assert door.wf.handle(SelectLine("2")).refused.code == "ALREADY_DECIDED"  # type: ignore[union-attr]
    door.put(0)  # taken off
    j.close()
    j2 = Journal(tmp_path / "s.db", key, "test-station-01")  # a restart
    door2 = Door(j2)
    assert door2.wf.state.placement.placement_id not in (pid, "")
    res = door2.confirm(pid)
    assert res.existing is not None and res.existing["event_id"] == ev["event_id"]
    assert len(door2.lines()) == 1
    started = [e["body"]["placement_id"] for e in read_events(j2.db, types=("placement.started",))]
    assert started == [pid]
    j2.close()


def test_counted_goods_decided_off_the_scale(journal: Journal) -> None:
    door = Door(journal).start(MEAT)
    door.do(ScanItem(gtin="06920202888883", batch="M1", expiry_date=date(2026, 12, 20)),
            SetPieces(6), SetTemperature(Decimal("4")))
    pid = door.wf.state.placement.placement_id
    assert door.confirm().decision.outcome == "accepted"  # type: ignore[union-attr]
    assert door.confirm(pid).existing is not None
    door.do(SelectLine("1"))  # the next item: a new placement, whatever the pan says
    assert door.wf.state.placement.placement_id != pid
    assert door.confirm(pid).existing is not None and len(door.lines()) == 1


# -- 3. one placement, one set of facts ------------------------------------------------------

# (input kind, what staff or a device gave for the first item, its field in the record,
#  the value it had there, the value it must have in the next item's record)
FACTS: list[tuple[str, Input, Callable[[dict[str, Any]], Any], Any]] = [
    ("code", ScanItem(gtin="06920202888883"), lambda b: b["scanned"]["gtin"], None),
    ("batch", ScanItem(batch="M1120"), lambda b: b["batch"], None),
    ("production date", ScanItem(production_date=date(2026, 11, 20)),
     lambda b: b["production_date"], None),
    ("expiry", ScanItem(expiry_date=date(2026, 12, 20)), lambda b: b["expiry_date"], None),
    ("pieces", SetPieces(6), lambda b: b["measured"]["pieces"], None),
    ("temperature", SetTemperature(Decimal("4.5")), lambda b: b["temperature_c"], "-1"),
    ("partial", MarkPartial(True), lambda b: b["partial"], False),
    ("trace code", ScanTrace("url", "https://zsl.example/t?id=1", "https://zsl.example/t?id=1"),
     lambda b: b["trace_codes"], []),
    ("line tapped", SelectLine("3"), lambda b: b["line_id"], "1"),
    ("sensory answers", SetSensory((("odour", False), ("packaging", True))),
     lambda b: b["sensory"], None),
    ("rapid test", SetRapidTest(RapidTest(Decimal("12"), sample="s", operator="o")),
     lambda b: b["rapid_test"], None),
    ("document photo", CaptureDocument("animal_quarantine", "ab" * 32, "x.jpg", 3),
     lambda b: b["documents"], []),
]
ENDINGS = ["counted, never on the pan", "weighed, then taken off", "taken off undecided"]


@pytest.mark.parametrize("ending", ENDINGS)
@pytest.mark.parametrize("kind,given,field,after", FACTS, ids=[f[0] for f in FACTS])
def test_no_fact_flows_to_the_next_item(journal: Journal, ending: str, kind: str, given: Input,
                                        field: Callable[[dict[str, Any]], Any], after: Any) -> None:
    door = Door(journal).start(MEAT)
    milk = [SelectLine("3"), SetPieces(6), SetTemperature(Decimal("4.5")), given]
    if ending == "counted, never on the pan":
        door.do(*milk)
        assert door.confirm().decision is not None
    else:
        door.put(9000)
        door.do(*milk)
        if ending == "weighed, then taken off":
            assert door.confirm().decision is not None
        door.put(0)
    # The next item: pork, tapped and weighed; its temperature typed.
    door.put(12000)
    door.do(SelectLine("1"))
    assert door.confirm().refused.code == "TEMP_REQUIRED"  # type: ignore[union-attr]
    door.do(SetTemperature(Decimal("-1")))
    res = door.confirm()
    assert res.decision is not None
    body = door.lines()[-1]["body"]
    assert body["line_id"] == "1" and body["measured"]["net_g"] == 12000
    assert field(body) == after, kind


def test_code_read_on_empty_pan_kept_only_briefly(journal: Journal) -> None:
    door = Door(journal, scan_hold_s=10).start(MEAT)
    door.do(ScanItem(gtin="06901234567892", batch="B1"), ScanTrace("url", "https://t.example/1", "https://t.example/1"))
    door.t += 11  # placed too late: the code may belong to anything
    door.put(16000)
    p = door.wf.state.placement
    assert (p.gtin, p.batch, p.trace) == (None, None, ())
    door.put(0)
    door.do(ScanItem(gtin="06901234567892", batch="B2"))
    door.t += 3
    door.put(16000)
    p = door.wf.state.placement
    assert (p.gtin, p.batch) == ("06901234567892", "B2")


def test_tare_drop_is_not_a_removal_and_an_ignored_tare_keeps_the_load(journal: Journal) -> None:
    door = Door(journal).start()
    door.do(SelectLine("1"))
    door.put(15200)
    pid = door.wf.state.placement.placement_id
    door.do(Tare())  # this scale ignores the tare: the weight stays
    door.t += 0.5
    assert door.confirm().decision is not None  # the load is still the placement's
    door.t += 3
    door.put(0)  # taken off: long after the tare, a removal
    assert door.wf.state.placement.placement_id != pid
    door.put(2000)  # a crate, tared: its drop to 0 within 2 s is the tare
    crate = door.wf.state.placement.placement_id
    door.do(Tare())
    door.t += 0.3
    door.put(0)
    assert door.wf.state.placement.placement_id == crate and not door.wf.state.placement.loaded
    door.t += 5
    door.put(0, stable=False)
    assert door.wf.state.placement.placement_id == crate  # not loaded: nothing to remove


def test_a_start_the_journal_refused_goes_with_the_decision(journal: Journal) -> None:
    door = Door(journal).start()
    door.do(SelectLine("1"))
    journal.db.execute("PRAGMA query_only=1")  # the disk refuses writes as the load appears
    door.put(15200)
    assert not door.wf.state.placement.started
    journal.db.execute("PRAGMA query_only=0")
    assert door.confirm().decision is not None
    kinds = [e["type"] for e in read_events(journal.db)][-2:]
    assert kinds == ["placement.started", "line.accepted"]
    assert door.wf.state.placement.started and door.wf.state.placement.decided
