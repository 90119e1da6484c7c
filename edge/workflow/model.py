"""States, inputs and effects of the receiving workflow: plain frozen values.

The machine never performs I/O: it returns effects (append these events, tare
the scale) and the station's driver carries them out, feeding the outcome back
(``Committed``). That keeps "accepted" on screen strictly after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from edge.matching.types import Decision, Order, Policy

# -- what the station knows ----------------------------------------------------------------


@dataclass(frozen=True)
class Weight:
    """The latest scale reading, already in whole grams."""

    net_g: int
    stable: bool
    raw: str = ""
    protocol: str = ""
    gross_g: int | None = None
    tare_g: int | None = None


@dataclass(frozen=True)
class NoteLine:
    """What a delivery note (ADN1) says of one line."""

    unit_price_fen: int | None = None
    batch: str | None = None
    production_date: date | None = None
    expiry_date: date | None = None


@dataclass(frozen=True)
class Progress:
    """What earlier decisions of a line took (partial deliveries accumulate)."""

    accepted_g: int = 0
    accepted_pieces: int = 0
    accepted: int = 0
    rejected: int = 0


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    order_id: str
    supplier_id: str
    note_id: str | None = None
    note_lines: dict[str, NoteLine] = field(default_factory=dict)
    progress: dict[str, Progress] = field(default_factory=dict)


@dataclass(frozen=True)
class Placement:
    """One item on the scale: a new placement starts when the scale returns to empty.

    ``placement_id`` is the idempotency key of a decision: a second confirm of the
    same placement (double tap, a second tab) records nothing.
    """

    placement_id: int = 0
    line_id: str | None = None
    gtin: str | None = None
    item_code: str | None = None
    batch: str | None = None
    production_date: date | None = None
    expiry_date: date | None = None
    pieces: int | None = None
    temperature_c: Decimal | None = None
    partial: bool = False
    trace: tuple[dict[str, str], ...] = ()  # traceability codes scanned with it (scheme, code, url)
    loaded: bool = False  # a stable load above empty was seen (reset by a tare)
    decided: bool = False


@dataclass(frozen=True)
class State:
    inspectors: tuple[str, ...] = ()
    delivery: Delivery | None = None
    placement: Placement = field(default_factory=Placement)
    weight: Weight | None = None
    pending: int | None = None  # placement id whose decision is being committed
    last: dict[str, Any] | None = None  # the last committed decision, for the screen
    closed: dict[str, Any] | None = None  # the last delivery.closed body, until the next opens


@dataclass(frozen=True)
class Context:
    """What a transition may read besides the state: orders in use, policy, time."""

    orders: dict[str, Order]
    policy: Policy
    now: datetime
    empty_g: int = 20  # at or below this net weight the scale counts as empty
    clip_id: str | None = None  # the clip filming the current placement (the recorder's)


# -- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    inspector_id: str


@dataclass(frozen=True)
class SignOut:
    inspector_id: str


@dataclass(frozen=True)
class OpenDelivery:
    order_id: str
    delivery_id: str
    supplier_id: str | None = None  # default: the order's supplier (picked on screen)
    note: dict[str, Any] | None = None  # a parsed ADN1 delivery note


@dataclass(frozen=True)
class SelectLine:
    line_id: str


@dataclass(frozen=True)
class ScanItem:
    """A scanned GS1 / EAN / item code, already parsed into its fields."""

    gtin: str | None = None
    item_code: str | None = None
    batch: str | None = None
    production_date: date | None = None
    expiry_date: date | None = None


@dataclass(frozen=True)
class ScanTrace:
    """A traceability code (浙食链, 承诺达标合格证 ...): recorded with the item, never identifies it."""

    scheme: str
    code: str
    url: str


@dataclass(frozen=True)
class Reading:
    weight: Weight


@dataclass(frozen=True)
class SetTemperature:
    temperature_c: Decimal


@dataclass(frozen=True)
class SetPieces:
    pieces: int


@dataclass(frozen=True)
class MarkPartial:
    partial: bool = True


@dataclass(frozen=True)
class Tare:
    pass


@dataclass(frozen=True)
class Confirm:
    placement_id: int


@dataclass(frozen=True)
class Committed:
    """The driver committed the events of an ``Append``; ``events`` as appended."""

    events: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class CommitFailed:
    placement_id: int | None
    reason: str
    disk_full: bool = False  # the file system is full: nothing was saved


@dataclass(frozen=True)
class CloseDelivery:
    pass


Input = (SignIn | SignOut | OpenDelivery | SelectLine | ScanItem | ScanTrace | Reading
         | SetTemperature | SetPieces | MarkPartial | Tare | Confirm | Committed | CommitFailed
         | CloseDelivery)

# -- effects ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Append:
    """Append these (type, body) events in one transaction, then feed back Committed."""

    events: tuple[tuple[str, dict[str, Any]], ...]
    placement_id: int | None = None


@dataclass(frozen=True)
class TareScale:
    pass


@dataclass(frozen=True)
class NewScanWindow:
    """A new placement: scanners start a new repeat-suppression window."""


Effect = Append | TareScale | NewScanWindow


@dataclass(frozen=True)
class Refusal:
    """Why an input was refused: a code for the API and a message for staff."""

    code: str
    message: str


@dataclass(frozen=True)
class Result:
    state: State
    effects: tuple[Effect, ...] = ()
    refused: Refusal | None = None
    decision: Decision | None = None
