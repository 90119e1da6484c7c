"""Delivering stored warnings to each school's recipients, each once: the ``platform_deliveries``
table (owned here) records every (warning, channel, target) delivered, so a restart resends nothing
that was acknowledged.

A send that succeeded but whose record was lost (a crash between the two) is sent again on the next
run: delivery is at least once, and every message carries the warning id for the receiver to dedup.

Several engine processes (on several machines) deliver side by side: each (warning, channel, target)
is *claimed* in its row before it is sent (``claim``: one atomic upsert that succeeds only when the
row is undelivered and unclaimed or its lease ran out), so two processes never send the same message
at once, and a process that died mid-send leaves a lease that expires for another to take over.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
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

DDL = """CREATE TABLE IF NOT EXISTS platform_deliveries (
    warning_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    delivered_at TEXT,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    updated_at TEXT NOT NULL,
    claimed_by TEXT,
    claimed_until TEXT,
    PRIMARY KEY (warning_id, channel, target)
)"""
CLAIM_COLUMNS = ("claimed_by", "claimed_until")  # added after the first release: migrated in ``ensure``
HOLDER = f"{socket.gethostname()[:64]}:{os.getpid()}"


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


def ensure(store: Store) -> None:
    """Create the table, or add the claim columns to one created before them (idempotent)."""
    warning_table.ensure_tables(store, (DDL,), lock=727016)
    with store.transaction():
        if store.pg:
            for c in CLAIM_COLUMNS:
                store._exec(f"ALTER TABLE platform_deliveries ADD COLUMN IF NOT EXISTS {c} TEXT")
            return
        have = {str(r[1]) for r in store.rows("PRAGMA table_info(platform_deliveries)")}
        for c in CLAIM_COLUMNS:
            if c not in have:
                store._exec(f"ALTER TABLE platform_deliveries ADD COLUMN {c} TEXT")


def lease_s(cfg: DeliverySection) -> float:
    """How long a claim holds: every attempt timing out and every backoff at its longest, plus slack."""
    return (cfg.retries + 1) * cfg.timeout_s + cfg.retries * cfg.backoff_max_s + 30.0


def claim(store: Store, warning_id: str, t: Target, lease: float, holder: str = HOLDER) -> bool:
    """Take (warning, channel, target) for sending; False when delivered or held by a live claim.

    One statement, so it is atomic on both stores: PostgreSQL locks the conflicting row and re-checks
    the condition on its latest version; SQLite runs one writer at a time.
    """
    now = datetime.now(UTC)
    rows = store.rows(
        "INSERT INTO platform_deliveries(warning_id, channel, target, delivered_at, attempts, last_error, "
        "updated_at, claimed_by, claimed_until) VALUES (?,?,?,NULL,0,NULL,?,?,?) "
        "ON CONFLICT (warning_id, channel, target) DO UPDATE SET claimed_by=excluded.claimed_by, "
        "claimed_until=excluded.claimed_until WHERE platform_deliveries.delivered_at IS NULL AND "
        "(platform_deliveries.claimed_until IS NULL OR platform_deliveries.claimed_until < ?) "
        "RETURNING warning_id",
        (warning_id, t.channel, t.target, now_rfc3339(now), holder,
         now_rfc3339(now + timedelta(seconds=lease)), now_rfc3339(now)))
    return bool(rows)


def _release(store: Store, warning_id: str, t: Target, holder: str = HOLDER) -> None:
    store._exec("UPDATE platform_deliveries SET claimed_by=NULL, claimed_until=NULL WHERE warning_id=? "
                "AND channel=? AND target=? AND claimed_by=?", (warning_id, t.channel, t.target, holder))


def delivered(store: Store, since: str = "") -> set[tuple[str, str, str]]:
    """What was delivered, of the warnings created at ``since`` or later."""
    return {(str(a), str(b), str(c)) for a, b, c in store.rows(
        "SELECT d.warning_id, d.channel, d.target FROM platform_deliveries d JOIN platform_warnings w "
        "ON w.warning_id = d.warning_id WHERE d.delivered_at IS NOT NULL AND w.created_at >= ?", (since,))}


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
    """Try one target up to ``retries`` + 1 times with exponential backoff; record each attempt.

    The caller holds the target's claim; it is released at the end (delivered or given up)."""
    backoff = Backoff(cfg.backoff_min_s, cfg.backoff_max_s)
    try:
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
            log.kv(logger, logging.INFO, "warning delivered", warning_id=warning["warning_id"],
                   channel=t.channel)
            return True
        return False
    finally:
        _release(store, warning["warning_id"], t)


def deliver(store: Store, cfg: DeliverySection, broker: BrokerSection, warnings: list[dict[str, Any]],
            done: set[tuple[str, str, str]] | None = None,
            sleep: Callable[[float], None] = time.sleep) -> dict[str, int]:
    """Send each warning to each of its targets not delivered yet and not claimed by another process."""
    counts = {"sent": 0, "failed": 0}
    lease = lease_s(cfg)
    for w in warnings:
        for t in targets(cfg, broker, w["school_id"]):
            if done is not None and (w["warning_id"], t.channel, t.target) in done:
                continue
            if not claim(store, w["warning_id"], t, lease):
                counts["claimed_elsewhere"] = counts.get("claimed_elsewhere", 0) + 1
                continue
            counts["sent" if send_with_retries(store, cfg, w, t, sleep) else "failed"] += 1
    return counts


def deliver_pending(store: Store, cfg: DeliverySection, broker: BrokerSection,
                    sleep: Callable[[float], None] = time.sleep) -> dict[str, int]:
    """Send every recent stored warning to every configured target it has not reached yet.

    Targets already delivered are skipped by one read; each remaining one is claimed first, so a
    target another process is sending to (or has just sent to) counts as ``claimed_elsewhere``.
    """
    ensure(store)
    cutoff = rfc3339(datetime.now(UTC) - timedelta(hours=cfg.max_age_h))
    return deliver(store, cfg, broker, warning_table.warnings(store, since=cutoff),
                   delivered(store, cutoff), sleep)
