"""The fleet API (technicians) and the support-bundle receiver (stations): docs/fleet.md.

Technicians authenticate with a bearer token from ``[fleet] technician_tokens_file``
(``central.tokens`` format, the second column names the technician); a
station's token is refused here. The routes:

- ``GET /v1/fleet/stations`` (filters ``district``, ``school``, ``fault``, ``state``, ``visit``),
  ``GET /v1/fleet/stations/{s}``: the view of ``central.fleet.view``;
- ``POST /v1/fleet/stations/{s}/diagnose``: a diagnosis request, published to the station as a
  ``diagnose`` command (202), rate-limited per station and fleet-wide (429);
- ``GET /v1/fleet/diagnoses/{id}`` and ``…/bundle``: the request and the bundle received;
- ``PUT /v1/stations/{s}/diagnoses/{id}`` (the station's own token): the bundle, accepted only
  for a request central made for that station, stored like a clip (``central.clips``).
"""

from __future__ import annotations

import json
import tarfile
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse

from central import clips
from central.fleet import store as fstore
from central.fleet.view import FAULTS, STATES, Filter, Places, fleet, station_row
from central.http import ID, authed_station, own
from central.ingest import KeyRegistry
from central.store import Store
from central.tokens import TokenRegistry
from contract import protocol
from contract.mqtt import publish_once
from core.clock import now_rfc3339

T = TypeVar("T")
router = APIRouter()
MAX_DOCTOR_BYTES = 1 << 20


class FleetDb:
    """One store connection for the HTTP threads, used one at a time, reopened after a failure."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.lock = threading.Lock()
        self.store: Store | None = None

    def use(self, fn: Callable[[Store], T]) -> T:
        with self.lock:
            try:
                if self.store is None:
                    self.store = Store(self.dsn)
                    fstore.ensure(self.store)
                return fn(self.store)
            except Exception:
                if self.store is not None:
                    self.store.close()
                self.store = None
                raise


def fleet_state(request: Request) -> Any:
    """The app's state with the fleet's store, technicians' tokens and key registry (made once)."""
    st = request.app.state
    if not hasattr(st, "fleet_db"):
        st.fleet_db = FleetDb(st.cfg.store.dsn)
        st.technicians = TokenRegistry(st.cfg.fleet.technician_tokens_file)
        st.fleet_keys = KeyRegistry(st.cfg.registry.keys_dir)
    return st


def authed_technician(request: Request) -> str:
    """The technician a bearer token names; 401 otherwise (a station's token included)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    who = fleet_state(request).technicians.station_of(token.strip()) if scheme.lower() == "bearer" else None
    if who is None:
        raise HTTPException(401, "a technician token is required (Authorization: Bearer …)",
                            headers={"WWW-Authenticate": "Bearer"})
    return str(who)


Technician = Annotated[str, Depends(authed_technician)]
Station = Annotated[str, Depends(authed_station)]


def load_places(path: Path | None) -> Places:
    """``stations`` (station → school) and ``schools`` (school → name, district) of the master data."""
    if path is None:
        return Places({}, {})
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        school_of = {str(k): str(v) for k, v in (doc.get("stations") or {}).items()}
        schools = {str(k): {"name": str(v.get("name", "")), "district": str(v.get("district", ""))}
                   for k, v in (doc.get("schools") or {}).items() if isinstance(v, dict)}
    except (OSError, ValueError, AttributeError) as exc:
        raise HTTPException(500, f"master data unreadable: {exc.__class__.__name__}") from exc
    return Places(school_of, schools)


def parse_filter(district: str | None, school: str | None, fault: str | None, state: str | None,
                 visit: str | None) -> Filter:
    if fault and fault not in FAULTS:
        raise HTTPException(400, f"fault must be one of {', '.join(FAULTS)}")
    if state and state not in STATES:
        raise HTTPException(400, f"state must be one of {', '.join(STATES)}")
    if (school and not ID.match(school)) or (district and len(district) > 100):
        raise HTTPException(400, "bad school or district")
    return Filter(district or None, school or None, fault or None, state or None, visit in ("1", "true"))


def compute(st: Any, flt: Filter) -> dict[str, Any]:
    """The fleet document (blocking: run it in a thread)."""
    cfg = st.cfg
    now = datetime.now(UTC)
    since = now_rfc3339(now - timedelta(hours=cfg.fleet.alert_window_h))
    snap = st.fleet_db.use(lambda s: fstore.snapshot(s, since))
    return fleet(st.fleet_keys.stations(), load_places(cfg.indicators.master_data_file), snap, now,
                 cfg.fleet, flt)


@router.get("/v1/fleet/stations")
async def fleet_stations(request: Request, who: Technician, district: str | None = None,
                         school: str | None = None, fault: str | None = None, state: str | None = None,
                         visit: str | None = None) -> Response:
    flt = parse_filter(district, school, fault, state, visit)
    return JSONResponse(await run_in_threadpool(compute, fleet_state(request), flt))


def one_station(st: Any, station: str) -> dict[str, Any]:
    cfg = st.cfg
    now = datetime.now(UTC)
    since = now_rfc3339(now - timedelta(hours=cfg.fleet.alert_window_h))
    snap = st.fleet_db.use(lambda s: fstore.snapshot(s, since, station))
    if station not in snap.statuses and st.fleet_keys(station) is None:
        raise HTTPException(404, "no such station")
    row = station_row(station, load_places(cfg.indicators.master_data_file), snap, now, cfg.fleet)
    row["diagnoses"] = st.fleet_db.use(lambda s: fstore.station_diagnoses(s, station))[-10:]
    row["status"] = snap.statuses.get(station)
    return row


@router.get("/v1/fleet/stations/{station_id}")
async def fleet_station(request: Request, station_id: str, who: Technician) -> Response:
    if not ID.match(station_id):
        raise HTTPException(404, "no such station")
    return JSONResponse(await run_in_threadpool(one_station, fleet_state(request), station_id))


def request_diagnosis(st: Any, station: str, who: str) -> dict[str, Any]:
    """Record the request, then publish the command; refused when over a rate limit."""
    f = st.cfg.fleet
    if st.fleet_keys(station) is None:
        raise HTTPException(404, "no such station (not registered)")
    now = datetime.now(UTC)
    rid = str(uuid.uuid4())

    def check_and_add(s: Store) -> None:
        last = fstore.station_diagnoses(s, station)
        recent = now_rfc3339(now - timedelta(seconds=f.diagnose_min_interval_s))
        if last and last[-1]["requested_at"] > recent:
            raise HTTPException(429, "a diagnosis of this station was requested moments ago",
                                headers={"Retry-After": str(int(f.diagnose_min_interval_s))})
        if fstore.requests_since(s, now_rfc3339(now - timedelta(hours=1))) >= f.diagnose_per_hour:
            raise HTTPException(429, "too many diagnoses requested in the last hour",
                                headers={"Retry-After": "300"})
        fstore.add_request(s, rid, station, who, now_rfc3339(now))

    st.fleet_db.use(check_and_add)
    cmd = {"schema": protocol.COMMAND_SCHEMA, "command_id": rid, "command": "diagnose", "request_id": rid}
    problem = publish_once(st.cfg.broker, f"{st.cfg.ingest.client_id_prefix}-fleet-{uuid.uuid4().hex[:8]}",
                           protocol.topic(station, "commands"), protocol.dumps(cmd))
    if problem is not None:
        raise HTTPException(502, f"the command was not delivered to the broker: {problem}")
    return {"request_id": rid, "station_id": station, "state": "requested", "requested_by": who}


@router.post("/v1/fleet/stations/{station_id}/diagnose")
async def diagnose(request: Request, station_id: str, who: Technician) -> Response:
    if not ID.match(station_id):
        raise HTTPException(404, "no such station")
    doc = await run_in_threadpool(request_diagnosis, fleet_state(request), station_id, who)
    return JSONResponse(doc, 202)


def diagnosis_row(st: Any, request_id: str) -> dict[str, Any]:
    if not clips.UUID.match(request_id):
        raise HTTPException(404, "no such diagnosis")
    d = st.fleet_db.use(lambda s: fstore.diagnosis(s, request_id))
    if d is None:
        raise HTTPException(404, "no such diagnosis")
    return dict(d)


@router.get("/v1/fleet/diagnoses/{request_id}")
async def get_diagnosis(request: Request, request_id: str, who: Technician) -> Response:
    return JSONResponse(await run_in_threadpool(diagnosis_row, fleet_state(request), request_id))


async def bundle_response(request: Request, request_id: str) -> Response:
    """The bundle of a diagnosis as a download (the API's and the page's route)."""
    st = fleet_state(request)
    d = await run_in_threadpool(diagnosis_row, st, request_id)
    if not d["bundle_sha256"]:
        raise HTTPException(404, "no bundle received yet")
    path = Path(st.cfg.fleet.bundles_dir) / "objects" / d["bundle_sha256"]
    return FileResponse(path, media_type="application/gzip",
                        filename=f"support-{d['station_id']}-{request_id}.tar.gz")


@router.get("/v1/fleet/diagnoses/{request_id}/bundle")
async def get_bundle(request: Request, request_id: str, who: Technician) -> Response:
    return await bundle_response(request, request_id)


def doctor_of(path: Path) -> dict[str, Any] | None:
    """``doctor.json`` from a bundle (the first members only, size-limited); None if absent or bad."""
    try:
        with tarfile.open(path, "r|gz") as tar:
            for n, member in enumerate(tar):
                if n >= 3:
                    break
                if member.name == "doctor.json" and member.isfile() and member.size <= MAX_DOCTOR_BYTES:
                    f = tar.extractfile(member)
                    doc = json.loads(f.read()) if f is not None else None
                    return doc if isinstance(doc, dict) and isinstance(doc.get("checks"), list) else None
    except (tarfile.TarError, OSError, EOFError, ValueError):
        return None
    return None


@router.put("/v1/stations/{station_id}/diagnoses/{request_id}")
async def put_bundle(request: Request, station_id: str, request_id: str, station: Station) -> Response:
    own(station_id, station)
    st = fleet_state(request)
    d = await run_in_threadpool(diagnosis_row, st, request_id)
    if d["station_id"] != station:
        raise HTTPException(404, "no such diagnosis")
    claimed = (request.headers.get("x-content-sha256") or "").strip().lower()
    if not clips.SHA.match(claimed):
        raise HTTPException(400, "X-Content-SHA256 must be 64 hex digits")
    length = clips.length(request, st.cfg.fleet.bundle_max_bytes)
    if d["state"] == "received" and d["bundle_sha256"] != claimed:
        raise HTTPException(409, "another bundle was received for this request")
    idx = Path(st.cfg.fleet.bundles_dir) / "index" / station / request_id
    with clips.upload_slot(clips.state(request), station):
        resp = await clips.receive(request, idx, claimed, length, st.cfg.http.body_timeout_s)
    if resp.status_code in (200, 201) and d["state"] != "received":
        obj = Path(st.cfg.fleet.bundles_dir) / "objects" / claimed
        doctor = await run_in_threadpool(doctor_of, obj)
        await run_in_threadpool(st.fleet_db.use, lambda s: fstore.mark_received(
            s, request_id, claimed, length, doctor))
    return resp
