"""The indicator engine: gather one day's inputs, run every indicator, store new warnings."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from central.platform import aggregates, integrity, records
from central.platform import warnings as warning_table
from central.platform.config import IndicatorsSection
from central.platform.data import (
    load_alerts,
    load_arrived_since,
    load_events,
    load_master,
    load_orders,
    load_payments,
    load_statuses,
)
from central.platform.model import Finding, Inputs
from central.store import Store
from core import log

logger = logging.getLogger("central.platform.engine")

Indicator = Callable[[Inputs], list[Finding]]
INDICATORS: tuple[Indicator, ...] = (
    records.price_above_order, records.price_above_contract, records.supplier_rejection_rate,
    records.delivery_outside_window, records.quantity_per_diner, records.split_orders,
    integrity.station_alerts, integrity.acceptance_without_clip, integrity.same_inspectors,
    integrity.late_arrival, integrity.clock_unsynced, integrity.chain_integrity, integrity.finance,
    integrity.offline_in_window,
)
# Indicators that need nothing but the alert itself: evaluated as soon as the alert arrives.
IMMEDIATE: tuple[Indicator, ...] = (integrity.station_alerts, integrity.chain_integrity)
HISTORY_DAYS = 31  # the longest look-back of any indicator (monthly finance, 30-day medians)


def gather(store: Store, t: IndicatorsSection, orders_dir: Path, day: date,
           as_of: datetime | None = None) -> Inputs:
    """Read everything the indicators of ``day`` need: every event of ``day`` and the next (the
    clips and arrivals that follow a day's records), and the stored summaries of the days before
    (``central.platform.aggregates``: brought up to date first, so late lines count)."""
    tz = ZoneInfo(t.timezone)
    first = day - timedelta(days=max(HISTORY_DAYS, t.same_inspectors_days))
    history = aggregates.history(store, t.timezone, first, day - timedelta(days=1))
    return Inputs(day=day, tz=tz, as_of=as_of or datetime.now(UTC),
                  events=load_events(store, day, day + timedelta(days=1), tz),
                  alerts=load_alerts(store, day, tz), orders=load_orders(orders_dir, day),
                  master=load_master(t.master_data_file), payments=load_payments(t.payments_csv), t=t,
                  statuses=load_statuses(store, day, tz), history=history)


def evaluate(inp: Inputs) -> list[Finding]:
    """Every indicator over the inputs (pure)."""
    return [f for indicator in INDICATORS for f in indicator(inp)]


def run_day(store: Store, t: IndicatorsSection, orders_dir: Path, day: date,
            as_of: datetime | None = None) -> list[Finding]:
    """Evaluate ``day`` and store its warnings; returns the ones not stored before."""
    warning_table.ensure_tables(store)
    started = datetime.now(UTC)
    inp = gather(store, t, orders_dir, day, as_of)
    found = evaluate(inp)
    new = warning_table.record(store, found)
    log.kv(logger, logging.INFO, "indicators evaluated", day=day.isoformat(), events=len(inp.events),
           history=len(inp.history), found=len(found), new=len(new),
           ms=int((datetime.now(UTC) - started).total_seconds() * 1000))
    return new


def local_today(t: IndicatorsSection) -> date:
    return datetime.now(ZoneInfo(t.timezone)).date()


def run_arrived(store: Store, t: IndicatorsSection, since: str,
                as_of: datetime | None = None) -> list[Finding]:
    """The ``IMMEDIATE`` indicators over the alerts that arrived at ``since`` or later; stores their
    warnings and returns the ones not stored before (the same ids as a full evaluation of their day)."""
    events, alerts = load_arrived_since(store, since)
    if not events and not alerts:
        return []
    tz = ZoneInfo(t.timezone)
    master = load_master(t.master_data_file)
    days = sorted({e.at.astimezone(tz).date() for e in events} | {a.raised_at.astimezone(tz).date()
                                                                     for a in alerts})
    found = []
    for day in days:
        inp = Inputs(day=day, tz=tz, as_of=as_of or datetime.now(UTC), events=events,
                     alerts=[a for a in alerts if a.raised_at.astimezone(tz).date() == day], orders={},
                     master=master, payments=[], t=t)
        found += [f for indicator in IMMEDIATE for f in indicator(inp)]
    return warning_table.record(store, found)
