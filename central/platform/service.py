"""One cycle of the platform: evaluate a day's indicators, then deliver every undelivered warning."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from typing import Any

from central.config import CentralConfig
from central.platform import deliveries, engine
from central.store import Store


def cycle(store: Store, cfg: CentralConfig, day: date) -> dict[str, Any]:
    """Evaluate ``day``, store its new warnings and (when enabled) deliver what is pending."""
    new = engine.run_day(store, cfg.indicators, cfg.http.orders_dir, day)
    out: dict[str, Any] = {"day": day.isoformat(), "new_warnings": [f.warning_id for f in new]}
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
