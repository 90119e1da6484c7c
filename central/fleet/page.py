"""The fleet pages for technicians (zh-CN, server-rendered): overview with filters, one station.

``/web/fleet`` shows the fleet-wide counts, the filters (district, school,
fault, state, needs a visit) and one row per station; ``/web/fleet/stations/{s}``
shows one station with its alerts and diagnoses and the button that requests a
remote diagnosis (``POST …/diagnose``, CSRF-checked, then back to the station's
page). The same document as the JSON API (``central.fleet.api``). Every route
needs a logged-in account of the technician role (``central.web.auth``).
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from central.fleet import api
from central.fleet.page_html import fleet_page, station_page
from central.http import ID
from central.web.accounts import Session
from central.web.auth import posted_form, require_role
from central.web.forms import Form
from central.web.html import csrf_field, page

router = APIRouter()
Technician = Annotated[Session, Depends(require_role("technician"))]


def _tz(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.cfg.indicators.timezone)


def _station_id(station_id: str) -> str:
    if not ID.match(station_id):
        raise HTTPException(404, "no such station")
    return station_id


@router.get("/web/fleet")
async def overview(request: Request, session: Technician, district: str | None = None,
                   school: str | None = None, fault: str | None = None, state: str | None = None,
                   visit: str | None = None) -> Response:
    flt = api.parse_filter(district, school, fault, state, visit)
    doc = await run_in_threadpool(api.compute, api.fleet_state(request), flt)
    return page("设备运维总览", fleet_page(doc, _tz(request)), session)


@router.get("/web/fleet/stations/{station_id}")
async def station(request: Request, station_id: str, session: Technician,
                  sent: str | None = None) -> Response:
    row = await run_in_threadpool(api.one_station, api.fleet_state(request), _station_id(station_id))
    notice = "已发送诊断请求，站点上传诊断包后显示在下方。" if sent else ""
    return page(f"站点 {station_id}", station_page(row, _tz(request), csrf_field(session), notice), session)


@router.post("/web/fleet/stations/{station_id}/diagnose")
async def diagnose(request: Request, station_id: str, session: Technician,
                   form: Annotated[Form, Depends(posted_form)]) -> Response:
    await run_in_threadpool(api.request_diagnosis, api.fleet_state(request), _station_id(station_id),
                            session.account.username)
    return RedirectResponse(f"/web/fleet/stations/{station_id}?sent=1", 303)


@router.get("/web/fleet/diagnoses/{request_id}/bundle")
async def bundle(request: Request, request_id: str, session: Technician) -> Response:
    return await api.bundle_response(request, request_id)
