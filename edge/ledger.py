"""The day's incoming-inspection ledger (进货查验记录台账), a query over the journal.

Columns follow Food Safety Law Art. 53 and the regulation's ledger template:
name, specification, the quantity received (in the order's unit, in Chinese, through
``contract.quantity`` as the kiosk, the hall and central's pages show it),
production date or batch, shelf life, date of purchase, supplier name, address
and contact, 产地 where known, the documents checked, the sensory and rapid-test
results, temperature and how it was taken; plus the decision, its reasons, what
happened to rejected goods, the inspectors by name and the record's seq and
hash so a row can be checked against the platform. A wrong item's row names
what was delivered. CSV carries a BOM so Excel opens the
Chinese headers correctly.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from contract.quantity import received_quantity
from core.clock import now_rfc3339, parse_rfc3339
from edge.matching.inspection import SENSORY_ITEMS
from edge.matching.reasons import label_zh
from edge.matching.units import UNIT_ZH, fen_to_yuan

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
    ("quantity", "实收数量"),
    ("unit", "单位"),
    ("ordered", "订购数量"),
    ("net_g", "实收净重(克)"),
    ("pieces", "件数"),
    ("production_date", "生产日期"),
    ("batch", "批号"),
    ("expiry_date", "保质期至"),
    ("origin", "产地"),
    ("documents", "查验证明文件"),
    ("sensory", "感官检查"),
    ("rapid_test", "快检结果"),
    ("unit_price", "单价(元)"),
    ("amount", "金额(元)"),
    ("temperature_c", "温度(℃)"),
    ("temperature_source", "测温方式"),
    ("outcome", "验收结论"),
    ("reasons", "不合格原因"),
    ("disposition", "处置情况"),
    ("inspectors", "验收人"),
    ("hash", "记录哈希"),
]


def _utc_range(day: date, tz: ZoneInfo) -> tuple[str, str]:
    start = datetime.combine(day, time(0), tz).astimezone(UTC)
    return now_rfc3339(start), now_rfc3339(start + timedelta(days=1))


def rows(db: sqlite3.Connection, day: date, tz: ZoneInfo) -> Iterator[dict[str, Any]]:
    lo, hi = _utc_range(day, tz)
    disposed = {int(b["rejected"]["seq"]): b for b in (json.loads(t)["body"] for (t,) in db.execute(
        "SELECT event FROM events WHERE type = 'rejection.disposed' AND at >= ?", (lo,)))}
    cur = db.execute(
        "SELECT event FROM events WHERE type IN ('line.accepted','line.rejected') "
        "AND at >= ? AND at < ? ORDER BY seq", (lo, hi))
    for (text,) in cur:
        ev = json.loads(text)
        yield _row(ev, tz, disposed.get(int(ev["seq"])))


def _row(ev: dict[str, Any], tz: ZoneInfo, disposed: dict[str, Any] | None) -> dict[str, Any]:
    b = ev["body"]
    item, ordered, measured, price, sup = (b.get("item") or {}), (b.get("ordered") or {}), \
        b["measured"], b["price"], b["supplier"]
    local = parse_rfc3339(ev["at"]).astimezone(tz)
    unit_price = price.get("delivered_unit_price_fen") or price.get("ordered_unit_price_fen")
    qty, unit = received_quantity(measured, ordered) or ("", "")  # exact grams: net_g column
    return {
        "seq": ev["seq"],
        "received_at": local.strftime("%Y-%m-%d %H:%M:%S"),
        "purchase_date": local.date().isoformat(),
        "supplier_name": sup["name"],
        "supplier_address": sup["address"],
        "supplier_contact": sup["contact"],
        "license_no": sup.get("license_no") or "",
        "order_id": b["order_id"],
        "item_name": item_name(b),
        "spec": item.get("spec") or (b.get("delivered_item") or {}).get("spec", ""),
        "quantity": qty,
        "unit": unit,
        "ordered": "" if not ordered else f"{ordered['value']} {UNIT_ZH.get(ordered['unit'], '')}",
        "net_g": measured.get("net_g"),
        "pieces": measured.get("pieces"),
        "production_date": b.get("production_date") or "",
        "batch": b.get("batch") or "",
        "expiry_date": b.get("expiry_date") or "",
        "origin": b.get("origin") or "",
        "documents": "；".join(d.get("label") or d.get("kind", "") for d in b.get("documents") or []),
        "sensory": sensory_text(b.get("sensory")),
        "rapid_test": rapid_text(b.get("rapid_test")),
        "unit_price": "" if unit_price is None else fen_to_yuan(unit_price),
        "amount": "" if price.get("amount_fen") is None else fen_to_yuan(price["amount_fen"]),
        "temperature_c": b.get("temperature_c") or "",
        "temperature_source": {"probe": "探针测温", "typed": "手工输入"}.get(
            b.get("temperature_source") or "", ""),
        "outcome": "合格" if ev["type"] == "line.accepted" else "不合格（退货）",
        "reasons": "；".join(label_zh(c) for c in b.get("reasons", [])),
        "disposition": disposition_text(disposed) if ev["type"] == "line.rejected" else "",
        "inspectors": "、".join(b.get("inspector_names") or b.get("inspectors", [])),
        "hash": ev["hash"],
    }


def item_name(b: dict[str, Any]) -> str:
    """The ordered item; for a wrong item what was delivered, named as such."""
    if b.get("item"):
        return str(b["item"]["name"])
    delivered = b.get("delivered_item") or {}
    if delivered.get("name"):
        return f"{delivered['name']}（非本订单货品）"
    code = (b.get("scanned") or {}).get("gtin") or (b.get("scanned") or {}).get("item_code")
    return f"未识别货品（条码 {code}）" if code else "未识别货品"


def sensory_text(answers: dict[str, str] | None) -> str:
    if not answers:
        return "未检"
    found = [SENSORY_ITEMS[k][1] for k, v in answers.items() if v == "found" and k in SENSORY_ITEMS]
    return "发现：" + "、".join(found) if found else "正常"


def rapid_text(t: dict[str, Any] | None) -> str:
    if not t:
        return ""
    res = f"抑制率 {t['inhibition_pct']}%" if t.get("inhibition_pct") is not None \
        else ("合格" if t.get("passed") else "不合格")
    return f"{res}（样品 {t.get('sample') or '—'}，检测人 {t.get('operator') or '—'}）"


def disposition_text(d: dict[str, Any] | None) -> str:
    if d is None:
        return "未处置"
    ack = d.get("acknowledged_by") or {}
    how = {"badge": "司机刷卡确认", "signature": "司机签名确认"}.get(ack.get("method", ""), "")
    return f"{d.get('disposition_zh', '')}（{how}）" if how else str(d.get("disposition_zh", ""))


_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text: no formula (``=``, ``+``, ``-``, ``@``, tab, CR).

    Supplier names, batches and items come from outside; a leading ``'`` makes
    Excel and LibreOffice show such a cell as text instead of evaluating it
    (OWASP CSV injection). Plain numbers (``-18.5``) are left as they are.
    """
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def to_csv(items: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([zh for _, zh in COLUMNS])
    for r in items:
        w.writerow([cell(r[k]) for k, _ in COLUMNS])
    return "\ufeff" + buf.getvalue()


def to_json(items: list[dict[str, Any]], day: date) -> str:
    return json.dumps({"date": day.isoformat(), "columns": dict(COLUMNS), "rows": items},
                      ensure_ascii=False, indent=1)
