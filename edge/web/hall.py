"""The cafeteria hall display: today's clips, their captions and QR codes, today's menu.

Everything here is read-only: the hall server may listen on the LAN, so it
serves only these routes (``hall_app``) and never the kiosk's API. The clip
list comes from the journal (``clip.finalized`` joined with the line event it
films) over a read-only connection of its own; video is served by Starlette's
``FileResponse``, which answers HTTP Range requests (206) so ``<video>`` can
seek and stream. The menu is fetched from central's API and the last good copy
is kept when central cannot be reached. A record's QR code is the https URL of
its public page at central (``[web] public_base_url``), which a phone opens.
Nothing on screen is an id, a code or English: the words come from
``contract.record_text``, shared with central's public pages.
"""

from __future__ import annotations

import io
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import FileResponse, Response

from contract.record_text import (
    OUTCOME_ZH,
    inspector_names,
    item_text,
    quantity_text,
    reason_labels,
    record_url,
    supplier_text,
)

STATIC = Path(__file__).parent / "static"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def qr_svg(text: str) -> bytes:
    import qrcode
    import qrcode.image.svg

    img = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buf = io.BytesIO()
    img.save(buf)
    return buf.getvalue()


def clip_card(clip: dict[str, Any], line: dict[str, Any], tz: ZoneInfo,
              with_qr: bool = False) -> dict[str, Any]:
    """One clip as the hall shows it (pure): words only, no ids on screen (the ids stay for the QR)."""
    b = line["body"]
    at = datetime.fromisoformat(line["at"].replace("Z", "+00:00")).astimezone(tz)
    return {
        "clip_id": clip["clip_id"], "url": f"/clips/{clip['clip_id']}",
        "duration_ms": clip["duration_ms"], "time": at.strftime("%H:%M"),
        "supplier": supplier_text(b), "item": item_text(b), "weight": quantity_text(b),
        "outcome": line["type"].split(".")[1], "outcome_text": OUTCOME_ZH[line["type"]],
        "inspectors": inspector_names(b), "reasons": reason_labels(b),
        "event_id": line["event_id"], "hash": line["hash"],
        "qr": f"/hall/qr/{line['event_id']}.svg" if with_qr else None,
    }


@dataclass
class MenuCache:
    """Today's menu from central, refreshed every ``ttl_s``; the last good copy on errors."""

    fetch: Callable[[str], dict[str, Any]]
    ttl_s: float = 600.0
    _docs: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    error: str | None = None

    def get(self, day: str) -> dict[str, Any] | None:
        with self._lock:
            got = self._docs.get(day)
            if got is not None and time.monotonic() - got[0] < self.ttl_s:
                return got[1]
        try:
            doc = self.fetch(day)
        except Exception as exc:  # central unreachable: keep showing what we had
            self.error = f"{exc.__class__.__name__}"
            return None if got is None else got[1]
        self.error = None
        with self._lock:
            self._docs = {day: (time.monotonic(), doc)}
        return doc


def central_menu(api_url: str, school_id: str, timeout_s: float,
                 session: Any) -> Callable[[str], dict[str, Any]]:
    s = session

    def fetch(day: str) -> dict[str, Any]:
        r = s.get(f"{api_url.rstrip('/')}/v1/schools/{school_id}/menu", params={"date": day},
                  timeout=timeout_s)
        if r.status_code == 404:
            return {"date": day, "meals": []}
        r.raise_for_status()
        return dict(r.json())

    return fetch


@dataclass
class HallSource:
    db_path: Path
    clips_dir: Path
    station_id: str
    tz: ZoneInfo
    menu: MenuCache
    public_base_url: str | None = None  # central's public pages: the QR codes link there

    def _conn(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)

    def today(self) -> str:
        return datetime.now(UTC).astimezone(self.tz).date().isoformat()

    def clips(self, day: str) -> list[dict[str, Any]]:
        """The day's clips (local date of the decision), newest first."""
        import json

        start = datetime.fromisoformat(day).replace(tzinfo=self.tz).astimezone(UTC)
        lo = start.strftime("%Y-%m-%dT%H:%M:%S")
        hi = (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
        conn = self._conn()
        try:
            rows = conn.execute(
                "SELECT c.event, e.event FROM events c JOIN events e"
                " ON e.seq = json_extract(c.event, '$.body.event_seq')"
                " WHERE c.type = 'clip.finalized' AND e.at >= ? AND e.at < ?"
                " ORDER BY e.seq DESC", (lo, hi)).fetchall()
        finally:
            conn.close()
        out = []
        for ctext, etext in rows:
            c = json.loads(ctext)
            if (self.clips_dir / c["body"]["file"]).exists():
                out.append(clip_card(c["body"], json.loads(etext), self.tz,
                                     self.public_base_url is not None))
        return out

    def _one(self, sql: str, *args: Any) -> Any:
        conn = self._conn()
        try:
            row = conn.execute(sql, args).fetchone()
        finally:
            conn.close()
        return None if row is None else row[0]

    def clip_file(self, clip_id: str) -> Path | None:
        name = self._one("SELECT json_extract(event, '$.body.file') FROM events"
                         " WHERE type='clip.finalized' AND json_extract(event, '$.body.clip_id') = ?",
                         clip_id)
        p = None if name is None else self.clips_dir / str(name)
        return p if p is not None and p.exists() else None

    def event_hash(self, event_id: str) -> str | None:
        h = self._one("SELECT hash FROM events WHERE event_id=?", event_id)
        return None if h is None else str(h)


def hall_router(src: HallSource) -> APIRouter:
    r = APIRouter()

    @r.get("/hall", include_in_schema=False)
    def hall_page() -> FileResponse:
        return FileResponse(STATIC / "hall.html", headers={"Cache-Control": "no-cache"})

    @r.get("/hall/static/{name}", include_in_schema=False)
    def hall_static(name: str) -> FileResponse:
        if name not in ("hall.js", "hall.css", "favicon.svg"):
            raise HTTPException(404)
        return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})

    @r.get("/api/hall", summary="Today's clips (newest first) and menu for the hall display")
    def hall_json() -> dict[str, Any]:
        day = src.today()
        return {"date": day, "clips": src.clips(day),
                "menu": src.menu.get(day), "menu_error": src.menu.error}

    @r.get("/clips/{clip_id}", summary="A clip's video (MP4, HTTP range requests)")
    def clip(clip_id: str) -> FileResponse:
        if not UUID.match(clip_id):
            raise HTTPException(404)
        path = src.clip_file(clip_id)
        if path is None:
            raise HTTPException(404, "no such clip")
        return FileResponse(path, media_type="video/mp4",
                            headers={"Cache-Control": "public, max-age=86400"})

    @r.get("/hall/qr/{event_id}.svg", summary="QR code of a record: its public page at central")
    def qr(event_id: str) -> Response:
        if not UUID.match(event_id) or src.public_base_url is None:
            raise HTTPException(404)
        if src.event_hash(event_id) is None:
            raise HTTPException(404)
        return Response(qr_svg(record_url(src.public_base_url, src.station_id, event_id)),
                        media_type="image/svg+xml")

    return r


def hall_app(src: HallSource) -> FastAPI:
    """The LAN-facing server: the hall routes and nothing else."""
    app = FastAPI(title="Acceptance station hall display", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.include_router(hall_router(src))

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "public, max-age=86400"})

    return app


def hall_source(cfg: Any) -> HallSource:
    c = cfg.station
    tz = ZoneInfo(c.timezone)
    from core.http import make_session

    session = make_session(0, cfg.orders.token_file, cfg.orders.ca_file)
    menu = MenuCache(central_menu(cfg.orders.api_url, c.school_id, cfg.web.menu_timeout_s, session))
    return HallSource(c.db_path, c.data_dir / "clips", c.station_id, tz, menu,
                      cfg.web.public_base_url)
