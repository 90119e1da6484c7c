"""Indicators over the acceptance records: price, quantity, supplier, window, split orders.

Each is a pure function ``Inputs -> list[Finding]``; a finding fires strictly beyond its threshold
(a value exactly on the bound is silent).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from fractions import Fraction
from statistics import median
from typing import Any

from central.platform.daily import EVIDENCE_CAP, LINES, supplier_of, window
from central.platform.model import Ev, Finding, Inputs, SupplierDay, part


def finding(inp: Inputs, indicator: str, station_id: str, key: str, message: str,
            evidence: dict[str, Any], school_id: str | None = None) -> Finding:
    return Finding(indicator, station_id, school_id or inp.master.school_of(station_id), inp.day.isoformat(),
                   key, message, evidence)


def refs(events: list[Ev]) -> list[dict[str, Any]]:
    return [e.ref() for e in events[:EVIDENCE_CAP]]


def price_above_order(inp: Inputs) -> list[Finding]:
    """Delivered unit price above the order's, on any decided line (a rejected line counts)."""
    out = []
    for e in inp.today(LINES):
        p = part(e.body, "price")
        o, d = p.get("ordered_unit_price_fen"), p.get("delivered_unit_price_fen")
        if not (isinstance(o, int) and isinstance(d, int)):
            continue
        if d * 100 <= o * (100 + inp.t.price_over_order_pct):
            continue
        out.append(finding(inp, "price_above_order", e.station_id, f"{e.station_id}|{e.seq}",
                           f"delivered unit price {d} fen above the order's {o} fen ({e.type})",
                           {"events": [e.ref()], "order_id": e.body.get("order_id"),
                            "line_id": e.body.get("line_id"), "supplier_id": supplier_of(e),
                            "ordered_unit_price_fen": o, "delivered_unit_price_fen": d}))
    return out


def price_above_contract(inp: Inputs) -> list[Finding]:
    """The order's unit price above the contract (tender) price in master data, once per order line."""
    if not inp.master.contract_prices:
        return []
    lines: dict[tuple[str, str, str], list[Ev]] = defaultdict(list)
    for e in inp.today(LINES):
        lines[(e.station_id, str(e.body.get("order_id")), str(e.body.get("line_id")))].append(e)
    out = []
    for (station, order_id, line_id), evs in sorted(lines.items()):
        e = evs[0]
        code = part(e.body, "item").get("code")
        contract = inp.master.contract_prices.get((supplier_of(e), str(code)))
        p = part(e.body, "price")
        o = p.get("ordered_unit_price_fen")
        if contract is None or not isinstance(o, int) or p.get("price_per") != contract.price_per:
            continue
        if o * 100 <= contract.unit_price_fen * (100 + inp.t.price_over_contract_pct):
            continue
        out.append(finding(inp, "price_above_contract", station, f"{station}|{order_id}|{line_id}",
                           f"order price {o} fen/{contract.price_per} above the contract's "
                           f"{contract.unit_price_fen} fen for {code}",
                           {"events": refs(evs), "order_id": order_id, "line_id": line_id,
                            "supplier_id": contract.supplier_id, "item_code": code,
                            "ordered_unit_price_fen": o, "contract_unit_price_fen": contract.unit_price_fen}))
    return out


def supplier_rejection_rate(inp: Inputs) -> list[Finding]:
    """Per school and supplier, rejected decided lines over the last 7 days above the threshold
    (from the days' summaries, ``central.platform.daily``)."""
    groups: dict[tuple[str, str], list[SupplierDay]] = defaultdict(list)
    for a in window(inp, 7):
        for supplier, s in a.suppliers.items():
            groups[(inp.master.school_of(a.station_id), supplier)].append(s)
    out = []
    for (school, supplier), days in sorted(groups.items()):
        total, rejected = sum(s.lines for s in days), sum(s.rejected for s in days)
        if total < inp.t.rejection_min_lines or rejected * 100 <= inp.t.rejection_rate_pct * total:
            continue
        named = [r for s in days for r in s.rejected_refs][:EVIDENCE_CAP]
        out.append(finding(inp, "supplier_rejection_rate", named[0]["station_id"],
                           f"{school}|{supplier}|{inp.day}",
                           f"supplier {supplier}: {rejected} of {total} lines rejected in 7 days",
                           {"supplier_id": supplier, "lines": total, "rejected": rejected,
                            "events": named}, school))
    return out


def window_of(order: Any, day: date) -> tuple[datetime, datetime] | None:
    """The order's agreed delivery window on ``day`` as naive local times (None: no HH:MM window)."""
    window = part(order, "window")
    try:
        return (datetime.combine(day, datetime.strptime(str(window["from"]), "%H:%M").time()),
                datetime.combine(day, datetime.strptime(str(window["to"]), "%H:%M").time()))
    except (KeyError, ValueError):
        return None


def delivery_outside_window(inp: Inputs) -> list[Finding]:
    """A delivery opened more than ``window_grace_min`` outside its order's agreed window."""
    out = []
    grace = timedelta(minutes=inp.t.window_grace_min)
    for e in inp.today(("delivery.opened",)):
        order = next((o for o in inp.orders.get(e.station_id, [])
                      if o.get("order_id") == e.body.get("order_id")), None)
        agreed = window_of(order, inp.day)
        if agreed is None:  # no window, or not HH:MM: nothing to judge against
            continue
        window = part(order, "window")
        local = e.at.astimezone(inp.tz).replace(tzinfo=None)
        if agreed[0] - grace <= local <= agreed[1] + grace:
            continue
        out.append(finding(inp, "delivery_outside_window", e.station_id, f"{e.station_id}|{e.seq}",
                           f"delivery opened at {local:%H:%M:%S}, window {window['from']}–{window['to']}",
                           {"events": [e.ref()], "order_id": e.body.get("order_id"),
                            "delivery_id": e.body.get("delivery_id"), "window": window,
                            "opened_local": local.isoformat(timespec="seconds")}))
    return out


def quantity_per_diner(inp: Inputs) -> list[Finding]:
    """Accepted grams per diner per category outside ±band of the school's own 30-day median (the
    grams per day from the days' summaries; the evidence names the day's lines)."""
    if not inp.master.diners:
        return []
    grams: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for a in window(inp, 31):
        for cat, net in a.grams.items():
            grams[(inp.master.school_of(a.station_id), cat)][a.day.isoformat()] += net
    seqs: dict[tuple[str, str], list[Ev]] = defaultdict(list)
    for e in inp.today(("line.accepted",)):
        category = part(e.body, "item").get("category")
        if isinstance(category, str) and isinstance(part(e.body, "measured").get("net_g"), int):
            seqs[(inp.master.school_of(e.station_id), category)].append(e)
    out = []
    today = inp.day.isoformat()
    for (school, cat), by_day in sorted(grams.items()):
        per = {d: Fraction(g, inp.master.diners[(school, d)]) for d, g in by_day.items()
               if inp.master.diners.get((school, d))}
        if today not in per:
            continue
        earlier = [v for d, v in per.items() if d < today]
        if len(earlier) < inp.t.quantity_min_days:
            continue
        mid = Fraction(median(earlier))
        if abs(per[today] - mid) * 100 <= mid * inp.t.quantity_band_pct:
            continue
        out.append(finding(inp, "quantity_per_diner", seqs[(school, cat)][0].station_id,
                           f"{school}|{cat}|{today}",
                           f"{cat}: {float(per[today]):.1f} g per diner, 30-day median {float(mid):.1f} g",
                           {"category": cat, "grams": by_day[today],
                            "diners": inp.master.diners[(school, today)],
                            "g_per_diner": f"{float(per[today]):.1f}",
                            "median_g_per_diner": f"{float(mid):.1f}",
                            "days": len(earlier), "events": refs(seqs[(school, cat)])}, school))
    return out


def split_orders(inp: Inputs) -> list[Finding]:
    """One item ordered in ``split_orders_min`` or more separate orders for the same day."""
    out = []
    for station, orders in sorted(inp.orders.items()):
        by_item: dict[str, list[str]] = defaultdict(list)
        for o in orders:
            lines = o.get("lines")
            for line in lines if isinstance(lines, list) else []:
                code = part(line, "item").get("code")
                if code and o.get("order_id") not in by_item[code]:
                    by_item[code].append(str(o.get("order_id")))
        for code, ids in sorted(by_item.items()):
            if len(ids) >= inp.t.split_orders_min:
                out.append(finding(inp, "split_orders", station, f"{station}|{inp.day}|{code}",
                                   f"item {code} split across {len(ids)} orders on {inp.day}",
                                   {"item_code": code, "order_ids": ids}))
    return out
