"""The platform's processes: a full cycle per day (evaluate, deliver) and the immediate path.

Both are stateless over the store: any number of engine processes may run on any machines. A warning
is stored once (its deterministic id is the primary key; only the process whose insert won delivers
it at once) and each (warning, channel, target) is claimed in ``platform_deliveries`` before it is
sent, so nothing is sent twice by two processes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from central.config import CentralConfig
from central.platform import deliveries, discipline, engine
from central.platform import warnings as warning_table
from central.platform.data import rfc3339
from central.store import Store
from core import log

logger = logging.getLogger("central.platform.service")
# Each look re-reads what arrived this long before the previous look: a batch committed late (its
# ``received_at`` set before a slow commit) or stamped by an ingest host whose clock is a little behind
# is still seen; what was already seen is not stored or sent again (warning ids).
OVERLAP_S = 60.0
# A process's first look goes this far back: alerts that arrived while no engine ran (a restart, an
# outage of up to two days) are raised then; those already raised are known by their ids.
FIRST_LOOK_S = 48 * 3600.0


def cycle(store: Store, cfg: CentralConfig, day: date) -> dict[str, Any]:
    """Evaluate ``day``, store its new warnings, open their cases and escalate overdue ones, and
    (when enabled) deliver what is pending."""
    new = engine.run_day(store, cfg.indicators, cfg.http.orders_dir, day)
    out: dict[str, Any] = {"day": day.isoformat(), "new_warnings": [f.warning_id for f in new]}
    out["discipline"] = discipline_step(store, cfg)
    if cfg.warnings.enabled:
        out["delivery"] = deliveries.deliver_pending(store, cfg.warnings, cfg.broker)
    return out


class Immediate:
    """The alerts that arrived since the last look → warnings, delivered at once (issue: "immediately").

    The full cycle runs every ``interval_s`` and may take minutes on a city's store; the stations'
    re-test and typed-temperature alerts and central's chain alerts need nothing but themselves, so
    they are looked for every ``immediate_poll_s`` by arrival (a small indexed read)."""

    def __init__(self, cfg: CentralConfig) -> None:
        self.cfg = cfg
        self.last: datetime | None = None
        self.ready: Store | None = None  # the connection the tables were ensured on

    def look(self, store: Store) -> dict[str, Any]:
        if self.ready is not store:
            warning_table.ensure_tables(store)
            deliveries.ensure(store)
            self.ready = store
        started = datetime.now(UTC)
        since = (started - timedelta(seconds=FIRST_LOOK_S) if self.last is None
                 else self.last - timedelta(seconds=OVERLAP_S))
        new = engine.run_arrived(store, self.cfg.indicators, rfc3339(since))
        self.last = started
        out: dict[str, Any] = {"new_warnings": [f.warning_id for f in new]}
        if new and self.cfg.warnings.enabled:
            ws = warning_table.by_ids(store, out["new_warnings"])
            out["delivery"] = deliveries.deliver(store, self.cfg.warnings, self.cfg.broker, ws)
        if new:
            log.kv(logger, logging.INFO, "alerts raised at once", new=len(new), delivery=out.get("delivery"))
        return out


def immediate_loop(cfg: CentralConfig, stop: threading.Event) -> None:
    """``Immediate.look`` every ``immediate_poll_s`` on its own connection; a failure (store down, bad
    master data) is logged and the next look tries again with a fresh connection."""
    looker = Immediate(cfg)
    store: Store | None = None
    wait = 0.0
    while not stop.wait(wait):
        wait = cfg.indicators.immediate_poll_s
        try:
            if store is None:
                store = Store(cfg.store.dsn)
            looker.look(store)
        except Exception as exc:  # a long-running loop: log, reconnect, go on
            log.kv(logger, logging.ERROR, "immediate look failed", error=f"{exc.__class__.__name__}: {exc}")
            if store is not None:
                with contextlib.suppress(Exception):
                    store.close()
            store = None
    if store is not None:
        store.close()


def periodic(store: Store, cfg: CentralConfig, stop: threading.Event) -> None:
    """Every ``interval_s``: yesterday (late arrivals, clips) and today, until ``stop``; meanwhile the
    immediate path in a thread of its own."""
    fast = None
    if cfg.indicators.immediate_poll_s > 0:
        fast = threading.Thread(target=immediate_loop, args=(cfg, stop), name="immediate", daemon=True)
        fast.start()
    try:
        while True:
            today = engine.local_today(cfg.indicators)
            for day in (today - timedelta(days=1), today):
                cycle(store, cfg, day)
            if stop.wait(cfg.indicators.interval_s):
                return
    finally:
        if fast is not None:
            stop.set()  # a full cycle that failed (bad master data) ends the process: the thread too
            fast.join(30)


def discipline_step(store: Store, cfg: CentralConfig, now: datetime | None = None) -> dict[str, int]:
    """The discipline loop's periodic step (``central.platform.discipline.step``), in the schools' zone."""
    discipline.ensure_tables(store)
    return discipline.step(store, cfg.discipline, ZoneInfo(cfg.indicators.timezone), now)
