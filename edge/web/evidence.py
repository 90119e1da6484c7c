"""Kiosk routes for what happens to rejected goods: the disposition with the driver's
acknowledgement (badge or drawn signature, stored by hash), the return slip, images.

Kept apart from ``edge/web/app.py``; every rule is the workflow's (``Dispose``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from edge.blobs import BlobError, BlobStore
from edge.return_slip import slip_data, slip_html
from edge.workflow.driver import Workflow
from edge.workflow.model import CaptureDocument, Dispose, Input


class DispositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disposition: Literal["returned", "destroyed", "replaced"] = Field(
        description="退回供应商 / 现场销毁 / 换货重验")
    driver_badge: str | None = Field(default=None, min_length=1, max_length=64,
                                     description="The driver's badge, as scanned or typed")
    signature_png: str | None = Field(default=None, min_length=16, max_length=700_000,
                                      description="The driver's signature drawn on the kiosk: "
                                                  "a PNG, base64")


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": "BAD_ACK", "message": message}, status_code=422)


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$",
                      description="The document kind, as the orders document names it")


def evidence_router(workflow: Workflow, run: Callable[[Input], JSONResponse],
                    blobs: BlobStore | None,
                    still: Callable[[], bytes | None] | None = None) -> APIRouter:
    r = APIRouter()

    @r.post("/api/placement/document",
            summary="Photograph a document that travels with the goods (a camera still)")
    def document(body: DocumentIn) -> JSONResponse:
        jpeg = None if still is None else still()
        if jpeg is None or blobs is None:
            return JSONResponse({"error": "NO_FRAME", "message": "摄像头无画面，无法拍照"},
                                status_code=503)
        sha, name = blobs.put(jpeg)
        return run(CaptureDocument(body.kind, sha, name, len(jpeg)))

    @r.post("/api/rejections/{seq}/disposition",
            summary="What happened to a rejected line, acknowledged by the driver")
    def disposition(seq: int, body: DispositionIn) -> JSONResponse:
        if (body.driver_badge is None) == (body.signature_png is None):
            return _bad("driver_badge or signature_png, one of the two")
        ack: dict[str, object]
        if body.driver_badge is not None:
            ack = {"method": "badge", "badge": body.driver_badge.strip()}
        else:
            if blobs is None:
                return JSONResponse({"error": "NO_STORAGE", "message": "本机未配置签名存储"},
                                    status_code=503)
            try:
                png = base64.b64decode(body.signature_png or "", validate=True)
                if not png.startswith(b"\x89PNG"):
                    raise BlobError("the signature must be a PNG")
                sha, name = blobs.put(png)
            except (binascii.Error, BlobError) as exc:
                return _bad(f"signature_png: {exc}")
            ack = {"method": "signature", "signature_sha256": sha, "signature_file": name,
                   "signature_bytes": len(png)}
        return run(Dispose(seq, body.disposition, ack))

    @r.get("/api/deliveries/{delivery_id}/return-slip", response_class=HTMLResponse,
           summary="The return slip (退货单) of a closed delivery: print-ready HTML with a QR")
    def return_slip(delivery_id: str) -> HTMLResponse:
        from edge.web.hall import qr_svg

        data = slip_data(workflow.journal.db, delivery_id, workflow.policy.tz)
        if data is None:
            return HTMLResponse("<p>送货单尚未结束，暂无退货单</p>", status_code=404)
        svg = qr_svg(data["qr"]).decode()
        svg = svg[svg.find("<svg"):]
        return HTMLResponse(slip_html(data, svg))

    @r.get("/api/blobs/{name}", summary="A stored image (signature, document) by its hash",
           response_class=Response, response_model=None)
    def blob(name: str) -> Response:
        path = None if blobs is None else blobs.path(name)
        if path is None:
            return JSONResponse({"error": "NOT_FOUND", "message": "没有该图片"}, status_code=404)
        return FileResponse(path, headers={"Cache-Control": "no-store"})

    return r
