"""Turning a validated orders document (and an observation) into matching values.

A document is checked by its JSON Schema first, then by the rules a schema
cannot state (unique ids, a sane window, price units that can be computed).
Any problem refuses the whole document: a half-loaded order is worse than the
last good copy.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from typing import Any

from contract import schemas
from core import jsonsafe
from core.clock import parse_rfc3339
from edge.matching.types import Item, Observation, Order, OrderLine, Supplier, Tolerance
from edge.matching.units import PIECE_UNITS, is_weight_unit


class OrdersRefused(ValueError):
    """The orders document is invalid; the message says where and why."""


class ObservationInvalid(ValueError):
    """An observation (decide input) is invalid."""


def _date(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _semantic_problems(doc: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    docs = doc.get("documents") or {"kinds": {}, "required": {}}
    for category, reqs in docs["required"].items():
        for kind in {k for r in reqs for k in r} - set(docs["kinds"]):
            problems.append(f"$.documents.required.{category}: unknown document kind {kind}")
    seen_orders: set[str] = set()
    for i, order in enumerate(doc["orders"]):
        where = f"$.orders[{i}]"
        if order["order_id"] in seen_orders:
            problems.append(f"{where}.order_id: duplicate order id {order['order_id']}")
        seen_orders.add(order["order_id"])
        if order["window"]["from"] > order["window"]["to"]:
            problems.append(f"{where}.window: 'from' is after 'to'")
        seen_lines: set[str] = set()
        for j, line in enumerate(order["lines"]):
            lw = f"{where}.lines[{j}]"
            if line["line_id"] in seen_lines:
                problems.append(f"{lw}.line_id: duplicate line id {line['line_id']}")
            seen_lines.add(line["line_id"])
            unit, per = line["quantity"]["unit"], line["price_per"]
            # Counted by piece but billed by weight is fine: the amount comes from net grams.
            if per in PIECE_UNITS and is_weight_unit(unit) and line["piece_g"] is None:
                problems.append(f"{lw}.price_per: priced per {per} but ordered by weight "
                                "without piece_g")
        try:
            _date(order["supplier"]["license_expires"])
        except ValueError as exc:
            problems.append(f"{where}.supplier.license_expires: {exc}")
    return problems


def _schema_errors(name: str, doc: Any) -> list[str]:
    """Schema problems; a structure too deep to check is one (documents come from
    ``core.jsonsafe`` depth-bounded, this is the backstop for other callers)."""
    try:
        return schemas.errors(name, doc)
    except RecursionError:
        return ["$: nested too deeply"]


def load_json(text: str | bytes, max_bytes: int = 16 << 20) -> Any:
    """Strict JSON of an orders document or observation (``core.jsonsafe``): ValueError."""
    return jsonsafe.loads(text, max_bytes=max_bytes)


def validate_orders(doc: Any, *, station_id: str | None = None,
                    delivery_date: str | None = None) -> dict[str, Any]:
    """Return the document when valid for this station and date; else OrdersRefused."""
    errs = _schema_errors("orders.v1", doc)
    if errs:
        raise OrdersRefused("orders document violates acceptance.orders/1: " + "; ".join(errs))
    assert isinstance(doc, dict)
    problems = _semantic_problems(doc)
    try:
        date.fromisoformat(doc["delivery_date"])
    except ValueError as exc:
        problems.append(f"$.delivery_date: {exc}")
    if station_id is not None and doc["station_id"] != station_id:
        problems.append(f"$.station_id: document is for {doc['station_id']}, not {station_id}")
    if delivery_date is not None and doc["delivery_date"] != delivery_date:
        problems.append(f"$.delivery_date: document is for {doc['delivery_date']}, "
                        f"not {delivery_date}")
    if problems:
        raise OrdersRefused("orders document refused: " + "; ".join(problems[:5]))
    return doc


def _line(d: dict[str, Any]) -> OrderLine:
    it, tol = d["item"], d["tolerance"]
    return OrderLine(
        line_id=d["line_id"],
        item=Item(it["code"], it["name"], it["category"], it["spec"], it["gtin"]),
        qty_value=Decimal(d["quantity"]["value"]),
        qty_unit=d["quantity"]["unit"],
        unit_price_fen=d["unit_price_fen"],
        price_per=d["price_per"],
        tolerance=Tolerance(Decimal(tol["over_pct"]), Decimal(tol["under_pct"]), tol["abs_g"]),
        storage=d["storage"],
        max_temp_c=None if d["max_temp_c"] is None else Decimal(d["max_temp_c"]),
        piece_g=d["piece_g"],
        origin=d.get("origin"),
    )


def orders_from_doc(doc: dict[str, Any]) -> dict[str, Order]:
    """Matching values for every order of a validated document, by order id."""
    day = date.fromisoformat(doc["delivery_date"])
    docs = doc.get("documents") or {}
    out = {}
    for o in doc["orders"]:
        s = o["supplier"]
        out[o["order_id"]] = Order(
            order_id=o["order_id"],
            delivery_date=day,
            supplier=Supplier(s["supplier_id"], s["name"], s["address"], s["contact"],
                              s["license_no"], _date(s["license_expires"])),
            window_from=time.fromisoformat(o["window"]["from"]),
            window_to=time.fromisoformat(o["window"]["to"]),
            lines=tuple(_line(ln) for ln in o["lines"]),
            document_kinds=dict(docs.get("kinds", {})),
            documents_required={c: tuple(tuple(r) for r in reqs)
                                for c, reqs in docs.get("required", {}).items()},
        )
    return out


def observation_from_json(d: Any) -> Observation:
    """Validate and convert a ``decide`` observation; absent fields stay absent."""
    errs = _schema_errors("observation.v1", d)
    if errs:
        raise ObservationInvalid("observation invalid: " + "; ".join(errs))
    try:
        return Observation(
            order_id=d["order_id"],
            supplier_id=d["supplier_id"],
            inspectors=tuple(d["inspectors"]),
            line_id=d.get("line_id"),
            item_code=d.get("item_code"),
            gtin=d.get("gtin"),
            net_g=d.get("net_g"),
            pieces=d.get("pieces"),
            unit_price_fen=d.get("unit_price_fen"),
            batch=d.get("batch"),
            production_date=_date(d.get("production_date")),
            expiry_date=_date(d.get("expiry_date")),
            temperature_c=None if "temperature_c" not in d else Decimal(d["temperature_c"]),
            at=None if "at" not in d else parse_rfc3339(d["at"]),
            already_accepted_g=d.get("already_accepted_g", 0),
            already_accepted_pieces=d.get("already_accepted_pieces", 0),
            partial=d.get("partial", False),
        )
    except ValueError as exc:
        raise ObservationInvalid(f"observation invalid: {exc}") from exc
