"""Central's public pages: no login, read-only, escaped, size-limited, rate-limited per client.

- ``GET /public/records/{station_id}/{event_id}``: one decided line (the hall QR's target);
- ``GET /public/clips/{station_id}/{clip_id}``: its clip (MP4, HTTP range requests);
- ``GET /public/schools/{school_id}``: today's menu and the day's acceptances (``?date=`` for another day);
- ``GET /public/static/public.css|favicon.svg``.

Served only when ``[http] public_base_url`` is set. Path parameters are matched
against the contract's id patterns before anything is read (404 otherwise), so
no parameter longer than 64 characters reaches the store. Every client address
has a token bucket (``public_requests_per_s``, ``public_burst``): beyond it, 429
with ``Retry-After``. Pages send a strict Content-Security-Policy (no script at
all, styles and media from this origin only).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response

from central.http import ID
from central.limits import ClientLimits
from central.public.html import message_page, record_page, school_page
from central.public.records import Reader

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
STATIC = Path(__file__).parent / "static"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; media-src 'self'; "
                               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "Cache-Control": "public, max-age=60",
}
router = APIRouter()


def _state(request: Request) -> Any:
    """The reader and the limits, made on first use (404 when the public pages are off)."""
    st = request.app.state
    cfg = st.cfg
    if cfg.http.public_base_url is None:
        raise HTTPException(404, "not found")
    if not hasattr(st, "public_reader"):
        tz = ZoneInfo(cfg.indicators.timezone)
        st.public_reader = Reader(cfg.store.dsn, cfg.registry.keys_dir, Path(cfg.http.clips_dir), tz,
                                  cfg.indicators.master_data_file)
        st.public_limits = ClientLimits(cfg.http.public_requests_per_s, cfg.http.public_burst)
    client = request.client.host if request.client else "?"
    if not st.public_limits.allow(client):
        raise HTTPException(429, "too many requests", headers={"Retry-After": "5"})
    return st


def _html(text: str, code: int = 200) -> HTMLResponse:
    return HTMLResponse(text, code, headers=HEADERS)


def _valid(station_id: str, other: str, pattern: re.Pattern[str]) -> bool:
    return bool(ID.match(station_id) and pattern.match(other))


@router.get("/public/records/{station_id}/{event_id}", include_in_schema=False)
async def record(request: Request, station_id: str, event_id: str) -> Response:
    st = _state(request)
    if not _valid(station_id, event_id, UUID):
        return _html(message_page("未找到记录", "链接不完整或有误。"), 404)
    reader: Reader = st.public_reader
    rec = await run_in_threadpool(reader.record, station_id, event_id)
    if rec is None:
        return _html(message_page("未找到记录", "平台尚未收到这条验收记录，请稍后再试。"), 404)
    clip = rec.clip
    url = None if clip is None else f"/public/clips/{station_id}/{clip.clip_id}"
    return _html(record_page(rec.event, rec.verified, url, clip is not None and clip.verified,
                             reader.tz))


@router.get("/public/clips/{station_id}/{clip_id}", include_in_schema=False)
async def clip(request: Request, station_id: str, clip_id: str) -> Response:
    st = _state(request)
    if not _valid(station_id, clip_id, UUID):
        raise HTTPException(404, "no such clip")
    path = await run_in_threadpool(st.public_reader.clip_file, station_id, clip_id)
    if path is None:
        raise HTTPException(404, "no such clip")
    return FileResponse(path, media_type="video/mp4",
                        headers={"Cache-Control": "public, max-age=86400",
                                 "X-Content-Type-Options": "nosniff"})


def _menu(menus_dir: Path, school_id: str, day: str) -> dict[str, Any] | None:
    try:
        doc = json.loads((menus_dir / school_id / f"{day}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


@router.get("/public/schools/{school_id}", include_in_schema=False)
async def school(request: Request, school_id: str, date: str | None = None) -> Response:
    st = _state(request)
    reader: Reader = st.public_reader
    if not ID.match(school_id) or (date is not None and not DATE.match(date)):
        return _html(message_page("未找到学校", "链接不完整或有误。"), 404)
    from datetime import date as Date

    try:
        day = reader.today() if date is None else Date.fromisoformat(date)
    except ValueError:
        return _html(message_page("未找到学校", "日期有误。"), 404)
    menu = await run_in_threadpool(_menu, Path(st.cfg.http.menus_dir), school_id, day.isoformat())
    lines = await run_in_threadpool(reader.day_lines, school_id, day)
    if menu is None and not lines and not await run_in_threadpool(reader.stations_of, school_id):
        return _html(message_page("未找到学校", "平台没有这所学校的信息。"), 404)
    return _html(school_page(menu, lines, day, reader.tz))


@router.get("/public/static/{name}", include_in_schema=False)
async def static(request: Request, name: str) -> Response:
    _state(request)
    types = {"public.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}
    if name not in types:
        raise HTTPException(404, "not found")
    return FileResponse(STATIC / name, media_type=types[name],
                        headers={"Cache-Control": "public, max-age=3600"})
