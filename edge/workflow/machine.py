"""The receiving workflow: ``step(state, input, context) -> Result``, with no I/O.

Facts change state only through committed journal events (``apply_event``), so
replaying the journal after a power cut rebuilds exactly the state the station
had (``replay``). Inputs that would record something return an ``Append``
effect; the driver commits it and feeds back ``Committed``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
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
    """The per-line facts of an ADN1 delivery note (schema-valid when it was journaled)."""
    out: dict[str, NoteLine] = {}
    for ln in _get(note or {}, "lines", list) or []:
        if not isinstance(ln, dict):
            raise ValueError("note line is not an object")
        out[_get(ln, "line_id", str, required=True)] = NoteLine(
            unit_price_fen=_get(ln, "unit_price_fen", int), batch=_get(ln, "batch", str),
            production_date=_date(_get(ln, "production_date", str)),
            expiry_date=_date(_get(ln, "expiry_date", str)))
    return out


def _date(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


# -- facts: committed events change the state ------------------------------------------------


def _get(b: dict[str, Any], key: str, kind: type, *, required: bool = False) -> Any:
    """``b[key]`` if it has the type the workflow writes (None when absent and optional).

    Anything else raises, so ``fold`` skips the event instead of the station failing.
    """
    v = b.get(key)
    if v is None:
        if required:
            raise KeyError(f"body.{key} is missing")
        return None
    if not isinstance(v, kind) or (isinstance(v, bool) and kind is not bool):
        raise ValueError(f"body.{key} is {type(v).__name__}, not {kind.__name__}")
    return v


def _strs(b: dict[str, Any], key: str) -> tuple[str, ...]:
    items = _get(b, key, list) or []
    if not all(isinstance(x, str) for x in items):
        raise ValueError(f"body.{key} holds a value that is not a string")
    return tuple(items)


def _closed(b: dict[str, Any]) -> dict[str, Any]:
    _strs(b, "lines_accepted")
    _strs(b, "lines_rejected")
    for m in _get(b, "lines_not_delivered", list) or []:
        if not isinstance(m, dict) or not isinstance(m.get("ordered"), dict) or not all(
                isinstance(x, str) for x in (m.get("line_id"), m.get("item"),
                                             m["ordered"].get("value"), m["ordered"].get("unit"))):
            raise ValueError("body.lines_not_delivered holds a malformed line")
    return b


def apply_event(state: State, event: dict[str, Any]) -> State:
    """Fold one committed journal event into the state (also used by ``replay``).

    A body without the fields and types the workflow writes raises (KeyError,
    TypeError, ValueError) before anything changes; ``fold`` skips such an event.
    """
    t, b = event["type"], event["body"]
    if not isinstance(b, dict):
        raise TypeError("event body is not an object")
    if t == "delivery.opened":
        note = _get(b, "note", dict)
        d = Delivery(delivery_id=_get(b, "delivery_id", str, required=True),
                     order_id=_get(b, "order_id", str, required=True),
                     supplier_id=_get(b, "supplier_id", str, required=True),
                     note_id=None if note is None else _get(note, "dn", str),
                     note_lines=note_lines(note))
        inspectors = state.inspectors or _strs(b, "inspectors")
        return replace(state, delivery=d, inspectors=inspectors, last=None, closed=None)
    if t in ("line.accepted", "line.rejected") and state.delivery is not None \
            and _get(b, "delivery_id", str, required=True) == state.delivery.delivery_id:
        line_id = _get(b, "line_id", str) or ""
        p = state.delivery.progress.get(line_id, Progress())
        if t == "line.accepted":
            m = _get(b, "measured", dict, required=True)
            p = replace(p, accepted=p.accepted + 1,
                        accepted_g=p.accepted_g + (_get(m, "net_g", int) or 0),
                        accepted_pieces=p.accepted_pieces + (_get(m, "pieces", int) or 0))
        else:
            p = replace(p, rejected=p.rejected + 1)
        delivery = replace(state.delivery, progress={**state.delivery.progress, line_id: p})
        item, scanned = _get(b, "item", dict) or {}, _get(b, "scanned", dict) or {}
        checks = _get(b, "checks", list) or []
        if not all(isinstance(c, dict) for c in checks):
            raise ValueError("body.checks holds a value that is not an object")
        last = {"seq": event["seq"], "outcome": t.split(".")[1], "line_id": line_id,
                "item": _get(item, "name", str) or _get(scanned, "gtin", str)
                or _get(scanned, "item_code", str), "reasons": list(_strs(b, "reasons")),
                "checks": checks}
        return replace(state, delivery=delivery, last=last,
                       placement=replace(state.placement, decided=True))
    if t == "delivery.closed" and state.delivery is not None \
            and _get(b, "delivery_id", str, required=True) == state.delivery.delivery_id:
        return replace(state, delivery=None, closed=_closed(b),
                       placement=Placement(state.placement.placement_id + 1))
    return state


@dataclass(frozen=True)
class Skipped:
    """A journal event that could not be folded into the state (and was left out)."""

    seq: int
    type: str
    error: str


def fold(state: State, events: Iterable[dict[str, Any]],
         skipped: list[Skipped] | None = None) -> State:
    """Apply events in order; one that cannot be applied is skipped (and listed), never fatal.

    Events come from the journal, written by earlier versions and other paths; a
    body this version cannot read must not stop the station from starting.
    """
    for ev in events:
        try:
            state = apply_event(state, ev)
        except Exception as exc:  # apply_event is pure: nothing half-applied
            if skipped is not None:
                seq = ev.get("seq") if isinstance(ev, dict) else None
                skipped.append(Skipped(seq if isinstance(seq, int) else 0,
                                       str(ev.get("type")) if isinstance(ev, dict) else "?",
                                       f"{type(exc).__name__}: {exc}"[:500]))
    return state


def replay(events: Iterable[dict[str, Any]], skipped: list[Skipped] | None = None) -> State:
    """The workflow state after these journal events (resume after a restart)."""
    return fold(State(), events, skipped)


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
            return Result(replace(fold(state, events), pending=None))
        case CommitFailed(reason=reason, disk_full=True):
            return Result(replace(state, pending=None),
                          refused=Refusal("DISK_FULL", f"磁盘已满，未保存：{reason}"))
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
