"""Central's HTTP API (docs/contract.md §1): orders and menus from folders, with ETags.

Routes are a table of (method, pattern, handler) so the clip receiver of docs/contract.md §5
(issue 7) adds its ``PUT``/``HEAD`` routes with ``add_route`` without touching
the server. Documents are served byte for byte from
``orders_dir/<station_id>/<date>.json`` and ``menus_dir/<school_id>/<date>.json``;
the ETag is the quoted sha256 of the bytes, so editing a file changes it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from edge import log
from sync.config import HttpSection

logger = logging.getLogger("sync.central.api")
ID = r"[a-z0-9][a-z0-9-]{2,63}"
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Handler = Callable[["ApiHandler", re.Match[str], dict[str, list[str]]], None]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []


def add_route(method: str, pattern: str, handler: Handler) -> None:
    ROUTES.append((method, re.compile("^" + pattern + "$"), handler))


class ApiHandler(BaseHTTPRequestHandler):
    server_version = "acceptance-central/1"
    http: HttpSection  # set on the subclass made by ``make_server``

    def log_message(self, format: str, *args: object) -> None:
        log.kv(logger, logging.DEBUG, "http", request=format % args)

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        for m, pattern, handler in ROUTES:
            match = pattern.match(parts.path)
            if m == method and match:
                handler(self, match, parse_qs(parts.query))
                return
        self.send_json(404, {"error": "not found"})

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def send_json(self, code: int, doc: object) -> None:
        body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_file_with_etag(self, path: Path) -> None:
        try:
            body = path.read_bytes()
        except FileNotFoundError:
            self.send_json(404, {"error": "no such document"})
            return
        etag = '"' + hashlib.sha256(body).hexdigest() + '"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("ETag", etag)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


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


def _health(h: ApiHandler, m: re.Match[str], q: dict[str, list[str]]) -> None:
    h.send_json(200, {"ok": True})


add_route("GET", rf"/v1/stations/({ID})/orders", _orders)
add_route("GET", rf"/v1/schools/({ID})/menu", _menu)
add_route("GET", r"/healthz", _health)


def make_server(http: HttpSection) -> ThreadingHTTPServer:
    from sync.central import clips  # noqa: F401  (registers the clip routes of docs/contract.md §5)

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
