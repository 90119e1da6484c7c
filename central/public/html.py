"""The public pages' HTML (pure functions): a record, a school's menu and day. zh-CN, mobile first.

Every value from a record or a menu goes through ``e`` (``html.escape``): the
texts come from stations and menu files, and the pages are open to anyone.
Nothing here prints an id, a phone number, a barcode or a hash prefix a
person cannot use: records show names and words (``contract.record_text``).
Links carry ids in their URLs only.
"""

from __future__ import annotations

from datetime import date, datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from contract.quantity import UNIT_ZH
from contract.record_text import (
    OUTCOME_ZH,
    RECORD_PATH,
    inspector_names,
    item_text,
    quantity_text,
    reason_labels,
    supplier_text,
)

WEEKDAYS = "一二三四五六日"


def e(value: Any) -> str:
    return escape(str(value), quote=True)


def day_zh(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日 星期{WEEKDAYS[d.weekday()]}"


def local_time(at: str, tz: ZoneInfo) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(tz)


def page(title: str, body: str) -> str:
    return ("<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{e(title)}</title>"
            "<link rel=\"icon\" href=\"/public/static/favicon.svg\" type=\"image/svg+xml\">"
            "<link rel=\"stylesheet\" href=\"/public/static/public.css\"></head>"
            f"<body><main>{body}</main>"
            "<footer>本页由食材验收平台公开发布，记录由验收站签名，平台核验。</footer></body></html>")


def ordered_text(body: dict[str, Any]) -> str:
    o = body.get("ordered") or {}
    if o.get("value") is None or o.get("unit") not in UNIT_ZH:
        return "—"
    return f"{o['value']} {UNIT_ZH[o['unit']]}"


def record_page(ev: dict[str, Any], verified: bool, clip_url: str | None, clip_verified: bool,
                tz: ZoneInfo) -> str:
    """One decided line: what, from whom, how much, the decision and why, when, who; its clip."""
    b = ev.get("body") or {}
    outcome = "accepted" if ev["type"] == "line.accepted" else "rejected"
    at = local_time(ev["at"], tz)
    reasons = reason_labels(b)
    names = inspector_names(b)
    rows = [("供应商", supplier_text(b)), ("实收", quantity_text(b)), ("订购", ordered_text(b)),
            ("验收时间", f"{day_zh(at.date())} {at:%H:%M}"), ("验收人", "、".join(names) or "—")]
    if reasons:
        rows.append(("拒收原因" if outcome == "rejected" else "备注", "、".join(reasons)))
    dl = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in rows)
    badge = ('<p class="verified" id="verified">✔ 签名已验证</p>' if verified else
             '<p class="unverified" id="verified">未能验证签名：本记录的真实性尚未得到平台核验</p>')
    if clip_url is None:
        video = '<p class="muted">验收录像尚未上传到平台。</p>'
    else:
        note = "" if clip_verified else '<p class="unverified">录像未能核验。</p>'
        video = (f'<video id="clip" controls playsinline preload="metadata" src="{e(clip_url)}">'
                 "您的浏览器无法播放此录像。</video>" + note)
    body = (f'<h1>食材验收记录</h1><p class="item" id="item">{e(item_text(b))}</p>'
            f'<p class="outcome {outcome}" id="outcome">{e(OUTCOME_ZH[ev["type"]])}</p>'
            f"{badge}<dl>{dl}</dl><h2>验收录像</h2>{video}")
    return page("食材验收记录 · " + item_text(b), body)


def menu_html(menu: dict[str, Any] | None) -> str:
    if menu is None:
        return '<p class="muted">今日未公布菜单。</p>'
    out = []
    for meal in menu.get("meals") or []:
        if not isinstance(meal, dict):
            continue
        dishes = [str(d) for d in meal.get("dishes") or [] if isinstance(d, str | int)]
        out.append(f'<section class="meal"><h3>{e(meal.get("name") or "")}</h3>'
                   f'<p>{e("、".join(dishes) or "—")}</p></section>')
    return "".join(out) or '<p class="muted">今日未公布菜单。</p>'


def school_page(menu: dict[str, Any] | None, lines: list[dict[str, Any]], day: date,
                tz: ZoneInfo) -> str:
    """Today's menu and the day's acceptances: what was accepted from whom, each linked to its record."""
    name = str((menu or {}).get("school_name") or "")
    accepted = [ev for ev in lines if ev["type"] == "line.accepted"]
    items = []
    for ev in lines:
        b = ev.get("body") or {}
        outcome = "accepted" if ev["type"] == "line.accepted" else "rejected"
        href = RECORD_PATH.format(station_id=ev["station_id"], event_id=ev["event_id"])
        at = local_time(ev["at"], tz)
        items.append(f'<li class="{outcome}"><a href="{e(href)}"><span class="t">{at:%H:%M}</span>'
                     f'<b>{e(item_text(b))}</b> {e(quantity_text(b))}'
                     f'<span class="sup">{e(supplier_text(b))}</span>'
                     f'<span class="tag {outcome}">{e(OUTCOME_ZH[ev["type"]])}</span></a></li>')
    summary = (f"<p>今日共验收 {len(lines)} 项：合格 {len(accepted)} 项，"
               f"拒收 {len(lines) - len(accepted)} 项。点击查看每条记录及录像。</p>")
    listing = f'<ul class="lines">{"".join(items)}</ul>' if items else \
        '<p class="muted">今日尚无验收记录。</p>'
    title = f"{name}今日菜单" if name else "学校食堂今日菜单"
    body = (f"<h1>{e(title)}</h1><p class=\"muted\">{e(day_zh(day))}</p>"
            f'<section id="menu">{menu_html(menu)}</section>'
            f'<h2>今日食材验收</h2><section id="acceptance">{summary}{listing}</section>')
    return page(title, body)


def message_page(title: str, text: str) -> str:
    return page(title, f"<h1>{e(title)}</h1><p>{e(text)}</p>")
