"""Remote diagnosis at the station: the ``diagnose`` command runs doctor and uploads a bundle.

Central publishes ``{"command": "diagnose", "request_id": …}`` on the station's
commands topic, where only central may publish (the broker's ACL,
docs/security.md). The uplink hands the command here; in a thread of its own
this runs the doctor (``REMOTE_CHECKS``: not the broker check, which would take
the uplink's session over), builds the support bundle (``app.support_bundle``)
and PUTs it to *its configured* central API with its own token, like a clip:
``/v1/stations/{s}/diagnoses/{request_id}``. Central accepts it only for a
request it made for this station. The command carries no URL or path, so a
forged command could at most make a station upload its (secret-free) bundle to
its own central, and the station runs at most one diagnosis at a time and one
per ``MIN_INTERVAL_S``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from app import support_bundle
from app.config import StationConfig
from app.doctor import REMOTE_CHECKS, Finding, run_checks
from core import log

logger = logging.getLogger("app.diagnose")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MIN_INTERVAL_S = 60.0
UPLOAD_TRIES = 4


class Diagnoser:
    """The uplink's ``on_diagnose``: returns at once, the work runs in a thread."""

    def __init__(self, cfg: StationConfig, config_path: Path, *,
                 clock: Callable[[], float] = time.monotonic, min_interval_s: float = MIN_INTERVAL_S,
                 retry_s: float = 5.0) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.clock = clock
        self.min_interval_s = min_interval_s
        self.retry_s = retry_s
        self.lock = threading.Lock()
        self.running = False
        self.last_start: float | None = None
        self.results: list[dict[str, Any]] = []  # what happened to each request (tests, logs)

    def accept(self, request_id: str) -> str | None:
        """Why this request is refused now, or None (and the slot is taken)."""
        if not UUID.match(request_id):
            return "request_id is not a UUID"
        with self.lock:
            now = self.clock()
            if self.running:
                return "a diagnosis is already running"
            if self.last_start is not None and now - self.last_start < self.min_interval_s:
                return f"the last diagnosis started less than {self.min_interval_s:.0f} s ago"
            self.running, self.last_start = True, now
        return None

    def __call__(self, cmd: dict[str, Any]) -> None:
        request_id = str(cmd.get("request_id", ""))
        why = self.accept(request_id)
        if why is not None:
            log.kv(logger, logging.WARNING, "diagnose refused", request_id=request_id[:64], reason=why)
            return
        threading.Thread(target=self._run, args=(request_id,), name="diagnose", daemon=True).start()

    def _run(self, request_id: str) -> None:
        try:
            result = self.diagnose(request_id)
        except Exception as exc:  # a failure is logged, never the uplink's end
            result = {"request_id": request_id, "uploaded": False, "error": repr(exc)}
            log.kv(logger, logging.ERROR, "diagnose failed", request_id=request_id, error=repr(exc))
        finally:
            with self.lock:
                self.running = False
        self.results.append(result)

    def diagnose(self, request_id: str) -> dict[str, Any]:
        t0 = time.monotonic()
        findings = [Finding("broker", True, "connected (this request arrived over it)"),
                    *run_checks(self.cfg, REMOTE_CHECKS)]
        path = self.cfg.station.data_dir / "diagnose" / f"{request_id}.tar.gz"
        try:
            sha = support_bundle.build(self.cfg, self.config_path, findings, path)
            code, error = self.upload(request_id, path, sha)
        finally:
            path.unlink(missing_ok=True)
        ok = code in (200, 201)
        log.kv(logging.getLogger("app.diagnose"), logging.INFO if ok else logging.ERROR,
               "diagnosis done", request_id=request_id, uploaded=ok, http=code, error=error,
               doctor_ok=all(f.ok for f in findings), seconds=round(time.monotonic() - t0, 1))
        return {"request_id": request_id, "uploaded": ok, "http": code, "error": error, "sha256": sha}

    def upload(self, request_id: str, path: Path, sha: str) -> tuple[int | None, str | None]:
        from core.http import make_session

        o, s = self.cfg.orders, self.cfg.station.station_id
        url = f"{o.api_url.rstrip('/')}/v1/stations/{s}/diagnoses/{request_id}"
        session = make_session(0, o.token_file, o.ca_file)
        code: int | None = None
        error: str | None = None
        for attempt in range(UPLOAD_TRIES):
            if attempt:
                time.sleep(self.retry_s * 2 ** (attempt - 1))
            try:
                with path.open("rb") as f:
                    r = session.put(url, data=f, timeout=(o.timeout_s, max(o.timeout_s, 120.0)),
                                    headers={"X-Content-SHA256": sha, "Content-Type": "application/gzip",
                                             "Content-Length": str(path.stat().st_size)})
            except (requests.RequestException, OSError) as exc:
                code, error = None, f"{exc.__class__.__name__}"
                continue
            code, error = r.status_code, None if r.status_code in (200, 201) else r.text[:200]
            if r.status_code < 500 and r.status_code != 429:
                break  # done, or refused for good (403: central asked for nothing like it)
        return code, error
