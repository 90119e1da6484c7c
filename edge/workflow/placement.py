"""The life of a placement: from the first fact or load to the pan seen empty (pure).

A placement starts when a stable load above ``empty_g`` appears (journaled as
``placement.started`` with its UUID and the reading) or, for goods that are
not weighed, with the first input on an empty pan. It ends when the scale
returns to empty (``placement.ended``); a tare or a lost scale link does not
end it. A decided placement stays decided until then: an input for it is
refused. Facts given on an empty pan belong to the next load, and a code read
there is kept only ``scan_hold_s``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from edge.workflow.model import (
    Append,
    Context,
    NewScanWindow,
    Placement,
    Refusal,
    Result,
    State,
    Weight,
)

TARE_SETTLE_S = 2.0  # a drop to empty this soon after a tare is the tare, not a removal
ALREADY_DECIDED = Refusal("ALREADY_DECIDED", "该货品已验收，请取下后再放下一件")


def fresh(ctx: Context) -> Placement:
    return Placement(ctx.fresh_id)


def physical(p: Placement) -> Placement:
    """Only what the scale says of ``p`` (its id, load, decision): its inputs dropped."""
    return Placement(p.placement_id, loaded=p.loaded, loaded_mono=p.loaded_mono,
                     started=p.started, decided=p.decided)


def for_input(state: State, ctx: Context) -> State | Refusal:
    """The state an item input applies to, or why it cannot be given now.

    A decided placement still on the pan takes no more facts; a decided one that
    never was on the pan (counted goods) gives way to a new placement.
    """
    p = state.placement
    if not p.decided:
        return state
    if p.started:
        return ALREADY_DECIDED
    return replace(state, placement=fresh(ctx))


def _mono(ctx: Context) -> float | None:
    return None if ctx.scale is None else ctx.scale.mono


def scanned(p: Placement, ctx: Context, **facts: Any) -> Placement:
    """``p`` with the facts of a code; on an empty pan the code's time is kept."""
    merged = {k: v if v is not None else getattr(p, k) for k, v in facts.items()}
    if not p.started:
        merged["scanned_mono"] = _mono(ctx)
    return replace(p, **merged)


def _held(p: Placement, w: Weight, ctx: Context) -> Placement:
    """At the load: drop codes read on the empty pan longer than ``scan_hold_s`` ago."""
    at = p.scanned_mono
    if at is None or w.received_mono is None or w.received_mono - at <= ctx.scan_hold_s:
        return replace(p, scanned_mono=None)
    return replace(p, scanned_mono=None, trace=(), gtin=None, item_code=None, batch=None,
                   production_date=None, expiry_date=None, origin=None)


def loaded_now(p: Placement, ctx: Context) -> bool:
    """The load of ``p`` was seen in the scale link's current session."""
    live = ctx.scale
    return (p.loaded and p.loaded_mono is not None and live is not None
            and live.connected_since is not None and p.loaded_mono >= live.connected_since)


def on_reading(state: State, w: Weight, ctx: Context) -> Result:
    p = state.placement
    s = replace(state, weight=w)
    if p.loaded and w.net_g <= ctx.empty_g and tared(p, w):
        # The scale carried out the tare (a container is on the pan): not a removal.
        return Result(replace(s, placement=replace(p, loaded=False, tared_mono=None)))
    if p.loaded and w.net_g <= ctx.empty_g:
        # The item was taken off: its placement ends; the next one starts with no facts.
        if not p.started:
            return Result(replace(s, placement=fresh(ctx)), (NewScanWindow(),))
        body = {"placement_id": p.placement_id, "decided": p.decided}
        return Result(s, (Append((("placement.ended", body),)), NewScanWindow()))
    if not (w.stable and w.net_g > ctx.empty_g) or (loaded_now(p, ctx) and p.started):
        return Result(s)
    if p.decided and not p.started:
        p = fresh(ctx)  # counted goods were decided off the scale: this load is the next item
    p = replace(_held(p, w, ctx), loaded=True, loaded_mono=w.received_mono)
    s = replace(s, placement=p)
    if p.started:
        return Result(s)  # the same placement, seen again after a tare or a reconnection
    return Result(s, (Append((started_event(p, w),)),))


def started_event(p: Placement, w: Weight) -> tuple[str, dict[str, Any]]:
    """``placement.started``: the placement's id and the reading that showed its load."""
    return "placement.started", {
        "placement_id": p.placement_id, "net_g": w.net_g, "gross_g": w.gross_g,
        "tare_g": w.tare_g, "raw": w.raw, "protocol": w.protocol, "received_at": w.received_at}


def tare(state: State, ctx: Context) -> State:
    """Staff tared: the load stays what the scale says until it drops to empty, which within
    ``TARE_SETTLE_S`` is the tare itself (a scale that ignores the tare keeps the load)."""
    return replace(state, placement=replace(state.placement, tared_mono=_mono(ctx)))


def tared(p: Placement, w: Weight) -> bool:
    at = p.tared_mono
    return at is not None and w.received_mono is not None and w.received_mono - at <= TARE_SETTLE_S


def apply_placement_event(state: State, t: str, b: dict[str, Any]) -> State:
    """Fold ``placement.started`` / ``placement.ended`` into the state (also on replay)."""
    p = state.placement
    if t == "placement.started":
        if b["placement_id"] == p.placement_id:
            return replace(state, placement=replace(p, started=True))
        # Replay: the placement is on the pan until a reading says otherwise.
        return replace(state, placement=Placement(b["placement_id"], loaded=True, started=True))
    if t == "placement.ended" and b["placement_id"] == p.placement_id:
        return replace(state, placement=Placement(""))  # the driver gives the next one its id
    return state
