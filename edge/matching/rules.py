"""The receiving rules: a pure function from (order, observation, policy) to a decision.

Each check is a small function returning one ``Check``; ``decide`` runs them all
(every check is reported, not just the first failure) and rejects when any
fails. Warnings never change the outcome. Decimal arithmetic throughout, bounds
inclusive, and no slack that the order line does not state.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from edge.matching.inspection import check_documents, check_rapid_test, check_sensory
from edge.matching.reasons import label_zh
from edge.matching.types import Check, Decision, Observation, Order, OrderLine, Policy, gtin14
from edge.matching.units import (
    PIECE_UNITS,
    UNIT_ZH,
    fen_to_yuan,
    fmt,
    grams_in,
    is_weight_unit,
    round_fen,
    to_grams,
)

HUNDRED = Decimal(100)


def receiving_date(obs: Observation, policy: Policy) -> date:
    """The date the goods are received: the override, else the local date of ``at``."""
    if policy.today is not None:
        return policy.today
    if obs.at is not None:
        return obs.at.astimezone(policy.tz).date()
    raise ValueError("observation has no 'at' and no receiving date was given")


def _fail(check: str, code: str, detail: str) -> Check:
    return Check(check, "fail", f"{label_zh(code)}：{detail}", code)


def _warn(check: str, code: str, detail: str) -> Check:
    return Check(check, "warn", f"{label_zh(code)}：{detail}", code)


def find_line(order: Order, obs: Observation) -> tuple[OrderLine | None, Check]:
    """Identify the order line; a scanned code must agree with a selected line."""
    line = None
    if obs.line_id is not None:
        line = order.by_line_id.get(obs.line_id)
        if line is None:
            return None, _fail("item", "ITEM_NOT_ON_ORDER", f"订单 {order.order_id} 无第 {obs.line_id} 行")
    if obs.item_code is not None:
        by_code = order.by_item_code.get(obs.item_code)
        if line is not None and by_code is not line:
            return line, _fail("item", "ITEM_MISMATCH",
                               f"货品编码 {obs.item_code} 不是订单行的 {line.item.code}（{line.item.name}）")
        if by_code is None:
            return None, _fail("item", "ITEM_NOT_ON_ORDER", f"货品编码 {obs.item_code} 不在订单上")
        line = by_code
    if obs.gtin is not None:
        by_gtin = order.by_gtin.get(gtin14(obs.gtin))
        if line is not None and by_gtin is not line:
            return line, _fail("item", "ITEM_MISMATCH",
                               f"条码 {obs.gtin} 不是订单行 {line.item.name} 的条码")
        if by_gtin is None:
            return None, _fail("item", "ITEM_NOT_ON_ORDER", f"条码 {obs.gtin} 不在订单上")
        line = by_gtin
    assert line is not None  # schema requires one of line_id / item_code / gtin
    return line, Check("item", "pass", f"{line.item.name}（第 {line.line_id} 行）")


def _bounds(ordered: Decimal, line: OrderLine, abs_applies: bool) -> tuple[Decimal, Decimal]:
    over = ordered * line.tolerance.over_pct / HUNDRED
    under = ordered * line.tolerance.under_pct / HUNDRED
    if abs_applies and line.tolerance.abs_g is not None:
        over, under = max(over, Decimal(line.tolerance.abs_g)), max(under, Decimal(line.tolerance.abs_g))
    return ordered - under, ordered + over


def quantity_bounds(line: OrderLine, *, by_weight: bool) -> tuple[Decimal, Decimal]:
    """The line's allowed total (lower, upper): grams when weighed, else the order's unit."""
    if by_weight:
        ordered_g = to_grams(line.qty_value, line.qty_unit, line.piece_g)
        if ordered_g is None:
            raise ValueError(f"line {line.line_id} has no weight")
        return _bounds(ordered_g, line, abs_applies=True)
    return _bounds(line.qty_value, line, abs_applies=False)


def check_quantity(line: OrderLine, obs: Observation) -> tuple[Check, int | None]:
    """Quantity against the line's tolerance band; returns the check and ordered grams."""
    unit = line.qty_unit
    ordered_g = to_grams(line.qty_value, unit, line.piece_g)
    by_weight = ordered_g is not None and (is_weight_unit(unit) or obs.net_g is not None)
    whole_g = int(ordered_g) if ordered_g is not None and ordered_g == int(ordered_g) else None
    if by_weight:
        assert ordered_g is not None
        if obs.net_g is None or obs.net_g <= 0:
            return _fail("quantity", "QTY_MISSING", "未称得正的净重"), whole_g
        lower, upper = _bounds(ordered_g, line, abs_applies=True)
        done, now = Decimal(obs.already_accepted_g), Decimal(obs.net_g)
        shown = unit if is_weight_unit(unit) else "g"
        def show(g: Decimal) -> str:
            v = grams_in(g, shown)
            return f"{fmt(v if v is not None else g)} {UNIT_ZH[shown]}"
        ordered_txt = f"订单 {fmt(line.qty_value)} {UNIT_ZH[unit]}"
    else:
        if obs.pieces is None or obs.pieces <= 0:
            return _fail("quantity", "QTY_MISSING", "未清点件数"), whole_g
        lower, upper = _bounds(line.qty_value, line, abs_applies=False)
        done, now = Decimal(obs.already_accepted_pieces), Decimal(obs.pieces)
        def show(g: Decimal) -> str:
            return f"{fmt(g)} {UNIT_ZH[unit]}"
        ordered_txt = f"订单 {fmt(line.qty_value)} {UNIT_ZH[unit]}"
    total = done + now
    received = f"实收 {show(now)}" + (f"（累计 {show(total)}）" if done else "")
    if done > 0 and done >= lower:
        return _fail("quantity", "LINE_ALREADY_ACCEPTED", f"已累计验收 {show(done)}，{ordered_txt}"), whole_g
    what = "重量" if by_weight else "数量"
    if total > upper:
        pct = fmt(line.tolerance.over_pct)
        return Check("quantity", "fail", f"{what}超出订单上限 {pct}%：{received}，{ordered_txt}",
                     "QTY_OVER"), whole_g
    if total < lower:
        if obs.partial:
            return _warn("quantity", "QTY_PARTIAL",
                         f"{received}，{ordered_txt}，尚欠 {show(lower - total)} 以上"), whole_g
        pct = fmt(line.tolerance.under_pct)
        return Check("quantity", "fail", f"{what}低于订单下限 {pct}%：{received}，{ordered_txt}",
                     "QTY_UNDER"), whole_g
    return Check("quantity", "pass", f"{received}，{ordered_txt}"), whole_g


def check_price(line: OrderLine, obs: Observation) -> Check:
    per = UNIT_ZH[line.price_per]
    ordered = f"订单单价 {fen_to_yuan(line.unit_price_fen)} 元/{per}"
    if obs.unit_price_fen is None:
        return Check("price", "pass", f"按{ordered}计")
    if obs.unit_price_fen > line.unit_price_fen:
        return _fail("price", "PRICE_ABOVE_ORDER",
                     f"送货单价 {fen_to_yuan(obs.unit_price_fen)} 元/{per}，{ordered}")
    return Check("price", "pass", f"送货单价 {fen_to_yuan(obs.unit_price_fen)} 元/{per}，{ordered}")


def amount_fen(line: OrderLine, obs: Observation) -> int | None:
    """Ordered unit price × accepted quantity in the price unit, rounded once to fen."""
    qty: Decimal | None = None
    if is_weight_unit(line.price_per) and obs.net_g is not None:
        qty = grams_in(obs.net_g, line.price_per)
    elif line.price_per in PIECE_UNITS:
        if obs.pieces is not None:
            qty = Decimal(obs.pieces)
        elif obs.net_g is not None and line.piece_g:
            qty = grams_in(obs.net_g, line.price_per, line.piece_g)
    return None if qty is None else round_fen(line.unit_price_fen * qty)


def check_supplier(order: Order, obs: Observation, day: date) -> Check:
    s = order.supplier
    if obs.supplier_id != s.supplier_id:
        return _fail("supplier", "SUPPLIER_MISMATCH",
                     f"送货方 {obs.supplier_id}，订单供货商 {s.name}（{s.supplier_id}）")
    if s.license_expires is None:
        return _fail("supplier", "SUPPLIER_LICENSE_MISSING", f"{s.name} 无许可证有效期")
    if s.license_expires < day:
        return _fail("supplier", "SUPPLIER_LICENSE_EXPIRED",
                     f"{s.name} 许可证 {s.license_no or ''} 有效期至 {s.license_expires}")
    return Check("supplier", "pass", f"{s.name}，许可证有效期至 {s.license_expires}")


def check_dates(line: OrderLine, obs: Observation, day: date, policy: Policy) -> Check:
    if obs.production_date and obs.production_date > day:
        return _fail("dates", "PRODUCTION_DATE_IN_FUTURE", f"生产日期 {obs.production_date}")
    if obs.production_date and obs.expiry_date and obs.expiry_date < obs.production_date:
        return _fail("dates", "DATES_INCONSISTENT",
                     f"生产日期 {obs.production_date}，保质期至 {obs.expiry_date}")
    if obs.expiry_date and obs.expiry_date < day:
        return _fail("dates", "EXPIRED", f"保质期至 {obs.expiry_date}，验收日期 {day}")
    if (policy.require_trace_for_packaged and line.item.gtin
            and not obs.batch and not obs.production_date):
        return _fail("dates", "TRACE_MISSING", f"预包装货品 {line.item.name} 须有批号或生产日期")
    if obs.expiry_date:
        left = (obs.expiry_date - day).days
        if left <= policy.near_expiry_days:
            return _warn("dates", "NEAR_EXPIRY", f"保质期至 {obs.expiry_date}，剩余 {left} 天")
        return Check("dates", "pass", f"保质期至 {obs.expiry_date}")
    return Check("dates", "pass", "未提供保质期（散装）" if not line.item.gtin else "批号/生产日期已记录")


def check_temperature(line: OrderLine, obs: Observation, policy: Policy) -> Check:
    limit = line.max_temp_c
    if limit is None and line.storage == "chilled":
        limit = policy.chilled_max_temp_c
    if limit is None and line.storage == "frozen":
        limit = policy.frozen_max_temp_c
    if limit is None:
        return Check("temperature", "pass", "常温货品，无需测温")
    if obs.temperature_c is None:
        if line.storage == "ambient":
            return Check("temperature", "pass", "常温货品，未测温")
        return _fail("temperature", "TEMP_MISSING", f"冷链货品须测温（上限 {fmt(limit)} ℃）")
    if obs.temperature_c > limit:
        return _fail("temperature", "TEMP_TOO_HIGH",
                     f"实测 {fmt(obs.temperature_c)} ℃，上限 {fmt(limit)} ℃")
    return Check("temperature", "pass", f"实测 {fmt(obs.temperature_c)} ℃，上限 {fmt(limit)} ℃")


def check_inspectors(obs: Observation, policy: Policy) -> Check:
    people = sorted(set(obs.inspectors))
    if len(people) < policy.min_inspectors:
        return _fail("inspectors", "INSPECTORS_TOO_FEW",
                     f"{len(people)} 人（须 {policy.min_inspectors} 人及以上）")
    return Check("inspectors", "pass", f"{len(people)} 人：{'、'.join(people)}")


def check_window(order: Order, obs: Observation, policy: Policy) -> Check:
    frm, to = order.window_from.strftime("%H:%M"), order.window_to.strftime("%H:%M")
    if obs.at is None:
        return Check("window", "pass", f"约定时段 {frm}–{to}（未提供送达时间）")
    local = obs.at.astimezone(policy.tz)
    if local.date() != order.delivery_date:
        return _warn("window", "OUTSIDE_WINDOW",
                     f"送达日期 {local.date()}，订单送货日期 {order.delivery_date}")
    t = local.time().replace(tzinfo=None)
    if t < order.window_from or t > order.window_to.replace(second=59, microsecond=999999):
        return _warn("window", "OUTSIDE_WINDOW", f"送达 {local:%H:%M}，约定时段 {frm}–{to}")
    return Check("window", "pass", f"送达 {local:%H:%M}，约定时段 {frm}–{to}")


def decide(order: Order | None, obs: Observation, policy: Policy) -> Decision:
    """Every check for one delivered line; rejected when any check fails."""
    if order is None:
        c = _fail("order", "ORDER_NOT_FOUND", f"订单 {obs.order_id} 不在今日订单中")
        return Decision("rejected", ("ORDER_NOT_FOUND",), (c,))
    line, item_check = find_line(order, obs)
    day = receiving_date(obs, policy)
    checks = [item_check]
    ordered_g = amount = None
    if line is not None:
        q, ordered_g = check_quantity(line, obs)
        checks += [q, check_price(line, obs)]
        amount = amount_fen(line, obs)
    checks.append(check_supplier(order, obs, day))
    if line is not None:
        checks += [check_dates(line, obs, day, policy), check_temperature(line, obs, policy)]
        checks += check_sensory(line, obs, policy)
        extra = (check_rapid_test(line, obs, policy), check_documents(order, line, obs))
        checks += [c for c in extra if c is not None]
    checks += [check_inspectors(obs, policy), check_window(order, obs, policy)]
    reasons = tuple(c.code for c in checks if c.result == "fail" and c.code)
    return Decision("rejected" if reasons else "accepted", reasons, tuple(checks),
                    line=line, ordered_g=ordered_g, amount_fen=amount)
