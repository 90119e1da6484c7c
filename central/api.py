"""Central's HTTP API: orders, rosters and menus from folders, with ETags; clips; health.

Documents are served byte for byte from ``orders_dir/<station_id>/<date>.json``,
``roster_dir/<station_id>.json`` and ``menus_dir/<school_id>/<date>.json``; the ETag
is the quoted sha256 of the bytes, so editing a file changes it (docs/contract.md).
A station reads only its own orders, roster and head (``central.audit``); menus are
for any station (central does not know which school a station serves, and a menu
is shown on the hall screen anyway). ``/healthz`` (``central.health``) needs no
token. The server and its limits are in ``central.http``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from central import audit, clips, health, images
from central.config import CentralConfig
from central.fleet import api as fleet_api
from central.fleet import page as fleet_page
from central.http import ID, HttpServer, authed_station, base_app, own
from central.public import routes as public_routes
from central.rollout import enrol_routes
from central.rollout import routes as rollout_routes
from central.web.routes import router as web_router

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
Station = Annotated[str, Depends(authed_station)]


def _dated(day: str | None, key: str) -> str:
    if day is None or not DATE.match(day):
        raise HTTPException(400, f"{key}=YYYY-MM-DD is required")
    return day


async def _file_with_etag(request: Request, path: Path) -> Response:
    try:
        body = await run_in_threadpool(path.read_bytes)
    except FileNotFoundError:
        raise HTTPException(404, "no such document") from None
    etag = '"' + hashlib.sha256(body).hexdigest() + '"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type="application/json; charset=utf-8", headers={"ETag": etag})


def create_app(cfg: CentralConfig) -> FastAPI:
    app = base_app(cfg)
    http = cfg.http

    @app.get("/v1/stations/{station_id}/orders")
    async def orders(request: Request, station_id: str, station: Station,
                     delivery_date: str | None = None) -> Response:
        own(station_id, station)
        return await _file_with_etag(request, http.orders_dir / station_id
                                     / f"{_dated(delivery_date, 'delivery_date')}.json")

    @app.get("/v1/stations/{station_id}/roster")
    async def roster(request: Request, station_id: str, station: Station) -> Response:
        # PIN hashes travel only to their own station, over the API's TLS.
        own(station_id, station)
        return await _file_with_etag(request, http.roster_dir / f"{station_id}.json")

    @app.get("/v1/stations/{station_id}/head")
    async def head(station_id: str, station: Station) -> Response:
        own(station_id, station)
        code, doc = await run_in_threadpool(audit.head_answer, station_id)
        return JSONResponse(doc, code)

    @app.get("/v1/schools/{school_id}/menu")
    async def menu(request: Request, school_id: str, station: Station, date: str | None = None) -> Response:
        if not ID.match(school_id):
            raise HTTPException(404, "no such school")
        return await _file_with_etag(request, http.menus_dir / school_id / f"{_dated(date, 'date')}.json")

    @app.get("/healthz")
    async def healthz() -> Response:
        code, doc = await run_in_threadpool(health.current)
        return JSONResponse(doc, code)

    app.include_router(clips.router)
    app.include_router(images.router)
    app.include_router(public_routes.router)
    app.include_router(fleet_api.router)
    if cfg.web.enabled:
        app.include_router(web_router)
        app.include_router(fleet_page.router)
    app.include_router(rollout_routes.router)
    app.include_router(enrol_routes.router)
    return app


def serve_in_thread(cfg: CentralConfig) -> HttpServer:
    """Start the API on ``[http] bind`` in a thread; ``shutdown()`` stops it."""
    return HttpServer(create_app(cfg), cfg).start()
