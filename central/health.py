"""``GET /healthz``: central's workers, their broker connection and the store.

``report`` is pure (what the supervisor knows of its workers and a store
probe in, status code and document out) so any HTTP server can serve it:
``install`` gives it its sources and ``central.api`` serves ``current()``.
The answer is ``200`` when every worker is alive (running and beating),
connected to the broker, and the store answers; ``503`` otherwise, with the
reason per part.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

from central.store import Store

WorkersFn = Callable[[], list[dict[str, Any]]]


class StoreProbe:
    """One store connection for the HTTP threads (under a lock), reopened after a failure."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._store: Store | None = None
        self._lock = threading.Lock()

    def check(self) -> tuple[bool, str | None]:
        with self._lock:
            try:
                if self._store is None:
                    self._store = Store(self.dsn)
                self._store.rows("SELECT 1")
                return True, None
            except Exception as exc:  # any failure is the answer
                if self._store is not None:
                    with contextlib.suppress(Exception):
                        self._store.close()
                self._store = None
                return False, f"{exc.__class__.__name__}: {exc}"[:300]

    def use(self, fn: Callable[[Store], Any]) -> Any:
        """Run ``fn`` on the shared connection (reads for the HTTP routes)."""
        with self._lock:
            if self._store is None:
                self._store = Store(self.dsn)
            try:
                return fn(self._store)
            except Exception:
                with contextlib.suppress(Exception):
                    self._store.close()
                self._store = None
                raise


def report(workers: list[dict[str, Any]], store: tuple[bool, str | None]) -> tuple[int, dict[str, Any]]:
    """The health document and its HTTP status."""
    connected = sum(1 for w in workers if w.get("alive") and w.get("connected"))
    broker_ok = connected == len(workers)
    errors = sorted({str(w["broker_error"]) for w in workers if w.get("broker_error")})
    doc = {
        "ok": False,
        "workers": workers,
        "broker": {"ok": broker_ok, "connected_workers": connected, "workers": len(workers),
                   "errors": errors},
        "store": {"ok": store[0], "error": store[1]},
    }
    doc["ok"] = all(w.get("alive") for w in workers) and broker_ok and store[0]
    return (200 if doc["ok"] else 503), doc


_sources: dict[str, Any] = {}


def install(workers: WorkersFn, probe: StoreProbe) -> None:
    """Tell ``/healthz`` where the workers' health and the store are."""
    _sources["workers"], _sources["probe"] = workers, probe


def current() -> tuple[int, dict[str, Any]]:
    workers: WorkersFn = _sources.get("workers", list)
    probe: StoreProbe | None = _sources.get("probe")
    return report(workers(), probe.check() if probe is not None else (True, "not checked"))
