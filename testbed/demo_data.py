"""Demo orders: a plausible morning for one canteen, for the demo and the tests.

Deterministic for a given date, so tests can name lines and expected outcomes.
"""

from __future__ import annotations

from typing import Any

STATION_ID = "demo-station-01"
SCHOOL_ID = "demo-school"

SUPPLIERS: dict[str, dict[str, Any]] = {
    "sup-0031": {"supplier_id": "sup-0031", "name": "杭州绿源蔬菜配送有限公司",
                 "address": "杭州市余杭区良渚街道农贸路 8 号", "contact": "王师傅 13800000031",
                 "license_no": "JY13301100000031", "license_expires": "2027-05-01"},
    "sup-0042": {"supplier_id": "sup-0042", "name": "浙江鲜达肉类食品有限公司",
                 "address": "杭州市萧山区新塘街道冷链园 2 号", "contact": "李经理 13900000042",
                 "license_no": "JY13301090000042", "license_expires": "2027-01-15"},
    "sup-0063": {"supplier_id": "sup-0063", "name": "浙江丰禾粮油有限公司",
                 "address": "杭州市拱墅区康桥路 63 号", "contact": "赵经理 13600000063",
                 "license_no": "JY13301050000063", "license_expires": "2027-08-31"},
    "sup-0071": {"supplier_id": "sup-0071", "name": "杭州鲜果坊水果配送中心",
                 "address": "杭州市上城区笕桥农副产品市场 71 号", "contact": "孙师傅 13500000071",
                 "license_no": "JY13301020000071", "license_expires": "2027-03-15"},
    "sup-0057": {"supplier_id": "sup-0057", "name": "杭州康乐粮油副食品商行",
                 "address": "杭州市西湖区文三路 57 号", "contact": "陈女士 13700000057",
                 "license_no": "JY13301060000057", "license_expires": "2026-10-31"},
}


def _line(line_id: str, code: str, name: str, category: str, spec: str, qty: str, unit: str,
          price: int, per: str, *, gtin: str | None = None, storage: str = "ambient",
          max_temp: str | None = None, piece_g: int | None = None,
          over: str = "5", under: str = "3", abs_g: int | None = None,
          origin: str | None = None) -> dict[str, Any]:
    return {
        **({"origin": origin} if origin else {}),
        "line_id": line_id,
        "item": {"code": code, "name": name, "category": category, "spec": spec, "gtin": gtin},
        "quantity": {"value": qty, "unit": unit},
        "unit_price_fen": price, "price_per": per,
        "tolerance": {"over_pct": over, "under_pct": under, "abs_g": abs_g},
        "storage": storage, "max_temp_c": max_temp, "piece_g": piece_g,
    }


# Documents that travel with the goods (central's master data): meat and poultry need the
# animal-quarantine certificate; produce a 承诺达标合格证 or a test report.
DOCUMENTS: dict[str, Any] = {
    "kinds": {"animal_quarantine": "动物检疫合格证明", "commitment_cert": "承诺达标合格证",
              "test_report": "检测报告"},
    "required": {"meat": [["animal_quarantine"]], "poultry": [["animal_quarantine"]]},
}


def demo_orders(station_id: str, delivery_date: str, documents: bool = False) -> dict[str, Any]:
    """The orders document for ``delivery_date`` (acceptance.orders/1); with ``documents``
    the document requirements central delivers with them."""
    return {**_orders(station_id, delivery_date), **({"documents": DOCUMENTS} if documents else {})}


def _orders(station_id: str, delivery_date: str) -> dict[str, Any]:
    placed = "T01:12:00.000Z"
    return {
        "schema": "acceptance.orders/1",
        "station_id": station_id,
        "delivery_date": delivery_date,
        "orders": [
            {
                "order_id": f"PO-{delivery_date.replace('-', '')}-0012",
                "placed_at": delivery_date + placed,
                "supplier": SUPPLIERS["sup-0031"],
                "window": {"from": "05:30", "to": "09:30"},
                "lines": [
                    _line("1", "veg-0101", "上海青", "vegetable", "散装", "30", "jin", 350, "jin",
                          origin="浙江省杭州市萧山区"),
                    _line("2", "veg-0205", "土豆", "vegetable", "散装", "25", "kg", 320, "kg",
                          origin="内蒙古自治区乌兰察布市"),
                    _line("3", "veg-0310", "西红柿", "vegetable", "散装", "20000", "g", 450, "jin"),
                    _line("4", "egg-0001", "鲜鸡蛋", "egg", "30 枚/盒", "10", "box", 2400, "box",
                          piece_g=1800, over="0", under="0", abs_g=150),
                ],
            },
            {
                "order_id": f"PO-{delivery_date.replace('-', '')}-0013",
                "placed_at": delivery_date + placed,
                "supplier": SUPPLIERS["sup-0042"],
                "window": {"from": "06:00", "to": "08:30"},
                "lines": [
                    _line("1", "meat-0102", "猪前腿肉", "meat", "冷鲜", "12", "kg", 2860, "kg",
                          storage="chilled", origin="浙江省金华市"),
                    _line("2", "meat-0220", "鸡腿", "poultry", "冷冻 2kg/袋", "8", "bag", 3600, "bag",
                          gtin="06901234567892", storage="frozen", max_temp="-18", piece_g=2000,
                          over="2", under="2"),
                    _line("3", "dairy-0007", "纯牛奶", "dairy", "250ml×24/箱", "6", "box", 6800,
                          "box", gtin="06920202888883", storage="chilled", max_temp="6",
                          over="0", under="0"),
                ],
            },
            {
                "order_id": f"PO-{delivery_date.replace('-', '')}-0014",
                "placed_at": delivery_date + placed,
                "supplier": SUPPLIERS["sup-0057"],
                "window": {"from": "07:00", "to": "10:00"},
                "lines": [
                    _line("1", "oil-0003", "大豆油", "oil", "5L/桶", "4", "bottle", 6500, "bottle",
                          gtin="06901234500011", over="0", under="0"),
                ],
            },
            {
                "order_id": f"PO-{delivery_date.replace('-', '')}-0015",
                "placed_at": delivery_date + placed,
                "supplier": SUPPLIERS["sup-0063"],
                "window": {"from": "06:30", "to": "10:00"},
                "lines": [
                    _line("1", "rice-0001", "大米", "grain", "25kg/袋", "4", "bag", 9800, "bag",
                          gtin="06901234511116", piece_g=25000, over="1", under="1",
                          origin="黑龙江省五常市"),
                    _line("2", "flour-0002", "面粉", "grain", "10kg/袋", "2", "bag", 5200, "bag",
                          gtin="06901234522228", piece_g=10000, over="1", under="1"),
                    _line("3", "tofu-0004", "老豆腐", "soy", "散装", "10", "jin", 300, "jin",
                          storage="chilled", max_temp="10"),
                    _line("4", "noodle-0005", "鲜面条", "grain", "散装", "8", "kg", 600, "kg"),
                    _line("5", "salt-0006", "食用盐", "seasoning", "400g/袋", "10", "bag", 250,
                          "bag", gtin="06901234533330", over="0", under="0"),
                ],
            },
            {
                "order_id": f"PO-{delivery_date.replace('-', '')}-0016",
                "placed_at": delivery_date + placed,
                "supplier": SUPPLIERS["sup-0071"],
                "window": {"from": "06:00", "to": "09:00"},
                "lines": [
                    _line("1", "fruit-0101", "苹果", "fruit", "散装", "40", "jin", 480, "jin"),
                    _line("2", "fruit-0102", "香蕉", "fruit", "散装", "30", "jin", 350, "jin"),
                    _line("3", "fruit-0103", "橙子", "fruit", "散装", "20", "kg", 900, "kg"),
                    _line("4", "veg-0411", "黄瓜", "vegetable", "散装", "15", "jin", 300, "jin"),
                    _line("5", "veg-0412", "胡萝卜", "vegetable", "散装", "10", "kg", 400, "kg"),
                    _line("6", "veg-0413", "大白菜", "leafy_vegetable", "散装", "50", "jin", 150,
                          "jin"),
                ],
            },
        ],
    }


# The canteen's staff: (id, name, role, badge uid, PIN). The demo and the tests sign in
# with these; a real roster comes from central with PIN hashes only.
STAFF: list[tuple[str, str, str, str, str]] = [
    ("zhang", "张伟", "验收员", "0001", "1111"),
    ("li", "李娜", "验收员", "0002", "2222"),
    ("wang", "王芳", "食堂负责人", "0003", "3333"),
]
PINS = {sid: pin for sid, _, _, _, pin in STAFF}
BADGES = {sid: badge for sid, _, _, badge, _ in STAFF}


def demo_roster(station_id: str, cost_ln: int = 14) -> dict[str, Any]:
    """The roster document central serves for ``station_id`` (acceptance.roster/1).

    ``cost_ln`` is scrypt's log2 N: 14 in the demo, the minimum 10 keeps tests quick.
    """
    from edge.roster.pin import hash_pin

    return {
        "schema": "acceptance.roster/1", "station_id": station_id,
        "inspectors": [{"inspector_id": sid, "name": name, "role": role, "badge_uid": badge,
                        "pin_hash": hash_pin(pin, ln=cost_ln)}
                       for sid, name, role, badge, pin in STAFF],
    }
