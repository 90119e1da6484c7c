"""The return slip (退货单) of a closed delivery: a page built from the journal alone.

What was rejected (how much, in the order's unit), why, what happened to it
and how the driver acknowledged it, with the supplier, the inspectors and a QR
code naming the signed ``delivery.closed`` event (its event id and hash), so
the supplier can check the slip against the platform. Print-ready HTML (A4/A5,
``@media print``); the kiosk opens it for the driver to photograph or print.
"""

from __future__ import annotations

import html
import json
import sqlite3
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from contract.quantity import received_text
from edge.matching.reasons import REASONS


def slip_data(db: sqlite3.Connection, delivery_id: str, tz: ZoneInfo) -> dict[str, Any] | None:
    """The slip's facts, or None when that delivery has not been closed."""
    rows = db.execute(
        "SELECT type, event FROM events WHERE type IN ('delivery.opened', 'line.rejected', "
        "'rejection.disposed', 'delivery.closed') AND "
        "json_extract(event, '$.body.delivery_id') = ? ORDER BY seq", (delivery_id,)).fetchall()
    events = [json.loads(e) for _, e in rows]
    closed = next((e for e in events if e["type"] == "delivery.closed"), None)
    opened = next((e for e in events if e["type"] == "delivery.opened"), None)
    if closed is None or opened is None:
        return None
    done = {e["body"]["rejected"]["seq"]: e["body"] for e in events
            if e["type"] == "rejection.disposed"}
    lines = []
    for e in events:
        if e["type"] != "line.rejected":
            continue
        b, d = e["body"], done.get(e["seq"], {})
        m = b.get("measured") or {}
        lines.append({
            "seq": e["seq"], "line_id": b.get("line_id"),
            "item": (b.get("item") or {}).get("name")
            or (b.get("delivered_item") or {}).get("name") or "未识别货品",
            "quantity": received_text(m, b.get("ordered")), "reasons": [REASONS.get(c, ("", c, ""))[1]
                                             for c in b.get("reasons", [])],
            "disposition": d.get("disposition_zh", "—"),
            "ack": _ack(d.get("acknowledged_by") or {}),
            "signature": (d.get("acknowledged_by") or {}).get("signature_file")})
    at = datetime.fromisoformat(closed["at"].replace("Z", "+00:00")).astimezone(tz)
    sup = opened["body"].get("supplier") or {}
    return {"station_id": closed["station_id"], "delivery_id": delivery_id,
            "order_id": closed["body"]["order_id"], "supplier": sup.get("name", ""),
            "supplier_contact": sup.get("contact", ""), "closed_at": at.strftime("%Y-%m-%d %H:%M"),
            "inspectors": opened["body"].get("inspector_names") or opened["body"].get("inspectors")
            or [], "lines": lines,
            "qr": f"acceptance-return:{closed['station_id']}/{delivery_id}"
                  f"?event={closed['event_id']}&sha256={closed['hash']}"}


def _ack(a: dict[str, Any]) -> str:
    if a.get("method") == "badge":
        return f"司机刷卡 {a.get('badge')}"
    if a.get("method") == "signature":
        return "司机签名"
    return "—"


def _img(name: str | None) -> str:
    return "" if not name else f'<br><img class="sig" src="/api/blobs/{html.escape(name)}" alt="签名">'


def slip_html(data: dict[str, Any], qr_svg: str) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{x['seq']}</td><td>{e(x['item'])}</td><td>{e(x['quantity'])}</td>"
        f"<td>{e('；'.join(x['reasons']))}</td><td>{e(x['disposition'])}</td>"
        f"<td>{e(x['ack'])}{_img(x['signature'])}</td></tr>" for x in data["lines"]) \
        or "<tr><td colspan='6'>本单无拒收货品</td></tr>"
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>退货单 {e(data['order_id'])}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", sans-serif; margin: 24px; color: #111; }}
h1 {{ font-size: 28px; margin: 0 0 8px; }} table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border: 1px solid #444; padding: 6px 8px; font-size: 16px; text-align: left; }}
img.sig {{ height: 48px; }}
.meta {{ display: flex; justify-content: space-between; gap: 16px; }} .qr svg {{ width: 180px; }}
@media print {{ body {{ margin: 10mm; }} .noprint {{ display: none; }} }}
@page {{ size: A5 landscape; }}
</style></head><body>
<div class="meta"><div>
<h1>退货单</h1>
<p>供应商：{e(data['supplier'])}　{e(data['supplier_contact'])}</p>
<p>订单：{e(data['order_id'])}　结单时间：{e(data['closed_at'])}</p>
<p>验收人：{e('、'.join(data['inspectors']))}　验收站：{e(data['station_id'])}</p>
</div><div class="qr">{qr_svg}</div></div>
<table><thead><tr><th>记录号</th><th>货品</th><th>实收</th><th>拒收原因</th><th>处置</th>
<th>司机确认</th></tr></thead><tbody>{rows}</tbody></table>
<p class="noprint"><button onclick="print()">打印</button></p>
</body></html>"""
