"""Central's HTTP API: orders, rosters and menus from folders, with ETags (docs/contract.md).

Documents are served byte for byte from ``orders_dir/<station_id>/<date>.json``,
``roster_dir/<station_id>.json`` and ``menus_dir/<school_id>/<date>.json``; the ETag
is the quoted sha256 of the bytes, so editing a file changes it. Importing
``central.clips`` registers the clip routes.
"""

from __future__ import annotations

import re
import threading
from http.server import ThreadingHTTPServer

from central import (
    audit,
    clips,  # noqa: F401  (registers the clip routes)
    health,
)
from central.config import HttpSection
from central.http import ID, ApiHandler, add_route

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _dated(h: ApiHandler, q: dict[str, list[str]], key: str) -> str | None:
    day = (q.get(key) or [""])[0]
    if not DATE.match(day):
        h.send_json(400, {"error": f"{key}=YYYY-MM-DD is required"})
        return None
    return day


def _orders(h: ApiHandler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    day = _dated(h, q, "delivery_date")
    if day is not None:
        h.send_file_with_etag(h.http.orders_dir / m.group(1) / f"{day}.json")


def _menu(h: ApiHandler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    day = _dated(h, q, "date")
    if day is not None:
        h.send_file_with_etag(h.http.menus_dir / m.group(1) / f"{day}.json")


def _roster(h: ApiHandler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    # Like orders: the file as it is, with its ETag; the station validates it (PIN hashes
    # travel only to their station, over the API's TLS).
    h.send_file_with_etag(h.http.roster_dir / f"{m.group(1)}.json")


add_route("GET", rf"/v1/stations/({ID})/orders", _orders)
add_route("GET", rf"/v1/stations/({ID})/roster", _roster)
add_route("GET", rf"/v1/schools/({ID})/menu", _menu)
health.register()  # GET /healthz (central.health)
audit.register()  # GET /v1/stations/{s}/head (central.audit)


def make_server(http: HttpSection) -> ThreadingHTTPServer:
    host, _, port = http.bind.rpartition(":")
    handler = type("BoundApiHandler", (ApiHandler,), {"http": http})
    server = ThreadingHTTPServer((host or "127.0.0.1", int(port)), handler)
    server.daemon_threads = True
    return server


def serve_in_thread(http: HttpSection) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = make_server(http)
    t = threading.Thread(target=server.serve_forever, name="central-http", daemon=True)
    t.start()
    return server, t
