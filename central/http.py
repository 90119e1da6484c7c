"""Central's HTTP request handler and route table, apart from the routes themselves.

Routes are a table of (method, pattern, handler): the API's routes (``central.api``)
and the clip receiver's (``central.clips``) register themselves with ``add_route``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from central.config import HttpSection
from core import log

logger = logging.getLogger("central.http")
ID = r"[a-z0-9][a-z0-9-]{2,63}"

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
