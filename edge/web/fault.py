"""The kiosk while the station cannot record (the data disk is full): the fault, nothing else.

Same page and same snapshot shape as ``edge.web.app`` (no delivery, no orders,
the device states, and ``fault`` with its code and message), so the kiosk
shows the fault over an idle screen. Every action answers ``503`` with the
fault's message: no decision can be made, none can be lost.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from core import __version__
from edge.web.app import STATIC, favicon
from edge.web.guard import Access, KioskGuard, with_token
from edge.web.view import snapshot
from edge.workflow.model import State


def fault_app(fault: Callable[[], dict[str, str]], devices: Callable[[], dict[str, Any]],
              access: Access) -> FastAPI:
    """Behind the same guard (and with the same token) as the kiosk app."""
    app = FastAPI(title="Acceptance station (degraded)", version=__version__)
    app.add_middleware(KioskGuard, access=access)
    page = with_token((STATIC / "kiosk.html").read_text(encoding="utf-8"), access.token)

    def state_json() -> dict[str, Any]:
        return {**snapshot(State(), {}, devices()), "fault": fault()}

    @app.get("/", include_in_schema=False)
    def kiosk() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    app.get("/favicon.ico", include_in_schema=False)(favicon)

    @app.get("/api/state", summary="The kiosk's state: the fault and the device states")
    def get_state() -> dict[str, Any]:
        return state_json()

    @app.get("/api/stream", summary="Server-sent events: the state every second")
    async def stream() -> StreamingResponse:
        async def gen() -> AsyncIterator[str]:
            while True:
                yield f"data: {json.dumps(state_json(), ensure_ascii=False)}\n\n"
                await asyncio.sleep(1.0)
        return StreamingResponse(gen(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
                   summary="Every other action: refused while the fault lasts")
    def refused(request: Request, rest: str) -> JSONResponse:
        f = fault()
        return JSONResponse({"error": f["code"], "message": f["message"], "state": state_json()},
                            status_code=503)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
