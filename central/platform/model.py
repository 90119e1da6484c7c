"""The values indicators work on and produce: stored events, alerts, master data, findings."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from central.platform.config import IndicatorsSection


def part(obj: Any, key: str) -> dict[str, Any]:
    """``obj[key]`` when both are objects, else ``{}``: central stores any body (the signature covers
    it), so an indicator must not fail on an older or newer station's shape."""
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Ev:
    """One stored event, as central holds it (``central_events``)."""

    station_id: str
    seq: int
    type: str
    at: datetime
    hash: str
    received_at: datetime
    clock_synced: bool
    body: dict[str, Any]

    def ref(self) -> dict[str, Any]:
        """The evidence naming this event."""
        return {"station_id": self.station_id, "seq": self.seq, "hash": self.hash, "type": self.type}


@dataclass(frozen=True)
class CentralAlert:
    """One row of ``central_alerts``: what ingest refused (chain gap, fork, bad hash or signature)."""

    alert_id: str
    station_id: str
    seq: int | None
    code: str
    message: str
    raised_at: datetime


@dataclass(frozen=True)
class ContractPrice:
    supplier_id: str
    item_code: str
    unit_price_fen: int
    price_per: str


@dataclass(frozen=True)
class Payment:
    school_id: str
    supplier_id: str
    month: str  # YYYY-MM
    amount_fen: int


@dataclass(frozen=True)
class MasterData:
    stations: dict[str, str] = field(default_factory=dict)  # station_id → school_id
    contract_prices: dict[tuple[str, str], ContractPrice] = field(default_factory=dict)
    diners: dict[tuple[str, str], int] = field(default_factory=dict)  # (school_id, YYYY-MM-DD) → count

    def school_of(self, station_id: str) -> str:
        """The school a station serves; a station not in the map is its own school."""
        return self.stations.get(station_id, station_id)


@dataclass
class SupplierDay:
    """One supplier's decided lines at one station on one day (``central.platform.daily``)."""

    lines: int = 0  # accepted + rejected
    rejected: int = 0
    accepted_fen: int = 0  # ``price.amount_fen`` of the accepted lines that carry an integer amount
    priced: int = 0  # the accepted lines counted in ``accepted_fen``
    # the refs of the rejected lines (up to daily.EVIDENCE_CAP), and of the first few priced ones
    rejected_refs: list[dict[str, Any]] = field(default_factory=list)
    priced_refs: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DayAgg:
    """A station's decided lines on one local day, reduced to what the rolling indicators read
    (made by ``central.platform.daily.summarise`` alone)."""

    station_id: str
    day: date
    lines: int  # the line events summarised: what this row covers
    max_seq: int  # ...and the highest seq among them
    grams: dict[str, int] = field(default_factory=dict)  # item category -> accepted net_g
    deliveries: dict[str, list[str]] = field(default_factory=dict)  # delivery id -> inspectors, sorted
    first: dict[str, Any] = field(default_factory=dict)  # the day's earliest line (ref), by at then seq
    suppliers: dict[str, SupplierDay] = field(default_factory=dict)


@dataclass(frozen=True)
class Inputs:
    """Everything one evaluation of day ``day`` sees; indicators are pure functions of it."""

    day: date
    tz: tzinfo
    as_of: datetime
    # events the indicators read whole: the engine gives those of ``day`` and the next (clips and
    # arrivals that follow a day's records); days before may be here too (then not in ``history``)
    events: list[Ev]
    alerts: list[CentralAlert]  # central's alerts raised on ``day``
    orders: dict[str, list[dict[str, Any]]]  # station_id → the orders of ``day`` (orders_dir)
    master: MasterData
    payments: list[Payment]
    t: IndicatorsSection
    # station_id → its online flag's changes (central's receive time), oldest first: the last one
    # before ``day`` and every one on it (``central_status_history``)
    statuses: dict[str, list[tuple[datetime, bool]]] = field(default_factory=dict)
    # the stored per-station summaries of the days before ``day`` (``central.platform.aggregates``):
    # what the rolling indicators read of them, instead of their events
    history: list[DayAgg] = field(default_factory=list)
    memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # derived once

    _days: dict[str, list[tuple[date, Ev]]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        days: dict[str, list[tuple[date, Ev]]] = {}
        for e in self.events:  # each event's local day, once (astimezone is the hot spot)
            days.setdefault(e.type, []).append((self.local_day(e.at), e))
        object.__setattr__(self, "_days", days)

    def local_day(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    def today(self, types: tuple[str, ...] | None = None) -> list[Ev]:
        """Events of the given types (default all) that happened on ``day`` (local time)."""
        return self.since(1, types)

    def since(self, days: int, types: tuple[str, ...] | None = None) -> list[Ev]:
        """Events of the given types (default all) on the ``days`` local days ending with ``day``."""
        return [e for _, e in self.dated(days, types)]

    def dated(self, days: int, types: tuple[str, ...] | None = None) -> list[tuple[date, Ev]]:
        """``since`` with each event's local day."""
        first = self.day - timedelta(days=days - 1)
        return [(d, e) for t in (self._days if types is None else types) for d, e in self._days.get(t, ())
                if first <= d <= self.day]


@dataclass(frozen=True)
class Finding:
    """One warning: which indicator, about whom, why, with its evidence; the id is its identity."""

    indicator: str
    station_id: str
    school_id: str
    day: str
    key: str  # what makes this warning unique within its indicator
    message: str
    evidence: dict[str, Any]

    @property
    def warning_id(self) -> str:
        """Deterministic: the same finding evaluated again has the same id (dedup)."""
        return hashlib.sha256(f"{self.indicator}|{self.key}".encode()).hexdigest()[:32]

    def as_json(self) -> dict[str, Any]:
        return {"warning_id": self.warning_id, "indicator": self.indicator, "station_id": self.station_id,
                "school_id": self.school_id, "day": self.day, "message": self.message,
                "evidence": self.evidence}

    def evidence_text(self) -> str:
        return json.dumps(self.evidence, sort_keys=True, ensure_ascii=False)
