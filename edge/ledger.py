"""The day's incoming-inspection ledger (进货查验记录台账), a query over the journal.

Columns follow Food Safety Law Art. 53: name, specification, quantity,
production date or batch, shelf life, date of purchase, supplier name, address
and contact; plus the decision, its reasons and the record's seq and hash so a
row can be checked against the platform. CSV carries a BOM so Excel opens the
Chinese headers correctly.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.clock import now_rfc3339, parse_rfc3339
from edge.matching.reasons import label_zh
from edge.matching.units import fen_to_yuan

COLUMNS: list[tuple[str, str]] = [
    ("seq", "记录号"),
    ("received_at", "验收时间"),
    ("purchase_date", "进货日期"),
    ("supplier_name", "供货者名称"),
    ("supplier_address", "供货者地址"),
    ("supplier_contact", "联系方式"),
    ("license_no", "许可证号"),
    ("order_id", "订单号"),
    ("item_name", "食品名称"),
    ("spec", "规格"),
    ("quantity", "数量"),
    ("unit", "单位"),
    ("net_g", "实收净重(克)"),
    ("pieces", "件数"),
    ("production_date", "生产日期"),
    ("batch", "批号"),
    ("expiry_date", "保质期至"),
    ("unit_price", "单价(元)"),
    ("amount", "金额(元)"),
    ("temperature_c", "温度(℃)"),
    ("outcome", "验收结论"),
    ("reasons", "不合格原因"),
    ("inspectors", "验收人"),
    ("hash", "记录哈希"),
]


def _utc_range(day: date, tz: ZoneInfo) -> tuple[str, str]:
    start = datetime.combine(day, time(0), tz).astimezone(UTC)
    return now_rfc3339(start), now_rfc3339(start + timedelta(days=1))


def rows(db: sqlite3.Connection, day: date, tz: ZoneInfo) -> Iterator[dict[str, Any]]:
    lo, hi = _utc_range(day, tz)
    cur = db.execute(
        "SELECT event FROM events WHERE type IN ('line.accepted','line.rejected') "
        "AND at >= ? AND at < ? ORDER BY seq", (lo, hi))
    for (text,) in cur:
        yield _row(json.loads(text), tz)


def _row(ev: dict[str, Any], tz: ZoneInfo) -> dict[str, Any]:
    b = ev["body"]
    item, ordered, measured, price, sup = (b.get("item") or {}), (b.get("ordered") or {}), \
        b["measured"], b["price"], b["supplier"]
    local = parse_rfc3339(ev["at"]).astimezone(tz)
    unit_price = price.get("delivered_unit_price_fen") or price.get("ordered_unit_price_fen")
    return {
        "seq": ev["seq"],
        "received_at": local.strftime("%Y-%m-%d %H:%M:%S"),
        "purchase_date": local.date().isoformat(),
        "supplier_name": sup["name"],
        "supplier_address": sup["address"],
        "supplier_contact": sup["contact"],
        "license_no": sup.get("license_no") or "",
        "order_id": b["order_id"],
        "item_name": item.get("name", ""),
        "spec": item.get("spec", ""),
        "quantity": ordered.get("value", ""),
        "unit": ordered.get("unit", ""),
        "net_g": measured.get("net_g"),
        "pieces": measured.get("pieces"),
        "production_date": b.get("production_date") or "",
        "batch": b.get("batch") or "",
        "expiry_date": b.get("expiry_date") or "",
        "unit_price": "" if unit_price is None else fen_to_yuan(unit_price),
        "amount": "" if price.get("amount_fen") is None else fen_to_yuan(price["amount_fen"]),
        "temperature_c": b.get("temperature_c") or "",
        "outcome": "合格" if ev["type"] == "line.accepted" else "不合格（退货）",
        "reasons": "；".join(label_zh(c) for c in b.get("reasons", [])),
        "inspectors": "、".join(b.get("inspector_names") or b.get("inspectors", [])),
        "hash": ev["hash"],
    }


def to_csv(items: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([zh for _, zh in COLUMNS])
    for r in items:
        w.writerow(["" if r[k] is None else r[k] for k, _ in COLUMNS])
    return "\ufeff" + buf.getvalue()


def to_json(items: list[dict[str, Any]], day: date) -> str:
    return json.dumps({"date": day.isoformat(), "columns": dict(COLUMNS), "rows": items},
                      ensure_ascii=False, indent=1)
