"""Logging in and out, and the home page listing what the account's role may open.

The login form carries a pre-session CSRF token that must equal its cookie (double submit); a
successful login sets the session cookie (HttpOnly, SameSite=Strict, Path=/web, Secure over HTTPS).
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from central.limits import ClientLimits
from central.web import accounts
from central.web.accounts import Session
from central.web.auth import COOKIE, WebStore, current_session, optional_session, posted_form, same_origin
from central.web.forms import Form, read_form
from central.web.html import HEADERS, esc, page

router = APIRouter()
LOGIN_COOKIE = "central_login"
def _throttle(request: Request) -> ClientLimits:
    """Login attempts per client address (``logins_per_min`` as a burst, refilled evenly): beside the
    per-name lockout, it stops one address trying one password against many names."""
    state = request.app.state
    with _throttle_lock:
        if getattr(state, "login_throttle", None) is None:
            per_min = state.cfg.web.logins_per_min
            state.login_throttle = ClientLimits(per_min / 60, per_min)
    return state.login_throttle  # type: ignore[no-any-return]


_throttle_lock = threading.Lock()
# What each role's home page links to: (href, label); other routers add their pages here.
HOME_LINKS: dict[str, list[tuple[str, str]]] = {
    "school_leader": [("/web/warnings", "本校预警")],
    "discipline_committee": [("/web/warnings", "本校预警")],
    "city_bureau": [("/web/warnings", "全部预警"), ("/web/overview", "全市概览")],
    "technician": [("/web/fleet", "设备运维总览")],
}


def _secure(request: Request) -> bool:
    cfg: Any = request.app.state.cfg
    return bool(cfg.web.cookie_secure if cfg.web.cookie_secure is not None else cfg.http.tls_cert_file)


def _login_page(request: Request, error: str = "", status: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    body = (f'{f"<p class=err>{esc(error)}</p>" if error else ""}'
            f'<form method="post" action="/web/login" id="login-form">'
            f'<input type="hidden" name="login_csrf" value="{esc(token)}">'
            f'<label>用户名 <input name="username" id="username" autocomplete="username" required></label>'
            f'<label>密码 <input name="password" id="password" type="password"'
            f' autocomplete="current-password" required></label><button type="submit">登录</button></form>')
    resp = page("登录", body, status=status)
    resp.set_cookie(LOGIN_COOKIE, token, max_age=3600, path="/web/login", httponly=True, samesite="strict",
                    secure=_secure(request))
    return resp


@router.get("/web/login")
def login_form(request: Request) -> HTMLResponse:
    return _login_page(request)


@router.post("/web/login")
async def login_submit(request: Request, store: WebStore) -> Response:
    same_origin(request)
    if not _throttle(request).allow(request.client.host if request.client else "?"):
        return _login_page(request, "尝试过于频繁，请稍后再试。", 429)
    form: Form = await read_form(request)
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), form.get("login_csrf").encode()):
        raise HTTPException(403, "CSRF token missing or wrong (reload the login page)")
    cfg: Any = request.app.state.cfg
    try:
        got = await run_in_threadpool(accounts.login, store, form.get("username"), form.get("password"),
                                      ttl_min=cfg.web.session_ttl_min, max_failures=cfg.web.max_failures,
                                      lockout_min=cfg.web.lockout_min)
    except accounts.LockedOut:
        return _login_page(request, "登录失败次数过多，账户已暂时锁定，请稍后再试。", 429)
    if got is None:
        await asyncio.sleep(0.2)  # slows guessing a little more; the lockout is the real limit
        return _login_page(request, "用户名或密码错误。", 401)
    token, _ = got
    resp = RedirectResponse("/web/", 303, headers=HEADERS)
    resp.set_cookie(COOKIE, token, max_age=cfg.web.session_ttl_min * 60, path="/web", httponly=True,
                    samesite="strict", secure=_secure(request))
    resp.delete_cookie(LOGIN_COOKIE, path="/web/login")
    return resp


@router.post("/web/logout")
def logout(session: Annotated[Session, Depends(current_session)], form: Annotated[Form, Depends(posted_form)],
           store: WebStore) -> Response:
    accounts.logout(store, session.session_hash)
    resp = RedirectResponse("/web/login", 303, headers=HEADERS)
    resp.delete_cookie(COOKIE, path="/web")
    return resp


@router.get("/web/")
def home(request: Request, session: Annotated[Session | None, Depends(optional_session)]) -> Response:
    if session is None:
        return RedirectResponse("/web/login", 303, headers=HEADERS)
    links = "".join(f'<li><a href="{esc(h)}">{esc(label)}</a></li>'
                    for h, label in HOME_LINKS.get(session.account.role, []))
    return page("首页", f"<ul>{links or '<li>暂无可用页面</li>'}</ul>", session)
