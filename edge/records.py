"""Bodies of the ``line.accepted`` / ``line.rejected`` events (docs/contract.md §3).

One function builds the incoming-inspection record from the order, what was
measured and the decision, so the kiosk, the demo and the tests record the same
fields the Food Safety Law (Art. 50, 53) asks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.matching.types import Decision, Observation, Order
from edge.matching.units import fmt


@dataclass(frozen=True)
class Measurement:
    """What the scale said: whole grams, the protocol, the raw frame text and when it came.

    ``received_at`` is the wall-clock time the deciding frame arrived and ``age_ms``
    how old it was when the decision was made (a weight is evidence only while fresh).
    """

    net_g: int | None
    gross_g: int | None = None
    tare_g: int | None = None
    pieces: int | None = None
    protocol: str = "manual"
    stable: bool | None = None
    raw: str = ""
    received_at: str | None = None
    age_ms: int | None = None


def _d(value: object) -> str | None:
    return None if value is None else str(value)


def line_event(
    order: Order, obs: Observation, decision: Decision, m: Measurement, *,
    delivery_id: str, clip_id: str | None, trace_codes: tuple[dict[str, str], ...] = (),
    extra: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """(event type, body) for one decided line; no floats, dates as ISO strings.

    ``extra`` adds fields (placement id, provenance of values); it never replaces one.
    """
    line = decision.line
    s = order.supplier
    body: dict[str, Any] = {
        "delivery_id": delivery_id,
        "order_id": order.order_id,
        "line_id": line.line_id if line else obs.line_id,
        "item": None if line is None else {
            "code": line.item.code, "name": line.item.name, "category": line.item.category,
            "spec": line.item.spec, "gtin": line.item.gtin,
        },
        "scanned": {"item_code": obs.item_code, "gtin": obs.gtin},
        "ordered": None if line is None else {
            "value": fmt(line.qty_value), "unit": line.qty_unit, "grams": decision.ordered_g,
            "piece_g": line.piece_g,
        },
        "measured": {
            "gross_g": m.gross_g, "tare_g": m.tare_g, "net_g": m.net_g, "pieces": m.pieces,
            "protocol": m.protocol, "stable": m.stable, "raw": m.raw,
            "received_at": m.received_at, "age_ms": m.age_ms,
        },
        "price": {
            "ordered_unit_price_fen": None if line is None else line.unit_price_fen,
            "delivered_unit_price_fen": obs.unit_price_fen,
            "price_per": None if line is None else line.price_per,
            "amount_fen": decision.amount_fen if decision.outcome == "accepted" else None,
        },
        "batch": obs.batch,
        "production_date": _d(obs.production_date),
        "expiry_date": _d(obs.expiry_date),
        "storage": None if line is None else line.storage,
        "temperature_c": None if obs.temperature_c is None else fmt(obs.temperature_c),
        "supplier": {
            "supplier_id": s.supplier_id, "name": s.name, "address": s.address,
            "contact": s.contact, "license_no": s.license_no,
            "license_expires": _d(s.license_expires),
        },
        "delivered_by": obs.supplier_id,
        "inspectors": sorted(set(obs.inspectors)),
        "partial": obs.partial,
        "checks": [c.to_json() for c in decision.checks],
        "reasons": list(decision.reasons),
        "warnings": list(decision.warnings),
        "clip_id": clip_id,
        "trace_codes": [dict(t) for t in trace_codes],  # 浙食链 etc. scanned with the item
    }
    for k, v in (extra or {}).items():
        if k in body:
            raise ValueError(f"extra field {k!r} would replace a record field")
        body[k] = v
    kind = "line.accepted" if decision.outcome == "accepted" else "line.rejected"
    return kind, body
