"""The fleet view as a pure function of what central holds (docs/fleet.md).

Input: the registered stations, the master data (station → school, school →
name and district), a ``Snapshot`` of the store and the time. Output: one row
per station (state and since when, version, backlog and its age, last sync,
devices, open alerts, last doctor result, faults, whether it needs a visit),
the fleet-wide counts, and the rows that pass a filter. No I/O, so the rules
are tested directly and the API and the page show the same thing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from central.fleet.config import FleetSection
from central.fleet.store import Presence, Snapshot

DEVICES = ("scale", "camera", "thermometer")
FAULTS = ("offline", "silent", "never_seen", "scale", "camera", "thermometer", "disk", "clock", "backlog",
          "uplink", "update", "alerts", "doctor")
STATES = ("online", "offline", "silent", "never")
# Doctor checks only someone on site can fix (the rest can be fixed remotely).
LOCAL_CHECKS = {"key", "database", "replay", "scale", "camera", "disk"}


@dataclass(frozen=True)
class Places:
    """Where stations are: station → school, school → (name, district), from central's master data."""

    school_of: dict[str, str]
    schools: dict[str, dict[str, str]]

    def of(self, station: str) -> tuple[str, str, str]:
        school = self.school_of.get(station, "")
        info = self.schools.get(school, {})
        return school, info.get("name", ""), info.get("district", "")


def _age_s(at: str | None, now: datetime) -> float | None:
    if not at:
        return None
    try:
        return max(0.0, (now - datetime.fromisoformat(at.replace("Z", "+00:00"))).total_seconds())
    except ValueError:
        return None


def _obj(doc: dict[str, Any], key: str) -> dict[str, Any]:
    v = doc.get(key)
    return v if isinstance(v, dict) else {}


def _state(p: Presence | None, now: datetime, stale_s: float) -> tuple[str, str | None]:
    if p is None:
        return "never", None
    if not p.online:
        return "offline", p.since
    age = _age_s(p.last_seen, now)
    if age is not None and age > stale_s:
        return "silent", p.last_seen
    return "online", p.since


def devices(doc: dict[str, Any], cfg: FleetSection) -> dict[str, Any]:
    texts = _obj(doc, "devices")
    oks = _obj(doc, "devices_ok")
    out: dict[str, Any] = {}
    for name in DEVICES:
        if name in texts or name in oks:
            out[name] = {"state": str(texts.get(name, ""))[:200], "ok": oks.get(name)}
    free = doc.get("disk_free_bytes")
    if isinstance(free, int):
        out["disk"] = {"free_bytes": free, "ok": free >= cfg.low_disk_mb * 1_000_000}
    if isinstance(doc.get("clock_synced"), bool):
        out["clock"] = {"ok": doc["clock_synced"]}
    return out


def doctor_summary(d: dict[str, Any] | None, now: datetime, timeout_s: float) -> dict[str, Any] | None:
    if d is None:
        return None
    state = d["state"]
    if state == "requested" and (_age_s(d["requested_at"], now) or 0) > timeout_s:
        state = "timed_out"
    checks = (d.get("doctor") or {}).get("checks") or []
    failed = [c.get("check") for c in checks if isinstance(c, dict) and not c.get("ok")]
    return {"request_id": d["request_id"], "state": state, "requested_at": d["requested_at"],
            "requested_by": d["requested_by"], "received_at": d["received_at"], "ok": d["doctor_ok"],
            "failed": [str(f) for f in failed]}


def station_row(station: str, places: Places, snap: Snapshot, now: datetime,
                cfg: FleetSection) -> dict[str, Any]:
    doc = snap.statuses.get(station, {})
    p = snap.presence.get(station)
    state, since = _state(p, now, cfg.heartbeat_stale_s)
    school, school_name, district = places.of(station)
    backlog = _obj(doc, "backlog")
    bl_since = p.backlog_since if p is not None else None
    devs = devices(doc, cfg)
    uplink = doc.get("uplink") if isinstance(doc.get("uplink"), dict) else None
    update = doc.get("update") if isinstance(doc.get("update"), dict) else None
    doctor = doctor_summary(snap.diagnoses.get(station), now, cfg.diagnose_timeout_s)
    alerts = snap.alerts.get(station, [])
    row: dict[str, Any] = {
        "station_id": station, "school": school, "school_name": school_name, "district": district,
        "state": state, "since": since, "last_seen": None if p is None else p.last_seen,
        "version": doc.get("version"), "release": doc.get("release"), "update": update,
        "backlog": {"events": backlog.get("events"), "clips": backlog.get("clips"), "since": bl_since,
                    "age_s": _age_s(bl_since, now)},
        "last_sync": snap.last_sync.get(station), "devices": devs, "uplink": uplink,
        "alerts": alerts, "doctor": doctor,
    }
    faults = faults_of(row, cfg)
    reasons = visit_reasons(row, faults, now, cfg)
    row.update(faults=faults, needs_visit=bool(reasons), visit_reasons=reasons)
    return row


def faults_of(row: dict[str, Any], cfg: FleetSection) -> list[str]:
    out = []
    state = row["state"]
    if state in ("offline", "silent"):
        out.append(state)
    if state == "never":
        out.append("never_seen")
    out += [name for name, d in row["devices"].items() if d.get("ok") is False]
    bl = row["backlog"]
    if ((bl["events"] or 0) > cfg.backlog_events
            or (bl["age_s"] is not None and bl["age_s"] > cfg.backlog_age_min * 60)):
        out.append("backlog")
    if row["uplink"] is not None and row["uplink"].get("state") in ("refused", "rejected"):
        out.append("uplink")
    if row["update"] is not None and row["update"].get("step") in ("update.rolled_back", "update.failed"):
        out.append("update")
    if row["alerts"]:
        out.append("alerts")
    doc = row["doctor"]
    if doc is not None and (doc["ok"] is False or doc["state"] == "timed_out"):
        out.append("doctor")
    return [f for f in FAULTS if f in out]


def visit_reasons(row: dict[str, Any], faults: list[str], now: datetime, cfg: FleetSection) -> list[str]:
    """Why someone must go there: faults no remote action fixes."""
    out = []
    gone = _age_s(row["since"], now)
    away = row["state"] in ("offline", "silent")
    if away and gone is not None and gone >= cfg.visit_after_offline_min * 60:
        out.append(row["state"])
    if row["state"] == "never":
        out.append("never_seen")
    out += [f for f in ("scale", "camera", "thermometer", "disk") if f in faults]
    doc = row["doctor"]
    if doc is not None and doc["ok"] is False and LOCAL_CHECKS & set(doc["failed"]):
        out.append("doctor")
    return out


@dataclass(frozen=True)
class Filter:
    district: str | None = None
    school: str | None = None
    fault: str | None = None
    state: str | None = None
    visit: bool = False

    def __call__(self, row: dict[str, Any]) -> bool:
        return ((not self.district or row["district"] == self.district)
                and (not self.school or row["school"] == self.school)
                and (not self.fault or self.fault in row["faults"])
                and (not self.state or row["state"] == self.state)
                and (not self.visit or row["needs_visit"]))


def counts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    states = Counter(r["state"] for r in rows)
    return {"stations": len(rows), **{s: states.get(s, 0) for s in STATES},
            "needs_visit": sum(1 for r in rows if r["needs_visit"]),
            "faults": {f: sum(1 for r in rows if f in r["faults"]) for f in FAULTS},
            "versions": dict(sorted(Counter(str(r["version"] or "?") for r in rows).items())),
            "districts": dict(sorted(Counter(r["district"] or "" for r in rows).items()))}


def fleet(stations: list[str], places: Places, snap: Snapshot, now: datetime, cfg: FleetSection,
          flt: Filter) -> dict[str, Any]:
    """Fleet-wide counts (unfiltered) and the filtered rows, those needing a visit first."""
    every = sorted(set(stations) | set(snap.statuses))
    rows = [station_row(s, places, snap, now, cfg) for s in every]
    shown = sorted((r for r in rows if flt(r)),
                   key=lambda r: (not r["needs_visit"], r["district"], r["school"], r["station_id"]))
    return {"at": now.isoformat(timespec="seconds"), "counts": counts(rows),
            "filter": {k: v for k, v in flt.__dict__.items() if v},
            "districts": sorted({r["district"] for r in rows if r["district"]}),
            "schools": sorted({(r["school"], r["school_name"]) for r in rows if r["school"]}),
            "stations": shown}
