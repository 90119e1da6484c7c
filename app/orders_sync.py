"""The uplink's scheduled fetch of today's and tomorrow's orders (docs/contract.md §1).

Runs in its own thread with its own DB connection so a slow API never delays
the MQTT loop. It caches valid documents with ``store_fetched`` and records
refusals with ``refuse_fetched``; the station adopts them (``adopt_pending``),
because only the station appends journal events.
"""

from __future__ import annotations

import logging
import threading
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.config import StationConfig
from core import log
from core.db import connect
from core.http import make_session
from core.threads import Periodic
from edge.orders import store
from edge.orders.fetch import FetchError, fetch, parse_body
from edge.orders.model import OrdersRefused

logger = logging.getLogger("sync.orders")


def local_days(tz: str, now: datetime | None = None) -> list[str]:
    """Today's and tomorrow's dates in the school's time zone."""
    today: date = (now or datetime.now(ZoneInfo(tz))).astimezone(ZoneInfo(tz)).date()
    return [today.isoformat(), (today + timedelta(days=1)).isoformat()]


def fetch_once(cfg: StationConfig, days: list[str]) -> dict[str, str]:
    """Fetch each day once; returns day -> unchanged | cached | refused | error."""
    db = connect(cfg.station.db_path)
    session = make_session(cfg.orders.retries, cfg.orders.token_file, cfg.orders.ca_file)
    sid = cfg.station.station_id
    out: dict[str, str] = {}
    try:
        for day in days:
            try:
                res = fetch(session, cfg.orders.api_url, sid, day, store.stored_etag(db, day),
                            cfg.orders.timeout_s)
            except FetchError as exc:
                log.kv(logger, logging.WARNING, "orders fetch failed", delivery_date=day, error=str(exc))
                out[day] = "error"
                continue
            if res.status == "not-modified":
                out[day] = "unchanged"
                continue
            try:
                doc = parse_body(res.body, sid, day)
            except OrdersRefused as exc:
                store.refuse_fetched(db, day, res.body)
                log.kv(logger, logging.WARNING, "orders refused", delivery_date=day, reason=str(exc))
                out[day] = "refused"
                continue
            sha = store.store_fetched(db, doc, res.etag)
            log.kv(logger, logging.INFO, "orders cached", delivery_date=day, sha256=sha[:12])
            out[day] = "cached"
    finally:
        session.close()
        db.close()
    return out


def fetch_roster_once(cfg: StationConfig) -> str:
    """Fetch the station's roster with the orders' API settings (cached like orders)."""
    from edge.roster.fetch import fetch_roster

    db = connect(cfg.station.db_path)
    session = make_session(cfg.orders.retries, cfg.orders.token_file, cfg.orders.ca_file)
    try:
        return fetch_roster(db, session, cfg.orders.api_url, cfg.station.station_id,
                            cfg.orders.timeout_s)
    finally:
        session.close()
        db.close()


class OrdersFetcher(Periodic):
    """Fetch on the ``[orders] refresh_minutes`` schedule, and at once when triggered."""

    def __init__(self, cfg: StationConfig, stop: threading.Event, trigger: threading.Event,
                 results: dict[str, str], extra_days: set[str] | None = None) -> None:
        super().__init__("orders-fetch", self.fetch_due, cfg.orders.refresh_minutes * 60,
                         stop=stop, wake=trigger)
        self.cfg, self.results = cfg, results
        self.extra_days = extra_days if extra_days is not None else set()

    def fetch_due(self) -> None:
        days = local_days(self.cfg.station.timezone)
        while self.extra_days:  # dates named by orders.refresh commands, once each
            day = self.extra_days.pop()
            if day not in days:
                days.append(day)
        self.results.update(fetch_once(self.cfg, days))
        self.results["roster"] = fetch_roster_once(self.cfg)
