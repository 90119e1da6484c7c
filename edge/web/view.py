"""What the kiosk shows, as one JSON snapshot built from the workflow state.

Pure: the page renders this and nothing else, so the browser test and the API
test look at the same data. Quantities are shown in the order's unit with
exact decimals; reasons carry their Chinese label.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from edge.matching.inspection import (
    SENSORY_ITEMS,
    document_requirements,
    needs_rapid_test,
    sensory_items,
)
from edge.matching.reasons import REASONS
from edge.matching.types import Order, OrderLine, Policy, gtin14
from edge.matching.units import UNIT_ZH, fmt, grams_in, is_weight_unit
from edge.roster.model import Roster
from edge.web.advice import (
    advice,
    amount,
    band,
    shown_unit,
    suggested_pieces,
    temperature_limit,
)
from edge.workflow.machine import needs_temperature, needs_weight
from edge.workflow.model import Progress, Result, ScaleLive, State
from edge.workflow.rejections import DISPOSITIONS

STORAGE_ZH = {"ambient": "常温", "chilled": "冷藏", "frozen": "冷冻"}


def _received(line: OrderLine, p: Progress) -> str:
    """What the line took so far, in the order's unit (pieces weighed: their weight in pieces)."""
    if is_weight_unit(line.qty_unit) or (line.piece_g and not p.accepted_pieces):
        v = grams_in(p.accepted_g, line.qty_unit, line.piece_g)
        return amount(v if v is not None else Decimal(0), line.qty_unit)
    return f"{p.accepted_pieces} {UNIT_ZH[line.qty_unit]}"


def _status(p: Progress) -> str:
    if p.accepted:
        return "accepted"
    return "rejected" if p.rejected else "pending"


def line_view(line: OrderLine, p: Progress, policy: Policy | None = None,
              order: Order | None = None) -> dict[str, Any]:
    policy = policy or Policy()
    reqs = () if order is None else document_requirements(order, line)
    limit = temperature_limit(line, policy) if needs_temperature(line) else None
    return {
        "documents": [[{"kind": k, "label": order.document_kinds.get(k, k)} for k in r]
                      for r in reqs] if order is not None else [],
        "sensory": [{"key": k, "label": SENSORY_ITEMS[k][1]} for k in sensory_items(line, policy)],
        "rapid_test": needs_rapid_test(line, policy),
        "line_id": line.line_id, "item": line.item.name, "spec": line.item.spec,
        "code": line.item.code, "gtin": line.item.gtin,
        "ordered": f"{fmt(line.qty_value)} {UNIT_ZH[line.qty_unit]}",
        "received": _received(line, p), "status": _status(p),
        "storage": STORAGE_ZH[line.storage], "needs_temperature": needs_temperature(line),
        "weighed": needs_weight(line), "unit": line.qty_unit,
        "counted": not is_weight_unit(line.qty_unit) and line.piece_g is None,
        "band": band(line, p),
        "temp_limit": None if limit is None else f"上限 {fmt(limit)} ℃",
    }


def weight_view(net_g: int, unit: str = "jin") -> str:
    v = grams_in(net_g, unit)
    return f"{fmt(v if v is not None else net_g)} {UNIT_ZH[unit]}"


def outcome_view(res: Result) -> dict[str, Any]:
    """What an accepted input answers besides the state: a decision and where it is recorded.

    A confirm of a placement decided before answers that decision (``existing``: true)
    with the seq and event id it was committed under; nothing new is recorded.
    """
    if res.existing is not None:
        ref = res.existing
        return {"decision": {k: ref[k] for k in ("outcome", "reasons", "checks")},
                "committed": {k: ref[k] for k in ("seq", "event_id", "type")}, "existing": True}
    if res.decision is None:
        return {}
    out: dict[str, Any] = {"decision": res.decision.to_json(), "existing": False}
    for ev in res.committed:
        if ev["type"].startswith("line."):
            out["committed"] = {"seq": ev["seq"], "event_id": ev["event_id"], "type": ev["type"]}
    return out


def scale_view(live: ScaleLive | None, max_age_s: float) -> dict[str, Any]:
    """Whether the weight on screen is evidence now: a connected link and a fresh reading."""
    if live is None:
        return {"connected": False, "fresh": False, "age_ms": None}
    w = live.latest
    age = None if w is None or w.received_mono is None else live.mono - w.received_mono
    fresh = live.connected and age is not None and age <= max_age_s and (
        live.connected_since is None or (w is not None and (w.received_mono or 0) >= live.connected_since))
    return {"connected": live.connected, "fresh": bool(fresh),
            "age_ms": None if age is None else int(age * 1000)}


def _last(state: State, order: Order | None, policy: Policy | None) -> dict[str, Any] | None:
    """The last decision with its reasons' labels and what staff should do now."""
    if not state.last:
        return None
    last = state.last
    line = None if order is None else order.by_line_id.get(last.get("line_id") or "")
    d = state.delivery
    p = d.progress.get(line.line_id, Progress()) if d is not None and line is not None else Progress()
    return {**last, "item": last.get("item") if line is not None else "不在订单上的货品",
            "reasons": [{"code": c, "label": REASONS[c][1] if c in REASONS else c}
                        for c in last.get("reasons", [])],
            "advice": advice(last, line, p, policy or Policy())}


def closed_view(closed: dict[str, Any] | None, orders: dict[str, Order]) -> dict[str, Any] | None:
    """The summary of the delivery just closed: accepted, rejected (disposed how), not delivered.

    ``delivery.closed`` lists a rejected line among ``lines_not_delivered`` too; the
    summary counts it once, as rejected.
    """
    if not closed:
        return None
    order = orders.get(closed["order_id"])
    names = {} if order is None else {ln.line_id: ln.item.name for ln in order.lines}
    rejected = set(closed.get("lines_rejected", []))
    disposed = [{"line_id": r["line_id"], "item": names.get(r["line_id"], "不在订单上的货品"),
                 "disposition": DISPOSITIONS.get(r.get("disposition") or "", "未处置")}
                for r in closed.get("rejections", [])]
    return {"delivery_id": closed["delivery_id"], "order_id": closed["order_id"],
            "supplier": "" if order is None else order.supplier.name,
            "accepted": [{"line_id": lid, "item": names.get(lid, lid)}
                         for lid in closed.get("lines_accepted", [])],
            "rejected": disposed,
            "not_delivered": [{"line_id": m["line_id"], "item": m["item"], "ordered": amount(
                Decimal(m["ordered"]["value"]), m["ordered"]["unit"])}
                for m in closed.get("lines_not_delivered", []) if m["line_id"] not in rejected]}


def snapshot(state: State, orders: dict[str, Order], devices: dict[str, Any],
             live: ScaleLive | None = None, max_age_s: float = 1.5,
             policy: Policy | None = None, roster: Roster | None = None) -> dict[str, Any]:
    d = state.delivery
    order = orders.get(d.order_id) if d else None
    p = state.placement
    w = state.weight
    line = None if order is None else (order.by_line_id.get(p.line_id or "")
                                       or (order.by_gtin.get(gtin14(p.gtin)) if p.gtin else None)
                                       or order.by_item_code.get(p.item_code or ""))
    unit = "jin" if line is None else shown_unit(line)  # the line's unit, as its band shows
    scale = scale_view(live, max_age_s)
    return {
        "inspectors": list(state.inspectors),
        "signed_in": [{"inspector_id": i, "name": state.names.get(i, i)} for i in state.inspectors],
        "roster": [] if roster is None else [{"inspector_id": i.inspector_id, "name": i.name,
                                              "role": i.role} for i in roster.inspectors],
        "orders": [{"order_id": o.order_id, "supplier": o.supplier.name,
                    "supplier_id": o.supplier.supplier_id,
                    "window": f"{o.window_from:%H:%M}–{o.window_to:%H:%M}",
                    "lines": len(o.lines), "closed": o.order_id in state.closed_orders}
                   for o in orders.values()],
        "delivery": None if d is None else {
            "delivery_id": d.delivery_id, "order_id": d.order_id, "supplier_id": d.supplier_id,
            "supplier": order.supplier.name if order else d.supplier_id, "note": d.note_id,
            "rejections": [{"seq": seq, "line_id": r["line_id"],
                            "item": r["item"] or "不在订单上的货品",
                            "reasons": [REASONS[c][1] if c in REASONS else c
                                        for c in r["reasons"]],
                            "disposition": None if r["disposition"] is None
                            else DISPOSITIONS[r["disposition"]]}
                           for seq, r in d.rejections.items()],
            "lines": [line_view(ln, d.progress.get(ln.line_id, Progress()), policy, order)
                      for ln in (order.lines if order else ())],
        },
        "placement": placement_view(state, line),
        "weight": None if w is None else {
            "net_g": w.net_g, "stable": w.stable and scale["fresh"], "fresh": scale["fresh"],
            "text": weight_view(w.net_g, unit), "kg": weight_view(w.net_g, "kg"),
        },
        "scale": scale,
        "pending": state.pending is not None,
        "last": _last(state, order, policy),
        "closed": state.closed,
        "summary": closed_view(state.closed, orders),
        "devices": devices,
    }


def placement_view(state: State, line: OrderLine | None) -> dict[str, Any]:
    p = state.placement
    w = state.weight
    return {
        "placement_id": p.placement_id, "line_id": p.line_id, "gtin": p.gtin,
        "resolved_line_id": None if line is None else line.line_id,
        "suggested_pieces": None if line is None or w is None or not p.loaded
        else suggested_pieces(line, w.net_g),
        "item_code": p.item_code, "batch": p.batch,
        "production_date": None if p.production_date is None else p.production_date.isoformat(),
        "expiry_date": None if p.expiry_date is None else p.expiry_date.isoformat(),
        "pieces": p.pieces,
        "temperature_c": None if p.temperature_c is None else fmt(p.temperature_c),
        "temperature_source": p.temperature_source, "trace_codes": [dict(t) for t in p.trace],
        "partial": p.partial, "decided": p.decided, "loaded": p.loaded,
        "sensory": {k: "ok" if ok else "found" for k, ok in p.sensory},
        "documents": [dict(x) for x in p.documents],
        "rapid_test": None if p.rapid_test is None else {
            "inhibition_pct": None if p.rapid_test.inhibition_pct is None
            else fmt(p.rapid_test.inhibition_pct), "passed": p.rapid_test.passed,
            "sample": p.rapid_test.sample, "operator": p.rapid_test.operator,
            "source": p.rapid_test.source},
    }
