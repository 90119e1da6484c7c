"""Codes as read by a scanner, mapped to workflow inputs (parse_code + input_for)."""

from __future__ import annotations

import json
from datetime import date

import cv2
import numpy as np
import pytest

from edge.codes.config import CodesSection
from edge.codes.parse import parse_code
from edge.journal import Journal
from edge.vision.config import DecoderSection
from edge.vision.frame_decoder import FrameDecoder
from edge.vision.render import symbol
from edge.workflow.model import OpenDelivery, ScanItem, ScanTrace, SelectLine, SignIn, State
from edge.workflow.scans import input_for
from tests.test_workflow import confirm, lines, make, stable, start

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
    ("]C1010690123456789270032612011200", ScanItem(gtin="06901234567892",
                                                    expiry_date=date(2026, 12, 1))),
    ("veg-0101", ScanItem(item_code="veg-0101")),
])
def test_codes_to_inputs(text: str, expected: object) -> None:
    assert input_for(parse_code(text, CODES), State()) == expected


def test_delivery_note_opens_once() -> None:
    code = parse_code("ADN1:" + json.dumps(NOTE), CODES)
    inp = input_for(code, State())
    assert isinstance(inp, OpenDelivery) and inp.order_id == NOTE["order_id"]
    assert inp.note == NOTE and inp.supplier_id == "sup-0031"


TRACE_URL = "https://zsl.zjamr.zj.gov.cn/trace?code=330106202611280012&src=qr"


def test_trace_code_maps_to_scan_trace_not_to_an_item() -> None:
    inp = input_for(parse_code(TRACE_URL, CODES), State())
    assert inp == ScanTrace("zheshilian", "330106202611280012", TRACE_URL)


def test_trace_qr_under_the_camera_is_stored_and_does_not_identify_the_line(
        journal: Journal) -> None:
    """A 浙食链 QR held under the camera with a tapped line: accepted, trace code on record."""
    frame = cv2.cvtColor(np.pad(symbol(TRACE_URL, "qr-code", 4), 40, constant_values=255),
                         cv2.COLOR_GRAY2BGR)
    (read,) = FrameDecoder(DecoderSection())(frame)
    wf = make(journal)
    start(wf)
    wf.handle(SelectLine("1"))
    wf.handle(stable(15000))
    inp = input_for(parse_code(read.text, CODES), wf.state)
    assert isinstance(inp, ScanTrace)
    assert wf.handle(inp).refused is None
    res = confirm(wf)
    assert res.decision is not None and res.decision.outcome == "accepted", res.decision
    assert "ITEM_MISMATCH" not in res.decision.reasons
    (event,) = lines(journal)
    assert event["type"] == "line.accepted" and event["body"]["scanned"] == {
        "item_code": None, "gtin": None}
    assert event["body"]["trace_codes"] == [
        {"scheme": "zheshilian", "code": "330106202611280012", "url": TRACE_URL}]


def test_trace_code_needs_an_open_delivery_and_counts_once(journal: Journal) -> None:
    wf = make(journal)
    code = ScanTrace("hegezheng", "HGZ-1", "https://x.moa.gov.cn/c?certNo=HGZ-1")
    res = wf.handle(code)
    assert res.refused is not None and res.refused.code == "NO_DELIVERY"
    start(wf)
    wf.handle(code)
    wf.handle(code)
    assert len(wf.state.placement.trace) == 1
