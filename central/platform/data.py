"""Reading what the indicators need: events and alerts from the store, orders, master data, payments.

Bad master data or payments are refused whole with a clear error (``DataError``), never half-read.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

from central.platform.model import CentralAlert, ContractPrice, Ev, MasterData, Payment, part
from central.store import Store

EVENT_SQL = ("SELECT station_id, seq, type, at, hash, received_at, event FROM central_events "
             "WHERE at >= ? AND at < ?")
ALERT_SQL = ("SELECT alert_id, station_id, seq, code, message, raised_at FROM central_alerts "
             "WHERE raised_at >= ? AND raised_at < ?")
# The immediate path's reads: small, by arrival (``central_events_alert_raised`` is a partial index; the
# type is a literal so SQLite and PostgreSQL both match the index's predicate).
ALERT_EVENT_SQL = ("SELECT station_id, seq, type, at, hash, received_at, event FROM central_events "
                   "WHERE type = 'alert.raised' AND received_at >= ?")
ALERTS_SINCE_SQL = ("SELECT alert_id, station_id, seq, code, message, raised_at FROM central_alerts "
                    "WHERE raised_at >= ?")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class DataError(ValueError):
    """A master data or payments file is unreadable or malformed (names the file and the place)."""


def parse_at(text: str) -> datetime:
    """RFC 3339 text as an aware UTC datetime (the stored ``...Z`` form needs no conversion: a
    city-day parses half a million of them)."""
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is UTC else at.astimezone(UTC)


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def day_bounds(first: date, last: date, tz: tzinfo) -> tuple[str, str]:
    """[start of ``first``, start of the day after ``last``) in local time, as UTC RFC 3339 text."""
    start = datetime.combine(first, time(0), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    return rfc3339(start), rfc3339(end)


def event_from_row(row: tuple[Any, ...]) -> Ev:
    station_id, seq, typ, at, hsh, received_at, text = row
    ev = json.loads(text)
    return Ev(str(station_id), int(seq), str(typ), parse_at(str(at)), str(hsh), parse_at(str(received_at)),
              ev.get("clock_synced") is True, part(ev, "body"))


def load_events(store: Store, first: date, last: date, tz: tzinfo,
                types: tuple[str, ...] | None = None) -> list[Ev]:
    """Every stored event (of ``types``, default all) whose ``at`` falls on the local days
    ``first``..``last``."""
    if not types:
        return [event_from_row(r) for r in store.rows(EVENT_SQL, day_bounds(first, last, tz))]
    sql = EVENT_SQL + " AND type IN (" + ",".join("?" * len(types)) + ")"
    return [event_from_row(r) for r in store.rows(sql, (*day_bounds(first, last, tz), *types))]


def _alert(row: tuple[Any, ...]) -> CentralAlert:
    a, s, q, c, m, r = row
    return CentralAlert(str(a), str(s), None if q is None else int(q), str(c), str(m), parse_at(str(r)))


def load_alerts(store: Store, day: date, tz: tzinfo) -> list[CentralAlert]:
    return [_alert(r) for r in store.rows(ALERT_SQL, day_bounds(day, day, tz))]


def load_arrived_since(store: Store, since: str) -> tuple[list[Ev], list[CentralAlert]]:
    """The stations' ``alert.raised`` events received, and central's alerts raised, at ``since`` or later."""
    return ([event_from_row(r) for r in store.rows(ALERT_EVENT_SQL, (since,))],
            [_alert(r) for r in store.rows(ALERTS_SINCE_SQL, (since,))])


STATUS_SQL = ("SELECT h.station_id, h.changed_at, h.online FROM central_status_history h JOIN "
              "(SELECT station_id, MAX(changed_at) AS m FROM central_status_history WHERE changed_at < ? "
              "GROUP BY station_id) l ON h.station_id = l.station_id AND h.changed_at = l.m "
              "UNION ALL SELECT station_id, changed_at, online FROM central_status_history "
              "WHERE changed_at >= ? AND changed_at < ?")


def load_statuses(store: Store, day: date, tz: tzinfo) -> dict[str, list[tuple[datetime, bool]]]:
    """Each station's online changes on local ``day``, after the last one before it, oldest first."""
    start, end = day_bounds(day, day, tz)
    out: dict[str, list[tuple[datetime, bool]]] = {}
    for station, at, online in sorted(store.rows(STATUS_SQL, (start, start, end)), key=lambda r: str(r[1])):
        out.setdefault(str(station), []).append((parse_at(str(at)), bool(online)))
    return out


def load_orders(orders_dir: Path, day: date) -> dict[str, list[dict[str, Any]]]:
    """The orders of ``day`` per station from central's orders folder (unreadable files are skipped)."""
    out: dict[str, list[dict[str, Any]]] = {}
    if not orders_dir.is_dir():
        return out
    for path in sorted(orders_dir.glob(f"*/{day.isoformat()}.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("orders"), list):
            out[path.parent.name] = [o for o in doc["orders"] if isinstance(o, dict)]
    return out


def load_master(path: Path | None) -> MasterData:
    """``{"stations": {station: school}, "contract_prices": [...], "diners": [...]}`` (all optional)."""
    if path is None:
        return MasterData()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        stations = {str(k): str(v) for k, v in doc.get("stations", {}).items()}
        prices = {}
        for i, p in enumerate(doc.get("contract_prices", [])):
            cp = ContractPrice(str(p["supplier_id"]), str(p["item_code"]), _int(p["unit_price_fen"]),
                               str(p["price_per"]))
            if (cp.supplier_id, cp.item_code) in prices:
                raise DataError(f"contract_prices[{i}]: duplicate supplier/item")
            prices[(cp.supplier_id, cp.item_code)] = cp
        diners = {(str(d["school_id"]), date.fromisoformat(str(d["date"])).isoformat()): _int(d["count"])
                  for d in doc.get("diners", [])}
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from exc
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"{path}: not valid master data: {exc.__class__.__name__}: {exc}") from exc
    return MasterData(stations, prices, diners)


def load_payments(path: Path | None) -> list[Payment]:
    """``school_id,supplier_id,month,amount_fen`` with a header; any bad row refuses the file."""
    if path is None:
        return []
    try:
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from exc
    out = []
    for n, r in enumerate(rows, start=2):
        try:
            month = str(r["month"]).strip()
            if not MONTH.match(month):
                raise ValueError(f"month {month!r} is not YYYY-MM")
            out.append(Payment(r["school_id"].strip(), r["supplier_id"].strip(), month,
                               _int(r["amount_fen"].strip())))
        except (KeyError, ValueError, AttributeError) as exc:
            raise DataError(f"{path}: line {n}: {exc}") from exc
    return out


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int | str):
        raise ValueError(f"{v!r} is not an integer")
    n = int(v)
    if n < 0:
        raise ValueError(f"{n} is negative")
    return n
