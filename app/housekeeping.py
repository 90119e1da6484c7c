"""The station's housekeeping round (every few seconds, one thread).

Adopts the orders and the roster the uplink fetched (``orders.loaded``,
``roster.loaded``), signs everyone out when the kiosk sat idle, turns central's
rejection recorded by the uplink into one ``alert.raised``, shows the uplink's
state and backlog on the kiosk, shows the data disk's state, and writes the
device states to ``device_status`` for the uplink's status message, ``doctor``
and ``status`` (not below the journal's reserve: that space is the journal's).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from app.disk import MB, disk_state, free_bytes
from app.sync_badge import sync_badge
from core import log
from edge import device_status
from edge.journal import Journal, JournalReader
from edge.orders import store
from edge.roster import store as roster_store
from edge.workflow.model import IdleCheck

logger = logging.getLogger("app.station")
STATUS_EVERY_S = 5.0  # device_status rows are rewritten at least this often (doctor: 30 s)


def housekeep(station: Any) -> None:
    from sync import state as sync_state

    j, orders = station.journal, station.orders
    assert j is not None and orders is not None
    for day in orders.days():
        if store.adopt_pending(j, day) is not None:
            station.hub.bump()
    if roster_store.adopt_pending(j) is not None:
        station.hub.bump()
    station.handle(IdleCheck())  # signs everyone out after [receiving] idle_signout_s
    last = j.last_seq()
    cursor = sync_state.get_cursor(j.db, station.cfg.station.station_id)
    backlog = max(0, last - cursor)
    facts = sync_state.get_state(j.db)
    alert_rejection(j, facts.get("last_rejection"))
    oldest = JournalReader(j.db).at_of(cursor + 1) if backlog else None
    badge = sync_badge(facts, backlog, oldest, datetime.now(UTC))
    station.devices.set("sync", badge.pop("ok"), badge.pop("text"), **badge)
    reserve = station.cfg.station.journal_reserve_mb
    free = free_bytes(station.cfg.station.data_dir)
    disk_ok, text = disk_state(free, reserve, j.disk_full)
    station.devices.set("disk", disk_ok, text, free_mb=free // MB)
    states = station.devices.snapshot()
    written = station.status_written
    now = time.monotonic()
    # A round each second (the kiosk's badges); the table only on a change or every 5 s.
    fresh = written is not None and written[0] == states and now - written[1] < STATUS_EVERY_S
    if free >= reserve * MB and not fresh:  # below the reserve only the journal may write
        with j.transaction_raw() as conn:
            device_status.write_all(conn, states)
        station.status_written = (states, now)
    station.hub.bump()


def alert_rejection(j: Journal, rejection: dict[str, Any] | None) -> None:
    """Central rejected a batch (the uplink's state): one ``alert.raised`` per rejection."""
    if not rejection:
        return
    first, last = int(rejection.get("first_seq", 0)), int(rejection.get("last_seq", 0))
    ev = j.append_once("alert.raised", {
        "code": "SYNC_REJECTED", "severity": "error",
        "message": f"central rejected events {first}..{last}: {rejection.get('error')}"[:2000],
        "refs": list(range(first, last + 1))[:100], "rejection_at": rejection.get("at"),
    }, {"code": "SYNC_REJECTED", "rejection_at": rejection.get("at")})
    if ev is not None:
        log.kv(logger, logging.ERROR, "central rejected a batch", first_seq=first, last_seq=last)
