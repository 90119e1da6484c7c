"""Rejected goods: each rejection's disposition with the driver's acknowledgement, and
closing a delivery only when none is left without one (pure).

A rejected line is returned to the supplier (退回供应商), destroyed on the spot
(现场销毁) or replaced and tested again (换货重验); the driver acknowledges it by
badge or by a signature drawn on the kiosk (stored as an image, journaled by
hash). ``rejection.disposed`` records both; ``delivery.closed`` is refused
while a rejection lacks it, and the return slip (退货单) is made from these
events (``edge/return_slip.py``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from edge.matching.types import Order
from edge.workflow.model import (
    Append,
    Delivery,
    Dispose,
    Progress,
    Refusal,
    Result,
    State,
)
from edge.workflow.people import inspector_names

DISPOSITIONS = {"returned": "退回供应商", "destroyed": "现场销毁", "replaced": "换货重验"}


def _refuse(state: State, code: str, message: str) -> Result:
    return Result(state, refused=Refusal(code, message))


def _ack_problem(ack: dict[str, Any]) -> str | None:
    method = ack.get("method")
    if method == "badge" and isinstance(ack.get("badge"), str) and ack["badge"].strip():
        return None
    if method == "signature" and isinstance(ack.get("signature_sha256"), str) \
            and len(ack["signature_sha256"]) == 64:
        return None
    return "须由司机刷卡或在屏幕上签名确认"


def dispose(state: State, inp: Dispose) -> Result:
    d = state.delivery
    if d is None:
        return _refuse(state, "NO_DELIVERY", "没有打开的送货单")
    r = d.rejections.get(inp.rejected_seq)
    if r is None:
        return _refuse(state, "REJECTION_UNKNOWN", f"本单没有记录号 {inp.rejected_seq} 的拒收")
    if r["disposition"] is not None:
        return _refuse(state, "ALREADY_DISPOSED",
                       f"该拒收已处置：{DISPOSITIONS[r['disposition']]}")
    if inp.disposition not in DISPOSITIONS:
        return _refuse(state, "BAD_DISPOSITION", "处置方式须为退回供应商、现场销毁或换货重验")
    problem = _ack_problem(inp.acknowledged_by)
    if problem is not None:
        return _refuse(state, "ACK_REQUIRED", problem)
    people = sorted(set(state.inspectors))
    body = {"delivery_id": d.delivery_id, "line_id": r["line_id"], "item": r["item"],
            "rejected": {"seq": inp.rejected_seq, "event_id": r["event_id"]},
            "disposition": inp.disposition, "disposition_zh": DISPOSITIONS[inp.disposition],
            "acknowledged_by": dict(inp.acknowledged_by), "inspectors": people,
            "inspector_names": inspector_names(state, people)}
    return Result(state, (Append((("rejection.disposed", body),)),))


def apply_rejection_event(d: Delivery, event: dict[str, Any]) -> Delivery:
    """Fold ``line.rejected`` / ``rejection.disposed`` of this delivery into it."""
    b = event["body"]
    if event["type"] == "line.rejected":
        item = (b.get("item") or {}).get("name") or (b.get("delivered_item") or {}).get("name") \
            or (b.get("scanned") or {}).get("gtin") or (b.get("scanned") or {}).get("item_code")
        entry = {"event_id": event["event_id"], "line_id": b.get("line_id"), "item": item,
                 "reasons": list(b.get("reasons", [])), "disposition": None,
                 "acknowledged_by": None}
        return replace(d, rejections={**d.rejections, int(event["seq"]): entry})
    seq = int(b["rejected"]["seq"])
    if seq not in d.rejections:
        return d
    done = {**d.rejections[seq], "disposition": b["disposition"],
            "acknowledged_by": b.get("acknowledged_by")}
    return replace(d, rejections={**d.rejections, seq: done})


def close(state: State, order: Order | None) -> Result:
    d = state.delivery
    if order is None or d is None:
        return _refuse(state, "NO_DELIVERY", "没有打开的送货单")
    if state.pending is not None:
        return _refuse(state, "BUSY", "正在保存，请稍候")
    open_ = [r for r in d.rejections.values() if r["disposition"] is None]
    if open_:
        names = "、".join(f"{r['item'] or '未识别货品'}" for r in open_)
        return _refuse(state, "DISPOSITION_MISSING",
                       f"以下拒收货品尚未处置并由司机确认：{names}")
    prog = {ln.line_id: d.progress.get(ln.line_id, Progress()) for ln in order.lines}
    accepted = [lid for lid, p in prog.items() if p.accepted]
    rejected = [lid for lid, p in prog.items() if p.rejected and not p.accepted]
    missing = [{"line_id": ln.line_id, "item": ln.item.name,
                "ordered": {"value": str(ln.qty_value), "unit": ln.qty_unit}}
               for ln in order.lines if ln.line_id not in accepted]
    body = {"delivery_id": d.delivery_id, "order_id": order.order_id,
            "lines_accepted": accepted, "lines_rejected": rejected,
            "lines_not_delivered": missing,
            "rejections": [{"seq": s, "line_id": r["line_id"], "disposition": r["disposition"]}
                           for s, r in d.rejections.items()]}
    return Result(state, (Append((("delivery.closed", body),)),))
