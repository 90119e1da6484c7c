"""The sensory checklist and the rapid test as matching rules: table-driven."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from edge.matching.inspection import SENSORY_ITEMS
from edge.matching.reasons import REASONS
from edge.matching.rules import decide
from edge.matching.types import Observation, RapidTest
from tests.test_core_matching import POLICY, line, obs, order

MEAT = replace(line(), item=replace(line().item, name="猪肉", category="meat"))
LEAFY = replace(line(), item=replace(line().item, name="上海青", category="leafy_vegetable"))
STRICT = replace(POLICY, sensory={"meat": ("spoiled", "odour", "refrozen")},
                 rapid_test_categories=("leafy_vegetable",))
FINE = (("spoiled", True), ("odour", True), ("refrozen", True))

INSPECTION_CASES: list[tuple[str, Any, Observation, str, tuple[str, ...]]] = [
    ("meat, all fine", MEAT, obs(net_g=15000, sensory=FINE), "accepted", ()),
    ("meat, unanswered", MEAT, obs(net_g=15000), "rejected", ("SENSORY_MISSING",)),
    ("meat, half answered", MEAT, obs(net_g=15000, sensory=FINE[:1]), "rejected",
     ("SENSORY_MISSING",)),
    ("leafy, no rapid test", LEAFY, obs(net_g=15000), "rejected", ("RAPID_TEST_MISSING",)),
    ("leafy, 49.9 %", LEAFY, obs(net_g=15000, rapid_test=RapidTest(Decimal("49.9"))),
     "accepted", ()),
    ("leafy, 50 % is the limit", LEAFY, obs(net_g=15000, rapid_test=RapidTest(Decimal("50"))),
     "accepted", ()),
    ("leafy, 50.1 %", LEAFY, obs(net_g=15000, rapid_test=RapidTest(Decimal("50.1"))),
     "rejected", ("RAPID_TEST_FAILED",)),
    ("leafy, failed kit", LEAFY, obs(net_g=15000, rapid_test=RapidTest(passed=False)),
     "rejected", ("RAPID_TEST_FAILED",)),
    ("leafy, passed kit", LEAFY, obs(net_g=15000, rapid_test=RapidTest(passed=True)),
     "accepted", ()),
    ("other category, test given anyway", line(),
     obs(net_g=15000, rapid_test=RapidTest(Decimal("70"))), "rejected", ("RAPID_TEST_FAILED",)),
] + [
    (f"meat, {key}", MEAT, obs(net_g=15000, sensory=(
        (key, False), *((k, True) for k, _ in FINE if k != key))), "rejected",
     (SENSORY_ITEMS[key][0],))
    for key in SENSORY_ITEMS
]


@pytest.mark.parametrize("name,ln,observation,outcome,reasons", INSPECTION_CASES,
                         ids=[c[0] for c in INSPECTION_CASES])
def test_inspection(name: str, ln: Any, observation: Observation, outcome: str,
                    reasons: tuple[str, ...]) -> None:
    d = decide(order(ln), observation, STRICT)
    assert (d.outcome, d.reasons) == (outcome, reasons), d.checks
    for c in d.checks:
        if c.code and c.code.startswith(("SENSORY_", "RAPID_")):
            assert c.detail and REASONS[c.code][1]  # shown in plain Chinese


def test_rapid_test_detail_names_sample_and_operator() -> None:
    d = decide(order(LEAFY), obs(net_g=15000, rapid_test=RapidTest(
        Decimal("62.5"), sample="上海青 200 g", operator="李娜")), STRICT)
    (c,) = [c for c in d.checks if c.check == "rapid_test"]
    assert c.detail == "农残抑制率 62.5%，限值 50%（样品 上海青 200 g，检测人 李娜）"


PORK_ORDER = replace(order(MEAT), document_kinds={"animal_quarantine": "动物检疫合格证明",
                                                  "commitment_cert": "承诺达标合格证",
                                                  "test_report": "检测报告"},
                     documents_required={"meat": (("animal_quarantine",),),
                                         "vegetable": (("commitment_cert", "test_report"),)})
DOC_CASES: list[tuple[str, Any, tuple[str, ...], str, tuple[str, ...]]] = [
    ("meat without its certificate", MEAT, (), "rejected", ("CERT_MISSING",)),
    ("meat with its certificate", MEAT, ("animal_quarantine",), "accepted", ()),
    ("meat with another document", MEAT, ("test_report",), "rejected", ("CERT_MISSING",)),
    ("produce with a test report", line(), ("test_report",), "accepted", ()),
    ("produce with a commitment cert", line(), ("commitment_cert",), "accepted", ()),
    ("produce without", line(), (), "rejected", ("CERT_MISSING",)),
]


@pytest.mark.parametrize("name,ln,docs,outcome,reasons", DOC_CASES, ids=[c[0] for c in DOC_CASES])
def test_documents_required_per_category(name: str, ln: Any, docs: tuple[str, ...], outcome: str,
                                         reasons: tuple[str, ...]) -> None:
    o = replace(PORK_ORDER, lines=(ln,))
    d = decide(o, obs(net_g=15000, documents=docs, sensory=FINE), STRICT)
    assert (d.outcome, d.reasons) == (outcome, reasons), d.checks
    if reasons:
        (c,) = [c for c in d.checks if c.check == "documents"]
        assert c.detail.startswith("缺少随货证明：")


def test_orders_with_an_unknown_document_kind_are_refused() -> None:
    from edge.orders.model import OrdersRefused, validate_orders
    from testbed.demo_data import DOCUMENTS, demo_orders

    doc = demo_orders("test-station-01", "2026-11-28", documents=True)
    assert validate_orders(doc)["documents"] == DOCUMENTS
    doc["documents"] = {**DOCUMENTS, "required": {"meat": [["vet_stamp"]]}}
    with pytest.raises(OrdersRefused, match="unknown document kind vet_stamp"):
        validate_orders(doc)
