"""Central's HTTP server: FastAPI on uvicorn, with the limits an internet-facing API needs.

- **Who**: every route but ``/healthz`` needs ``Authorization: Bearer <token>``;
  the token names one station (``central.tokens``). No or an unknown token is
  401, another station's resource is 403.
- **How many**: at most ``max_connections`` open connections. At the cap, a new
  connection closes the one that has waited longest for its next request's
  headers, so half-sent requests can never lock out a real one; if every
  connection is busy with a request, the new one is closed.
- **How long**: request headers must arrive within ``header_timeout_s`` (also
  between keep-alive requests); an idle keep-alive connection closes after
  ``keepalive_timeout_s``; a body that stalls for ``body_timeout_s`` ends its
  request (``central.clips``). Headers are limited to 16 KiB (h11).
- **Threads**: blocking work (files, the store) runs on a pool of ``threads``.
- **Bodies**: ``Content-Length`` is required where a body is (411), a negative
  or malformed one is refused by h11 (400), one above the limit is 413 before
  anything is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import resource
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from uvicorn.protocols.http.h11_impl import H11Protocol

from central.config import CentralConfig
from central.tokens import TokenRegistry
from core import log

logger = logging.getLogger("central.http")
ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,63}$")
MAX_HEADER_BYTES = 16 * 1024
# Longest wait for open responses when stopping: a browser streaming a clip or holding a
# keep-alive connection would otherwise hold a stop (or a restart) for as long as it likes.
STOP_GRACE_S = 3


class GuardedH11(H11Protocol):
    """uvicorn's h11 protocol with a header timeout and a connection cap that evicts the idlest.

    ``waiting`` (one per server class) holds the connections waiting for a request's
    headers, oldest first, so finding the one to evict costs nothing.
    """

    max_connections = 512
    header_timeout_s = 10.0
    waiting: OrderedDict[int, GuardedH11]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.header_timer: asyncio.TimerHandle | None = None
        self._arm()
        if len(self.connections) > self.max_connections:
            self._make_room()

    def _make_room(self) -> None:
        for key, conn in self.waiting.items():
            if conn is not self:
                del self.waiting[key]
                conn.transport.close()
                return
        self.transport.close()

    def _arm(self) -> None:
        """Waiting for a request's headers: on the eviction list, with a deadline."""
        self._disarm()
        self.waiting[id(self)] = self
        self.header_timer = self.loop.call_later(self.header_timeout_s, self._headers_late)

    def _disarm(self) -> None:
        self.waiting.pop(id(self), None)
        if getattr(self, "header_timer", None) is not None:
            self.header_timer.cancel()  # type: ignore[union-attr]
            self.header_timer = None

    def _headers_late(self) -> None:
        self.header_timer = None
        if id(self) in self.waiting and not self.transport.is_closing():
            self.waiting.pop(id(self), None)
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before:  # a request's headers are complete
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """At server stop, an idle TLS connection is aborted rather than closed.

        A TLS close sends close_notify and waits for the peer's before the connection is
        gone; a browser's pooled idle connection does not answer, so uvicorn waited its whole
        graceful period (``STOP_GRACE_S``) for connections that carry no request. A connection
        with a request in flight still finishes it (uvicorn's shutdown).
        """
        idle = self.cycle is None or self.cycle.response_complete
        if idle and self.transport.get_extra_info("sslcontext") is not None:
            self._disarm()
            self.transport.abort()
        else:
            super().shutdown()


def authed_station(request: Request) -> str:
    """The station the bearer token names (a FastAPI dependency); 401 without a valid one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    station = None
    if scheme.lower() == "bearer":
        station = request.app.state.tokens.station_of(token.strip())
    if station is None:
        raise HTTPException(401, "a station token is required (Authorization: Bearer …)",
                            headers={"WWW-Authenticate": "Bearer"})
    return str(station)


def own(path_station: str, station: str) -> None:
    """404 for a malformed id, 403 when the token is another station's."""
    if not ID.match(path_station):
        raise HTTPException(404, "no such station")
    if path_station != station:
        raise HTTPException(403, "this token is not this station's")


def base_app(cfg: CentralConfig) -> FastAPI:
    """The FastAPI app with the tokens, the thread pool and JSON errors; routes are added by central.api."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = cfg.http.threads
        yield

    app = FastAPI(title="acceptance central", docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan)
    app.state.cfg = cfg
    app.state.tokens = TokenRegistry(cfg.http.tokens_file)

    @app.exception_handler(HTTPException)
    async def as_json(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/web/"):  # the web app's pages answer in HTML
            from central.web.html import error_response
            return error_response(exc.status_code, exc.detail, exc.headers)
        return JSONResponse({"error": exc.detail}, exc.status_code, headers=exc.headers)

    return app


def _fd_room(wanted: int) -> int:
    """Raise the open-files limit for ``wanted`` connections if allowed; the cap that fits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + 256
    if soft != resource.RLIM_INFINITY and soft < need:
        new = need if hard == resource.RLIM_INFINITY else min(need, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return wanted if soft == resource.RLIM_INFINITY else max(16, min(wanted, soft - 256))


class HttpServer:
    """uvicorn serving an app in a thread; ``shutdown`` stops it."""

    def __init__(self, app: FastAPI, cfg: CentralConfig) -> None:
        h = cfg.http
        host, _, port = h.bind.rpartition(":")
        cap = _fd_room(h.max_connections)
        if cap < h.max_connections:
            log.kv(logger, logging.WARNING, "max_connections lowered to the open-files limit", cap=cap)
        protocol: Any = type("CentralH11", (GuardedH11,), {"max_connections": cap, "waiting": OrderedDict(),
                                                           "header_timeout_s": h.header_timeout_s})
        self.config = uvicorn.Config(app, host=host or "127.0.0.1", port=int(port), http=protocol,
                                     loop="asyncio", lifespan="on", log_level="warning", access_log=False,
                                     timeout_keep_alive=max(1, round(h.keepalive_timeout_s)),
                                     h11_max_incomplete_event_size=MAX_HEADER_BYTES, server_header=False,
                                     backlog=1024, timeout_graceful_shutdown=STOP_GRACE_S,
                                     ssl_certfile=None if h.tls_cert_file is None else str(h.tls_cert_file),
                                     ssl_keyfile=None if h.tls_key_file is None else str(h.tls_key_file))
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, name="central-http", daemon=True)

    def start(self, timeout: float = 15.0) -> HttpServer:
        self.thread.start()
        end = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > end:
                raise RuntimeError(f"central HTTP API did not start on {self.config.host}:{self.config.port}")
            time.sleep(0.02)
        return self

    def shutdown(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
