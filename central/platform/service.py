"""One cycle of the platform: evaluate a day's indicators, then deliver every undelivered warning."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from central.config import CentralConfig
from central.platform import deliveries, discipline, engine
from central.store import Store


def cycle(store: Store, cfg: CentralConfig, day: date) -> dict[str, Any]:
    """Evaluate ``day``, store its new warnings, open their cases and escalate overdue ones, and
    (when enabled) deliver what is pending."""
    new = engine.run_day(store, cfg.indicators, cfg.http.orders_dir, day)
    out: dict[str, Any] = {"day": day.isoformat(), "new_warnings": [f.warning_id for f in new]}
    out["discipline"] = discipline_step(store, cfg)
    if cfg.warnings.enabled:
        out["delivery"] = deliveries.deliver_pending(store, cfg.warnings, cfg.broker)
    return out


def periodic(store: Store, cfg: CentralConfig, stop: threading.Event) -> None:
    """Every ``interval_s``: yesterday (late arrivals, clips) and today, until ``stop``."""
    while True:
        today = engine.local_today(cfg.indicators)
        for day in (today - timedelta(days=1), today):
            cycle(store, cfg, day)
        if stop.wait(cfg.indicators.interval_s):
            return


def discipline_step(store: Store, cfg: CentralConfig, now: datetime | None = None) -> dict[str, int]:
    """The discipline loop's periodic step (``central.platform.discipline.step``), in the schools' zone."""
    discipline.ensure_tables(store)
    return discipline.step(store, cfg.discipline, ZoneInfo(cfg.indicators.timezone), now)
