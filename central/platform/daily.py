"""Per-station, per-day summaries of the decided lines: what the rolling indicators need of a day.

The rolling indicators (30-day medians of grams per diner, the same two inspectors for 30 days, the
weekly rejection rate, the month's accepted amounts) used to read every line event of up to 31 days.
A day's lines reduce to one small ``DayAgg`` (model) per station; ``summarise`` makes them, and
is the only way they are made, so the evaluated day (summarised from its events in memory) and the
days before it (stored by ``central.platform.aggregates``) are the same function's output.
Everything here is pure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from central.platform.model import DayAgg, Ev, Inputs, SupplierDay, part

LINES = ("line.accepted", "line.rejected")
EVIDENCE_CAP = 100  # events named in one warning's evidence (also per supplier-day's rejections)
# The finance warning names a sample of the month's accepted lines: the first few of each station-day
# (a month's lines of a school run to thousands; keeping them all would be the events again).
FINANCE_REFS_PER_DAY = 3
ALL_DAYS = 3660


def supplier_of(e: Ev) -> str:
    sup = part(e.body, "supplier")
    return str(e.body.get("delivered_by") or sup.get("supplier_id") or "?")


def summarise(dated: Iterable[tuple[date, Ev]]) -> list[DayAgg]:
    """One ``DayAgg`` per (station, local day) of the given line events, ordered by day and station.

    ``dated`` pairs each event with its local day (``Inputs.dated``); other types are ignored."""
    groups: dict[tuple[date, str], list[Ev]] = {}
    for day, e in dated:
        if e.type in LINES:
            groups.setdefault((day, e.station_id), []).append(e)
    out = []
    for (day, station), evs in sorted(groups.items()):
        evs.sort(key=lambda e: e.seq)
        a = DayAgg(station, day, len(evs), evs[-1].seq, first=min(evs, key=lambda e: (e.at, e.seq)).ref())
        inspectors: dict[str, set[str]] = {}
        for e in evs:
            listed = e.body.get("inspectors")
            inspectors.setdefault(str(e.body.get("delivery_id")), set()).update(
                map(str, listed if isinstance(listed, list) else []))
            s = a.suppliers.setdefault(supplier_of(e), SupplierDay())
            s.lines += 1
            if e.type == "line.rejected":
                s.rejected += 1
                if len(s.rejected_refs) < EVIDENCE_CAP:
                    s.rejected_refs.append(e.ref())
                continue
            cat, net = part(e.body, "item").get("category"), part(e.body, "measured").get("net_g")
            if isinstance(cat, str) and isinstance(net, int):
                a.grams[cat] = a.grams.get(cat, 0) + net
            amount = part(e.body, "price").get("amount_fen")
            if isinstance(amount, int):
                s.accepted_fen += amount
                s.priced += 1
                if len(s.priced_refs) < FINANCE_REFS_PER_DAY:
                    s.priced_refs.append(e.ref())
        a.deliveries = {d: sorted(names) for d, names in inspectors.items()}
        out.append(a)
    return out


def window(inp: Inputs, days: int) -> list[DayAgg]:
    """The station-days of the ``days`` local days ending with ``inp.day``, ordered by day and station:
    the stored ones (``inp.history``) and those summarised from ``inp.events`` (computed once)."""
    own = inp.memo.get("daily")
    if own is None:  # every day the events cover up to ``inp.day`` (the engine gives it D alone)
        own = inp.memo["daily"] = summarise(inp.dated(ALL_DAYS, LINES))
    first = inp.day - timedelta(days=days - 1)
    return sorted((a for a in [*inp.history, *own] if first <= a.day <= inp.day),
                  key=lambda a: (a.day, a.station_id))


# -- storage form (the ``data`` column of ``platform_day_aggregates``) ----------------------------
def _ref(station: str, typ: str, r: list[Any]) -> dict[str, Any]:
    return {"station_id": station, "seq": int(r[0]), "hash": str(r[1]), "type": typ}


def to_json(a: DayAgg) -> str:
    """The compact text of a row (refs as ``[seq, hash]``: the station and type are implied)."""
    return json.dumps({
        "grams": a.grams, "deliveries": a.deliveries,
        "first": [a.first.get("seq"), a.first.get("hash"), a.first.get("type")],
        "suppliers": {k: [s.lines, s.rejected, s.accepted_fen, s.priced,
                          [[r["seq"], r["hash"]] for r in s.rejected_refs],
                          [[r["seq"], r["hash"]] for r in s.priced_refs]] for k, s in a.suppliers.items()},
    }, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def from_json(station: str, day: date, lines: int, max_seq: int, text: str) -> DayAgg:
    d = json.loads(text)
    seq, hsh, typ = d["first"]
    sups = {k: SupplierDay(v[0], v[1], v[2], v[3], [_ref(station, "line.rejected", r) for r in v[4]],
                           [_ref(station, "line.accepted", r) for r in v[5]])
            for k, v in d["suppliers"].items()}
    return DayAgg(station, day, lines, max_seq, {str(k): int(v) for k, v in d["grams"].items()},
                  {str(k): [str(n) for n in v] for k, v in d["deliveries"].items()},
                  _ref(station, str(typ), [seq, hsh]), sups)
