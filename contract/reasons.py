"""Reason codes: the one table the rules, the kiosk, the hall, central's public pages and the docs use.

The codes travel in ``line.*`` events, so the table is part of the contract:
central shows their Chinese labels on its public record pages without
importing the station's code. ``docs/reason-codes.md`` is checked against
this table by a test.
"""

from __future__ import annotations

# code -> (level, Chinese label shown to staff, English meaning for platform engineers)
REASONS: dict[str, tuple[str, str, str]] = {
    "ORDER_NOT_FOUND": ("fail", "订单不存在", "The order id is not among the orders in use."),
    "ITEM_NOT_ON_ORDER": ("fail", "货品不在订单上", "No order line matches the line id, item code or GTIN."),
    "ITEM_MISMATCH": ("fail", "货品与订单行不符", "The scanned item code or GTIN belongs to another item than the selected line."),
    "QTY_MISSING": ("fail", "未称得数量", "No positive net weight (or piece count for count lines) was observed."),
    "QTY_OVER": ("fail", "数量超出订单上限", "Received (cumulative) quantity above ordered + over tolerance."),
    "QTY_UNDER": ("fail", "数量低于订单下限", "Received (cumulative) quantity below ordered − under tolerance, and not marked partial."),
    "QTY_PARTIAL": ("warn", "分批送货", "Marked partial and below the lower bound: accepted, the rest stays open."),
    "LINE_ALREADY_ACCEPTED": ("fail", "该行已验收完毕", "Earlier acceptances already reached the line's lower bound."),
    "PRICE_ABOVE_ORDER": ("fail", "单价高于订单", "Delivered unit price above the ordered unit price."),
    "SUPPLIER_MISMATCH": ("fail", "供货商与订单不符", "The delivering supplier is not the ordered one."),
    "SUPPLIER_LICENSE_MISSING": ("fail", "供货商许可证信息缺失", "The order has no licence expiry for the supplier."),
    "SUPPLIER_LICENSE_EXPIRED": ("fail", "供货商许可证已过期", "The supplier's licence expired before the receiving date."),
    "EXPIRED": ("fail", "已过保质期", "Expiry date before the receiving date."),
    "NEAR_EXPIRY": ("warn", "临近保质期", "Expiring within the configured number of days."),
    "PRODUCTION_DATE_IN_FUTURE": ("fail", "生产日期晚于验收日期", "Production date after the receiving date."),
    "DATES_INCONSISTENT": ("fail", "保质期早于生产日期", "Expiry date before the production date."),
    "TRACE_MISSING": ("fail", "缺少批号或生产日期", "A packaged line (with GTIN) has neither batch nor production date."),
    "TEMP_MISSING": ("fail", "未测温", "A chilled or frozen line has no temperature."),
    "TEMP_TOO_HIGH": ("fail", "温度超出上限", "Temperature above the line's limit."),
    "SENSORY_MISSING": ("fail", "感官检查未完成", "A category that needs the sensory checklist was decided without every answer."),
    "SENSORY_SPOILED": ("fail", "感官检查：腐败变质", "Staff found the goods spoiled."),
    "SENSORY_MOULD": ("fail", "感官检查：霉变", "Staff found mould."),
    "SENSORY_FOREIGN_MATTER": ("fail", "感官检查：有异物", "Staff found foreign matter."),
    "SENSORY_ODOUR": ("fail", "感官检查：有异味", "Staff found an abnormal smell."),
    "SENSORY_PACKAGING": ("fail", "感官检查：包装破损", "Staff found the packaging damaged."),
    "SENSORY_REFROZEN": ("fail", "感官检查：解冻后再冻", "Staff found signs of thawing and refreezing."),
    "SENSORY_LABEL": ("fail", "感官检查：标签不符", "The label does not match the goods."),
    "RAPID_TEST_MISSING": ("fail", "未做快检", "A category that needs a rapid test (e.g. leafy vegetables) has no result."),
    "RAPID_TEST_FAILED": ("fail", "快检不合格", "Rapid test above the configured inhibition threshold, or a failed kit."),
    "CERT_MISSING": ("fail", "缺少随货证明文件", "A document the category requires (e.g. 动物检疫合格证明) was not photographed with the goods."),
    "INSPECTORS_TOO_FEW": ("fail", "验收人员不足两人", "Fewer distinct inspectors than the policy requires."),
    "OUTSIDE_WINDOW": ("warn", "不在约定送货时段", "Received outside the order's date or time window."),
}


def level(code: str) -> str:
    return REASONS[code][0]


def label_zh(code: str) -> str:
    return REASONS[code][1]
