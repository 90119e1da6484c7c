"""Opening the journal, and running degraded while the disk is too full to open it.

``open_journal`` opens the station database and migrates every table the
station writes; when that fails for want of space, or less than 1 MB is free
(the journal could open and then write nothing, not even ``station.started``),
it raises ``DiskFull``, closing what it opened. ``serve_degraded`` then serves
the kiosk with the
fault shown and every action refused (``edge.web.fault``) while a thread tries
``open_journal`` again every few seconds; once it succeeds the degraded server
stops and the station starts as usual. systemd sees a started, watchdog-pinging
service throughout: no crash loop, no start limit hit.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from app.config import StationConfig
from app.disk import FAULT_CODE, MB, DiskFull, fault_message, free_bytes
from contract.keys import load_key
from core import log
from core.db import is_disk_full
from core.sdnotify import notify
from edge.journal import Journal

logger = logging.getLogger("app.station")
RETRY_S = 2.0


def open_journal(cfg: StationConfig) -> Journal:
    """The journal with the station's tables migrated; ``DiskFull`` when the disk has no room."""
    from edge import device_status
    from edge.orders import store

    c = cfg.station
    key = load_key(c.key_path)
    free = free_bytes(c.data_dir)
    if free < MB:
        raise DiskFull(f"{free} bytes free on the data disk ({c.data_dir})")
    j: Journal | None = None
    try:
        j = Journal(c.db_path, key, c.station_id)
        # Every table the station writes is migrated here, once, before any thread starts:
        # each thread uses a connection of its own; the journal lock orders their writes.
        # The uplink's tables are the uplink's: the station only reads them (sync.state).
        from edge.roster import store as roster_store

        store.ensure_tables(j.db)
        roster_store.ensure_tables(j.db)
        device_status.ensure_tables(j.db)
        return j
    except Exception as exc:
        if j is not None:
            with contextlib.suppress(Exception):
                j.close()
        if is_disk_full(exc) or free_bytes(c.data_dir) < MB:
            raise DiskFull(f"{exc.__class__.__name__}: {exc}") from exc
        raise


def kiosk_access(station: Any, port: int) -> Any:
    """The kiosk guard's rules (``edge.web.guard.Access``), one per process: a page loaded
    while degraded keeps a valid token once the station has started."""
    from edge.web.guard import Access

    if getattr(station, "kiosk_access", None) is None:
        web = station.cfg.web
        station.kiosk_access = Access(port=port, hosts=tuple(web.trusted_hosts),
                                      max_body_bytes=web.max_body_bytes)
    return station.kiosk_access


def serve_degraded(station: Any, host: str, port: int, cause: str) -> bool:
    """Serve the fault page until the journal opens (True) or a signal stops the station (False)."""
    import uvicorn

    from edge.web.fault import fault_app

    state = {"cause": cause}
    stop = threading.Event()
    wd = station.watchdog
    wd.register("web", 10.0)
    log.kv(logger, logging.ERROR, "disk full: running degraded until the journal can be written",
           cause=cause, data_dir=str(station.cfg.station.data_dir))
    station.devices.set("disk", False, fault_message(cause))

    def retry(server: Any) -> None:
        while not stop.wait(RETRY_S):
            try:
                station.start_journal()
            except DiskFull as exc:
                state["cause"] = str(exc)
                station.devices.set("disk", False, fault_message(str(exc)))
                continue
            except Exception as exc:  # anything else: keep trying, say what it was
                state["cause"] = repr(exc)
                continue
            log.kv(logger, logging.INFO, "disk has room again: starting normally")
            server.should_exit = True
            return

    def beat() -> None:
        while not stop.wait(1.0):
            wd.beat("web")

    app = fault_app(lambda: {"code": FAULT_CODE, "message": fault_message(state["cause"])},
                    station.devices.snapshot, kiosk_access(station, port))
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    threading.Thread(target=retry, args=(server,), name="journal-retry", daemon=True).start()
    threading.Thread(target=beat, name="degraded-beat", daemon=True).start()
    notify("READY=1")
    notify("STATUS=degraded: data disk full, decisions refused")
    wd.start()
    try:
        server.run()
    finally:
        stop.set()
    return station.journal is not None
