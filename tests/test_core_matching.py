"""The matching rules, table-driven: every bound, every unit, every reason code."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.matching.reasons import REASONS
from edge.matching.rules import decide
from edge.matching.types import Item, Observation, Order, OrderLine, Policy, Supplier, Tolerance

DAY = date(2026, 11, 28)
AT = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)  # 07:00 in Shanghai on DAY
SUP = Supplier("sup-0031", "绿源", "余杭区", "王 138", "JY1", date(2027, 5, 1))


def line(line_id: str = "1", qty: str = "30", unit: str = "jin", *, over: str = "5",
         under: str = "3", abs_g: int | None = None, price: int = 350, per: str = "jin",
         storage: str = "ambient", max_temp: str | None = None, piece_g: int | None = None,
         gtin: str | None = None, code: str | None = None) -> OrderLine:
    return OrderLine(line_id, Item(code or f"item-{line_id}", "上海青", "vegetable", "散装", gtin),
                     Decimal(qty), unit, price, per, Tolerance(Decimal(over), Decimal(under), abs_g),
                     storage, None if max_temp is None else Decimal(max_temp), piece_g)


def order(*lines: OrderLine, supplier: Supplier = SUP) -> Order:
    return Order("PO-1", DAY, supplier, time(5, 30), time(9, 30), lines or (line(),))


def obs(**kw: Any) -> Observation:
    base: dict[str, Any] = dict(order_id="PO-1", supplier_id="sup-0031",
                                inspectors=("a", "b"), line_id="1", at=AT)
    base.update(kw)
    return Observation(**base)


POLICY = Policy()
# 30 jin = 15000 g; +5 % = 15750 g; −3 % = 14550 g.
CASES: list[tuple[str, Order, Observation, str, tuple[str, ...]]] = [
    ("exact", order(), obs(net_g=15000), "accepted", ()),
    ("on upper bound", order(), obs(net_g=15750), "accepted", ()),
    ("one gram over", order(), obs(net_g=15751), "rejected", ("QTY_OVER",)),
    ("on lower bound", order(), obs(net_g=14550), "accepted", ()),
    ("one gram under", order(), obs(net_g=14549), "rejected", ("QTY_UNDER",)),
    ("zero weight", order(), obs(net_g=0), "rejected", ("QTY_MISSING",)),
    ("negative weight", order(), obs(net_g=-5), "rejected", ("QTY_MISSING",)),
    ("no weight", order(), obs(), "rejected", ("QTY_MISSING",)),
    ("kg line upper", order(line(qty="15", unit="kg")), obs(net_g=15750), "accepted", ()),
    ("kg line over", order(line(qty="15", unit="kg")), obs(net_g=15751), "rejected", ("QTY_OVER",)),
    ("g line lower", order(line(qty="15000", unit="g")), obs(net_g=14550), "accepted", ()),
    ("g line under", order(line(qty="15000", unit="g")), obs(net_g=14549), "rejected",
     ("QTY_UNDER",)),
    ("decimal kg", order(line(qty="2.5", unit="kg", over="0", under="0")), obs(net_g=2500),
     "accepted", ()),
    ("decimal jin over", order(line(qty="0.5", unit="jin", over="0", under="0")), obs(net_g=251),
     "rejected", ("QTY_OVER",)),
    ("zero tolerance exact", order(line(over="0", under="0")), obs(net_g=15000), "accepted", ()),
    ("zero tolerance +1", order(line(over="0", under="0")), obs(net_g=15001), "rejected",
     ("QTY_OVER",)),
    ("abs_g wider than pct", order(line(qty="1", unit="kg", over="1", under="1", abs_g=50)),
     obs(net_g=1050), "accepted", ()),
    ("abs_g +1", order(line(qty="1", unit="kg", over="1", under="1", abs_g=50)), obs(net_g=1051),
     "rejected", ("QTY_OVER",)),
    ("abs_g under bound", order(line(qty="1", unit="kg", over="1", under="1", abs_g=50)),
     obs(net_g=950), "accepted", ()),
    ("fractional pct bound", order(line(qty="1", unit="kg", over="0.5", under="0.5")),
     obs(net_g=1005), "accepted", ()),
    ("fractional pct +1", order(line(qty="1", unit="kg", over="0.5", under="0.5")),
     obs(net_g=1006), "rejected", ("QTY_OVER",)),
    ("pieces by count", order(line(qty="10", unit="box", over="0", under="0", per="box")),
     obs(pieces=10), "accepted", ()),
    ("pieces count short", order(line(qty="10", unit="box", over="0", under="0", per="box")),
     obs(pieces=9), "rejected", ("QTY_UNDER",)),
    ("pieces count missing", order(line(qty="10", unit="box", per="box")), obs(net_g=100),
     "rejected", ("QTY_MISSING",)),
    ("pieces by weight", order(line(qty="8", unit="bag", over="2", under="2", per="bag",
                                    piece_g=2000)), obs(net_g=16320), "accepted", ()),
    ("pieces by weight over", order(line(qty="8", unit="bag", over="2", under="2", per="bag",
                                         piece_g=2000)), obs(net_g=16321), "rejected", ("QTY_OVER",)),
    ("bottle by count", order(line(qty="4", unit="bottle", over="0", under="0", per="bottle")),
     obs(pieces=5), "rejected", ("QTY_OVER",)),
    ("partial first crate", order(), obs(net_g=7500, partial=True), "accepted", ()),
    ("partial completes", order(), obs(net_g=7500, already_accepted_g=7500), "accepted", ()),
    ("partial over total", order(), obs(net_g=8300, already_accepted_g=7500), "rejected",
     ("QTY_OVER",)),
    ("line already accepted", order(), obs(net_g=100, already_accepted_g=15000), "rejected",
     ("LINE_ALREADY_ACCEPTED",)),
    ("line already at lower bound", order(), obs(net_g=10, already_accepted_g=14550), "rejected",
     ("LINE_ALREADY_ACCEPTED",)),
    ("unknown line", order(), obs(line_id="9", net_g=15000), "rejected", ("ITEM_NOT_ON_ORDER",)),
    ("by item code", order(line(code="veg-0101")), obs(line_id=None, item_code="veg-0101",
                                                     net_g=15000), "accepted", ()),
    ("unknown item code", order(), obs(line_id=None, item_code="nope", net_g=15000), "rejected",
     ("ITEM_NOT_ON_ORDER",)),
    ("by GTIN-13 vs 14", order(line(gtin="06901234567892")),
     obs(line_id=None, gtin="6901234567892", net_g=15000, batch="B1"), "accepted", ()),
    ("GTIN not on order", order(), obs(line_id=None, gtin="6901234567892", net_g=15000),
     "rejected", ("ITEM_NOT_ON_ORDER",)),
    ("GTIN contradicts line", order(line(gtin="06901234567892"), line("2", gtin="06920202888883")),
     obs(line_id="1", gtin="6920202888883", net_g=15000, batch="B"), "rejected", ("ITEM_MISMATCH",)),
    ("price equal", order(), obs(net_g=15000, unit_price_fen=350), "accepted", ()),
    ("price lower", order(), obs(net_g=15000, unit_price_fen=340), "accepted", ()),
    ("price one fen above", order(), obs(net_g=15000, unit_price_fen=351), "rejected",
     ("PRICE_ABOVE_ORDER",)),
    ("wrong supplier", order(), obs(net_g=15000, supplier_id="sup-9999"), "rejected",
     ("SUPPLIER_MISMATCH",)),
    ("licence valid on its last day", order(supplier=replace(SUP, license_expires=DAY)),
     obs(net_g=15000), "accepted", ()),
    ("licence expired", order(supplier=replace(SUP, license_expires=date(2026, 11, 27))),
     obs(net_g=15000), "rejected", ("SUPPLIER_LICENSE_EXPIRED",)),
    ("licence unknown", order(supplier=replace(SUP, license_expires=None)), obs(net_g=15000),
     "rejected", ("SUPPLIER_LICENSE_MISSING",)),
    ("expires today", order(), obs(net_g=15000, expiry_date=DAY), "accepted", ()),
    ("expired yesterday", order(), obs(net_g=15000, expiry_date=date(2026, 11, 27)), "rejected",
     ("EXPIRED",)),
    ("production tomorrow", order(), obs(net_g=15000, production_date=date(2026, 11, 29)),
     "rejected", ("PRODUCTION_DATE_IN_FUTURE",)),
    ("expiry before production", order(),
     obs(net_g=15000, production_date=date(2026, 11, 20), expiry_date=date(2026, 11, 10)),
     "rejected", ("DATES_INCONSISTENT",)),
    ("packaged without trace", order(line(gtin="06901234567892")), obs(net_g=15000), "rejected",
     ("TRACE_MISSING",)),
    ("packaged with production date", order(line(gtin="06901234567892")),
     obs(net_g=15000, production_date=date(2026, 11, 26)), "accepted", ()),
    ("chilled without temperature", order(line(storage="chilled", max_temp="4")),
     obs(net_g=15000), "rejected", ("TEMP_MISSING",)),
    ("chilled on limit", order(line(storage="chilled", max_temp="4")),
     obs(net_g=15000, temperature_c=Decimal("4")), "accepted", ()),
    ("chilled 0.1 over", order(line(storage="chilled", max_temp="4")),
     obs(net_g=15000, temperature_c=Decimal("4.1")), "rejected", ("TEMP_TOO_HIGH",)),
    ("frozen default limit", order(line(storage="frozen")),
     obs(net_g=15000, temperature_c=Decimal("-17.9")), "rejected", ("TEMP_TOO_HIGH",)),
    ("frozen at -18", order(line(storage="frozen")), obs(net_g=15000, temperature_c=Decimal("-18")),
     "accepted", ()),
    ("one inspector", order(), obs(net_g=15000, inspectors=("a",)), "rejected",
     ("INSPECTORS_TOO_FEW",)),
    ("same inspector twice", order(), obs(net_g=15000, inspectors=("a", "a")), "rejected",
     ("INSPECTORS_TOO_FEW",)),
    ("several failures", order(), obs(net_g=20000, unit_price_fen=400, inspectors=("a",)),
     "rejected", ("QTY_OVER", "PRICE_ABOVE_ORDER", "INSPECTORS_TOO_FEW")),
]


@pytest.mark.parametrize("name,o,ob,outcome,reasons", CASES, ids=[c[0] for c in CASES])
def test_decision_table(name: str, o: Order, ob: Observation, outcome: str,
                        reasons: tuple[str, ...]) -> None:
    d = decide(o, ob, POLICY)
    assert (d.outcome, d.reasons) == (outcome, reasons), [c.to_json() for c in d.checks]


def test_order_not_found() -> None:
    d = decide(None, obs(net_g=1), POLICY)
    assert d.outcome == "rejected" and d.reasons == ("ORDER_NOT_FOUND",)


WARN_CASES = [
    ("near expiry", obs(net_g=15000, expiry_date=date(2026, 11, 30)), "NEAR_EXPIRY"),
    ("outside window early", obs(net_g=15000, at=datetime(2026, 11, 27, 21, 0, tzinfo=UTC)),
     "OUTSIDE_WINDOW"),
    ("wrong day", obs(net_g=15000, at=datetime(2026, 11, 28, 23, 0, tzinfo=UTC)),
     "OUTSIDE_WINDOW"),
    ("partial", obs(net_g=7000, partial=True), "QTY_PARTIAL"),
]


@pytest.mark.parametrize("name,ob,code", WARN_CASES, ids=[c[0] for c in WARN_CASES])
def test_warnings_do_not_reject(name: str, ob: Observation, code: str) -> None:
    d = decide(order(), ob, Policy(today=DAY))
    assert d.outcome == "accepted" and code in d.warnings


def test_window_bounds_inclusive() -> None:
    for hh, mm in ((5, 30), (9, 30)):  # local times exactly on the bounds
        at = datetime(2026, 11, 28, hh, mm, tzinfo=POLICY.tz)
        assert "OUTSIDE_WINDOW" not in decide(order(), obs(net_g=15000, at=at), POLICY).warnings
    at = datetime(2026, 11, 28, 9, 31, tzinfo=POLICY.tz)
    assert "OUTSIDE_WINDOW" in decide(order(), obs(net_g=15000, at=at), POLICY).warnings


def test_detail_reads_like_the_kiosk() -> None:
    d = decide(order(), obs(net_g=15900), POLICY)
    q = next(c for c in d.checks if c.check == "quantity")
    assert q.detail == "重量超出订单上限 5%：实收 31.8 斤，订单 30 斤"


def test_amount_is_ordered_price_times_quantity_in_price_unit() -> None:
    o = order(line(qty="20000", unit="g", price=450, per="jin"))
    d = decide(o, obs(net_g=20000, unit_price_fen=400), POLICY)
    assert d.amount_fen == 18000  # 40 jin × 4.50 yuan, at the ordered price


def test_every_reason_code_is_exercised() -> None:
    from tests.test_inspection import DOC_CASES, INSPECTION_CASES

    seen = {r for c in CASES for r in c[4]} | {w[2] for w in WARN_CASES} | {"ORDER_NOT_FOUND"}
    seen |= {r for c in INSPECTION_CASES for r in c[4]} | {r for c in DOC_CASES for r in c[4]}
    assert seen == set(REASONS)


# -- properties ----------------------------------------------------------------------------

UNITS = [("g", 1), ("kg", 1000), ("jin", 500)]


@settings(max_examples=300, deadline=None)
@given(grams=st.integers(1, 200_000), net=st.integers(-10, 300_000),
       over=st.decimals(0, 20, places=1), under=st.decimals(0, 20, places=1),
       already=st.integers(0, 100_000), partial=st.booleans())
def test_unit_of_the_order_never_changes_outcome(grams: int, net: int, over: Decimal,
                                                 under: Decimal, already: int,
                                                 partial: bool) -> None:
    outcomes = set()
    for unit, per in UNITS:
        qty = Decimal(grams) / per
        o = order(line(qty=str(qty), unit=unit, over=str(over), under=str(under)))
        d = decide(o, obs(net_g=net, already_accepted_g=already, partial=partial), POLICY)
        outcomes.add((d.outcome, d.reasons))
    assert len(outcomes) == 1


@settings(max_examples=300, deadline=None)
@given(net=st.integers(10_000, 20_000), price=st.integers(300, 400),
       two=st.booleans(), left=st.integers(0, 2), minute=st.integers(0, 23 * 60 + 59),
       storage=st.sampled_from(["ambient", "chilled"]),
       temp=st.none() | st.decimals(-5, 15, places=1))
def test_warnings_never_change_outcome(net: int, price: int, two: bool, left: int,
                                       minute: int, storage: str,
                                       temp: Decimal | None) -> None:
    o = order(line(storage=storage, max_temp="8" if storage == "chilled" else None))
    base = obs(net_g=net, unit_price_fen=price, inspectors=("a", "b") if two else ("a",),
               temperature_c=temp, at=datetime(2026, 11, 28, 7, 0, tzinfo=POLICY.tz),
               expiry_date=date(2026, 12, 20))
    warned = replace(base, expiry_date=date(2026, 11, 28 + left),
                     at=datetime(2026, 11, 28, minute // 60, minute % 60, tzinfo=POLICY.tz))
    a, b = decide(o, base, POLICY), decide(o, warned, POLICY)
    assert (a.outcome, a.reasons) == (b.outcome, b.reasons)
