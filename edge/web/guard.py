"""Who may talk to the kiosk API, and what a request body may be (an ASGI middleware).

The kiosk app listens on loopback, but a page that the kiosk's own browser
opens (or a DNS name that an attacker points at 127.0.0.1) can still send it
requests. So, before any route runs:

* the ``Host`` header must name a trusted host with the kiosk's port (this
  also defeats DNS rebinding), on every request;
* an ``Origin`` header, when present, must be one of those hosts' origins;
* every request that changes something (anything but GET/HEAD) must carry the
  per-boot token in ``X-Kiosk-Token``. The token is put into the kiosk page the
  app serves; another origin can neither read that page nor send a custom
  header without a CORS preflight, which this app never grants;
* a body must be at most ``max_body_bytes``, ``application/json`` and strict
  JSON (``core.jsonsafe``: no NaN/Infinity, no huge numbers, no deep nesting).

A refused request answers 403 (413, 415, 422 for the body) with
``{"error", "message"}`` and reaches no route, so it changes nothing.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from core import jsonsafe

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_HEADER = "X-Kiosk-Token"
SAFE_METHODS = frozenset({"GET", "HEAD"})
MAX_DEPTH = 8  # the deepest body the API takes is a delivery note: 4 levels
# Every response: no framing by another page (clickjacking), no sniffing, no referrer.
SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; media-src 'self'; frame-ancestors 'none'; "
     b"base-uri 'none'; form-action 'none'; object-src 'none'"),
]


@dataclass(frozen=True)
class Access:
    """What the guard lets in: the kiosk's port, its trusted host names, a per-boot token."""

    port: int
    hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
    max_body_bytes: int = 16384
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)

    def host_values(self) -> frozenset[str]:
        out = set()
        for h in self.hosts:
            name = f"[{h}]" if ":" in h else h  # IPv6 literal
            out.add(f"{name}:{self.port}".lower())
            if self.port == 80:
                out.add(name.lower())
        return frozenset(out)

    def origins(self) -> frozenset[str]:
        return frozenset(f"http://{h}" for h in self.host_values())


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in scope.get("headers", ()):
        name = k.decode("latin-1").lower()
        if name in out:  # two Host or Origin headers: keep a value nobody trusts
            out[name] = "\x00duplicate"
        else:
            out[name] = v.decode("latin-1")
    return out


async def _answer(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": code, "message": message}, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"content-length", str(len(body)).encode()),
                            (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class KioskGuard:
    """The ASGI middleware; ``Access`` says what it trusts."""

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access
        self._hosts = access.host_values()
        self._origins = access.origins()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan
            await self.app(scope, receive, send)
            return

        async def send_with(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                msg["headers"] = [*msg.get("headers", []), *SECURITY_HEADERS]
            await send(msg)

        try:
            headers = _headers(scope)
            self._check_caller(scope, headers)
            if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
                body = await self._read_body(headers, receive)
                receive = _replay(body)
        except _Refused as r:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            else:
                await _answer(send_with, r.status, r.code, r.message)
            return
        await self.app(scope, receive, send_with)

    def _check_caller(self, scope: Scope, headers: dict[str, str]) -> None:
        if headers.get("host", "").lower() not in self._hosts:
            raise _Refused(403, "HOST_NOT_TRUSTED", "请求来源不受信任（Host）")
        origin = headers.get("origin")
        if origin is not None and origin.lower() not in self._origins:
            raise _Refused(403, "ORIGIN_NOT_TRUSTED", "请求来源不受信任（Origin）")
        if scope["type"] == "http" and scope["method"] in SAFE_METHODS:
            return
        token = headers.get(TOKEN_HEADER.lower(), "")
        if not hmac.compare_digest(token.encode("latin-1"), self.access.token.encode("ascii")):
            raise _Refused(403, "KIOSK_TOKEN", "页面已过期，请刷新验收页面")

    async def _read_body(self, headers: dict[str, str], receive: Receive) -> bytes:
        limit = self.access.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            raise _Refused(413, "BODY_TOO_LARGE", f"请求内容超过 {limit} 字节")
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                raise _Refused(400, "DISCONNECTED", "连接已断开")
            part = msg.get("body", b"")
            size += len(part)
            if size > limit:
                raise _Refused(413, "BODY_TOO_LARGE", f"请求内容超过 {limit} 字节")
            chunks.append(part)
            if not msg.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != "application/json":
                raise _Refused(415, "NOT_JSON", "请求内容必须是 JSON")
            try:
                jsonsafe.loads(body, max_depth=MAX_DEPTH, max_string=limit)
            except jsonsafe.JSONRefused as exc:
                raise _Refused(422, "BAD_JSON", f"请求内容无效：{exc}") from None
        return body


def _replay(body: bytes) -> Receive:
    """A ``receive`` that hands the already-read body to the app, then waits for disconnect."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


META = '<meta name="kiosk-token" content="">'


def with_token(html: str, token: str) -> str:
    """The kiosk page with this boot's token in its ``kiosk-token`` meta tag."""
    if META not in html:
        raise ValueError("kiosk page has no kiosk-token meta tag")
    return html.replace(META, f'<meta name="kiosk-token" content="{token}">', 1)
