"""The warnings pages: a school's (or, for the bureau, every school's) list, and one warning with
its evidence, documents, history and the forms its reader's role may use.

A school's accounts see only their school's warnings: another school's warning is 404, the same as
one that does not exist. Technicians see no warnings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from central import images
from central.platform import discipline
from central.platform import warnings as warning_table
from central.platform.service import discipline_step
from central.store import Store
from central.web import evidence
from central.web.accounts import Session
from central.web.auth import WebStore, require_role
from central.web.html import csrf_field, esc, local_time, page

router = APIRouter()
READERS = ("school_leader", "discipline_committee", "city_bureau")
LIST_MAX = 500  # newest first; filters narrow the rest
Reader = Annotated[Session, Depends(require_role(*READERS))]
INDICATORS = {
    "price_above_order": "送货单价高于订单", "price_above_contract": "订单单价高于合同价",
    "quantity_per_diner": "人均验收量异常", "supplier_rejection_rate": "供应商拒收率高",
    "delivery_outside_window": "送货时间不在约定时段", "retest_after_reject": "拒收后重新检测",
    "temp_typed_after_reject": "拒收后手工录入温度", "acceptance_without_clip": "验收无视频",
    "same_inspectors": "验收人员长期不变", "split_orders": "同日拆分订单", "late_arrival": "记录迟报",
    "station_offline_in_window": "送货时段验收站离线", "clock_unsynced": "时钟未同步",
    "chain_integrity": "记录链异常", "finance": "财务比对不符",
}


def indicator_name(code: str) -> str:
    return INDICATORS.get(code, code)


def visible_warning(store: Store, session: Session, warning_id: str) -> dict[str, Any]:
    """The warning if this account may see it; 404 otherwise (never telling which)."""
    w = warning_table.warning(store, warning_id)
    if w is None or not session.account.sees_school(str(w["school_id"])):
        raise HTTPException(404, "no such warning")
    return w


@router.get("/web/warnings")
def warning_list(request: Request, session: Reader, store: WebStore, state: str = "", indicator: str = "",
                 school: str = "") -> HTMLResponse:
    cfg: Any = request.app.state.cfg
    discipline_step(store, cfg)
    own = session.account.school_id
    cases = discipline.cases(store, own)
    rows: list[str] = []
    for w in reversed(warning_table.warnings(store, own)):
        if len(rows) >= LIST_MAX:
            break
        c = cases.get(w["warning_id"])
        st = c.state if c else "open"
        if (state and st != state) or (indicator and w["indicator"] != indicator) or (
                school and w["school_id"] != school):
            continue
        rows.append(f'<tr class="warning-row" data-warning="{esc(w["warning_id"])}"><td>{esc(w["day"])}</td>'
                    f'<td>{esc(w["school_id"])}</td><td>{esc(indicator_name(w["indicator"]))}</td>'
                    f'<td>{esc(w["station_id"])}</td><td><a href="/web/warnings/{esc(w["warning_id"])}">'
                    f'{esc(w["message"])}</a></td><td class="state-{esc(st)}">'
                    f'{esc(discipline.STATES.get(st, st))}</td>'
                    f'<td>{local_time(c.deadline if c else None, cfg.indicators.timezone)}</td></tr>')
    states = "".join(f'<option value="{k}"{" selected" if k == state else ""}>{v}</option>'
                     for k, v in discipline.STATES.items())
    kinds = "".join(f'<option value="{k}"{" selected" if k == indicator else ""}>{v}</option>'
                    for k, v in INDICATORS.items())
    more = f"<p>仅显示最近 {LIST_MAX} 条，请用筛选缩小范围。</p>" if len(rows) >= LIST_MAX else ""
    body = (f'<form method="get"><label>状态 <select name="state"><option value="">全部</option>{states}'
            f'</select></label><label>指标 <select name="indicator"><option value="">全部</option>{kinds}'
            f'</select></label><button type="submit">筛选</button></form>'
            f'<table id="warnings"><tr><th>日期</th><th>学校</th><th>指标</th><th>验收站</th><th>说明</th>'
            f'<th>状态</th><th>截止</th></tr>{"".join(rows) or "<tr><td colspan=7>暂无预警</td></tr>"}'
            f'</table>{more}')
    return page("本校预警" if own else "全部预警", body, session)


def _events_html(evs: list[evidence.EventEvidence], warning_id: str, clips_dir: Any) -> str:
    items = []
    for e in evs:
        clip = ""
        if e.clip_id:
            if evidence.clip_object(clips_dir, e.station_id, e.clip_id) is not None:
                clip = (f'<video class="clip" controls preload="metadata" width="480" src="/web/warnings/'
                        f'{esc(warning_id)}/clips/{esc(e.station_id)}/{esc(e.clip_id)}"></video>')
            else:
                clip = '<p class="bad">视频尚未上传</p>'
        for label, sha in e.images:
            if images.image_path(Path(clips_dir), e.station_id, sha) is not None:
                clip += (f'<figure class="photo"><img src="/web/warnings/{esc(warning_id)}/images/'
                         f'{esc(e.station_id)}/{esc(sha)}" alt="{esc(label)}" width="240">'
                         f'<figcaption>{esc(label)}</figcaption></figure>')
            else:
                clip += f'<p class="bad">{esc(label)}：照片尚未上传</p>'
        held = '<span class="ok">已存证</span>' if e.held else '<span class="bad">中心无此记录</span>'
        body = esc(json.dumps(e.body, ensure_ascii=False, indent=1))
        items.append(f'<li class="event">{esc(e.station_id)} #{e.seq} {esc(e.type)} {esc(e.at)} {held} '
                     f'<code>{esc(e.hash[:16])}…</code><details><summary>内容</summary><pre>{body}</pre>'
                     f'</details>{clip}</li>')
    return f'<ul id="events">{"".join(items) or "<li>无事件</li>"}</ul>'


def _forms(session: Session, w: dict[str, Any], c: discipline.Case | None) -> str:
    a, wid, out = session.account, esc(w["warning_id"]), []
    if c is None:
        return ""
    if a.role in discipline.STAMP_COLUMN and c.state == "open":
        out.append(f'<section id="upload"><h2>上传书面说明</h2><form method="post" '
                   f'enctype="multipart/form-data" action="/web/warnings/{wid}/document">'
                   f'{csrf_field(session)}<label>说明文件（PDF、PNG 或 JPEG）'
                   f'<input type="file" name="file" id="file" accept=".pdf,.png,.jpg,.jpeg" required>'
                   f'</label><button type="submit">上传</button></form></section>')
        if c.document_sha256:
            mine = c.stamp_school_by if a.role == "school_leader" else c.stamp_committee_by
            label = "学校盖章确认" if a.role == "school_leader" else "纪检盖章确认"
            out.append(f'<section id="stamp"><h2>{label}</h2>' + (
                f'<p>已由 {esc(mine)} 盖章</p>' if mine else
                f'<form method="post" action="/web/warnings/{wid}/stamp">{csrf_field(session)}'
                f'<input type="hidden" name="sha256" value="{esc(c.document_sha256)}">'
                f'<p>确认说明文件 <code>{esc(c.document_sha256[:16])}…</code> 属实并盖章。</p>'
                f'<button type="submit">盖章</button></form>') + '</section>')
    if a.role == "city_bureau" and c.state in ("explained", "escalated"):
        escalate = ('<button type="submit" name="decision" value="escalate">上报</button>'
                    if c.state == "explained" else "")
        out.append(f'<section id="review"><h2>市局审核</h2><form method="post" '
                   f'action="/web/warnings/{wid}/review">{csrf_field(session)}<label>意见 '
                   f'<textarea name="note" id="note" rows="3" cols="60"></textarea></label>'
                   f'<button type="submit" name="decision" '
                   f'value="close">结案</button>{escalate}</form></section>')
    return "".join(out)


@router.get("/web/warnings/{warning_id}")
def warning_page(request: Request, warning_id: str, session: Reader, store: WebStore) -> HTMLResponse:
    cfg: Any = request.app.state.cfg
    w = visible_warning(store, session, warning_id)
    discipline_step(store, cfg)
    c = discipline.case(store, warning_id)
    evs = evidence.events(store, w["evidence"])
    stations = sorted({w["station_id"], *(e.station_id for e in evs)})
    chain = []
    for s in stations:
        rep = evidence.auditor(request).head(s)
        said = f"记录链已验证（{rep.count} 条）" if rep.verified else f"记录链未通过验证：{esc(rep.problem)}"
        chain.append(f'<li class="chain {"ok" if rep.verified else "bad"}">{esc(s)}：{said}</li>')
    log = discipline.history(store, warning_id)
    docs = [x for x in log if x["action"] == "document"]
    tz = cfg.indicators.timezone
    doc_html = "".join(f'<li><a href="/web/warnings/{esc(warning_id)}/documents/'
                       f'{esc(d["detail"]["sha256"])}">'
                       f'{esc(d["detail"].get("name") or d["detail"]["sha256"][:16])}</a> '
                       f'{local_time(d["at"], tz)} '
                       f'{esc(d["account"])}</li>' for d in docs)
    log_html = "".join(f'<tr><td>{local_time(x["at"], tz)}</td><td>{esc(x["account"])}</td>'
                       f'<td>{esc(x["action"])}</td>'
                       f'<td>{esc(x["from"] or "")} → {esc(x["to"] or "")}</td>'
                       f'<td>{esc(x["detail"].get("note", ""))}</td></tr>' for x in log)
    state = c.state if c else "open"
    stamps = (f'<p>学校盖章：{esc(c.stamp_school_by or "未盖章")}；'
              f'纪检盖章：{esc(c.stamp_committee_by or "未盖章")}</p>' if c else "")
    body = (f'<section><p>学校 {esc(w["school_id"])} · 验收站 {esc(w["station_id"])} · {esc(w["day"])}</p>'
            f'<p>{esc(w["message"])}</p><p>状态：<strong id="state" class="state-{esc(state)}">'
            f'{esc(discipline.STATES.get(state, state))}</strong> '
            f'截止：{local_time(c.deadline if c else None, tz)}</p>'
            f'{stamps}{f"<p>审核意见：{esc(c.review_note)}</p>" if c and c.review_note else ""}</section>'
            f'<section><h2>记录链</h2><ul id="chain">{"".join(chain)}</ul></section>'
            f'<section><h2>证据事件</h2>{_events_html(evs, warning_id, cfg.http.clips_dir)}</section>'
            f'<section><h2>说明文件</h2><ul id="documents">{doc_html or "<li>尚无</li>"}</ul></section>'
            f'{_forms(session, w, c)}'
            f'<section><h2>处理记录</h2><table id="history"><tr><th>时间</th><th>账号</th><th>操作</th>'
            f'<th>状态</th><th>意见</th></tr>{log_html}</table></section>')
    return page(f"预警：{indicator_name(w['indicator'])}", body, session)
