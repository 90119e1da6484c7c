"""The fleet pages' HTML bodies (zh-CN) from the fleet document, every value escaped; the layout
is the web app's (``central.web.html.page``)."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from central.fleet.view import FAULTS

FAULT_ZH = {"offline": "离线", "silent": "失联", "never_seen": "从未上线", "scale": "秤故障",
            "camera": "摄像头故障", "thermometer": "温度计故障", "disk": "磁盘空间不足",
            "clock": "时钟未同步", "backlog": "数据积压", "uplink": "上传被拒", "update": "更新失败",
            "alerts": "有告警", "doctor": "诊断异常"}
STATE_ZH = {"online": "在线", "offline": "离线", "silent": "失联", "never": "从未上线"}
DIAG_ZH = {"requested": "已请求", "received": "已收到", "timed_out": "超时未回"}
DEVICE_ZH = {"scale": "秤", "camera": "摄像头", "thermometer": "温度计", "disk": "磁盘", "clock": "时钟"}
STYLE = ("<style>#stations{font-size:13px}.muted{color:#777}.counts span{display:inline-block;"
         "margin-right:1.2em}form.filters label{display:inline;margin-right:.8em}</style>")


def e(v: Any) -> str:
    return escape("" if v is None else str(v), quote=True)


def local(at: str | None, tz: ZoneInfo) -> str:
    if not at:
        return "—"
    try:
        return datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(tz).strftime("%m-%d %H:%M")
    except ValueError:
        return e(at)


def age(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 3600:
        return f"{int(seconds // 60)} 分钟"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} 小时"
    return f"{seconds / 86400:.1f} 天"


def _options(values: list[tuple[str, str]], chosen: str | None) -> str:
    opts = ['<option value="">全部</option>']
    opts += [f'<option value="{e(v)}"{" selected" if v == chosen else ""}>{e(label)}</option>'
             for v, label in values]
    return "".join(opts)


def filters(doc: dict[str, Any]) -> str:
    f = doc["filter"]
    schools = [(s, f"{n or s}（{s}）") for s, n in doc["schools"]]
    return (
        '<form class="filters" method="get" action="/web/fleet">'
        f'<label>区 <select name="district" id="f-district">'
        f'{_options([(d, d) for d in doc["districts"]], f.get("district"))}</select></label>'
        f'<label>学校 <select name="school" id="f-school">'
        f'{_options(schools, f.get("school"))}</select></label>'
        f'<label>故障 <select name="fault" id="f-fault">'
        f'{_options([(x, FAULT_ZH[x]) for x in FAULTS], f.get("fault"))}</select></label>'
        f'<label>状态 <select name="state" id="f-state">'
        f'{_options(list(STATE_ZH.items()), f.get("state"))}</select></label>'
        f'<label><input type="checkbox" name="visit" value="1" id="f-visit"'
        f'{" checked" if f.get("visit") else ""}> 只看需上门</label>'
        '<button type="submit" id="f-apply">筛选</button> <a href="/web/fleet">清除</a></form>')


def counts(c: dict[str, Any]) -> str:
    items = [("stations", "站点总数"), ("online", "在线"), ("offline", "离线"), ("silent", "失联"),
             ("never", "从未上线"), ("needs_visit", "需上门")]
    head = "".join(f'<span id="count-{k}">{label}：<b>{int(c[k])}</b></span>' for k, label in items)
    faults = "，".join(f"{FAULT_ZH[k]} {n}" for k, n in c["faults"].items() if n)
    versions = "，".join(f"{e(v)}：{n}" for v, n in c["versions"].items())
    return (f'<div class="counts">{head}</div><p class="muted">故障：{e(faults) or "无"}　'
            f"版本：{versions}</p>")


def device_cell(d: dict[str, Any] | None) -> str:
    if d is None:
        return '<td class="muted">—</td>'
    ok = d.get("ok")
    text = d.get("state") or ("正常" if ok else "异常" if ok is False else "")
    if "free_bytes" in d:
        text = f"{d['free_bytes'] / 1e9:.1f} GB"
    if set(d) == {"ok"}:
        text = "已同步" if ok else "未同步"
    return f'<td class="{"bad" if ok is False else "ok"}">{e(text)}</td>'


def state_cell(r: dict[str, Any], tz: ZoneInfo) -> str:
    bad = r["state"] != "online"
    since = f"自 {local(r['since'], tz)}" if r["since"] else ""
    return (f'<td class="{"bad" if bad else "ok"}">{STATE_ZH[r["state"]]} '
            f'<span class="muted">{since}</span></td>')


def doctor_cell(d: dict[str, Any] | None, tz: ZoneInfo) -> str:
    if d is None:
        return '<td class="muted">—</td>'
    if d["state"] != "received":
        return f"<td>{DIAG_ZH.get(d['state'], e(d['state']))}</td>"
    if d["ok"]:
        return f'<td class="ok">通过 <span class="muted">{local(d["received_at"], tz)}</span></td>'
    return f'<td class="bad">未通过：{e("、".join(d["failed"]))}</td>'


def station_rows(rows: list[dict[str, Any]], tz: ZoneInfo) -> str:
    out = []
    for r in rows:
        bl = r["backlog"]
        backlog = "—" if bl["events"] is None else f"{bl['events']} 条 / {bl['clips']} 段"
        if bl["age_s"] is not None:
            backlog += f"（{age(bl['age_s'])}）"
        devs = "".join(device_cell(r["devices"].get(k)) for k in DEVICE_ZH)
        alerts = "；".join(f"{a['code']}" for a in r["alerts"][-3:])
        visit = "、".join(FAULT_ZH.get(x, x) for x in r["visit_reasons"])
        sid = e(r["station_id"])
        out.append(
            f'<tr data-station="{sid}"><td><a href="/web/fleet/stations/{sid}">{sid}</a></td>'
            f'<td>{e(r["school_name"] or r["school"])}</td><td>{e(r["district"])}</td>'
            f'{state_cell(r, tz)}<td>{e(r["version"] or "—")}</td><td>{e(backlog)}</td>'
            f'<td>{local(r["last_sync"], tz)}</td>{devs}'
            f'<td class="{"bad" if alerts else ""}">{e(alerts)}</td>'
            f'{doctor_cell(r["doctor"], tz)}<td class="{"bad" if visit else ""}">{e(visit)}</td></tr>')
    return "".join(out)


def fleet_page(doc: dict[str, Any], tz: ZoneInfo) -> str:
    heads = ["站点", "学校", "区", "状态", "版本", "积压", "最近同步", *DEVICE_ZH.values(), "告警",
             "最近诊断", "需上门原因"]
    shown = doc["stations"]
    table = (f'<p id="shown">显示 {len(shown)} 个站点（需上门的在前）</p><table id="stations"><thead><tr>'
             + "".join(f"<th>{h}</th>" for h in heads) + f"</tr></thead><tbody>{station_rows(shown, tz)}"
             "</tbody></table>")
    return STYLE + counts(doc["counts"]) + filters(doc) + table


def _joined(doc: dict[str, Any] | None, *keys: str) -> str:
    return "" if not doc else " ".join(str(doc[k]) for k in keys if doc.get(k))


def diagnosis_item(d: dict[str, Any], tz: ZoneInfo) -> str:
    link = (f' <a href="/web/fleet/diagnoses/{e(d["request_id"])}/bundle">下载诊断包</a>'
            if d["bundle_sha256"] else "")
    checks = "".join(f'<br><span class="{"ok" if c.get("ok") else "bad"}">'
                     f'{e(c.get("check"))}：{e(c.get("detail"))}</span>'
                     for c in ((d.get("doctor") or {}).get("checks") or []) if isinstance(c, dict))
    return (f"<li>{local(d['requested_at'], tz)} {e(d['requested_by'])} "
            f"{DIAG_ZH.get(d['state'], e(d['state']))}{link}{checks}</li>")


def station_page(r: dict[str, Any], tz: ZoneInfo, csrf_input: str, notice: str = "") -> str:
    info = [("学校", f"{r['school_name']}（{r['school']}）"), ("区", r["district"]),
            ("版本", f"{r['version'] or '—'}（发布 {r['release'] or '—'}）"),
            ("最近更新", _joined(r["update"], "step", "version", "reason")),
            ("上传状态", _joined(r["uplink"], "state", "error")),
            ("最后心跳", local(r["last_seen"], tz)), ("最近同步", local(r["last_sync"], tz))]
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in info)
    alerts = "".join(f"<li>{local(a['at'], tz)} {e(a['code'])}：{e(a['message'])}</li>" for a in r["alerts"])
    diags = "".join(diagnosis_item(d, tz) for d in reversed(r.get("diagnoses", [])))
    form = (f'<form method="post" action="/web/fleet/stations/{e(r["station_id"])}/diagnose">'
            f"{csrf_input}"
            '<button type="submit" id="diagnose">远程诊断（运行 doctor 并上传诊断包）</button></form>')
    body = (f'<p><a href="/web/fleet">返回总览</a></p><p id="notice">{e(notice)}</p>'
            f'<table id="station">{state_cell(r, tz).join(["<tr><th>状态</th>", "</tr>"])}{rows}</table>'
            f"<h2>告警</h2><ul id=\"alerts\">{alerts or '<li>无</li>'}</ul>"
            f"<h2>远程诊断</h2>{form}<ul id=\"diagnoses\">{diags or '<li>无</li>'}</ul>")
    return STYLE + body
