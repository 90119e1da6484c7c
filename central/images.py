"""Central's image receiver (docs/contract.md §5): document photos and drawn signatures.

``PUT /v1/stations/{s}/images/{sha256}`` stores an image the station keeps by
hash and names in a signed event: a ``document.captured`` whose ``sha256`` is
it, or a ``rejection.disposed`` whose ``acknowledged_by.signature_sha256`` is
it. The checks are the clips' (``central.clips``): the station's token, a
``Content-Length`` within ``image_max_bytes``, no more than
``uploads_per_station`` at once, the body hashed while streamed and kept only
if its hash is the path's; and, before a byte is read, a stored event of this
station must name the hash (403: nobody can store an image the station did
not sign). The body must start like a JPEG or a PNG (415; a signature must be
a PNG). The object is kept once under ``clips_dir/objects/<sha256>``, and
``clips_dir/images/<station>/<sha256>`` marks it as this station's, so
``image_path`` finds it for central's evidence views.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool

from central.clips import SHA, length, receive, state, upload_slot
from central.http import authed_station, own
from central.store import Store

PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff"
Station = Annotated[str, Depends(authed_station)]
router = APIRouter()


def signed_kind(store: Store, station: str, sha: str) -> str | None:
    """"document" or "signature" when a stored event of ``station`` names image ``sha``, else None."""
    if not SHA.match(sha):
        return None
    rows = store.rows("SELECT type, event FROM central_events WHERE station_id=? AND type IN "
                      "('document.captured', 'rejection.disposed') AND event LIKE ?",
                      (station, f"%{sha}%"))
    for type_, text in rows:
        body = json.loads(text).get("body", {})
        if not isinstance(body, dict):
            continue
        if type_ == "document.captured" and body.get("sha256") == sha:
            return "document"
        ack = body.get("acknowledged_by")
        if isinstance(ack, dict) and ack.get("method") == "signature" and ack.get("signature_sha256") == sha:
            return "signature"
    return None


def image_path(clips_dir: Path, station: str, sha: str) -> Path | None:
    """The stored image ``sha`` of ``station`` (for evidence views), or None when not received."""
    if not SHA.match(sha) or not (clips_dir / "images" / station / sha).is_file():
        return None
    obj = clips_dir / "objects" / sha
    return obj if obj.is_file() else None


def media_type(path: Path) -> str:
    """The stored image's type: PNG or JPEG, the only two a PUT lets in."""
    with path.open("rb") as f:
        return "image/png" if f.read(len(PNG)) == PNG else "image/jpeg"


def _marker(request: Request, station_id: str, sha: str, station: str) -> Path:
    own(station_id, station)
    if not SHA.match(sha):
        raise HTTPException(404, "no such image")
    return Path(request.app.state.cfg.http.clips_dir) / "images" / station_id / sha


@router.head("/v1/stations/{station_id}/images/{sha256}")
async def head_image(request: Request, station_id: str, sha256: str, station: Station) -> Response:
    mark = _marker(request, station_id, sha256, station)
    obj = mark.parent.parent.parent / "objects" / sha256
    if not mark.exists() or not obj.exists():
        return Response(status_code=404)
    return Response(status_code=200, headers={"X-Content-SHA256": sha256,
                                              "Content-Length": str(obj.stat().st_size)})


@router.put("/v1/stations/{station_id}/images/{sha256}")
async def put_image(request: Request, station_id: str, sha256: str, station: Station) -> Response:
    mark = _marker(request, station_id, sha256, station)
    st = state(request)
    claimed = (request.headers.get("x-content-sha256") or "").strip().lower()
    if claimed != sha256:
        raise HTTPException(400, "X-Content-SHA256 must be the image's sha256 (the path's)")
    size = length(request, st.cfg.http.image_max_bytes)
    kind = await run_in_threadpool(st.claims.ask, lambda s: signed_kind(s, station, sha256))
    if kind is None:
        raise HTTPException(403, "no stored document.captured or rejection.disposed of this station "
                                 "names this image")
    with upload_slot(st, station):
        return await receive(request, mark, sha256, size, st.cfg.http.body_timeout_s,
                             (PNG,) if kind == "signature" else (PNG, JPEG))
