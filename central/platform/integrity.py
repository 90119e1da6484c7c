"""Indicators over integrity, sync and finance: station alerts, clips, inspectors, lateness, clocks,
central's chain alerts, and the monthly accepted amount against payments.

Each is a pure function ``Inputs -> list[Finding]``; strictly beyond the threshold fires.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from central.platform.daily import EVIDENCE_CAP, window
from central.platform.model import DayAgg, Ev, Finding, Inputs
from central.platform.records import finding, refs, window_of

STATION_ALERTS = {"RETEST_AFTER_REJECT": "retest_after_reject",
                  "TEMP_TYPED_AFTER_REJECT": "temp_typed_after_reject"}


def station_alerts(inp: Inputs) -> list[Finding]:
    """The stations' own alerts of a re-test or a typed temperature after a rejection."""
    out = []
    for e in inp.today(("alert.raised",)):
        indicator = STATION_ALERTS.get(str(e.body.get("code")))
        if indicator is not None:
            out.append(finding(inp, indicator, e.station_id, f"{e.station_id}|{e.seq}",
                               str(e.body.get("message") or e.body.get("code")),
                               {"events": [e.ref()], "refs": e.body.get("refs") or []}))
    return out


def acceptance_without_clip(inp: Inputs) -> list[Finding]:
    """An accepted line with no ``clip.finalized`` for it ``clip_grace_min`` after the acceptance."""
    clips: dict[tuple[str, int], Ev] = {}
    for e in inp.events:
        if e.type in ("clip.finalized", "clip.missing") and isinstance(e.body.get("event_seq"), int):
            key = (e.station_id, int(e.body["event_seq"]))
            if e.type == "clip.finalized" or key not in clips:
                clips[key] = e
    out = []
    grace = timedelta(minutes=inp.t.clip_grace_min)
    for e in inp.today(("line.accepted",)):
        clip = clips.get((e.station_id, e.seq))
        if (clip is not None and clip.type == "clip.finalized") or e.at + grace >= inp.as_of:
            continue
        why = f"clip.missing: {clip.body.get('reason')}" if clip else "no clip record"
        line = f"line {e.body.get('line_id')} of {e.body.get('order_id')}"
        out.append(finding(inp, "acceptance_without_clip", e.station_id, f"{e.station_id}|{e.seq}",
                           f"{line} accepted without a clip ({why})",
                           {"events": [e.ref()] + ([clip.ref()] if clip else []),
                            "clip_id": e.body.get("clip_id")}))
    return out


def same_inspectors(inp: Inputs) -> list[Finding]:
    """The same two inspectors on every delivery of a station over ``same_inspectors_days`` days,
    with at least ``same_inspectors_min_deliveries`` deliveries, the first in the span's first week
    (from the days' summaries: each day's deliveries and their inspectors)."""
    days = inp.t.same_inspectors_days
    deliveries: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    first: dict[str, DayAgg] = {}
    for a in window(inp, days):  # by day: a station's first is its earliest day
        for delivery, names in a.deliveries.items():
            deliveries[a.station_id][delivery].update(names)
        first.setdefault(a.station_id, a)
    out = []
    start = inp.day - timedelta(days=days - 1)
    for station, by_delivery in sorted(deliveries.items()):
        pairs = {tuple(sorted(s)) for s in by_delivery.values()}
        if (len(pairs) != 1 or len(next(iter(pairs))) != 2
                or len(by_delivery) < inp.t.same_inspectors_min_deliveries
                or first[station].day > start + timedelta(days=6)):
            continue
        pair = next(iter(pairs))
        out.append(finding(inp, "same_inspectors", station, f"{station}|{','.join(pair)}|{inp.day}",
                           f"inspectors {pair[0]} and {pair[1]} on all {len(by_delivery)} deliveries "
                           f"in {days} days",
                           {"inspectors": list(pair), "deliveries": len(by_delivery),
                            "from": start.isoformat(), "events": [first[station].first]}))
    return out


def _per_station(inp: Inputs, indicator: str, bad: list[Ev], what: str) -> list[Finding]:
    groups: dict[str, list[Ev]] = defaultdict(list)
    for e in bad:
        groups[e.station_id].append(e)
    return [finding(inp, indicator, s, f"{s}|{inp.day}", f"{len(evs)} events {what}",
                    {"count": len(evs), "events": refs(sorted(evs, key=lambda e: e.seq))})
            for s, evs in sorted(groups.items())]


def late_arrival(inp: Inputs) -> list[Finding]:
    """Events received more than ``late_arrival_h`` hours after they happened (one per station-day)."""
    limit = timedelta(hours=inp.t.late_arrival_h)
    bad = [e for e in inp.today() if e.received_at - e.at > limit]
    return _per_station(inp, "late_arrival", bad, f"arrived more than {inp.t.late_arrival_h} h late")


def clock_unsynced(inp: Inputs) -> list[Finding]:
    """Events the station appended with ``clock_synced`` false (their ``at`` is not trustworthy)."""
    bad = [e for e in inp.today() if not e.clock_synced]
    return _per_station(inp, "clock_unsynced", bad, "appended with an unsynchronised clock")


def chain_integrity(inp: Inputs) -> list[Finding]:
    """Every alert central's ingest raised on the day: a refused batch, an altered or forged event."""
    return [finding(inp, "chain_integrity", a.station_id, a.alert_id, f"{a.code}: {a.message}",
                    {"alert_id": a.alert_id, "code": a.code, "seq": a.seq,
                     "raised_at": a.raised_at.isoformat()})
            for a in sorted(inp.alerts, key=lambda a: (a.raised_at, a.alert_id))]


def finance(inp: Inputs) -> list[Finding]:
    """Per school and supplier, the month's accepted amount against the imported payments; only for
    months (of ``day``) the payments file covers for that school. The amounts come from the days'
    summaries; the evidence names the first lines of each station-day (``FINANCE_REFS_PER_DAY``)."""
    if not inp.payments:
        return []
    month = inp.day.strftime("%Y-%m")
    paid: dict[tuple[str, str], int] = defaultdict(int)
    for p in inp.payments:
        if p.month == month:
            paid[(p.school_id, p.supplier_id)] += p.amount_fen
    schools = {s for s, _ in paid}
    accepted: dict[tuple[str, str], int] = defaultdict(int)
    lines: dict[tuple[str, str], int] = defaultdict(int)
    named: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for agg in window(inp, 31):
        if (agg.day.year, agg.day.month) != (inp.day.year, inp.day.month):
            continue
        for supplier, s in agg.suppliers.items():
            key = (inp.master.school_of(agg.station_id), supplier)
            if s.priced and key[0] in schools:
                accepted[key] += s.accepted_fen
                lines[key] += s.priced
                named[key] += s.priced_refs
    out = []
    for key in sorted(set(paid) | set(accepted)):
        a, pay = accepted.get(key, 0), paid.get(key, 0)
        if abs(a - pay) <= inp.t.finance_tolerance_fen:
            continue
        station = named[key][0]["station_id"] if named[key] else key[0]
        out.append(finding(inp, "finance", station, f"{key[0]}|{key[1]}|{month}",
                           f"supplier {key[1]} {month}: accepted {a} fen, paid {pay} fen",
                           {"supplier_id": key[1], "month": month, "accepted_fen": a, "paid_fen": pay,
                            "lines": lines[key], "events": named[key][:EVIDENCE_CAP]}, key[0]))
    return out


def merged(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """Overlapping or touching spans joined, in order (pure)."""
    out: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        elif start < end:
            out.append((start, end))
    return out


def offline_spans(changes: list[tuple[datetime, bool]], start: datetime,
                  end: datetime) -> list[tuple[datetime, datetime]]:
    """Where ``[start, end)`` falls while the last change said offline. Before the first change
    central knows nothing, so that part never counts."""
    state: bool | None = None
    cursor = start
    out = []
    for at, online in changes:
        if at <= start:
            state = online
            continue
        if at >= end:
            break
        if state is False:
            out.append((cursor, at))
        state, cursor = online, at
    if state is False and cursor < end:
        out.append((cursor, end))
    return out


def offline_in_window(inp: Inputs) -> list[Finding]:
    """A station offline (status ``online: false``, or its LWT) for more than ``offline_window_min``
    minutes in all of the day's delivery windows of its orders, up to ``as_of``."""
    out = []
    for station, orders in sorted(inp.orders.items()):
        changes = inp.statuses.get(station)
        if not changes:
            continue
        windows = merged([(a.replace(tzinfo=inp.tz), min(b.replace(tzinfo=inp.tz), inp.as_of))
                          for a, b in filter(None, (window_of(o, inp.day) for o in orders))])
        spans = [s for a, b in windows for s in offline_spans(changes, a, b)]
        minutes = sum((b - a).total_seconds() for a, b in spans) / 60
        if minutes <= inp.t.offline_window_min:
            continue
        out.append(finding(inp, "station_offline_in_window", station, f"{station}|{inp.day}",
                           f"station offline {minutes:.0f} min during its delivery windows",
                           {"offline_minutes": round(minutes, 1),
                            "windows": [[a.isoformat(timespec="minutes"), b.isoformat(timespec="minutes")]
                                        for a, b in windows],
                            "offline": [[a.astimezone(inp.tz).isoformat(timespec="seconds"),
                                         b.astimezone(inp.tz).isoformat(timespec="seconds")]
                                        for a, b in spans]}))
    return out
