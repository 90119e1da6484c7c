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
)
from edge.workflow.rejections import apply_rejection_event, close, dispose

__all__ = ["apply_event", "needs_temperature", "needs_weight", "replay", "step"]

MAX_TRACE_CODES = 8  # per placement
DECIDED_KEPT = 500  # recent decided placements answered by id (older ones: PLACEMENT_GONE)


def _refuse(state: State, code: str, message: str) -> Result:
    return Result(state, refused=Refusal(code, message))


def _placement(state: State, **changes: Any) -> State:
    return replace(state, placement=replace(state.placement, **changes))


def _order(state: State, ctx: Context) -> Order | None:
    return None if state.delivery is None else ctx.orders.get(state.delivery.order_id)


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
        return replace(state, delivery=d, inspectors=inspectors, last=None, closed=None,
                       placement=physical(state.placement))
    if t in ("line.accepted", "line.rejected"):
        return _apply_line(state, event)
    if t == "document.captured" and b["placement_id"] == state.placement.placement_id:
        doc = {k: b[k] for k in ("kind", "label", "sha256")} | {"seq": event["seq"]}
        return replace(state, placement=replace(state.placement,
                                                documents=(*state.placement.documents, doc)))
    if t in ("placement.started", "placement.ended"):
        return apply_placement_event(state, t, b)
    if t in ("inspector.signed_in", "inspector.signed_out"):
        return apply_people_event(state, t, b)
    if t == "rejection.disposed" and state.delivery is not None \
            and b["delivery_id"] == state.delivery.delivery_id:
        return replace(state, delivery=apply_rejection_event(state.delivery, event))
    if t == "delivery.closed" and state.delivery is not None \
            and b["delivery_id"] == state.delivery.delivery_id:
        # Facts given for the item at the scale belong to the closed delivery: dropped.
        p = state.placement
        return replace(state, delivery=None, closed=b,
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
    pid = b.get("placement_id")  # absent in records made before placement ids (issue 11)
    decided = state.decided if pid is None else _remember(state.decided, pid, decision_ref(event))
    if state.delivery is None or b["delivery_id"] != state.delivery.delivery_id:
        return replace(state, decided=decided)
    line_id = b.get("line_id") or ""
    p = state.delivery.progress.get(line_id, Progress())
    if t == "line.accepted":
        m = b["measured"]
        p = replace(p, accepted=p.accepted + 1,
                    accepted_g=p.accepted_g + (m.get("net_g") or 0),
                    accepted_pieces=p.accepted_pieces + (m.get("pieces") or 0))
    else:
        p = replace(p, rejected=p.rejected + 1, last_rejection={
            "seq": event["seq"], "event_id": event["event_id"],
            "reasons": list(b.get("reasons", [])),
            "temperature_c": b.get("temperature_c")})
    delivery = replace(state.delivery, progress={**state.delivery.progress, line_id: p})
    if t == "line.rejected":
        delivery = apply_rejection_event(delivery, event)
    last = {"seq": event["seq"], "outcome": t.split(".")[1], "line_id": line_id,
            "item": (b.get("item") or {}).get("name") or (b.get("scanned") or {}).get("gtin")
            or (b.get("scanned") or {}).get("item_code"), "reasons": b.get("reasons", []),
            "checks": b.get("checks", []), "placement_id": pid, "retest_of": b.get("retest_of")}
    placement = state.placement
    if pid is None or pid == placement.placement_id:
        placement = replace(placement, decided=True)
    return replace(state, delivery=delivery, last=last, placement=placement, decided=decided)


def replay(events: Iterable[dict[str, Any]]) -> State:
    """The workflow state after these journal events (resume after a restart)."""
    state = State()
    for ev in events:
        state = apply_event(state, ev)
    return state


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
            return Result(_placement(state, loaded=False), (TareScale(),))
        case Confirm(placement_id=pid):
            return confirm(state, pid, ctx)
        case Committed(events=events):
            s = state
            for ev in events:
                s = apply_event(s, ev)
            if not s.placement.placement_id:
                s = replace(s, placement=Placement(ctx.fresh_id))
            return Result(replace(s, pending=None))
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
                        production_date=inp.production_date, expiry_date=inp.expiry_date)
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
