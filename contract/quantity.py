"""Units of the orders contract and how a received quantity is written for people.

The units are the orders schema's (``contract/schemas/orders.v1.json``); the
station's exact conversions (``edge.matching.units``) and central's public pages
both read them from here, so the hall screen, the kiosk and a phone show a
delivery in the unit it was ordered in (斤, 公斤, 件 …), never as grams or as
kilograms with three decimals.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

GRAMS_PER: dict[str, int] = {"g": 1, "kg": 1000, "jin": 500}
PIECE_UNITS = frozenset({"piece", "box", "bag", "bottle"})
UNIT_ZH: dict[str, str] = {
    "g": "克", "kg": "公斤", "jin": "斤", "piece": "件", "box": "箱", "bag": "袋", "bottle": "瓶",
}


def fmt(value: Decimal | int) -> str:
    """A decimal as people write it: no exponent, no trailing zeros."""
    d = Decimal(value)
    if d == d.to_integral_value():
        return str(d.quantize(Decimal(1)))
    return format(d.normalize(), "f")


def received_quantity(measured: dict[str, Any], ordered: dict[str, Any] | None) -> tuple[str, str] | None:
    """What was received, in the order's unit, rounded to 0.01 for reading: (number, unit word),
    None when the record carries no quantity (pure).

    A weight line shows its net weight in the order's weight unit; a count line its
    piece count; a count line weighed without a count shows the net weight in 公斤.
    Records without an ``ordered`` unit (older, hand-made, a wrong item) fall back to 公斤.
    Every reader (hall, public pages, ledger, return slip) goes through here, so the
    same record reads the same everywhere; exact grams stay in the record.
    """
    unit = str((ordered or {}).get("unit") or "kg")
    net, pieces = measured.get("net_g"), measured.get("pieces")
    if unit in GRAMS_PER and isinstance(net, int):
        v = (Decimal(net) / GRAMS_PER[unit]).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return fmt(v), UNIT_ZH[unit]
    if isinstance(pieces, int) and pieces > 0:
        return str(pieces), UNIT_ZH.get(unit, "件")
    if isinstance(net, int):
        v = (Decimal(net) / 1000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return fmt(v), "公斤"
    return None


def received_text(measured: dict[str, Any], ordered: dict[str, Any] | None) -> str:
    """``received_quantity`` as one phrase ("30.25 斤"), "—" when there is none."""
    q = received_quantity(measured, ordered)
    return "—" if q is None else f"{q[0]} {q[1]}"
