"""Server-rendered pages: one layout, every value escaped (``esc``), no script or style from elsewhere.

Pages are Simplified Chinese; the only script is none, the style is inline in the layout, so the
Content-Security-Policy can forbid everything but this origin's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.responses import HTMLResponse

from central.web.accounts import Session

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; media-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "same-origin", "Cache-Control": "no-store", "X-Frame-Options": "DENY"}
STYLE = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif;margin:0;color:#222;background:#f6f7f9}
header{background:#1d4e89;color:#fff;padding:.6em 1em;display:flex;gap:1em;align-items:center}
header a{color:#fff} header form{margin-left:auto} main{padding:1em;max-width:72em}
table{border-collapse:collapse;background:#fff;width:100%} td,th{border:1px solid #ccd;padding:.3em .5em;
text-align:left;vertical-align:top} .state-open{color:#b00}.state-escalated{color:#70b}
.state-explained{color:#7a4f00}.state-closed{color:#070} .ok{color:#070}.bad{color:#b00}
section{background:#fff;padding:.6em 1em;margin:.8em 0;border:1px solid #dde}
label{display:block;margin:.4em 0} .err{color:#b00;font-weight:bold}
"""


def esc(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def page(title: str, body: str, session: Session | None = None, status: int = 200) -> HTMLResponse:
    nav = ""
    if session is not None:
        a = session.account
        scope = "·" + esc(a.school_id) if a.school_id else ""
        nav = (f'<a href="/web/">首页</a><span id="who">{esc(a.display_name)}（{esc(a.role_name)}{scope}）'
               f'</span><form method="post" action="/web/logout">{csrf_field(session)}'
               f'<button type="submit">退出</button></form>')
    doc = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
           f'<meta name="viewport" content="width=device-width,initial-scale=1">'
           f'<title>{esc(title)} · 验收监管平台</title><style>{STYLE}</style></head>'
           f'<body><header><strong>验收监管平台</strong>{nav}</header><main><h1>{esc(title)}</h1>'
           f'{body}</main></body></html>')
    return HTMLResponse(doc, status, headers=HEADERS)


def local_time(text: str | None, tz: str) -> str:
    """An RFC 3339 UTC time as ``YYYY-MM-DD HH:MM`` in the schools' zone (escaped; as is if not a time)."""
    if not text:
        return ""
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(ZoneInfo(tz))
    except ValueError:
        return esc(text)
    return esc(at.strftime("%Y-%m-%d %H:%M"))


def csrf_field(session: Session) -> str:
    return f'<input type="hidden" name="csrf" value="{esc(session.csrf_token)}">'


ERRORS = {400: "请求有误", 401: "请先登录", 403: "无权访问", 404: "未找到", 409: "状态已变化",
          411: "缺少长度", 413: "文件过大", 415: "格式不支持", 429: "尝试过多"}


def error_page(status: int, detail: Any) -> HTMLResponse:
    """The web app's error page (the detail is English and escaped)."""
    return page(ERRORS.get(status, "出错了"), f'<p class="err">{esc(ERRORS.get(status, "出错了"))}</p>'
                f'<p><small>{esc(detail)}</small></p><p><a href="/web/">返回</a></p>', status=status)


def error_response(status: int, detail: Any, headers: Mapping[str, str] | None) -> HTMLResponse:
    """An HTTPException on a /web/ path: a redirect (to the login page) or the error page."""
    if status in (302, 303) and headers and "Location" in headers:
        return HTMLResponse("", status, headers={**HEADERS, "Location": headers["Location"]})
    resp = error_page(status, detail)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp
