"""Who is inspecting: sign-in from the roster by badge or PIN, lockout, sign-out (pure).

Only roster members sign in; the same person twice is refused; five wrong PINs
in a row lock that id for ``lockout_s`` (and raise ``INSPECTOR_LOCKED``).
Sign-ins and sign-outs are journaled (``inspector.signed_in`` /
``inspector.signed_out``), so a restart knows who is at the door; an idle
station signs everyone out after ``idle_signout_s``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from edge.roster.model import Inspector
from edge.roster.pin import PinHashError, verify_pin
from edge.workflow.model import (
    Append,
    Context,
    Refusal,
    Result,
    SignIn,
    SignOut,
    State,
)

MAX_INSPECTORS = 10


def _refuse(state: State, code: str, message: str) -> Result:
    return Result(state, refused=Refusal(code, message))


def _who(inp: SignIn, ctx: Context) -> tuple[Inspector | None, str]:
    """The roster member an input names, and how (``badge`` or ``pin``)."""
    roster = ctx.roster
    if roster is None:
        return None, ""
    if inp.badge is not None:
        return roster.by_badge.get(inp.badge), "badge"
    return roster.by_id.get(inp.inspector_id.strip()), "pin"


def sign_in(state: State, inp: SignIn, ctx: Context) -> Result:
    if ctx.roster is None:
        return _refuse(state, "NO_ROSTER", "尚未收到验收人员名单，暂不能签到")
    who, method = _who(inp, ctx)
    if who is None:
        return _refuse(state, "UNKNOWN_INSPECTOR", "不在本站验收人员名单中")
    iid = who.inspector_id
    if iid in state.inspectors:
        return _refuse(state, "ALREADY_SIGNED_IN", f"{who.name} 已签到，同一人不能重复签到")
    if len(state.inspectors) >= MAX_INSPECTORS:
        return _refuse(state, "TOO_MANY_INSPECTORS", "验收人员已满")
    if method == "pin":
        checked = _check_pin(state, who, inp.pin, ctx)
        if isinstance(checked, Result):
            return checked
        state = checked
    body = {"inspector_id": iid, "name": who.name, "role": who.role, "method": method,
            "roster_sha256": ctx.roster.sha256}
    return Result(state, (Append((("inspector.signed_in", body),)),))


def _check_pin(state: State, who: Inspector, pin: str | None, ctx: Context) -> State | Result:
    """The state with this id's failures cleared, or the refusal (a wrong PIN is counted)."""
    iid = who.inspector_id
    fails, until = state.pin_failures.get(iid, (0, 0.0))
    if until > ctx.mono:
        return _refuse(state, "INSPECTOR_LOCKED",
                       f"{who.name} 的 PIN 错误次数过多，已锁定，请 {int(until - ctx.mono) + 1} 秒后再试")
    if who.pin_hash is None:
        return _refuse(state, "PIN_NOT_SET", f"{who.name} 没有 PIN，请刷工牌签到")
    if not pin:
        return _refuse(state, "PIN_REQUIRED", "请输入 PIN")
    try:
        ok = verify_pin(pin, who.pin_hash)
    except PinHashError:
        ok = False
    if ok:
        return replace(state, pin_failures={k: v for k, v in state.pin_failures.items()
                                            if k != iid})
    fails += 1
    locked = fails >= ctx.pin_attempts
    counted = replace(state, pin_failures={
        **state.pin_failures, iid: (0 if locked else fails, ctx.mono + ctx.lockout_s if locked
                                    else 0.0)})
    if not locked:
        return Result(counted, refused=Refusal(
            "WRONG_PIN", f"PIN 错误（还可再试 {ctx.pin_attempts - fails} 次）"))
    alert = {"code": "INSPECTOR_LOCKED", "severity": "warning", "refs": [], "inspector_id": iid,
             "message": f"{who.name}（{iid}）连续 {fails} 次 PIN 错误，锁定 {int(ctx.lockout_s)} 秒"}
    return Result(counted, (Append((("alert.raised", alert),)),), refused=Refusal(
        "INSPECTOR_LOCKED", f"PIN 连续错误 {fails} 次，{who.name} 已锁定 {int(ctx.lockout_s)} 秒"))


def sign_out(state: State, inp: SignOut) -> Result:
    if inp.inspector_id not in state.inspectors:
        return _refuse(state, "NOT_SIGNED_IN", "该人员未签到")
    return Result(state, (Append((("inspector.signed_out", _out_body(state, inp.inspector_id,
                                                                      inp.reason)),)),))


def _out_body(state: State, iid: str, reason: str) -> dict[str, Any]:
    return {"inspector_id": iid, "name": state.names.get(iid, iid), "reason": reason}


def idle_check(state: State, ctx: Context) -> Result:
    """Everyone out after ``idle_signout_s`` without a staff input; anyone the roster dropped."""
    if not state.inspectors:
        return Result(state)
    if state.activity_mono is None:  # just started: count from now
        return Result(replace(state, activity_mono=ctx.mono))
    idle = ctx.mono - state.activity_mono >= ctx.idle_signout_s
    gone = set() if ctx.roster is None else {i for i in state.inspectors
                                             if i not in ctx.roster.by_id}
    out = [(i, "idle" if idle else "roster") for i in state.inspectors if idle or i in gone]
    if not out:
        return Result(state)
    return Result(state, (Append(tuple(("inspector.signed_out", _out_body(state, i, why))
                                       for i, why in out)),))


def apply_people_event(state: State, t: str, b: dict[str, Any]) -> State:
    """Fold ``inspector.signed_in`` / ``inspector.signed_out`` into the state (and replay)."""
    iid = b["inspector_id"]
    if t == "inspector.signed_in" and iid not in state.inspectors:
        return replace(state, inspectors=(*state.inspectors, iid),
                       names={**state.names, iid: b.get("name") or iid})
    if t == "inspector.signed_out":
        return replace(state, inspectors=tuple(i for i in state.inspectors if i != iid))
    return state


def inspector_names(state: State, ids: tuple[str, ...] | list[str]) -> list[str]:
    return [state.names.get(i, i) for i in ids]
