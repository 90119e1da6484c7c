"""What a parsed code means to the workflow: a pure mapping from code to input.

A delivery note opens its delivery, a badge signs an inspector in, a GS1 label
or an EAN identifies the item on the scale (with batch and dates riding along),
an in-store weight label identifies it by its item digits. A traceability code
(浙食链, 承诺达标合格证) is kept with the item but never identifies it: it names a
batch's trace record, not an order line. A code that means nothing here maps
to None and is only logged.
"""

from __future__ import annotations

import uuid
from datetime import date

from edge.codes.delivery_note import DeliveryNote
from edge.codes.gs1 import GS1Result
from edge.codes.gs1_typed import country_zh
from edge.codes.parse import Badge, ParsedCode, PlainCode, TraceCode
from edge.codes.weight_label import WeightLabel
from edge.workflow.model import Input, OpenDelivery, ScanItem, ScanTrace, SignIn, State


def _d(text: object) -> date | None:
    return date.fromisoformat(text) if isinstance(text, str) else None


def input_for(code: ParsedCode, state: State) -> Input | None:
    if isinstance(code, Badge):
        return SignIn(badge=code.staff_id)
    if isinstance(code, DeliveryNote):
        note = code.note
        if state.delivery is not None and state.delivery.order_id == note["order_id"]:
            return None  # the note of the delivery already open: nothing new
        return OpenDelivery(order_id=note["order_id"], delivery_id=str(uuid.uuid4()),
                            supplier_id=note.get("supplier_id"), note=note)
    if isinstance(code, GS1Result):
        t = code.typed
        gtin = t.get("gtin")
        if gtin is None and not t.get("batch"):
            return None  # an SSCC or a bare serial says nothing about the item
        expiry = (_d(t.get("expiry")) or _d(str(t.get("expiry_time", ""))[:10] or None)
                  or _d(t.get("best_before")))
        return ScanItem(gtin=gtin, batch=t.get("batch"),
                        production_date=_d(t.get("production_date")), expiry_date=expiry,
                        origin=country_zh(t["origin_country"]) if t.get("origin_country") else None)
    if isinstance(code, TraceCode):
        return ScanTrace(scheme=code.scheme, code=code.code, url=code.url)
    if isinstance(code, WeightLabel):
        return ScanItem(item_code=code.item)
    if isinstance(code, PlainCode):
        if code.gtin:
            return ScanItem(gtin=code.gtin)
        return ScanItem(item_code=code.text)
    return None
