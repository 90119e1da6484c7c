"""The receiving workflow: table-driven sequences over a real journal, and resume."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.journal import Journal, read_events
from edge.matching.types import Policy
from edge.orders.model import orders_from_doc
from edge.roster.model import roster_from_doc
from edge.workflow.driver import Workflow
from edge.workflow.model import (
    CloseDelivery,
    Confirm,
    Dispose,
    MarkPartial,
    NewScanWindow,
    OpenDelivery,
    Reading,
    ScanItem,
    SelectLine,
    SetPieces,
    SetTemperature,
    SignIn,
    Tare,
    TareScale,
    Weight,
)
from testbed.demo_data import PINS, demo_orders, demo_roster

DAY = "2026-11-28"
ORDERS = orders_from_doc(demo_orders("test-station-01", DAY))
VEG, MEAT, OIL = "PO-20261128-0012", "PO-20261128-0013", "PO-20261128-0014"
POLICY = Policy()
ROSTER = roster_from_doc(demo_roster("test-station-01", cost_ln=10), "test-roster")
NOW = datetime(2026, 11, 28, 6, 45, tzinfo=POLICY.tz)


def stable(g: int) -> Reading:
    return Reading(Weight(net_g=g, stable=True, raw=f"S S {g / 1000:.3f} kg", protocol="mt-sics"))


def moving(g: int) -> Reading:
    return Reading(Weight(net_g=g, stable=False, raw="S D", protocol="mt-sics"))


def make(journal: Journal, effects: list[Any] | None = None) -> Workflow:
    sink = effects if effects is not None else []
    return Workflow(journal, lambda: ORDERS, POLICY, on_effect=sink.append, now=lambda: NOW,
                    roster=lambda: ROSTER)


def lines(journal: Journal) -> list[dict[str, Any]]:
    return list(read_events(journal.db, types=("line.accepted", "line.rejected")))


def start(wf: Workflow, order_id: str = VEG, inspectors: tuple[str, ...] = ("zhang", "li"),
          note: dict[str, Any] | None = None) -> None:
    for i in inspectors:
        assert wf.handle(SignIn(i, pin=PINS[i])).refused is None
    res = wf.handle(OpenDelivery(order_id, "6f1c2a3e-0000-4000-8000-000000000001", note=note))
    assert res.refused is None and wf.state.delivery is not None


def confirm(wf: Workflow) -> Any:
    return wf.handle(Confirm(wf.state.placement.placement_id))


def test_accept_only_after_stable_and_committed(journal: Journal) -> None:
    wf = make(journal)
    start(wf)
    wf.handle(SelectLine("1"))
    wf.handle(moving(15000))
    res = confirm(wf)
    assert res.refused is not None and res.refused.code == "NOT_STABLE"
    assert lines(journal) == []
    wf.handle(stable(15200))
    res = confirm(wf)
    assert res.refused is None and res.decision is not None
    assert res.decision.outcome == "accepted"
    (ev,) = lines(journal)
    assert ev["type"] == "line.accepted" and ev["body"]["measured"]["net_g"] == 15200
    assert ev["body"]["inspectors"] == ["li", "zhang"] and ev["body"]["measured"]["raw"]
    assert wf.state.last is not None and wf.state.last["seq"] == ev["seq"]
    assert wf.state.delivery is not None
    assert wf.state.delivery.progress["1"].accepted_g == 15200


def test_double_confirm_records_once(journal: Journal) -> None:
    wf = make(journal)
    start(wf)
    wf.handle(SelectLine("1"))
    wf.handle(stable(15000))
    pid = wf.state.placement.placement_id
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(wf.handle(Confirm(pid))))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (ev,) = lines(journal)
    assert [r.refused for r in results] == [None] * 8
    # One decided; the seven others answer that decision (its seq and event id).
    existing = [r.existing for r in results if r.existing is not None]
    assert len(existing) == 7 and {(e["seq"], e["event_id"]) for e in existing} == {
        (ev["seq"], ev["event_id"])}


def test_removal_starts_new_placement_but_tare_does_not(journal: Journal) -> None:
    effects: list[Any] = []
    wf = make(journal, effects)
    start(wf)
    wf.handle(stable(2000))  # a crate goes on
    wf.handle(Tare())
    assert TareScale() in effects
    first = wf.state.placement.placement_id
    wf.handle(stable(0))  # net 0 after the tare is not a removal
    assert wf.state.placement.placement_id == first
    wf.handle(SelectLine("1"))
    wf.handle(stable(15000))
    assert confirm(wf).decision is not None
    wf.handle(moving(3))  # taken off
    assert wf.state.placement.placement_id != first and NewScanWindow() in effects
    assert wf.state.placement.line_id is None
    kinds = [(e["type"], e["body"].get("placement_id")) for e in read_events(journal.db)
             if e["type"].startswith(("placement.", "line."))]
    assert kinds == [("placement.started", first), ("line.accepted", first),
                     ("placement.ended", first)]


SCENARIOS = [
    # (name, order, inputs after opening, expected outcome or refusal code, reasons)
    ("over weight", VEG, [SelectLine("2"), stable(27000)], "rejected", ["QTY_OVER"]),
    ("chilled asks for temperature", MEAT, [SelectLine("1"), stable(12000)], "TEMP_REQUIRED", []),
    ("chilled too warm", MEAT, [SelectLine("1"), stable(12000), SetTemperature(Decimal("10.5"))],
     "rejected", ["TEMP_TOO_HIGH"]),
    ("count line asks for pieces", OIL, [SelectLine("1"), stable(18000)], "NO_PIECES", []),
    ("count line", OIL, [SelectLine("1"), SetPieces(4), ScanItem(batch="Y1")], "rejected",
     ["SUPPLIER_LICENSE_EXPIRED"]),
    ("scan not on order", VEG, [ScanItem(gtin="6901234567892"), stable(1000)], "rejected",
     ["ITEM_NOT_ON_ORDER"]),
    ("scan identifies line", MEAT,
     [ScanItem(gtin="06901234567892", batch="B2411"), stable(16000),
      SetTemperature(Decimal("-19"))], "accepted", []),
    ("nothing identified", VEG, [stable(1000)], "NO_LINE", []),
    ("packaged without batch", MEAT,
     [ScanItem(gtin="06901234567892"), stable(16000), SetTemperature(Decimal("-19"))],
     "rejected", ["TRACE_MISSING"]),
]


@pytest.mark.parametrize("name,order_id,inputs,expected,reasons", SCENARIOS,
                         ids=[s[0] for s in SCENARIOS])
def test_scenarios(journal: Journal, name: str, order_id: str, inputs: list[Any], expected: str,
                   reasons: list[str]) -> None:
    wf = make(journal)
    start(wf, order_id)
    for inp in inputs:
        assert wf.handle(inp).refused is None, inp
    res = confirm(wf)
    if expected in ("accepted", "rejected"):
        assert res.decision is not None and res.decision.outcome == expected
        assert list(res.decision.reasons) == reasons
        assert lines(journal)[-1]["type"] == f"line.{expected}"
    else:
        assert res.refused is not None and res.refused.code == expected
        assert lines(journal) == []


def test_single_inspector_is_recorded_as_rejection(journal: Journal) -> None:
    wf = make(journal)
    start(wf, inspectors=("zhang",))
    wf.handle(SelectLine("1"))
    wf.handle(stable(15000))
    assert confirm(wf).decision.reasons == ("INSPECTORS_TOO_FEW",)  # type: ignore[union-attr]


def test_delivery_note_price_and_batch(journal: Journal) -> None:
    note = {"dn": "DN-1", "order_id": VEG, "supplier_id": "sup-0031",
            "lines": [{"line_id": "1", "qty": "30", "unit": "jin", "unit_price_fen": 380,
                       "batch": "B2411", "production_date": "2026-11-27",
                       "expiry_date": "2026-12-02"}]}
    wf = make(journal)
    start(wf, note=note)
    wf.handle(SelectLine("1"))
    wf.handle(stable(15000))
    res = confirm(wf)
    assert res.decision is not None and res.decision.reasons == ("PRICE_ABOVE_ORDER",)
    body = lines(journal)[-1]["body"]
    assert body["batch"] == "B2411" and body["price"]["delivered_unit_price_fen"] == 380


def test_partial_deliveries_accumulate_then_close(journal: Journal) -> None:
    wf = make(journal)
    start(wf)
    for g, partial in ((7500, True), (7600, False)):
        wf.handle(SelectLine("1"))
        wf.handle(MarkPartial(partial))
        wf.handle(stable(g))
        assert confirm(wf).decision.outcome == "accepted"  # type: ignore[union-attr]
        wf.handle(stable(0))
    wf.handle(SelectLine("1"))
    wf.handle(stable(500))
    assert confirm(wf).decision.reasons == ("LINE_ALREADY_ACCEPTED",)  # type: ignore[union-attr]
    refused = wf.handle(CloseDelivery())  # the rejected goods have not been dealt with
    assert refused.refused is not None and refused.refused.code == "DISPOSITION_MISSING"
    (seq,) = wf.state.delivery.rejections  # type: ignore[union-attr]
    assert wf.handle(Dispose(seq, "returned", {"method": "badge", "badge": "D-7"})).refused is None
    res = wf.handle(CloseDelivery())
    assert res.refused is None and wf.state.delivery is None
    closed = list(read_events(journal.db, types=("delivery.closed",)))[-1]["body"]
    assert closed["lines_accepted"] == ["1"]
    assert [m["line_id"] for m in closed["lines_not_delivered"]] == ["2", "3", "4"]


def test_resume_after_restart(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    j = Journal(tmp_path / "s.db", key, "test-station-01")
    wf = make(j)
    start(wf)
    wf.handle(SelectLine("1"))
    wf.handle(MarkPartial())
    wf.handle(stable(7000))
    confirm(wf)
    j.close()  # power cut: a new process opens the same journal
    j2 = Journal(tmp_path / "s.db", key, "test-station-01")
    wf2 = make(j2)
    d = wf2.state.delivery
    assert d is not None and d.order_id == VEG and d.progress["1"].accepted_g == 7000
    assert wf2.state.inspectors == ("zhang", "li")
    # The decided item is on the scale as far as the journal knows: it takes no new facts.
    assert wf2.handle(SelectLine("1")).refused.code == "ALREADY_DECIDED"  # type: ignore[union-attr]
    wf2.handle(stable(0))  # taken off: the next placement
    wf2.handle(SelectLine("1"))
    wf2.handle(stable(8000))
    assert confirm(wf2).decision.outcome == "accepted"  # type: ignore[union-attr]
    wf2.handle(SelectLine("1"))
    assert wf2.handle(OpenDelivery(MEAT, "x")).refused.code == "DELIVERY_OPEN"  # type: ignore[union-attr]
    assert wf2.handle(CloseDelivery()).refused is None
    assert make(j2).state.delivery is None


def test_refusals_change_nothing(journal: Journal) -> None:
    wf = make(journal)
    before = wf.state
    for inp, code in [(SelectLine("1"), "NO_DELIVERY"), (ScanItem(gtin="1"), "NO_DELIVERY"),
                      (OpenDelivery("PO-nope", "x"), "ORDER_UNKNOWN"), (CloseDelivery(), "NO_DELIVERY"),
                      (Confirm(wf.state.placement.placement_id), "NO_DELIVERY"),
                      (Confirm("0b7e4bde-0000-4000-8000-000000000000"), "PLACEMENT_GONE"),
                      (SignIn(" ", pin="1111"), "UNKNOWN_INSPECTOR")]:
        res = wf.handle(inp)
        assert res.refused is not None and res.refused.code == code
        assert wf.state == before
    start(wf)
    assert wf.handle(SelectLine("99")).refused.code == "LINE_UNKNOWN"  # type: ignore[union-attr]
    assert [e["type"] for e in read_events(journal.db)] == ["inspector.signed_in"] * 2 + [
        "delivery.opened"]


def test_full_disk_refuses_with_the_real_cause(journal: Journal) -> None:
    wf = make(journal)
    start(wf)
    wf.handle(SelectLine("1"))
    wf.handle(stable(15000))
    pages = journal.db.execute("PRAGMA page_count").fetchone()[0]
    journal.db.execute(f"PRAGMA max_page_count={pages}")  # as a full disk: SQLITE_FULL
    with pytest.raises(sqlite3.OperationalError):  # use up the free room in the last pages
        for i in range(1000):
            journal.append("alert.raised", {"code": "T", "severity": "info", "message": "x" * 200,
                                            "refs": [i]})
    before = journal.last_seq()
    res = confirm(wf)
    assert res.refused is not None and res.refused.code == "DISK_FULL"
    assert res.refused.message == "磁盘已满，未保存：database or disk is full"
    assert wf.state.pending is None and not wf.state.placement.decided
    assert journal.last_seq() == before
    journal.db.execute("PRAGMA max_page_count=1073741823")  # space is back
    assert confirm(wf).decision.outcome == "accepted"  # type: ignore[union-attr]
    assert len(lines(journal)) == 1


def test_failed_commit_leaves_line_undecided(journal: Journal) -> None:
    wf = make(journal)
    start(wf)
    wf.handle(SelectLine("1"))
    wf.handle(stable(15000))
    journal.db.execute("PRAGMA query_only=1")  # the disk refuses writes
    res = confirm(wf)
    assert res.refused is not None and res.refused.code == "COMMIT_FAILED"
    assert wf.state.pending is None and not wf.state.placement.decided
    journal.db.execute("PRAGMA query_only=0")
    assert confirm(wf).decision.outcome == "accepted"  # type: ignore[union-attr]
    assert len(lines(journal)) == 1
