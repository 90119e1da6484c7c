"""The station's JSON API and kiosk page (FastAPI; OpenAPI at ``/openapi.json``).

Handlers translate requests into workflow inputs and nothing more: every rule
lives in the workflow and the matching rules. A refused input answers 409 with
``{"error": code, "message": 中文}`` and changes nothing; a malformed request
answers 422 naming the field (bodies are validated whole, strictly, before any
handler runs: a delivery note goes through the delivery-note parser). Who may
call the API at all is decided by ``edge.web.guard`` (trusted Host and Origin,
the per-boot token the kiosk page carries). Live state reaches the page over
server-sent events (``/api/stream``).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI
from fastapi import Path as FastAPIPath
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from core import __version__
from edge.blobs import BlobStore
from edge.codes.delivery_note import PREFIX as NOTE_PREFIX
from edge.codes.delivery_note import parse_delivery_note
from edge.codes.errors import ParseError
from edge.matching.types import Order, RapidTest
from edge.web.evidence import evidence_router
from edge.web.guard import Access, KioskGuard, with_token
from edge.web.view import outcome_view, snapshot
from edge.web.voice import PHRASES, SoundSection, VoiceClips
from edge.workflow.driver import Workflow
from edge.workflow.model import (
    CloseDelivery,
    Confirm,
    Input,
    MarkPartial,
    OpenDelivery,
    Result,
    ScanItem,
    SelectLine,
    SetPieces,
    SetRapidTest,
    SetSensory,
    SetTemperature,
    SignIn,
    SignOut,
    Tare,
)

STATIC = Path(__file__).parent / "static"
NOTICE_S = 8.0  # how long a refusal stays in the snapshot


def favicon() -> Response:
    """The station's icon (the kiosk and the degraded page; a browser asks for it)."""
    return Response((STATIC / "favicon.ico").read_bytes(), media_type="image/x-icon",
                    headers={"Cache-Control": "max-age=86400"})


class Body(BaseModel):
    # strict: no "5" for 5, no 1 for true; JSON numbers are ints (no float field exists).
    model_config = ConfigDict(extra="forbid", strict=True)


def _iso_date(value: object) -> date:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a real date") from None


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
NO_CONTROL = r"^[^\x00-\x1f\x7f]+$"


def _note(note: dict[str, Any] | None) -> dict[str, Any] | None:
    """A delivery note is valid only if the delivery-note parser takes it (schema, dates)."""
    if note is None:
        return None
    text = NOTE_PREFIX + json.dumps(note, ensure_ascii=False, separators=(",", ":"))
    try:
        return parse_delivery_note(text).note
    except ParseError as exc:
        raise ValueError(str(exc)) from None


class InspectorIn(Body):
    inspector_id: str | None = Field(default=None, min_length=1, max_length=64,
                                     pattern=NO_CONTROL, description="Roster id (with pin)")
    pin: str | None = Field(default=None, pattern=r"^\d{4,12}$", description="PIN, 4-12 digits")
    badge: str | None = Field(default=None, min_length=1, max_length=64, pattern=NO_CONTROL,
                              description="Badge UID (what a badge scan gives)")

    @model_validator(mode="after")
    def _one_way(self) -> InspectorIn:
        if (self.badge is None) == (self.inspector_id is None):
            raise ValueError("inspector_id (with pin) or badge, one of the two")
        return self


class DeliveryIn(Body):
    order_id: str = Field(min_length=1, max_length=64, pattern=NO_CONTROL)
    note: Annotated[dict[str, Any] | None, AfterValidator(_note)] = Field(
        default=None, description="A delivery note as ADN1 carries it (acceptance.delivery-note/1)")

    @model_validator(mode="after")
    def _note_for_this_order(self) -> DeliveryIn:
        if self.note is not None and self.note["order_id"] != self.order_id:
            raise ValueError(f"the delivery note is for {self.note['order_id']}, "
                             f"not {self.order_id}")
        return self


class LineIn(Body):
    line_id: str = Field(min_length=1, max_length=32)


class ScanIn(Body):
    gtin: str | None = Field(default=None, pattern=r"^\d{8}$|^\d{12,14}$")
    item_code: str | None = Field(default=None, min_length=1, max_length=64, pattern=NO_CONTROL)
    batch: str | None = Field(default=None, min_length=1, max_length=64, pattern=NO_CONTROL)
    production_date: IsoDate | None = None
    expiry_date: IsoDate | None = None


class TemperatureIn(Body):
    temperature_c: str = Field(pattern=r"^-?\d{1,3}(\.\d{1,2})?$", description="Decimal °C")


class SensoryIn(Body):
    found: dict[str, bool] = Field(
        min_length=1, max_length=16,
        description="Sensory checklist answers: item (spoiled, mould, foreign_matter, odour, "
                    "packaging, refrozen, label) -> true when the problem was found")


class RapidTestIn(Body):
    inhibition_pct: str | None = Field(default=None, pattern=r"^\d{1,3}(\.\d{1,2})?$",
                                       description="Pesticide-residue inhibition, percent")
    passed: bool | None = Field(default=None, description="A qualitative kit's result")
    sample: str = Field(default="", max_length=64)
    operator: str = Field(default="", max_length=32)

    @model_validator(mode="after")
    def _one_result(self) -> RapidTestIn:
        if (self.inhibition_pct is None) == (self.passed is None):
            raise ValueError("inhibition_pct or passed, one of the two")
        if self.inhibition_pct is not None and Decimal(self.inhibition_pct) > 100:
            raise ValueError("inhibition_pct is at most 100")
        return self


class PiecesIn(Body):
    pieces: int = Field(ge=0, le=100000)


class PartialIn(Body):
    partial: bool


class ConfirmIn(Body):
    placement_id: str = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                              description="The placement shown on screen (a UUID; idempotency key)")


class Hub:
    """A change counter the event stream watches; bumped after every handled input.

    ``close`` ends every event stream (at its next tick): the server waits for open
    responses before it stops, and a kiosk page keeps its stream open for ever.
    """

    def __init__(self) -> None:
        self.version = 0
        self.boot = uuid.uuid4().hex[:12]
        self._lock = threading.Lock()
        self.closed = threading.Event()

    def bump(self) -> None:
        with self._lock:
            self.version += 1

    def rev(self, version: int | None = None) -> dict[str, Any]:
        """This server's boot and a change count: snapshots of one boot are ordered by it."""
        return {"boot": self.boot, "version": self.version if version is None else version}

    def close(self) -> None:
        self.closed.set()


def create_app(workflow: Workflow, orders: Callable[[], dict[str, Order]],
               devices: Callable[[], dict[str, Any]], hub: Hub | None = None,
               *, access: Access, stream_interval_s: float = 0.1, lifespan: Any = None,
               preview: Callable[[], bytes | None] | None = None,
               hall: Any = None, blobs: BlobStore | None = None,
               still: Callable[[], bytes | None] | None = None,
               fault: Callable[[], dict[str, str] | None] | None = None,
               sound: SoundSection | None = None, voice: VoiceClips | None = None) -> FastAPI:
    """The kiosk app behind its guard; ``access`` holds the trusted hosts and this boot's token."""
    app = FastAPI(title="Acceptance station", version=__version__, lifespan=lifespan,
                  description="Local API of a food-acceptance station (kiosk and hall pages). "
                  "Every POST/DELETE needs the X-Kiosk-Token of the page the station serves.")
    app.add_middleware(KioskGuard, access=access)
    page = with_token((STATIC / "kiosk.html").read_text(encoding="utf-8"), access.token)
    hub = hub or Hub()
    app.state.hub = hub
    snd = sound or SoundSection()
    sound_json = {"volume": snd.volume, "voice": voice is not None and voice.available,
                  "phrases": PHRASES}

    def state_json() -> dict[str, Any]:
        # ``fault``: what stops acceptance altogether (the journal cannot write), shown over all.
        return {**snapshot(workflow.state, orders(), devices(), workflow.live(),
                           workflow.max_weight_age_s, workflow.policy, workflow.roster()),
                "fault": None if fault is None else fault(), "sound": sound_json}

    def notice() -> dict[str, Any] | None:
        """The latest refusal from any source, for NOTICE_S (the page shows each id once)."""
        n = workflow.notice
        if n is None or workflow.mono() - n["mono"] > NOTICE_S:
            return None
        return {k: n[k] for k in ("id", "code", "message")}

    def run(inp: Input) -> JSONResponse:
        res: Result = workflow.handle(inp)
        hub.bump()
        rev = hub.rev()  # read before the state: the state is at least this new
        if res.refused is not None:
            return JSONResponse({"error": res.refused.code, "message": res.refused.message,
                                 "state": state_json(), "rev": rev}, status_code=409)
        return JSONResponse({"state": state_json(), "rev": rev, **outcome_view(res)})

    @app.get("/", include_in_schema=False)
    def kiosk() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    app.get("/favicon.ico", include_in_schema=False)(favicon)

    @app.get("/api/voice/{key}.wav", summary="A spoken result sentence (espeak-ng, rendered here)",
             response_class=Response, responses={200: {"content": {"audio/wav": {}}}})
    def voice_clip(key: Annotated[str, FastAPIPath(pattern=r"^[a-z_]{1,20}$")]) -> Response:
        path = None if voice is None else voice.path(key)
        if path is None:
            return JSONResponse({"error": "NO_VOICE", "message": "无此语音"}, status_code=404)
        return Response(path.read_bytes(), media_type="audio/wav",
                        headers={"Cache-Control": "max-age=3600"})

    @app.get("/api/state", summary="The kiosk's whole state")
    def get_state() -> dict[str, Any]:
        return state_json()

    @app.get("/api/stream", summary="Server-sent events: a state snapshot on every change")
    async def stream() -> StreamingResponse:
        async def gen() -> AsyncIterator[str]:
            seen = -1
            idle = 0.0
            while not hub.closed.is_set():  # the page reconnects to the next server
                if hub.version != seen or idle >= 1.0:  # also a heartbeat each second
                    seen = hub.version
                    idle = 0.0
                    # Only the stream carries the notice: a refused request changes no state.
                    # ``rev`` lets the page drop a snapshot older than one it already shows
                    # (a stream message overtaken by a POST's answer).
                    msg = {**state_json(), "notice": notice(), "rev": hub.rev(seen)}
                    yield f"data: {json.dumps(msg, ensure_ascii=False)}\n\n"
                await asyncio.sleep(stream_interval_s)
                idle += stream_interval_s
        return StreamingResponse(gen(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    @app.get("/api/camera.jpg", summary="Camera preview: newest frame, detected codes outlined",
             response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
    def camera() -> Response:
        jpeg = preview() if preview is not None else None
        if jpeg is None:
            return JSONResponse({"error": "NO_FRAME", "message": "摄像头无画面"}, status_code=503)
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.post("/api/inspectors", summary="Sign a roster member in (id and PIN, or badge)")
    def sign_in(body: InspectorIn) -> JSONResponse:
        return run(SignIn((body.inspector_id or "").strip(), pin=body.pin, badge=body.badge))

    @app.delete("/api/inspectors/{inspector_id}", summary="Sign an inspector out")
    def sign_out(inspector_id: Annotated[str, FastAPIPath(max_length=64)]) -> JSONResponse:
        return run(SignOut(inspector_id))

    @app.post("/api/deliveries", summary="Open a delivery for one of today's orders")
    def open_delivery(body: DeliveryIn) -> JSONResponse:
        return run(OpenDelivery(body.order_id, str(uuid.uuid4()), note=body.note))

    @app.post("/api/deliveries/current/close", summary="Close the open delivery")
    def close_delivery() -> JSONResponse:
        return run(CloseDelivery())

    @app.post("/api/placement/line", summary="Tap an order line for the item on the scale")
    def select_line(body: LineIn) -> JSONResponse:
        return run(SelectLine(body.line_id))

    @app.post("/api/placement/scan", summary="A code read for the item on the scale")
    def scan(body: ScanIn) -> JSONResponse:
        return run(ScanItem(gtin=body.gtin, item_code=body.item_code, batch=body.batch,
                            production_date=body.production_date,
                            expiry_date=body.expiry_date))

    @app.post("/api/placement/temperature", summary="Temperature of the item (°C)")
    def temperature(body: TemperatureIn) -> JSONResponse:
        return run(SetTemperature(Decimal(body.temperature_c)))

    @app.post("/api/placement/sensory", summary="Sensory checklist answers (感官检查)")
    def sensory(body: SensoryIn) -> JSONResponse:
        return run(SetSensory(tuple(body.found.items())))

    @app.post("/api/placement/rapid-test", summary="Rapid test result (快检), typed on screen")
    def rapid_test(body: RapidTestIn) -> JSONResponse:
        pct = None if body.inhibition_pct is None else Decimal(body.inhibition_pct)
        return run(SetRapidTest(RapidTest(pct, body.passed, body.sample.strip(),
                                          body.operator.strip())))

    @app.post("/api/placement/pieces", summary="Piece count of the item")
    def pieces(body: PiecesIn) -> JSONResponse:
        return run(SetPieces(body.pieces))

    @app.post("/api/placement/partial", summary="Mark the item as a partial delivery")
    def partial(body: PartialIn) -> JSONResponse:
        return run(MarkPartial(body.partial))

    @app.post("/api/scale/tare", summary="Tare the scale (container)")
    def tare() -> JSONResponse:
        return run(Tare())

    @app.post("/api/confirm", summary="Decide the item on the scale and record it")
    def confirm(body: ConfirmIn) -> JSONResponse:
        return run(Confirm(body.placement_id))

    # documents photographed, dispositions, the return slip
    app.include_router(evidence_router(workflow, run, blobs, still))
    if hall is not None:  # the hall display's read-only routes (edge.web.hall.HallSource)
        from edge.web.hall import hall_router

        app.include_router(hall_router(hall))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
