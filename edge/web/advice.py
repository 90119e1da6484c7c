"""What the kiosk tells staff about a line: the allowed range, and after a decision what to do.

Pure functions of the order line, what earlier decisions took and the decision
itself. A rejection that staff can put right on the spot says how (overweight:
take the surplus off and weigh again; too warm: measure once more); every other
rejection says to return the goods. The allowed range is always shown, in the
order's unit. ``say`` names the spoken sentence (``edge.web.voice.PHRASES``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from edge.matching.rules import quantity_bounds
from edge.matching.types import OrderLine, Policy
from edge.matching.units import UNIT_ZH, fmt, grams_in, is_weight_unit
from edge.workflow.confirm import needs_temperature, needs_weight
from edge.workflow.model import Progress

QTY_CODES = {"QTY_OVER", "QTY_UNDER"}


def amount(value: Decimal, unit: str) -> str:
    """A quantity as shown: at most two decimals, the unit in Chinese."""
    return f"{fmt(value.quantize(Decimal('0.01')).normalize())} {UNIT_ZH[unit]}"


def shown_unit(line: OrderLine) -> str:
    """The unit weights of this line are shown in: the order's, else 公斤 for pieces by weight."""
    return line.qty_unit if is_weight_unit(line.qty_unit) else "kg"


def band(line: OrderLine, p: Progress) -> dict[str, Any] | None:
    """The net weight this placement may have (what earlier acceptances took is deducted)."""
    if not needs_weight(line):
        return None
    lower, upper = quantity_bounds(line, by_weight=True)
    low_g, high_g = max(Decimal(0), lower - p.accepted_g), max(Decimal(0), upper - p.accepted_g)
    unit = shown_unit(line)
    lo, hi = grams_in(low_g, unit), grams_in(high_g, unit)
    assert lo is not None and hi is not None
    return {"min_g": int(low_g), "max_g": int(high_g),
            "text": f"允许 {amount(lo, unit)}–{amount(hi, unit)}"}


def temperature_limit(line: OrderLine, policy: Policy) -> Decimal | None:
    if line.max_temp_c is not None:
        return line.max_temp_c
    if line.storage == "chilled":
        return policy.chilled_max_temp_c
    if line.storage == "frozen":
        return policy.frozen_max_temp_c
    return None


def suggested_pieces(line: OrderLine, net_g: int | None) -> int | None:
    """Pieces a counted line with a nominal piece weight probably has on the pan."""
    if line.piece_g is None or is_weight_unit(line.qty_unit) or not net_g or net_g <= 0:
        return None
    return max(1, round(net_g / line.piece_g))


def _ranges(line: OrderLine | None, p: Progress, policy: Policy) -> list[str]:
    if line is None:
        return []
    out = []
    b = band(line, Progress(accepted_g=p.accepted_g))
    if b is not None:
        out.append(b["text"])
    elif not is_weight_unit(line.qty_unit):
        lower, upper = quantity_bounds(line, by_weight=False)
        out.append(f"允许 {fmt(lower)}–{fmt(upper)} {UNIT_ZH[line.qty_unit]}")
    limit = temperature_limit(line, policy) if needs_temperature(line) else None
    if limit is not None:
        out.append(f"温度上限 {fmt(limit)} ℃")
    return out


def advice(last: dict[str, Any], line: OrderLine | None, p: Progress,
           policy: Policy) -> dict[str, Any]:
    """``{"title", "action", "ranges", "say"}`` for the full-screen result of ``last``."""
    ranges = _ranges(line, p, policy)
    if last.get("outcome") == "accepted":
        return {"title": "合格　已验收", "action": "请取下货品，放下一件", "ranges": ranges,
                "say": "accepted"}
    fails = {c.get("code") for c in last.get("checks", []) if c.get("result") == "fail"}
    measured = last.get("measured") or {}
    retest = last.get("retest_of") is not None
    if fails == {"QTY_OVER"} and line is not None:
        b = band(line, Progress(accepted_g=p.accepted_g))
        net = measured.get("net_g")
        if b is not None and isinstance(net, int):
            unit = shown_unit(line)
            over = grams_in(max(0, net - b["max_g"]), unit)
            assert over is not None
            return {"title": f"超重 {amount(over, unit)}", "action": "请取出多余部分后重称",
                    "ranges": ranges, "say": "overweight"}
        if isinstance(measured.get("pieces"), int):
            return {"title": "数量超出订单", "action": "请取出多余部分后重新清点",
                    "ranges": ranges, "say": "overweight"}
    if fails == {"TEMP_TOO_HIGH"} and not retest:
        return {"title": "温度过高", "action": "可复测一次", "ranges": ranges, "say": "too_warm"}
    return {"title": "不合格", "action": "请退回供应商", "ranges": ranges, "say": "return"}
