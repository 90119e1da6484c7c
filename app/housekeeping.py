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
from typing import Any

from app.disk import MB, disk_state, free_bytes
from core import log
from edge import device_status
from edge.journal import Journal
from edge.orders import store
from edge.roster import store as roster_store
from edge.workflow.model import IdleCheck

logger = logging.getLogger("app.station")

UPLINK_TEXT = {"connected": "已连接", "ok": "已连接", "disconnected": "未连接",
               "refused": "被拒绝", "rejected": "中心拒收", "connecting": "连接中"}


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
    backlog = max(0, last - sync_state.get_cursor(j.db, station.cfg.station.station_id))
    facts = sync_state.get_state(j.db)
    alert_rejection(j, facts.get("last_rejection"))
    up = facts.get("uplink") or {}
    up_state = str(up.get("state", "未启动"))
    ok = up_state in ("connected", "ok") and backlog < 50
    station.devices.set("sync", ok, f"{UPLINK_TEXT.get(up_state, up_state)} 积压 {backlog}",
                        backlog=backlog)
    reserve = station.cfg.station.journal_reserve_mb
    free = free_bytes(station.cfg.station.data_dir)
    disk_ok, text = disk_state(free, reserve, j.disk_full)
    station.devices.set("disk", disk_ok, text, free_mb=free // MB)
    if free >= reserve * MB:  # below the reserve only the journal may write
        with j.transaction_raw() as conn:
            device_status.write_all(conn, station.devices.snapshot())
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
