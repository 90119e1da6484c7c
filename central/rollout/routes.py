"""Central's release and rollout routes (docs/contract.md, "Releases and rollout").

- ``GET /v1/stations/{s}/update-target``: the station's rollout target, if it is
  offered one now (its own token).
- ``POST /v1/stations/{s}/update-report``: its running version and its last update's
  outcome (its own token; a small JSON body, schema-checked); central re-decides
  the rollout with it, halting it when the canaries fail.
- ``GET /v1/releases/{version}`` and ``GET /v1/releases/{version}/bundle``: a
  published release's metadata (sha256, size, signature) and its bundle (any
  station's token; ``Range`` requests answered, so a download can resume).

The station verifies the bundle's signature itself with the release key it was
installed with: central is trusted to serve, never to vouch.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse

from central.http import authed_station, own
from central.rollout import db, files
from central.rollout.plan import RESULTS, offered
from central.store import Store
from contract.ids import is_release_version

Station = Annotated[str, Depends(authed_station)]
router = APIRouter()
MAX_REPORT_BYTES = 4096


def shared(request: Request) -> db.SharedStore:
    st = request.app.state
    if not hasattr(st, "rollout_store"):
        st.rollout_store = db.SharedStore(st.cfg.store.dsn)
    return st.rollout_store  # type: ignore[no-any-return]


def _release_doc(r: db.Release) -> dict[str, Any]:
    return {"version": r.version, "sha256": r.sha256, "size": r.size, "signature": r.signature,
            "bundle": f"/v1/releases/{r.version}/bundle"}


def target_doc(store: Store, station: str) -> dict[str, Any]:
    rollout = db.current(store)
    group = db.group_of(store, station)
    target = None
    if rollout is not None and offered(rollout, group):
        rel = db.release(store, rollout.version)
        target = None if rel is None else _release_doc(rel)
    return {"station_id": station, "group": group,
            "rollout": None if rollout is None else {
                "rollout_id": rollout.rollout_id, "version": rollout.version, "stage": rollout.stage,
                "state": rollout.state, "reason": rollout.reason},
            "target": target}


@router.get("/v1/stations/{station_id}/update-target")
async def update_target(request: Request, station_id: str, station: Station) -> JSONResponse:
    own(station_id, station)
    doc = await run_in_threadpool(shared(request).run, lambda s: target_doc(s, station))
    return JSONResponse(doc)


def parse_report(raw: bytes) -> tuple[str | None, str | None, str | None, str]:
    """(version, target, result, detail) from a report body; HTTPException 400 when malformed."""
    try:
        doc = json.loads(raw)
    except ValueError:
        raise HTTPException(400, "the body is not JSON") from None
    if not isinstance(doc, dict) or set(doc) - {"version", "target", "result", "detail"}:
        raise HTTPException(400, "expected an object with version, target, result, detail")
    version, target, result, detail = (doc.get(k) for k in ("version", "target", "result", "detail"))
    for name, v in (("version", version), ("target", target)):
        if v is not None and (not isinstance(v, str) or not is_release_version(v)):
            raise HTTPException(400, f"{name} is not a release version")
    if result is not None and result not in RESULTS:
        raise HTTPException(400, f"result must be one of {', '.join(sorted(RESULTS))}")
    if (result is None) != (target is None):
        raise HTTPException(400, "target and result go together")
    if detail is not None and (not isinstance(detail, str) or len(detail) > 1000):
        raise HTTPException(400, "detail must be text of at most 1000 characters")
    return version, target, result, detail or ""


@router.post("/v1/stations/{station_id}/update-report")
async def update_report(request: Request, station_id: str, station: Station) -> JSONResponse:
    own(station_id, station)
    raw = request.headers.get("content-length")
    if raw is None:
        raise HTTPException(411, "Content-Length required")
    if not raw.isdigit() or int(raw) > MAX_REPORT_BYTES:
        raise HTTPException(413, f"a report is at most {MAX_REPORT_BYTES} bytes")
    version, target, result, detail = parse_report(await request.body())

    def record(s: Store) -> dict[str, Any]:
        db.record_report(s, station, version, target, result, detail)
        return target_doc(s, station)

    return JSONResponse(await run_in_threadpool(shared(request).run, record))


async def _published(request: Request, version: str) -> db.Release:
    if not is_release_version(version):
        raise HTTPException(404, "no such release")
    rel = await run_in_threadpool(shared(request).run, lambda s: db.release(s, version))
    if rel is None:
        raise HTTPException(404, "no such release")
    return rel


@router.get("/v1/releases/{version}")
async def release_meta(request: Request, version: str, station: Station) -> JSONResponse:
    return JSONResponse(_release_doc(await _published(request, version)))


@router.get("/v1/releases/{version}/bundle")
async def release_bundle(request: Request, version: str, station: Station) -> FileResponse:
    rel = await _published(request, version)
    path = files.object_path(request.app.state.cfg.releases.dir, rel.sha256)
    if not path.is_file():
        raise HTTPException(404, "the release's bundle is missing on central")
    return FileResponse(path, media_type="application/x-tar", filename=f"acceptance-station-{version}.tar",
                        headers={"X-Content-SHA256": rel.sha256})
