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

from edge.matching.inspection import SENSORY_ITEMS
from edge.matching.types import Order
from edge.workflow.confirm import confirm, decision_ref, needs_temperature, needs_weight
from edge.workflow.model import (
    Append,
    CaptureDocument,
    CloseDelivery,
    CommitFailed,
    Committed,
    Confirm,
    Context,
    Delivery,
    Dispose,
    IdleCheck,
    Input,
    MarkPartial,
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
    SetRapidTest,
    SetSensory,
    SetTemperature,
    SignIn,
    SignOut,
    State,
    Tare,
    TareScale,
)
from edge.workflow.people import (
    apply_people_event,
    idle_check,
    inspector_names,
    sign_in,
    sign_out,
)
from edge.workflow.placement import (
    apply_placement_event,
    for_input,
    on_reading,
    physical,
    scanned,
    tare,
)
from edge.workflow.rejections import apply_rejection_event, close, dispose

__all__ = ["apply_event", "needs_temperature", "needs_weight", "replay", "step"]

MAX_TRACE_CODES = 8  # per placement
CLOSED_KEPT = 200  # orders whose delivery was closed (the kiosk greys them)
DECIDED_KEPT = 500  # recent decided placements answered by id (older ones: PLACEMENT_GONE)


def _refuse(state: State, code: str, message: str) -> Result:
    return Result(state, refused=Refusal(code, message))


def _order(state: State, ctx: Context) -> Order | None:
    return None if state.delivery is None else ctx.orders.get(state.delivery.order_id)


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
        return replace(state, delivery=d, inspectors=inspectors, last=None, closed=None,
                       placement=physical(state.placement))
    if t in ("line.accepted", "line.rejected"):
        return _apply_line(state, event)
    if t == "document.captured" \
            and _get(b, "placement_id", str, required=True) == state.placement.placement_id:
        doc = {k: _get(b, k, str, required=True) for k in ("kind", "label", "sha256")}
        return replace(state, placement=replace(state.placement, documents=(
            *state.placement.documents, {**doc, "seq": event["seq"]})))
    if t in ("placement.started", "placement.ended"):
        return apply_placement_event(state, t, b)
    if t in ("inspector.signed_in", "inspector.signed_out"):
        return apply_people_event(state, t, b)
    if t == "rejection.disposed" and state.delivery is not None \
            and _get(b, "delivery_id", str, required=True) == state.delivery.delivery_id:
        return replace(state, delivery=apply_rejection_event(state.delivery, event))
    if t == "delivery.closed" and state.delivery is not None \
            and _get(b, "delivery_id", str, required=True) == state.delivery.delivery_id:
        # Facts given for the item at the scale belong to the closed delivery: dropped.
        p = state.placement
        done = (*[o for o in state.closed_orders if o != state.delivery.order_id],
                state.delivery.order_id)[-CLOSED_KEPT:]
        return replace(state, delivery=None, closed=_closed(b), closed_orders=done,
                       placement=physical(p) if p.started else Placement(""))
    return state


def _remember(decided: dict[str, dict[str, Any]], pid: str,
              ref: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {**decided, pid: ref}
    while len(out) > DECIDED_KEPT:
        del out[next(iter(out))]
    return out


def _apply_line(state: State, event: dict[str, Any]) -> State:
    t, b = event["type"], event["body"]
    pid = _get(b, "placement_id", str)  # absent in records made before placement ids
    decided = state.decided if pid is None else _remember(state.decided, pid, decision_ref(event))
    if state.delivery is None \
            or _get(b, "delivery_id", str, required=True) != state.delivery.delivery_id:
        return replace(state, decided=decided)
    line_id = _get(b, "line_id", str) or ""
    p = state.delivery.progress.get(line_id, Progress())
    if t == "line.accepted":
        m = _get(b, "measured", dict, required=True)
        p = replace(p, accepted=p.accepted + 1,
                    accepted_g=p.accepted_g + (_get(m, "net_g", int) or 0),
                    accepted_pieces=p.accepted_pieces + (_get(m, "pieces", int) or 0))
    else:
        p = replace(p, rejected=p.rejected + 1, last_rejection={
            "seq": event["seq"], "event_id": event["event_id"],
            "reasons": list(_strs(b, "reasons")), "temperature_c": _get(b, "temperature_c", str)})
    delivery = replace(state.delivery, progress={**state.delivery.progress, line_id: p})
    if t == "line.rejected":
        delivery = apply_rejection_event(delivery, event)
    item, scanned = _get(b, "item", dict) or {}, _get(b, "scanned", dict) or {}
    checks = _get(b, "checks", list) or []
    if not all(isinstance(c, dict) for c in checks):
        raise ValueError("body.checks holds a value that is not an object")
    last = {"seq": event["seq"], "outcome": t.split(".")[1], "line_id": line_id,
            "item": _get(item, "name", str) or _get(scanned, "gtin", str)
            or _get(scanned, "item_code", str), "reasons": list(_strs(b, "reasons")),
            "checks": checks, "placement_id": pid, "retest_of": _get(b, "retest_of", dict),
            "measured": {k: _get(_get(b, "measured", dict) or {}, k, int)
                         for k in ("net_g", "pieces")}}
    placement = state.placement
    if pid is None or pid == placement.placement_id:
        placement = replace(placement, decided=True)
    return replace(state, delivery=delivery, last=last, placement=placement, decided=decided)


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
    """One transition. Refusals change nothing and say why (code + Chinese message); a
    wrong PIN is the exception: it is counted towards the lockout."""
    res = _step(state, inp, ctx)
    if res.refused is None and _by_staff(inp):
        return replace(res, state=replace(res.state, activity_mono=ctx.mono))
    return res


def _by_staff(inp: Input) -> bool:
    """Inputs that show someone is at the kiosk (idle sign-out counts from the last)."""
    if isinstance(inp, SetTemperature):
        return inp.source == "typed"
    if isinstance(inp, SignOut):
        return inp.reason == "button"
    return not isinstance(inp, Reading | Committed | CommitFailed | IdleCheck)


def _step(state: State, inp: Input, ctx: Context) -> Result:
    match inp:
        case SignIn():
            return sign_in(state, inp, ctx)
        case SignOut():
            return sign_out(state, inp)
        case IdleCheck():
            return idle_check(state, ctx)
        case OpenDelivery():
            return _open(state, inp, ctx)
        case SelectLine() | ScanItem() | ScanTrace() | SetTemperature() | SetPieces() \
                | MarkPartial() | SetSensory() | SetRapidTest() | CaptureDocument():
            return _item_input(state, inp, ctx)
        case Reading(weight=w):
            return on_reading(state, w, ctx)
        case Tare():
            return Result(tare(state, ctx), (TareScale(),))
        case Confirm(placement_id=pid):
            return confirm(state, pid, ctx)
        case Committed(events=events):
            s = fold(state, events)
            if not s.placement.placement_id:
                s = replace(s, placement=Placement(ctx.fresh_id))
            return Result(replace(s, pending=None))
        case CommitFailed(reason=reason, disk_full=True):
            return Result(replace(state, pending=None),
                          refused=Refusal("DISK_FULL", f"磁盘已满，未保存：{reason}"))
        case CommitFailed(reason=reason):
            return Result(replace(state, pending=None),
                          refused=Refusal("COMMIT_FAILED", f"保存失败，未验收：{reason}"))
        case CloseDelivery():
            return close(state, _order(state, ctx))
        case Dispose():
            return dispose(state, inp)
    raise TypeError(f"unknown input {inp!r}")


def _item_input(state: State, inp: Input, ctx: Context) -> Result:
    """A fact about the item at the scale: it belongs to the current placement only."""
    order = _order(state, ctx)
    if order is None or state.delivery is None:
        return _refuse(state, "NO_DELIVERY", "请先打开送货单")
    s = for_input(state, ctx)
    if isinstance(s, Refusal):
        return Result(state, refused=s)
    p = s.placement
    match inp:
        case SelectLine(line_id=line_id):
            if line_id not in order.by_line_id:
                return _refuse(state, "LINE_UNKNOWN", f"订单上没有第 {line_id} 行")
            p = replace(p, line_id=line_id)
        case ScanItem():
            p = scanned(p, ctx, gtin=inp.gtin, item_code=inp.item_code, batch=inp.batch,
                        production_date=inp.production_date, expiry_date=inp.expiry_date,
                        origin=inp.origin)
        case ScanTrace():
            entry = {"scheme": inp.scheme, "code": inp.code, "url": inp.url}
            if entry in p.trace:
                return Result(state)
            if len(p.trace) >= MAX_TRACE_CODES:
                return _refuse(state, "TOO_MANY_TRACE_CODES", "追溯码过多")
            p = scanned(p, ctx, trace=(*p.trace, entry))
        case SetTemperature(temperature_c=t, source=source):
            p = replace(p, temperature_c=t, temperature_source=source)
        case SetPieces(pieces=n):
            if n < 0:
                return _refuse(state, "BAD_PIECES", "件数不能为负")
            p = replace(p, pieces=n)
        case MarkPartial(partial=flag):
            p = replace(p, partial=flag)
        case SetSensory(found=found):
            unknown = [k for k, _ in found if k not in SENSORY_ITEMS]
            if unknown:
                return _refuse(state, "BAD_SENSORY", f"未知的感官检查项：{'、'.join(unknown)}")
            answers = {**dict(p.sensory), **{k: not bad for k, bad in found}}
            p = replace(p, sensory=tuple(answers.items()))
        case SetRapidTest(test=t):
            p = replace(p, rapid_test=t)
        case CaptureDocument():
            return _document(state, s, inp, order)
    return Result(replace(s, placement=p))


def _document(state: State, s: State, inp: CaptureDocument, order: Order) -> Result:
    """A photographed document is journaled at once (``document.captured``) for this item."""
    label = order.document_kinds.get(inp.kind)
    if label is None or s.delivery is None:
        return _refuse(state, "UNKNOWN_DOCUMENT", f"本订单不需要这种证明文件：{inp.kind}")
    body = {"delivery_id": s.delivery.delivery_id, "placement_id": s.placement.placement_id,
            "kind": inp.kind, "label": label, "sha256": inp.sha256, "file": inp.file,
            "bytes": inp.size}
    return Result(s, (Append((("document.captured", body),)),))


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
            "note": inp.note, "inspectors": list(state.inspectors),
            "inspector_names": inspector_names(state, state.inspectors)}
    return Result(state, (Append((("delivery.opened", body),)),))
