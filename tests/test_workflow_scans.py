"""Codes as read by a scanner, mapped to workflow inputs (parse_code + input_for)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from edge.codes import parse_code
from edge.codes.config import CodesSection
from edge.workflow.model import OpenDelivery, ScanItem, SignIn, State
from edge.workflow.scans import input_for

NOTE = {"dn": "DN-1", "order_id": "PO-20261128-0012", "supplier_id": "sup-0031",
        "lines": [{"line_id": "1", "qty": "30", "unit": "jin", "unit_price_fen": 350,
                   "batch": "B2411", "production_date": "2026-11-27",
                   "expiry_date": "2026-12-02"}]}
CODES = CodesSection(badge_pattern=r"STAFF-(?P<id>\d{4})")


@pytest.mark.parametrize("text,expected", [
    ("STAFF-0042", SignIn(badge="0042")),
    ("]C10106901234567892172612001 0B2411".replace(" ", ""),
     ScanItem(gtin="06901234567892", batch="B2411", expiry_date=date(2026, 12, 31))),
    ("(01)06901234567892(11)261127(10)B7", ScanItem(gtin="06901234567892", batch="B7",
                                               production_date=date(2026, 11, 27))),
    ("6901234567892", ScanItem(gtin="06901234567892")),
    ("veg-0101", ScanItem(item_code="veg-0101")),
])
def test_codes_to_inputs(text: str, expected: object) -> None:
    assert input_for(parse_code(text, CODES), State()) == expected


def test_delivery_note_opens_once() -> None:
    code = parse_code("ADN1:" + json.dumps(NOTE), CODES)
    inp = input_for(code, State())
    assert isinstance(inp, OpenDelivery) and inp.order_id == NOTE["order_id"]
    assert inp.note == NOTE and inp.supplier_id == "sup-0031"
