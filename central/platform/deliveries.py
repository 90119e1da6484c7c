"""Delivering stored warnings to each school's recipients, each once: the ``platform_deliveries``
table (owned here) records every (warning, channel, target) delivered, so a restart resends nothing
that was acknowledged.

A send that succeeded but whose record was lost (a crash between the two) is sent again on the next
run: delivery is at least once, and every message carries the warning id for the receiver to dedup.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from central.platform import channels
from central.platform import warnings as warning_table
from central.platform.config import DeliverySection, SchoolRecipients, WebhookSection
from central.platform.data import rfc3339
from central.store import Store
from contract.broker_config import BrokerSection
from core import log
from core.backoff import Backoff
from core.clock import now_rfc3339

logger = logging.getLogger("central.platform.deliveries")

DELIVERY_LOCK = "727017, hashtext(current_schema())"  # per schema: one store, one deliverer
DDL = """CREATE TABLE IF NOT EXISTS platform_deliveries (
    warning_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    delivered_at TEXT,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (warning_id, channel, target)
)"""


@dataclass(frozen=True)
class Target:
    channel: str  # mqtt, webhook, email
    target: str  # the topic, URL or address
    send: Callable[[dict[str, Any]], None]


def recipients(cfg: DeliverySection, school_id: str) -> SchoolRecipients | None:
    return cfg.schools.get(school_id) or cfg.schools.get("*")


def targets(cfg: DeliverySection, broker: BrokerSection, school_id: str) -> list[Target]:
    """Where one school's warnings go, from config."""
    r = recipients(cfg, school_id)
    if r is None:
        return []
    out = []
    if r.mqtt:
        out.append(Target("mqtt", channels.warning_topic(school_id),
                          lambda w: channels.send_mqtt(broker, w, cfg.timeout_s)))
    out += [Target("webhook", h.url, functools.partial(_webhook, h, cfg.timeout_s)) for h in r.webhooks]
    out += [Target("email", to, functools.partial(channels.send_email, cfg, to)) for to in r.emails]
    return out


def _webhook(hook: WebhookSection, timeout_s: float, warning: dict[str, Any]) -> None:
    channels.send_webhook(hook, warning, timeout_s)


def delivered(store: Store) -> set[tuple[str, str, str]]:
    return {(str(a), str(b), str(c)) for a, b, c in store.rows(
        "SELECT warning_id, channel, target FROM platform_deliveries WHERE delivered_at IS NOT NULL")}


def _note(store: Store, warning_id: str, t: Target, error: str | None) -> None:
    now = now_rfc3339()
    store._exec(
        "INSERT INTO platform_deliveries(warning_id, channel, target, delivered_at, attempts, last_error, "
        "updated_at) VALUES (?,?,?,?,1,?,?) ON CONFLICT (warning_id, channel, target) DO UPDATE SET "
        "delivered_at=excluded.delivered_at, attempts=platform_deliveries.attempts+1, "
        "last_error=excluded.last_error, updated_at=excluded.updated_at",
        (warning_id, t.channel, t.target, None if error else now, error, now))


def send_with_retries(store: Store, cfg: DeliverySection, warning: dict[str, Any], t: Target,
                      sleep: Callable[[float], None] = time.sleep) -> bool:
    """Try one target up to ``retries`` + 1 times with exponential backoff; record each attempt."""
    backoff = Backoff(cfg.backoff_min_s, cfg.backoff_max_s)
    for attempt in range(cfg.retries + 1):
        try:
            t.send(warning)
        except channels.SendError as exc:
            _note(store, warning["warning_id"], t, str(exc)[:500])
            log.kv(logger, logging.WARNING, "warning not delivered", warning_id=warning["warning_id"],
                   channel=t.channel, attempt=attempt + 1, error=str(exc))
            if attempt < cfg.retries:
                sleep(backoff.next())
            continue
        _note(store, warning["warning_id"], t, None)
        log.kv(logger, logging.INFO, "warning delivered", warning_id=warning["warning_id"], channel=t.channel)
        return True
    return False


def deliver_pending(store: Store, cfg: DeliverySection, broker: BrokerSection,
                    sleep: Callable[[float], None] = time.sleep) -> dict[str, int]:
    """Send every recent stored warning to every configured target it has not reached yet.

    On PostgreSQL one process at a time delivers (a session advisory lock); another finding it
    held skips this round (``busy``) rather than send the same warnings a second time.
    """
    warning_table.ensure_tables(store, (DDL,), lock=727016)
    if store.pg and not store.rows(f"SELECT pg_try_advisory_lock({DELIVERY_LOCK})")[0][0]:
        return {"sent": 0, "failed": 0, "busy": 1}
    try:
        done = delivered(store)
        counts = {"sent": 0, "failed": 0}
        cutoff = rfc3339(datetime.now(UTC) - timedelta(hours=cfg.max_age_h))
        for w in warning_table.warnings(store, since=cutoff):
            for t in targets(cfg, broker, w["school_id"]):
                if (w["warning_id"], t.channel, t.target) not in done:
                    counts["sent" if send_with_retries(store, cfg, w, t, sleep) else "failed"] += 1
        return counts
    finally:
        if store.pg:
            store.rows(f"SELECT pg_advisory_unlock({DELIVERY_LOCK})")
