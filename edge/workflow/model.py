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

from edge.matching.types import Decision, Order, Policy, RapidTest
from edge.roster.model import Roster

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
    received_mono: float | None = None  # time.monotonic() when the link received the frame
    received_at: str | None = None  # the same moment on the wall clock (RFC 3339), for records


@dataclass(frozen=True)
class ScaleLive:
    """The scale link as a transition sees it: connected since when, and its newest reading.

    A weight is evidence only while the link is connected, the reading arrived in this
    link session, within ``Context.max_weight_age_s`` of ``mono``, and after the
    placement's load was seen (docs/workflow.md).
    """

    connected: bool
    connected_since: float | None  # time.monotonic() of the last (re)connection
    latest: Weight | None  # the newest reading received, whatever its value
    mono: float  # time.monotonic() now


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
    # The line's last rejection in this delivery {seq, event_id, reasons}: a later decision
    # of the line is a re-test and links to it (``retest_of``).
    last_rejection: dict[str, Any] | None = None


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    order_id: str
    supplier_id: str
    note_id: str | None = None
    note_lines: dict[str, NoteLine] = field(default_factory=dict)
    progress: dict[str, Progress] = field(default_factory=dict)
    # seq of each line.rejected in this delivery -> {event_id, line_id, item, reasons,
    # disposition, acknowledged_by}: a delivery closes only when every one is disposed of.
    rejections: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Placement:
    """One item at the scale, and every fact staff or devices gave about it.

    ``placement_id`` is a UUID, journaled with the placement (``placement.started``)
    and with its decision: the idempotency key of a confirm across restarts. Every
    input belongs to one placement; a new placement starts with none of them.
    """

    placement_id: str = ""
    line_id: str | None = None
    gtin: str | None = None
    item_code: str | None = None
    batch: str | None = None
    production_date: date | None = None
    expiry_date: date | None = None
    origin: str | None = None  # 产地 from a scanned GS1 label (AI 422)
    pieces: int | None = None
    temperature_c: Decimal | None = None
    temperature_source: str | None = None  # "probe" | "typed"
    partial: bool = False
    trace: tuple[dict[str, str], ...] = ()  # traceability codes scanned with it (scheme, code, url)
    sensory: tuple[tuple[str, bool], ...] = ()  # checklist answers: item -> fine (True)
    rapid_test: RapidTest | None = None
    documents: tuple[dict[str, Any], ...] = ()  # photographed: {kind, label, sha256, seq}
    loaded: bool = False  # a stable load above empty is on the pan (reset by a tare)
    loaded_mono: float | None = None  # receive time of the reading that showed the load
    started: bool = False  # ``placement.started`` is journaled: a load was seen
    scanned_mono: float | None = None  # when a code was read while the pan was still empty
    tared_mono: float | None = None  # when staff tared (a drop to empty just after is the tare)
    decided: bool = False

    @property
    def touched(self) -> bool:
        """Any fact given about this placement (an input or a load)."""
        return self.started or self != Placement(self.placement_id)


@dataclass(frozen=True)
class State:
    inspectors: tuple[str, ...] = ()
    delivery: Delivery | None = None
    placement: Placement = field(default_factory=Placement)
    weight: Weight | None = None
    pending: str | None = None  # placement id whose decision is being committed
    last: dict[str, Any] | None = None  # the last committed decision, for the screen
    closed: dict[str, Any] | None = None  # the last delivery.closed body, until the next opens
    closed_orders: tuple[str, ...] = ()  # orders whose delivery was closed, oldest first
    # placement id -> its committed decision {seq, event_id, type, outcome, reasons, checks}:
    # a confirm of an id already decided answers this and records nothing (recent ones kept).
    decided: dict[str, dict[str, Any]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # inspector id -> name (roster)
    pin_failures: dict[str, tuple[int, float]] = field(default_factory=dict)  # id -> (n, locked until)
    activity_mono: float | None = None  # the last staff input (idle sign-out counts from it)


@dataclass(frozen=True)
class Context:
    """What a transition may read besides the state: orders in use, policy, time."""

    orders: dict[str, Order]
    policy: Policy
    now: datetime
    empty_g: int = 20  # at or below this net weight the scale counts as empty
    clip_id: str | None = None  # the clip filming the current placement (the recorder's)
    scale: ScaleLive | None = None  # None: no scale link (a weighed line cannot be decided)
    fresh_id: str = ""  # the id a placement started by this transition gets (a UUID)
    max_weight_age_s: float = 1.5  # a reading older than this is not evidence
    scan_hold_s: float = 10.0  # a code read on an empty pan is kept this long for the next load
    mono: float = 0.0  # time.monotonic() now
    roster: Roster | None = None  # who may inspect here; None: nobody can sign in
    pin_attempts: int = 5  # wrong PINs in a row that lock an id
    lockout_s: float = 300.0  # for this long
    idle_signout_s: float = 600.0  # no staff input this long signs everyone out


# -- inputs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """A roster member signs in: their id and PIN, or their badge."""

    inspector_id: str = ""
    pin: str | None = field(default=None, repr=False)
    badge: str | None = None


@dataclass(frozen=True)
class SignOut:
    inspector_id: str
    reason: str = "button"  # "button" | "idle" | "roster"


@dataclass(frozen=True)
class IdleCheck:
    """A tick: sign out everyone after ``idle_signout_s`` without a staff input."""


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
    origin: str | None = None  # 产地 a GS1 label names (AI 422), as text


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
    source: str = "typed"  # "probe" when the station's thermometer measured it


@dataclass(frozen=True)
class SetSensory:
    """Answers of the sensory checklist: item key -> True when a problem was found."""

    found: tuple[tuple[str, bool], ...]


@dataclass(frozen=True)
class CaptureDocument:
    """A document that travels with the goods, photographed (a still stored by sha256)."""

    kind: str
    sha256: str
    file: str
    size: int


@dataclass(frozen=True)
class SetRapidTest:
    test: RapidTest


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
    placement_id: str


@dataclass(frozen=True)
class Committed:
    """The driver committed the events of an ``Append``; ``events`` as appended."""

    events: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class CommitFailed:
    placement_id: str | None
    reason: str
    disk_full: bool = False  # the file system is full: nothing was saved


@dataclass(frozen=True)
class CloseDelivery:
    pass


@dataclass(frozen=True)
class Dispose:
    """What happened to rejected goods, acknowledged by the driver.

    ``acknowledged_by``: {"method": "badge", "badge": ...} or {"method": "signature",
    "signature_sha256": ..., "signature_file": ...} (the drawn signature, stored by hash).
    """

    rejected_seq: int
    disposition: str  # "returned" | "destroyed" | "replaced"
    acknowledged_by: dict[str, Any]


Input = (SignIn | SignOut | IdleCheck | OpenDelivery | SelectLine | ScanItem | ScanTrace | Reading
         | SetTemperature | SetSensory | SetRapidTest | CaptureDocument | SetPieces | MarkPartial
         | Tare | Confirm | Committed | CommitFailed | CloseDelivery | Dispose)

# -- effects ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Append:
    """Append these (type, body) events in one transaction, then feed back Committed.

    With ``refs_line`` each event after the ``line.*`` one that has a ``refs`` list gets
    that record's seq put in front (an alert about the decision committed with it).
    """

    events: tuple[tuple[str, dict[str, Any]], ...]
    placement_id: str | None = None
    refs_line: bool = False


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
    existing: dict[str, Any] | None = None  # a confirm of an id already decided: that decision
    committed: tuple[dict[str, Any], ...] = ()  # the events the driver appended for this input
