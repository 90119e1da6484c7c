"""The discipline loop's forms (upload, stamp, review) and the files a warning's page links to.

Every POST needs the session's CSRF token (``posted_form``); the warning must be visible to the
account (404 otherwise) and the step allowed for its role and the warning's state (403 / 409, each
an error page saying why, nothing changed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response

from central import images
from central.platform import discipline, documents
from central.platform.service import discipline_step
from central.web import evidence
from central.web.accounts import Session
from central.web.auth import WebStore, posted_form, require_role
from central.web.forms import Form
from central.web.html import HEADERS
from central.web.warnings import Reader, visible_warning

router = APIRouter()
School = Annotated[Session, Depends(require_role(*discipline.STAMP_COLUMN))]
Bureau = Annotated[Session, Depends(require_role("city_bureau"))]
Posted = Annotated[Form, Depends(posted_form)]
FILE_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox; default-src 'none'",
                "Cache-Control": "private, no-store"}


def _done(warning_id: str) -> RedirectResponse:
    return RedirectResponse(f"/web/warnings/{warning_id}", 303, headers=HEADERS)


def _apply(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except discipline.Refused as exc:
        raise HTTPException(403, str(exc)) from exc
    except discipline.Conflict as exc:
        raise HTTPException(409, str(exc)) from exc


@router.post("/web/warnings/{warning_id}/document")
async def upload(request: Request, warning_id: str, session: School, form: Posted,
                 store: WebStore) -> Response:
    cfg: Any = request.app.state.cfg
    await run_in_threadpool(visible_warning, store, session, warning_id)
    f = form.files.get("file")
    if f is None:
        raise HTTPException(400, "选择要上传的说明文件")
    await run_in_threadpool(discipline_step, store, cfg)
    await run_in_threadpool(_apply, discipline.may_explain, store, session.account, warning_id)
    try:
        sha, kind = await run_in_threadpool(documents.save, cfg.web.documents_dir, f.data,
                                            cfg.web.document_max_bytes)
    except documents.DocumentError as exc:
        raise HTTPException(413 if len(f.data) > cfg.web.document_max_bytes else 400, str(exc)) from exc
    await run_in_threadpool(_apply, discipline.attach, store, session.account, warning_id, sha, kind,
                            f.filename or sha[:16])
    return _done(warning_id)


@router.post("/web/warnings/{warning_id}/stamp")
def stamp(request: Request, warning_id: str, session: School, form: Posted, store: WebStore) -> Response:
    visible_warning(store, session, warning_id)
    discipline_step(store, request.app.state.cfg)
    _apply(discipline.stamp, store, session.account, warning_id, form.get("sha256"))
    return _done(warning_id)


@router.post("/web/warnings/{warning_id}/review")
def review(request: Request, warning_id: str, session: Bureau, form: Posted, store: WebStore) -> Response:
    visible_warning(store, session, warning_id)
    if form.get("decision") not in ("close", "escalate"):
        raise HTTPException(400, "decision is close or escalate")
    discipline_step(store, request.app.state.cfg)
    _apply(discipline.review, store, session.account, warning_id, form.get("decision"), form.get("note"))
    return _done(warning_id)


@router.get("/web/warnings/{warning_id}/documents/{sha}")
def document(request: Request, warning_id: str, sha: str, session: Reader, store: WebStore) -> Response:
    """A document uploaded for this warning (any other hash is 404, even one stored for another)."""
    visible_warning(store, session, warning_id)
    uploaded = {x["detail"].get("sha256"): x["detail"] for x in discipline.history(store, warning_id)
                if x["action"] == "document"}
    path = documents.path_of(request.app.state.cfg.web.documents_dir, sha)
    if sha not in uploaded or path is None:
        raise HTTPException(404, "no such document")
    name = str(uploaded[sha].get("name") or sha)
    return FileResponse(path, media_type=str(uploaded[sha]["type"]), headers={
        **FILE_HEADERS, "Content-Disposition": f"inline; filename*=UTF-8''{quote(name)}"})


@router.get("/web/warnings/{warning_id}/images/{station_id}/{sha256}")
def image(request: Request, warning_id: str, station_id: str, sha256: str, session: Reader,
          store: WebStore) -> Response:
    """A document photo or drawn signature an event of this warning names (any other is 404)."""
    w = visible_warning(store, session, warning_id)
    named = {(e.station_id, sha) for e in evidence.events(store, w["evidence"]) for _, sha in e.images}
    path = images.image_path(Path(request.app.state.cfg.http.clips_dir), station_id, sha256)
    if (station_id, sha256) not in named or path is None:
        raise HTTPException(404, "no such image")
    return FileResponse(path, media_type=images.media_type(path), headers=FILE_HEADERS)


@router.get("/web/warnings/{warning_id}/clips/{station_id}/{clip_id}")
def clip(request: Request, warning_id: str, station_id: str, clip_id: str, session: Reader,
         store: WebStore) -> Response:
    """A clip of an event this warning names (any other clip is 404)."""
    w = visible_warning(store, session, warning_id)
    named = {(e.station_id, e.clip_id) for e in evidence.events(store, w["evidence"]) if e.clip_id}
    path = evidence.clip_object(request.app.state.cfg.http.clips_dir, station_id, clip_id)
    if (station_id, clip_id) not in named or path is None:
        raise HTTPException(404, "no such clip")
    return FileResponse(path, media_type="video/mp4", headers=FILE_HEADERS)
