"""Plain values the matching rules work on: an order line, an observation, a policy.

Quantities are Decimal or int, never float; dates are ``date``; the rules import
nothing but these and the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from functools import cached_property
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Supplier:
    supplier_id: str
    name: str
    address: str
    contact: str
    license_no: str | None
    license_expires: date | None


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    category: str
    spec: str
    gtin: str | None


@dataclass(frozen=True)
class Tolerance:
    over_pct: Decimal
    under_pct: Decimal
    abs_g: int | None


@dataclass(frozen=True)
class OrderLine:
    line_id: str
    item: Item
    qty_value: Decimal
    qty_unit: str
    unit_price_fen: int
    price_per: str
    tolerance: Tolerance
    storage: str
    max_temp_c: Decimal | None
    piece_g: int | None
    origin: str | None = None  # 产地 from central's master data, when known


@dataclass(frozen=True)
class Order:
    order_id: str
    delivery_date: date
    supplier: Supplier
    window_from: time
    window_to: time
    lines: tuple[OrderLine, ...]
    # Documents that travel with the goods: kind -> label, and per item category the
    # requirements (each met by any one of its kinds). From the orders document.
    document_kinds: dict[str, str] = field(default_factory=dict)
    documents_required: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)

    @cached_property
    def by_line_id(self) -> dict[str, OrderLine]:
        return {ln.line_id: ln for ln in self.lines}

    @cached_property
    def by_item_code(self) -> dict[str, OrderLine]:
        return {ln.item.code: ln for ln in self.lines}

    @cached_property
    def by_gtin(self) -> dict[str, OrderLine]:
        return {gtin14(ln.item.gtin): ln for ln in self.lines if ln.item.gtin}


def gtin14(gtin: str) -> str:
    """GTIN-8/12/13 padded to 14 digits, so one item matches in any of its forms."""
    return gtin.rjust(14, "0")


@dataclass(frozen=True)
class RapidTest:
    """A rapid test (快检) of the line: an enzyme-inhibition % or a pass/fail kit."""

    inhibition_pct: Decimal | None = None  # pesticide-residue inhibition rate, 0-100
    passed: bool | None = None  # a qualitative kit's result (when no % is given)
    sample: str = ""  # what was sampled
    operator: str = ""  # who ran it
    source: str = "typed"  # "typed" on screen | "instrument" read from its serial line


@dataclass(frozen=True)
class Observation:
    order_id: str
    supplier_id: str
    inspectors: tuple[str, ...]
    line_id: str | None = None
    item_code: str | None = None
    gtin: str | None = None
    net_g: int | None = None
    pieces: int | None = None
    unit_price_fen: int | None = None
    batch: str | None = None
    production_date: date | None = None
    expiry_date: date | None = None
    temperature_c: Decimal | None = None
    at: datetime | None = None
    already_accepted_g: int = 0
    already_accepted_pieces: int = 0
    partial: bool = False
    # Sensory check answers (感官检查): item key -> True when the item is fine; None: not done.
    sensory: tuple[tuple[str, bool], ...] | None = None
    rapid_test: RapidTest | None = None
    documents: tuple[str, ...] = ()  # kinds of the documents photographed with the goods


@dataclass(frozen=True)
class Policy:
    min_inspectors: int = 2
    near_expiry_days: int = 2
    chilled_max_temp_c: Decimal = Decimal("8")
    frozen_max_temp_c: Decimal = Decimal("-18")
    require_trace_for_packaged: bool = True
    # Category -> the sensory items it must be checked for (none listed: no checklist).
    sensory: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rapid_test_categories: tuple[str, ...] = ()  # categories that need a rapid test result
    rapid_test_max_inhibition_pct: Decimal = Decimal("50")  # above: RAPID_TEST_FAILED
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    today: date | None = None  # overrides the receiving date (CLI --today, tests)


@dataclass(frozen=True)
class Check:
    check: str
    result: str  # "pass" | "warn" | "fail"
    detail: str
    code: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"check": self.check, "result": self.result, "code": self.code,
                "detail": self.detail}


@dataclass(frozen=True)
class Decision:
    outcome: str  # "accepted" | "rejected"
    reasons: tuple[str, ...]
    checks: tuple[Check, ...]
    line: OrderLine | None = None
    ordered_g: int | None = None  # whole grams when the line is ordered by weight
    amount_fen: int | None = None  # ordered unit price × accepted quantity

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.checks if c.result == "warn" and c.code)

    def to_json(self) -> dict[str, object]:
        return {"outcome": self.outcome, "reasons": list(self.reasons),
                "checks": [c.to_json() for c in self.checks]}
