"""The receiving workflow: ``step(state, input, context) -> Result``, with no I/O.

Facts change state only through committed journal events (``apply_event``), so
replaying the journal after a power cut rebuilds exactly the state the station
had (``replay``). Inputs that would record something return an ``Append``
effect; the driver commits it and feeds back ``Committed``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from typing import Any

from edge.matching.rules import decide, find_line
from edge.matching.types import Observation, Order, OrderLine
from edge.matching.units import is_weight_unit
from edge.records import Measurement, line_event
from edge.workflow.model import (
    Append,
    CloseDelivery,
    CommitFailed,
    Committed,
    Confirm,
    Context,
    Delivery,
    Input,
    MarkPartial,
    NewScanWindow,
    NoteLine,
    OpenDelivery,
    Placement,
    Progress,
    Reading,
    Refusal,
    Result,
    ScanItem,
    ScanTrace,
    SelectLine,
    SetPieces,
    SetTemperature,
    SignIn,
    SignOut,
    State,
    Tare,
    TareScale,
)

MAX_INSPECTORS = 10
MAX_TRACE_CODES = 8  # per placement


def _refuse(state: State, code: str, message: str) -> Result:
    return Result(state, refused=Refusal(code, message))


def _placement(state: State, **changes: Any) -> State:
    return replace(state, placement=replace(state.placement, **changes))


def _order(state: State, ctx: Context) -> Order | None:
    return None if state.delivery is None else ctx.orders.get(state.delivery.order_id)


def needs_weight(line: OrderLine | None) -> bool:
    """Lines ordered by weight, or by piece with a nominal piece weight, are weighed."""
    return line is None or is_weight_unit(line.qty_unit) or line.piece_g is not None


def needs_temperature(line: OrderLine | None) -> bool:
    return line is not None and line.storage in ("chilled", "frozen")


def note_lines(note: dict[str, Any] | None) -> dict[str, NoteLine]:
    """The per-line facts of an ADN1 delivery note (already schema-valid)."""
    out: dict[str, NoteLine] = {}
    for ln in (note or {}).get("lines", []):
        out[str(ln["line_id"])] = NoteLine(
            unit_price_fen=ln.get("unit_price_fen"), batch=ln.get("batch"),
            production_date=_date(ln.get("production_date")),
            expiry_date=_date(ln.get("expiry_date")))
    return out


def _date(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


# -- facts: committed events change the state ------------------------------------------------


def apply_event(state: State, event: dict[str, Any]) -> State:
    """Fold one committed journal event into the state (also used by ``replay``)."""
    t, b = event["type"], event["body"]
    if t == "delivery.opened":
        d = Delivery(delivery_id=b["delivery_id"], order_id=b["order_id"],
                     supplier_id=b["supplier_id"], note_id=(b.get("note") or {}).get("dn"),
                     note_lines=note_lines(b.get("note")))
        inspectors = state.inspectors or tuple(b.get("inspectors", ()))
        return replace(state, delivery=d, inspectors=inspectors, last=None, closed=None)
    if t in ("line.accepted", "line.rejected") and state.delivery is not None \
            and b["delivery_id"] == state.delivery.delivery_id:
        line_id = b.get("line_id") or ""
        p = state.delivery.progress.get(line_id, Progress())
        if t == "line.accepted":
            m = b["measured"]
            p = replace(p, accepted=p.accepted + 1,
                        accepted_g=p.accepted_g + (m.get("net_g") or 0),
                        accepted_pieces=p.accepted_pieces + (m.get("pieces") or 0))
        else:
            p = replace(p, rejected=p.rejected + 1)
        delivery = replace(state.delivery, progress={**state.delivery.progress, line_id: p})
        last = {"seq": event["seq"], "outcome": t.split(".")[1], "line_id": line_id,
                "item": (b.get("item") or {}).get("name") or (b.get("scanned") or {}).get("gtin")
                or (b.get("scanned") or {}).get("item_code"), "reasons": b.get("reasons", []),
                "checks": b.get("checks", [])}
        return replace(state, delivery=delivery, last=last,
                       placement=replace(state.placement, decided=True))
    if t == "delivery.closed" and state.delivery is not None \
            and b["delivery_id"] == state.delivery.delivery_id:
        return replace(state, delivery=None, closed=b,
                       placement=Placement(state.placement.placement_id + 1))
    return state


def replay(events: Iterable[dict[str, Any]]) -> State:
    """The workflow state after these journal events (resume after a restart)."""
    state = State()
    for ev in events:
        state = apply_event(state, ev)
    return state


# -- inputs ------------------------------------------------------------------------------------


def step(state: State, inp: Input, ctx: Context) -> Result:
    """One transition. Refusals change nothing and say why (code + Chinese message)."""
    match inp:
        case SignIn(inspector_id=i):
            if not i.strip():
                return _refuse(state, "BAD_INSPECTOR", "工号为空")
            if i in state.inspectors:
                return Result(state)
            if len(state.inspectors) >= MAX_INSPECTORS:
                return _refuse(state, "TOO_MANY_INSPECTORS", "验收人员已满")
            return Result(replace(state, inspectors=(*state.inspectors, i)))
        case SignOut(inspector_id=i):
            return Result(replace(state, inspectors=tuple(x for x in state.inspectors if x != i)))
        case OpenDelivery():
            return _open(state, inp, ctx)
        case SelectLine(line_id=line_id):
            order = _order(state, ctx)
            if order is None or state.delivery is None:
                return _refuse(state, "NO_DELIVERY", "请先打开送货单")
            if line_id not in order.by_line_id:
                return _refuse(state, "LINE_UNKNOWN", f"订单上没有第 {line_id} 行")
            note = state.delivery.note_lines.get(line_id, NoteLine())
            p = state.placement
            return Result(_placement(state, line_id=line_id, decided=False,
                                     batch=p.batch or note.batch,
                                     production_date=p.production_date or note.production_date,
                                     expiry_date=p.expiry_date or note.expiry_date))
        case ScanItem():
            if state.delivery is None:
                return _refuse(state, "NO_DELIVERY", "请先打开送货单")
            p = state.placement
            return Result(_placement(state, gtin=inp.gtin or p.gtin,
                                     item_code=inp.item_code or p.item_code,
                                     batch=inp.batch or p.batch,
                                     production_date=inp.production_date or p.production_date,
                                     expiry_date=inp.expiry_date or p.expiry_date))
        case ScanTrace():
            return _trace(state, inp)
        case Reading(weight=w):
            return _reading(state, w, ctx)
        case SetTemperature(temperature_c=t):
            return Result(_placement(state, temperature_c=t))
        case SetPieces(pieces=n):
            if n < 0:
                return _refuse(state, "BAD_PIECES", "件数不能为负")
            return Result(_placement(state, pieces=n))
        case MarkPartial(partial=flag):
            return Result(_placement(state, partial=flag))
        case Tare():
            return Result(_placement(state, loaded=False), (TareScale(),))
        case Confirm(placement_id=pid):
            return _confirm(state, pid, ctx)
        case Committed(events=events):
            s = state
            for ev in events:
                s = apply_event(s, ev)
            return Result(replace(s, pending=None))
        case CommitFailed(reason=reason):
            return Result(replace(state, pending=None),
                          refused=Refusal("COMMIT_FAILED", f"保存失败，未验收：{reason}"))
        case CloseDelivery():
            return _close(state, ctx)
    raise TypeError(f"unknown input {inp!r}")


def _open(state: State, inp: OpenDelivery, ctx: Context) -> Result:
    if state.delivery is not None:
        return _refuse(state, "DELIVERY_OPEN", "请先结束当前送货单")
    order = ctx.orders.get(inp.order_id)
    if order is None:
        return _refuse(state, "ORDER_UNKNOWN", f"今日订单中没有 {inp.order_id}")
    supplier_id = inp.supplier_id or (inp.note or {}).get("supplier_id") or order.supplier.supplier_id
    s = order.supplier
    body = {"delivery_id": inp.delivery_id, "order_id": order.order_id, "supplier_id": supplier_id,
            "supplier": {"supplier_id": s.supplier_id, "name": s.name, "address": s.address,
                         "contact": s.contact, "license_no": s.license_no},
            "note": inp.note, "inspectors": list(state.inspectors)}
    return Result(state, (Append((("delivery.opened", body),)),))


def _trace(state: State, inp: ScanTrace) -> Result:
    """Keep the code with the item on the scale; the line is identified some other way."""
    if state.delivery is None:
        return _refuse(state, "NO_DELIVERY", "请先打开送货单")
    entry = {"scheme": inp.scheme, "code": inp.code, "url": inp.url}
    p = state.placement
    if entry in p.trace:
        return Result(state)
    if len(p.trace) >= MAX_TRACE_CODES:
        return _refuse(state, "TOO_MANY_TRACE_CODES", "追溯码过多")
    return Result(_placement(state, trace=(*p.trace, entry)))


def _reading(state: State, w: Any, ctx: Context) -> Result:
    p = state.placement
    s = replace(state, weight=w)
    if w.stable and w.net_g > ctx.empty_g and not p.loaded:
        return Result(_placement(s, loaded=True))
    if p.loaded and w.net_g <= ctx.empty_g and state.pending is None:
        # The item was taken off: the next one is a new placement with a fresh scan window.
        return Result(replace(s, placement=Placement(p.placement_id + 1)), (NewScanWindow(),))
    return Result(s)


def _confirm(state: State, pid: int, ctx: Context) -> Result:
    if state.pending is not None:
        return _refuse(state, "BUSY", "正在保存，请稍候")
    p = state.placement
    if pid != p.placement_id or p.decided:
        return _refuse(state, "ALREADY_DECIDED", "该货品已处理，请放上下一件")
    order, d = _order(state, ctx), state.delivery
    if order is None or d is None:
        return _refuse(state, "NO_DELIVERY", "请先打开送货单")
    if p.line_id is None and p.gtin is None and p.item_code is None:
        return _refuse(state, "NO_LINE", "请扫码或点选订单行")
    base = Observation(order_id=order.order_id, supplier_id=d.supplier_id,
                       inspectors=state.inspectors, line_id=p.line_id, item_code=p.item_code,
                       gtin=p.gtin)
    line, _ = find_line(order, base)
    w = state.weight
    weighed = needs_weight(line)
    if weighed and (w is None or not w.stable):
        return _refuse(state, "NOT_STABLE", "等待秤稳定")
    if not weighed and p.pieces is None:
        return _refuse(state, "NO_PIECES", "请输入件数")
    if needs_temperature(line) and p.temperature_c is None:
        return _refuse(state, "TEMP_REQUIRED", "冷链货品请先测温")
    note = d.note_lines.get(line.line_id if line else "", NoteLine())
    progress = d.progress.get(line.line_id if line else "", Progress())
    obs = replace(base, net_g=w.net_g if weighed and w else None, pieces=p.pieces,
                  unit_price_fen=note.unit_price_fen, batch=p.batch or note.batch,
                  production_date=p.production_date or note.production_date,
                  expiry_date=p.expiry_date or note.expiry_date, temperature_c=p.temperature_c,
                  at=ctx.now, already_accepted_g=progress.accepted_g,
                  already_accepted_pieces=progress.accepted_pieces, partial=p.partial)
    decision = decide(order, obs, ctx.policy)
    m = Measurement(net_g=obs.net_g, gross_g=w.gross_g if w else None,
                    tare_g=w.tare_g if w else None, pieces=p.pieces,
                    protocol=w.protocol if w else "manual", stable=w.stable if w else None,
                    raw=w.raw if w else "")
    kind, body = line_event(order, obs, decision, m, delivery_id=d.delivery_id,
                            clip_id=ctx.clip_id, trace_codes=p.trace)
    return Result(replace(state, pending=pid), (Append(((kind, body),), pid),), decision=decision)


def _close(state: State, ctx: Context) -> Result:
    order, d = _order(state, ctx), state.delivery
    if order is None or d is None:
        return _refuse(state, "NO_DELIVERY", "没有打开的送货单")
    if state.pending is not None:
        return _refuse(state, "BUSY", "正在保存，请稍候")
    accepted = [ln.line_id for ln in order.lines if d.progress.get(ln.line_id, Progress()).accepted]
    rejected = [ln.line_id for ln in order.lines
                if d.progress.get(ln.line_id, Progress()).rejected
                and not d.progress.get(ln.line_id, Progress()).accepted]
    missing = [{"line_id": ln.line_id, "item": ln.item.name,
                "ordered": {"value": str(ln.qty_value), "unit": ln.qty_unit}}
               for ln in order.lines if ln.line_id not in accepted]
    body = {"delivery_id": d.delivery_id, "order_id": order.order_id,
            "lines_accepted": accepted, "lines_rejected": rejected,
            "lines_not_delivered": missing}
    return Result(state, (Append((("delivery.closed", body),)),))
