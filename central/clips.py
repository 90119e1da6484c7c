"""Central's clip receiver (docs/contract.md §5): claimed, content-addressed, hash-checked.

``PUT /v1/stations/{s}/clips/{clip_id}`` with ``X-Content-SHA256`` and a
``Content-Length``. Before a byte of the body is read: the token must be the
station's (401/403), the hash well formed (400), the length given (411) and
within ``clip_max_bytes`` (413), a stored ``clip.finalized`` event of that
station must carry this clip id *and* this sha256 (403: nobody can squat an id
or store a file the station did not sign), and the station may have at most
``uploads_per_station`` uploads running (429). The body is then streamed to a
temporary file while hashed; a body that stalls for ``body_timeout_s`` or a
hash that differs from the header is refused and nothing is kept. Objects live
once under ``objects/<sha256>``; ``index/<station>/<clip_id>`` names the object
of a clip: ``201`` when new, ``200`` for the same file again, ``409`` if the
index holds another. ``HEAD`` answers ``200`` (with the stored hash) or ``404``.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from central.http import authed_station, own
from central.store import Store

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SHA = re.compile(r"^[0-9a-f]{64}$")
Station = Annotated[str, Depends(authed_station)]
router = APIRouter()
T = TypeVar("T")
_index_lock = threading.Lock()


class Claims:
    """The store, read by one thread at a time: which sha256 a station's clip.finalized names."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.lock = threading.Lock()
        self.store: Store | None = None

    def sha256_of(self, station: str, clip_id: str) -> str | None:
        return self.ask(lambda store: store.claimed_sha256(station, "clip.finalized", "clip_id", clip_id))

    def ask(self, question: Callable[[Store], T]) -> T:
        """``question(store)`` on the one connection (opened again after a failure)."""
        with self.lock:
            try:
                if self.store is None:
                    self.store = Store(self.dsn)
                return question(self.store)
            except Exception:
                if self.store is not None:
                    self.store.close()
                self.store = None  # a fresh connection next time
                raise


def state(request: Request) -> Any:
    st = request.app.state
    if not hasattr(st, "claims"):
        st.claims = Claims(st.cfg.store.dsn)
        st.uploads = Counter()
    return st


@contextmanager
def upload_slot(st: Any, station: str) -> Iterator[None]:
    if st.uploads[station] >= st.cfg.http.uploads_per_station:
        raise HTTPException(429, "too many uploads of this station at once", headers={"Retry-After": "10"})
    st.uploads[station] += 1
    try:
        yield
    finally:
        st.uploads[station] -= 1


def _clip(request: Request, station_id: str, clip_id: str, station: str) -> Path:
    own(station_id, station)
    if not UUID.match(clip_id):
        raise HTTPException(404, "no such clip")
    return Path(request.app.state.cfg.http.clips_dir) / "index" / station_id / clip_id


def length(request: Request, limit: int) -> int:
    raw = request.headers.get("content-length")
    if raw is None:
        raise HTTPException(411, "Content-Length required")
    if not raw.isdigit():
        raise HTTPException(400, "Content-Length must be a non-negative integer")
    if int(raw) > limit:
        raise HTTPException(413, "body too large")
    return int(raw)


@router.head("/v1/stations/{station_id}/clips/{clip_id}")
async def head_clip(request: Request, station_id: str, clip_id: str, station: Station) -> Response:
    idx = _clip(request, station_id, clip_id, station)
    if not idx.exists():
        return Response(status_code=404)
    sha = idx.read_text().strip()
    size = (idx.parent.parent.parent / "objects" / sha).stat().st_size
    return Response(status_code=200, headers={"X-Content-SHA256": sha, "Content-Length": str(size)})


@router.put("/v1/stations/{station_id}/clips/{clip_id}")
async def put_clip(request: Request, station_id: str, clip_id: str, station: Station) -> Response:
    idx = _clip(request, station_id, clip_id, station)
    st = state(request)
    claimed = (request.headers.get("x-content-sha256") or "").strip().lower()
    if not SHA.match(claimed):
        raise HTTPException(400, "X-Content-SHA256 must be 64 hex digits")
    size = length(request, st.cfg.http.clip_max_bytes)
    signed = await run_in_threadpool(st.claims.sha256_of, station, clip_id)
    if signed is None:
        raise HTTPException(403, "no stored clip.finalized event of this station names this clip id")
    if signed != claimed:
        raise HTTPException(403, "the station's clip.finalized event names another sha256")
    with upload_slot(st, station):
        return await receive(request, idx, claimed, size, st.cfg.http.body_timeout_s)


async def receive(request: Request, idx: Path, claimed: str, length: int, idle_s: float,
                  magic: tuple[bytes, ...] = ()) -> Response:
    """Stream the body into ``objects/`` while hashing; keep it only if whole, as hashed, and
    (with ``magic``) starting with one of those byte strings (else 415)."""
    objects = idx.parent.parent.parent / "objects"
    await run_in_threadpool(objects.mkdir, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=objects, prefix=".in-")
    try:
        digest, got, head = hashlib.sha256(), 0, b""
        with os.fdopen(fd, "wb") as f:
            stream = request.stream().__aiter__()
            while True:
                try:
                    async with asyncio.timeout(idle_s):
                        chunk = await stream.__anext__()
                except StopAsyncIteration:
                    break
                except (TimeoutError, ClientDisconnect):
                    raise HTTPException(408, "the body stalled or was cut") from None
                digest.update(chunk)
                if len(head) < 16:
                    head += chunk[:16]
                f.write(chunk)
                got += len(chunk)
            await run_in_threadpool(_sync, f)
        if got != length:
            raise HTTPException(400, "body shorter than Content-Length")
        if digest.hexdigest() != claimed:
            raise HTTPException(400, "hash mismatch")
        if magic and not head.startswith(magic):
            raise HTTPException(415, "not an image of an accepted type (PNG or JPEG)")
        code, sha = await run_in_threadpool(_store, idx, Path(tmp), claimed)
        return JSONResponse({"sha256": sha}, code)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _sync(f: Any) -> None:
    f.flush()
    os.fsync(f.fileno())


def _store(idx: Path, tmp: Path, sha: str) -> tuple[int, str]:
    with _index_lock:
        if idx.exists():
            stored = idx.read_text().strip()
            return (200 if stored == sha else 409), stored
        obj = idx.parent.parent.parent / "objects" / sha
        if not obj.exists():
            os.replace(tmp, obj)
        _durable_write(idx, sha.encode())
        return 201, sha


def _durable_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
