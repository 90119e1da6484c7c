"""The fleet pages for technicians (zh-CN, server-rendered): overview with filters, one station.

``/web/fleet`` shows the fleet-wide counts, the filters (district, school,
fault, state, needs a visit) and one row per station; ``/web/fleet/stations/{s}``
shows one station with its alerts and diagnoses and the button that requests a
remote diagnosis (``POST …/diagnose``, then back to the station's page). The
same document as the JSON API (``central.fleet.api``).
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from central.fleet import api
from central.fleet.page_html import fleet_page, station_page
from central.http import ID

router = APIRouter()
Technician = Annotated[str, Depends(api.authed_technician)]


def _tz(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.cfg.indicators.timezone)


@router.get("/web/fleet")
async def overview(request: Request, who: Technician, district: str | None = None,
                   school: str | None = None, fault: str | None = None, state: str | None = None,
                   visit: str | None = None) -> Response:
    flt = api.parse_filter(district, school, fault, state, visit)
    doc = await run_in_threadpool(api.compute, api.fleet_state(request), flt)
    return HTMLResponse(fleet_page(doc, _tz(request)))


@router.get("/web/fleet/stations/{station_id}")
async def station(request: Request, station_id: str, who: Technician, sent: str | None = None) -> Response:
    if not ID.match(station_id):
        raise HTTPException(404, "no such station")
    row = await run_in_threadpool(api.one_station, api.fleet_state(request), station_id)
    notice = "已发送诊断请求，站点上传诊断包后显示在下方。" if sent else ""
    return HTMLResponse(station_page(row, _tz(request), "", notice))


@router.post("/web/fleet/stations/{station_id}/diagnose")
async def diagnose(request: Request, station_id: str, who: Technician) -> Response:
    if not ID.match(station_id):
        raise HTTPException(404, "no such station")
    await run_in_threadpool(api.request_diagnosis, api.fleet_state(request), station_id, who)
    return RedirectResponse(f"/web/fleet/stations/{station_id}?sent=1", 303)


@router.get("/web/fleet/diagnoses/{request_id}/bundle")
async def bundle(request: Request, request_id: str, who: Technician) -> Response:
    return await api.bundle_response(request, request_id)
