"""The post-update health checks (docs/deployment.md, "Applying an update", step 5), and
whether a delivery is open (an update must not start then).

Each returns None when it passes, else what failed. ``scale_reachable`` and
``broker_reachable`` read what the restarted processes wrote after ``since`` (the
switch): the station's ``device_status`` row of the scale (written every 2 s by its
housekeeping) and the uplink's ``sync_state`` (``ok`` once it is connected to the
broker, rewritten by every new uplink process when it connects). A row from before
the switch is the old release's and proves nothing about the new one.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from app.config import StationConfig


def kiosk_url(cfg: StationConfig) -> str:
    """The kiosk on loopback (a wildcard listen address is reached there; the kiosk trusts that Host)."""
    host = "127.0.0.1" if cfg.web.host in ("0.0.0.0", "::", "") else cfg.web.host
    return f"http://{host}:{cfg.web.port}"


def delivery_open(cfg: StationConfig) -> bool | None:
    """Ask the running station's kiosk API; when it does not answer, replay the workflow from
    the journal (no station runs, so none can open one meanwhile). None: neither is readable."""
    try:
        with urllib.request.urlopen(f"{kiosk_url(cfg)}/api/state", timeout=3) as r:
            return json.load(r).get("delivery") is not None
    except (OSError, ValueError):
        return delivery_open_in_journal(cfg.station.data_dir / "station.db")


def delivery_open_in_journal(path: Path) -> bool | None:
    from core import db as dbmod
    from edge.journal import read_events
    from edge.workflow.driver import WORKFLOW_TYPES
    from edge.workflow.machine import replay
    if not path.exists():
        return None
    db = dbmod.connect(path)
    try:
        return replay(read_events(db, types=WORKFLOW_TYPES)).delivery is not None
    except Exception:  # an unreadable journal: the state is unknown
        return None
    finally:
        db.close()


def kiosk_answers(cfg: StationConfig) -> str | None:
    try:
        with urllib.request.urlopen(f"{kiosk_url(cfg)}/", timeout=3) as r:
            return None if r.status == 200 else f"HTTP {r.status}"
    except OSError as exc:
        return f"no answer: {exc}"


def journal_verifies(cfg: StationConfig) -> str | None:
    from contract.chain import public_key_from_hex
    from core import db as dbmod
    from edge.journal import meta
    from edge.verify import verify_db
    path = cfg.station.data_dir / "station.db"
    if not path.exists():
        return f"no journal at {path}"
    db = dbmod.connect(path)
    try:
        pub = meta(db, "public_key")
        if pub is None:
            return "no public key recorded"
        res = verify_db(db, public_key_from_hex(pub))
        return None if res.first_problem is None else str(res.first_problem)
    finally:
        db.close()


def _when(text: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def scale_reachable(db_path: Path, since: datetime) -> str | None:
    """The scale link is connected, as written by the station since ``since``."""
    from core import db as dbmod
    from edge import device_status
    if not db_path.exists():
        return f"no station database at {db_path}"
    db = dbmod.connect(db_path)
    try:
        row = next((r for r in device_status.read_all(db) if r.device == "scale"), None)
    finally:
        db.close()
    if row is None:
        return "the station has not reported its scale"
    at = _when(row.updated_at)
    if at is None or at < since:
        return f"no scale state from the new release yet (last {row.updated_at})"
    return None if row.ok else f"scale not connected: {row.state}"


def broker_reachable(db_path: Path, since: datetime) -> str | None:
    """The uplink connected to the broker (state ``ok``) since ``since``."""
    from core import db as dbmod
    from sync import state
    if not db_path.exists():
        return f"no station database at {db_path}"
    db = dbmod.connect(db_path)
    try:
        up = state.get_state(db).get("uplink") or {}
    finally:
        db.close()
    if not isinstance(up, dict) or not up:
        return "the uplink has not reported"
    at = _when(str(up.get("at")))
    if at is None or at < since:
        return f"the uplink has not connected since the restart (state {up.get('state')} at {up.get('at')})"
    return None if up.get("state") == "ok" else f"uplink {up.get('state')}: {up.get('error')}"
