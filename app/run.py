"""``acceptance-station run --config FILE``: the station process (a systemd unit)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from core import log
from core.errors import UsageError
from core.sdnotify import notify

logger = logging.getLogger("app.run")
STOP_GRACE_S = 2  # longest wait for a slow response when stopping (systemd allows more)


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run the station: devices, workflow, journal, kiosk web app")
    p.add_argument("--config", type=Path, required=True)
    p.set_defaults(handler=run)


def start_hall_server(hall: Any, host: str, port: int) -> Any:
    """The read-only hall server (may listen on the LAN): hall routes only, own thread."""
    import threading

    import uvicorn

    from edge.web.hall import hall_app

    srv = uvicorn.Server(uvicorn.Config(hall_app(hall), host=host, port=port, log_level="warning"))
    threading.Thread(target=srv.run, name="hall-web", daemon=True).start()
    log.kv(logger, logging.INFO, "hall page", url=f"http://{host}:{port}/hall")
    return srv


def stopping_server(config: Any, on_stop: Any) -> Any:
    """A uvicorn server that calls ``on_stop`` when SIGTERM/SIGINT asks it to stop.

    uvicorn stops by waiting for open responses to end, and the kiosk's event stream
    never ends on its own: ``on_stop`` ends the streams so the stop takes well under a
    second, and ``timeout_graceful_shutdown`` bounds any other slow response.
    """
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            on_stop()
            super().handle_exit(sig, frame)

    return Server(config)


def serve(station: Any, host: str, port: int) -> None:
    """Serve the kiosk app until SIGINT/SIGTERM (uvicorn handles the signals)."""
    import uvicorn

    from app.degraded import kiosk_access
    from edge.web.app import create_app
    from edge.web.hall import hall_source

    assert station.workflow is not None and station.orders is not None
    wd = station.watchdog
    wd.register("web", 10.0)

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        async def beat() -> None:  # the event loop is alive while this runs
            while True:
                wd.beat("web")
                await asyncio.sleep(1)

        task = asyncio.create_task(beat())
        notify("READY=1")
        wd.start()
        yield
        task.cancel()

    hall = hall_source(station.cfg)
    web = station.cfg.web
    access = kiosk_access(station, port)
    app = create_app(station.workflow, station.orders, station.devices.snapshot, station.hub,
                     access=access, lifespan=lifespan, preview=station.preview.render, hall=hall,
                     blobs=station.blobs, still=station.preview.still, fault=station.fault,
                     sound=station.cfg.sound, voice=station.voice)
    log.kv(logger, logging.INFO, "kiosk page", url=f"http://{host}:{port}/")
    if web.hall_port and web.hall_port != port:
        start_hall_server(hall, web.hall_host, web.hall_port)
    # Signal handlers: run() installed them (they record SIGTERM/SIGINT after uvicorn's own).
    stopping_server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                   timeout_graceful_shutdown=STOP_GRACE_S), station.hub.close).run()
    wd.stopping()


def run(args: argparse.Namespace) -> int:
    from app.config import ConfigError, load_config
    from app.degraded import serve_degraded
    from app.disk import DiskFull
    from app.station import Station
    from contract.keys import KeyError_
    from edge.journal import JournalError

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    log.setup(cfg.log.level)
    # uvicorn shuts down on SIGTERM/SIGINT and then raises the signal again; with these
    # handlers that second delivery only records it, so the station's stop steps still run.
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    station = Station(cfg)
    try:  # nothing is journaled unless every start step succeeds (Station.start)
        try:
            station.start_journal()
        except DiskFull as exc:  # start degraded: the kiosk shows why, until there is room
            if not serve_degraded(station, cfg.web.host, cfg.web.port, str(exc)) or stopping.is_set():
                station.stop()
                return 0
        station.start_rest()
    except (KeyError_, JournalError) as exc:
        station.stop()
        raise UsageError(str(exc)) from exc
    except BaseException:
        station.stop()
        raise
    try:
        if not stopping.is_set():
            serve(station, cfg.web.host, cfg.web.port)
    finally:
        station.stop()
    return 0
