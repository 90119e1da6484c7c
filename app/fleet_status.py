"""What the station adds to its retained MQTT status for central's fleet view (docs/fleet.md).

The uplink (``sync``) may not read the station's tables or the updater's state
file itself, so the application hands it ``extras``: each device's ok flag
(``device_status``), the release the ``current`` link points at, and the last
update's outcome from ``update-state.json``. Reading them must never break the
status message: anything unreadable is simply left out.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

from app.update_config import UpdateSection
from core import log
from edge import device_status

logger = logging.getLogger("app.fleet_status")
OUTCOME_STEPS = {"update.applied", "update.rolled_back", "update.failed", "update.refused"}


def update_summary(state_doc: dict[str, Any]) -> dict[str, Any]:
    """The updater's state reduced to what central shows: the state and the last outcome step.

    ``state`` is the updater's (idle, started, ..., applied, rolled_back); ``step``
    is the last *outcome* step (applied, rolled_back, failed, refused) with its
    version, time and reason, so a station stuck mid-update still shows how the
    previous one ended.
    """
    steps = [s for s in state_doc.get("steps", []) if isinstance(s, dict)]
    last = next((s for s in reversed(steps) if s.get("step") in OUTCOME_STEPS), None)
    out: dict[str, Any] = {"state": str(state_doc.get("state") or "idle")[:32]}
    if last is not None:
        reason = last.get("reason") or "; ".join(str(f) for f in last.get("failures") or [])
        out.update(step=str(last["step"])[:64], version=_short(last.get("version")),
                   at=_short(last.get("at")), reason=(str(reason)[:500] or None))
    return out


def _short(v: Any) -> str | None:
    return None if v is None else str(v)[:64]


def current_release(root: Path) -> str | None:
    """The version the ``current`` link names; None on a station installed without releases."""
    try:
        return (root / "current").readlink().name[:64]
    except OSError:
        return None


def read_update_state(root: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads((root / "update-state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


class StatusExtras:
    """The callable the uplink calls for every status message."""

    def __init__(self, db: sqlite3.Connection, update: UpdateSection) -> None:
        self.db = db
        self.root = update.root

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {"release": current_release(self.root)}
        try:
            out["devices_ok"] = {r.device: r.ok for r in device_status.read_all(self.db)}
            state = read_update_state(self.root)
            if state is not None:
                out["update"] = update_summary(state)
        except Exception as exc:  # the status goes out without these rather than not at all
            log.kv(logger, logging.WARNING, "status extras unreadable", error=repr(exc))
        return out
