"""Deciding the placement on the scale: the evidence a confirm needs, and its record (pure).

A weighed line is decided only on a fresh stable reading of the current
placement from a connected scale; a placement decided before (before or after
a restart) answers its existing decision and records nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from edge.matching.inspection import SENSORY_ITEMS, needs_rapid_test, sensory_items
from edge.matching.reasons import REASONS, label_zh
from edge.matching.rules import decide, find_line
from edge.matching.types import Observation, OrderLine, RapidTest, gtin14
from edge.matching.units import is_weight_unit
from edge.records import Measurement, line_event
from edge.workflow.model import (
    Append,
    Context,
    NoteLine,
    Placement,
    Progress,
    Refusal,
    Result,
    State,
    Weight,
)
from edge.workflow.people import inspector_names
from edge.workflow.placement import loaded_now, started_event


def needs_weight(line: OrderLine | None) -> bool:
    """Lines ordered by weight, or by piece with a nominal piece weight, are weighed."""
    return line is None or is_weight_unit(line.qty_unit) or line.piece_g is not None


def needs_temperature(line: OrderLine | None) -> bool:
    return line is not None and line.storage in ("chilled", "frozen")


def _refuse(state: State, code: str, message: str) -> Result:
    return Result(state, refused=Refusal(code, message))


def weight_evidence(p: Placement, ctx: Context) -> Weight | Refusal:
    """The reading a weighed decision rests on, or why there is none (docs/workflow.md)."""
    live = ctx.scale
    if live is None or not live.connected:
        return Refusal("SCALE_OFFLINE", "秤已断开，不能验收：请检查秤的连接")
    w = live.latest
    if w is None or w.received_mono is None:
        return Refusal("NOT_STABLE", "等待秤稳定")
    age = live.mono - w.received_mono
    if age > ctx.max_weight_age_s or (live.connected_since is not None
                                     and w.received_mono < live.connected_since):
        return Refusal("WEIGHT_STALE", f"秤已 {age:.1f} 秒没有新数据，不能验收：请检查秤")
    if not w.stable:
        return Refusal("NOT_STABLE", "等待秤稳定")
    if not loaded_now(p, ctx) or w.received_mono < (p.loaded_mono or 0.0):
        return Refusal("NOT_LOADED", "请把货品放到秤上，等待稳定后再确认")
    return w


def _measurement(w: Weight | None, pieces: int | None, mono: float | None) -> Measurement:
    if w is None:
        return Measurement(net_g=None, pieces=pieces)
    age = None if mono is None or w.received_mono is None else int((mono - w.received_mono) * 1000)
    return Measurement(net_g=w.net_g, gross_g=w.gross_g, tare_g=w.tare_g, pieces=pieces,
                       protocol=w.protocol, stable=w.stable, raw=w.raw,
                       received_at=w.received_at, age_ms=age)


def confirm(state: State, pid: str, ctx: Context) -> Result:
    if state.pending is not None:
        return _refuse(state, "BUSY", "正在保存，请稍候")
    ref = state.decided.get(pid)
    if ref is not None:
        return Result(state, existing=ref)
    p = state.placement
    if pid != p.placement_id:
        return _refuse(state, "PLACEMENT_GONE", "这件货品已不在秤上：请按屏幕上的当前货品确认")
    if p.decided:
        return _refuse(state, "ALREADY_DECIDED", "该货品已验收，请取下后再放下一件")
    order = None if state.delivery is None else ctx.orders.get(state.delivery.order_id)
    d = state.delivery
    if order is None or d is None:
        return _refuse(state, "NO_DELIVERY", "请先打开送货单")
    if p.line_id is None and p.gtin is None and p.item_code is None:
        return _refuse(state, "NO_LINE", "请扫码或点选订单行")
    base = Observation(order_id=order.order_id, supplier_id=d.supplier_id,
                       inspectors=state.inspectors, line_id=p.line_id, item_code=p.item_code,
                       gtin=p.gtin)
    line, _ = find_line(order, base)
    w: Weight | None = None
    if needs_weight(line):
        ev = weight_evidence(p, ctx)
        if isinstance(ev, Refusal):
            return Result(state, refused=ev)
        w = ev
    elif p.pieces is None:
        return _refuse(state, "NO_PIECES", "请输入件数")
    if needs_temperature(line) and p.temperature_c is None:
        return _refuse(state, "TEMP_REQUIRED", "冷链货品请先测温")
    todo = [k for k in sensory_items(line, ctx.policy) if k not in dict(p.sensory)]
    if todo:
        return _refuse(state, "SENSORY_REQUIRED", "请完成感官检查："
                       + "、".join(SENSORY_ITEMS[k][1] for k in todo))
    if needs_rapid_test(line, ctx.policy) and p.rapid_test is None:
        return _refuse(state, "RAPID_TEST_REQUIRED", "该货品须先做农药残留快检")
    lid = line.line_id if line else ""
    note = d.note_lines.get(lid, NoteLine())
    progress = d.progress.get(lid, Progress())
    obs = replace(base, net_g=None if w is None else w.net_g, pieces=p.pieces,
                  unit_price_fen=note.unit_price_fen, batch=p.batch or note.batch,
                  production_date=p.production_date or note.production_date,
                  expiry_date=p.expiry_date or note.expiry_date, temperature_c=p.temperature_c,
                  at=ctx.now, already_accepted_g=progress.accepted_g,
                  already_accepted_pieces=progress.accepted_pieces, partial=p.partial,
                  sensory=p.sensory or None, rapid_test=p.rapid_test,
                  documents=tuple(d["kind"] for d in p.documents))
    decision = decide(order, obs, ctx.policy)
    m = _measurement(w, p.pieces, None if ctx.scale is None else ctx.scale.mono)
    retest = progress.last_rejection if line is not None else None
    extra = {**_provenance(p, retest), **origin_of(p, line),
             "inspector_names": inspector_names(state, sorted(set(state.inspectors))),
             "delivered_item": None if line is not None else delivered_item(p, ctx)}
    kind, body = line_event(order, obs, decision, m, delivery_id=d.delivery_id,
                            clip_id=ctx.clip_id, trace_codes=p.trace, extra=extra)
    # A start the journal could not take when the load appeared (a full disk) goes with it.
    start = (started_event(p, w),) if w is not None and not p.started else ()
    events = (*start, (kind, body), *retest_alerts(body, decision.outcome, retest))
    return Result(replace(state, pending=pid), (Append(events, pid, refs_line=True),),
                  decision=decision)


def _provenance(p: Placement, retest: dict[str, Any] | None) -> dict[str, Any]:
    """Where the record's facts came from: the placement, how the temperature was taken,
    and the rejection it re-tests."""
    return {"placement_id": p.placement_id, "temperature_source": p.temperature_source,
            "sensory": None if not p.sensory else {k: "ok" if ok else "found"
                                                    for k, ok in p.sensory},
            "rapid_test": None if p.rapid_test is None else _rapid_json(p.rapid_test),
            "documents": [dict(d) for d in p.documents],
            "retest_of": None if retest is None else {"seq": retest["seq"],
                                                      "event_id": retest["event_id"]}}


def origin_of(p: Placement, line: OrderLine | None) -> dict[str, Any]:
    """产地 and where it came from: the goods' own GS1 label over the order's master data."""
    if p.origin:
        return {"origin": p.origin, "origin_source": "gs1"}
    if line is not None and line.origin:
        return {"origin": line.origin, "origin_source": "order"}
    return {"origin": None, "origin_source": None}


def delivered_item(p: Placement, ctx: Context) -> dict[str, Any] | None:
    """What a code that matches no line of this order names in today's other orders (a
    wrong item is recorded as what was delivered, not only as a code)."""
    for order in ctx.orders.values():
        ln = (order.by_gtin.get(gtin14(p.gtin)) if p.gtin else None) \
            or (order.by_item_code.get(p.item_code) if p.item_code else None)
        if ln is not None:
            i = ln.item
            return {"code": i.code, "name": i.name, "category": i.category, "spec": i.spec,
                    "gtin": i.gtin, "order_id": order.order_id}
    return None


def _rapid_json(t: RapidTest) -> dict[str, Any]:
    return {"inhibition_pct": None if t.inhibition_pct is None else str(t.inhibition_pct),
            "passed": t.passed, "sample": t.sample, "operator": t.operator, "source": t.source}


def retest_alerts(body: dict[str, Any], outcome: str,
                  retest: dict[str, Any] | None) -> tuple[tuple[str, dict[str, Any]], ...]:
    """``alert.raised`` bodies for a re-test of a rejected line (refs: this record, then the
    rejection; the driver puts this record's seq in front)."""
    if retest is None:
        return ()
    name = (body.get("item") or {}).get("name") or body.get("line_id")
    was = "、".join(label_zh(c) for c in retest["reasons"] if c in REASONS) or "不合格"
    common = {"severity": "warning", "refs": [retest["seq"]], "delivery_id": body["delivery_id"],
              "line_id": body["line_id"], "placement_id": body["placement_id"]}
    out = [("alert.raised", {"code": "RETEST_AFTER_REJECT", **common,
                             "message": f"{name}：拒收（{was}）后复验，结论{_zh(outcome)}"})]
    temp_rejected = any(c.startswith("TEMP_") for c in retest["reasons"])
    if outcome == "accepted" and temp_rejected and body.get("temperature_source") == "typed":
        out.append(("alert.raised", {
            "code": "TEMP_TYPED_AFTER_REJECT", **common,
            "message": f"{name}：因温度拒收（{retest.get('temperature_c') or '未测'} ℃）后，"
                       f"手工输入 {body.get('temperature_c')} ℃ 改判合格"}))
    return tuple(out)


def _zh(outcome: str) -> str:
    return "合格" if outcome == "accepted" else "不合格"


def decision_ref(event: dict[str, Any]) -> dict[str, Any]:
    """What a later confirm of the same placement answers: the committed decision."""
    b = event["body"]
    return {"seq": event["seq"], "event_id": event["event_id"], "type": event["type"],
            "outcome": event["type"].split(".")[1], "reasons": list(b.get("reasons", [])),
            "checks": list(b.get("checks", []))}
