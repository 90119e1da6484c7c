"""The common shape of every indicator protocol: readings, specs, framing, grams.

Pure code only: bytes in, readings out, no I/O. Each protocol module supplies a
``ProtocolSpec`` (line settings and commands as data), a ``Parser`` subclass that
decodes one frame, and an ``encode`` function (used by the simulator and tests)
that renders a device state as that indicator's frame.

Framing is incremental and bounded, in the style of Klipper's ``check_packet``:
the parser keeps at most ``max_frame`` unconsumed bytes, drops what cannot be a
frame, and counts what it dropped, so that a stream of garbage neither raises nor
grows memory, and the first good frame after it is read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Final, Generic, Literal, TypeVar

STX: Final = 0x02
ETX: Final = 0x03

# Reading.status values.
OK: Final = "ok"
MOTION: Final = "motion"  # the indicator says "in motion" but gives no weight
OVERLOAD: Final = "overload"
UNDERLOAD: Final = "underload"
ERROR: Final = "error"  # the indicator reported an error (bad command, zero error...)
BUSY: Final = "busy"  # MT-SICS "S I": command understood but not executable now

# Exact grams per unit. lb and oz are defined exactly (international pound, 1959).
GRAMS_PER_UNIT: Final[dict[str, Decimal]] = {
    "mg": Decimal("0.001"),
    "g": Decimal(1),
    "kg": Decimal(1000),
    "t": Decimal(1000000),
    "lb": Decimal("453.59237"),
    "oz": Decimal("28.349523125"),
}


@dataclass(frozen=True, slots=True)
class Reading:
    """One decoded frame.

    ``weight_g`` is integer grams (None when the frame carries no usable weight:
    overload, underload, error, motion-only status). ``stable``/``net`` are None
    when the protocol does not say. ``exact`` is False when the frame's value was
    not a whole number of grams and was rounded half-even to the gram; ``raw``
    keeps the frame as received so the record can show what the scale said.
    The link stamps ``received_mono`` so a consumer can tell a fresh reading from
    one that waited in a queue.
    """

    weight_g: int | None
    stable: bool | None
    net: bool | None
    status: str
    raw: bytes
    exact: bool = True
    detail: str = ""
    received_mono: float | None = None  # the link's time.monotonic() when the frame arrived

    def to_json_dict(self) -> dict[str, object]:
        """The CLI's five keys: weight_g, stable, net, status, raw (escaped text)."""
        return {
            "weight_g": self.weight_g,
            "stable": self.stable,
            "net": self.net,
            "status": self.status,
            "raw": escape_raw(self.raw),
        }


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What a simulated indicator shows; rendered to a frame by ``encode``."""

    weight_g: int
    stable: bool = True
    net: bool = False
    overload: bool = False
    underload: bool = False


@dataclass(frozen=True, slots=True)
class LineSettings:
    """Serial line settings: baud, data bits, parity (N/E/O), stop bits."""

    baud: int
    bytesize: int = 8
    parity: Literal["N", "E", "O"] = "N"
    stopbits: int = 1

    def label(self) -> str:
        return f"{self.baud} {self.bytesize}{self.parity}{self.stopbits}"


class Skip:
    """Returned by ``Parser.decode`` for a well-formed frame that is not a weight."""


SKIP: Final = Skip()


R = TypeVar("R")


class Parser(Generic[R]):
    """Incremental, bounded frame parser; subclasses define framing and decoding.

    ``R`` is what a frame becomes (a scale ``Reading``; the thermometer's
    reading). ``unit`` is the unit of weight frames that carry none.
    """

    max_frame: int = 64
    # The widest number the indicator's weight field holds: more digits (or decimals)
    # than this is line noise, not a weight (e.g. a 64-digit "reading" from garbage).
    max_digits: int = 9
    max_decimals: int = 4

    def __init__(self, unit: str = "g") -> None:
        if unit not in GRAMS_PER_UNIT:
            raise ValueError(f"unknown unit {unit!r}; known: {', '.join(GRAMS_PER_UNIT)}")
        self.unit = unit
        self._buf = bytearray()
        self.frames = 0  # good frames (readings and skipped replies)
        self.bad_frames = 0  # frames or byte runs rejected
        self.dropped_bytes = 0
        # For each reading of the last ``feed``: was anything refused or dropped between
        # it and the reading before? (The link confirms only back-to-back frames.)
        self.after_noise: list[bool] = []
        self._noise_mark = (0, 0)

    def feed(self, data: bytes) -> list[R]:
        """Add bytes (any split) and return the readings completed by them."""
        buf = self._buf
        buf += data
        out: list[R] = []
        self.after_noise = []
        pos = 0
        while True:
            frame, pos = self._next_frame(buf, pos)
            if frame is None:
                break
            got = self.decode(frame)
            if got is None:
                self.bad_frames += 1
            elif isinstance(got, Skip):
                self.frames += 1
            else:
                self.frames += 1
                out.append(got)
                mark = (self.bad_frames, self.dropped_bytes)
                self.after_noise.append(mark != self._noise_mark)
                self._noise_mark = mark
        if pos:
            del buf[:pos]
        if len(buf) > self.max_frame:
            # Unreachable by well-behaved framers; a last guard on memory.
            self._reject(len(buf) - self.max_frame)
            del buf[: len(buf) - self.max_frame]
        return out

    def pending(self) -> int:
        """Bytes held waiting for the rest of a frame (always <= max_frame)."""
        return len(self._buf)

    def _reject(self, nbytes: int) -> None:
        self.bad_frames += 1
        self.dropped_bytes += nbytes

    def _seek(self, buf: bytearray, pos: int, byte: int) -> int:
        """Index of the next ``byte`` from ``pos`` (-1 if none); skipped bytes are counted."""
        start = buf.find(byte, pos)
        skipped = (len(buf) if start < 0 else start) - pos
        if skipped:
            self._reject(skipped)
        return start

    def _trim(self, frame: bytes, start: int) -> bytes:
        """The frame from ``start``: bytes glued before a header are counted, not kept."""
        if start:
            self.dropped_bytes += start
        return frame[start:]

    def _next_frame(self, buf: bytearray, pos: int) -> tuple[bytes | None, int]:
        """Return (frame, new position) or (None, position to keep from)."""
        raise NotImplementedError

    def _grams(self, value: bytes | str, unit: str) -> tuple[int, bool] | None:
        """``to_grams`` of a frame's number, or None when it has more digits than the
        indicator's field (``max_digits``/``max_decimals``) or is not a number."""
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
        whole, _, frac = text.strip().lstrip("+-").partition(".")
        if len(whole.lstrip(" ")) + len(frac) > self.max_digits or len(frac) > self.max_decimals:
            return None
        try:
            return to_grams(text, unit)
        except ValueError:
            return None

    def decode(self, frame: bytes) -> R | Skip | None:
        """Turn one frame into a reading, SKIP (a non-weight reply) or None (bad)."""
        raise NotImplementedError


_EOL = re.compile(rb"[\r\n]")


class LineParser(Parser[R]):
    """Frames end at CR or LF (CR LF gives one frame); empty lines are ignored.

    Of a line longer than ``max_frame`` only the last ``max_frame`` bytes are kept
    (garbage glued before a frame is dropped and counted; the frame at the end
    can still be found by its header). The frame handed to ``decode`` (and kept as
    ``raw``) is the line without its terminator.
    """

    def _next_frame(self, buf: bytearray, pos: int) -> tuple[bytes | None, int]:
        n = len(buf)
        while pos < n:
            m = _EOL.search(buf, pos)
            if m is None:
                if n - pos > self.max_frame:
                    # Keep only a frame's worth: a frame glued after garbage is its tail.
                    self._reject(n - pos - self.max_frame)
                    return None, n - self.max_frame
                return None, pos
            end = m.start()
            start = max(pos, end - self.max_frame)
            if start > pos:
                self._reject(start - pos)
            line = bytes(buf[start:end])
            pos = end + 1
            if line:
                return line, pos
        return None, pos


def to_grams(value: str | bytes, unit: str) -> tuple[int, bool]:
    """Exact conversion of a decimal text in ``unit`` to integer grams.

    Returns (grams, exact). A value that is not a whole number of grams (e.g.
    0.0004 kg, or any lb value with a fraction of a gram) is rounded half-even to
    the gram and flagged inexact; the raw frame keeps the original digits.
    """
    text = value.decode("ascii") if isinstance(value, bytes) else value
    fast = _metric_grams(text, unit)
    if fast is not None:
        return fast, True
    try:
        qty = Decimal(text.replace(" ", ""))
        factor = GRAMS_PER_UNIT[unit.lower()]
    except (InvalidOperation, KeyError) as exc:
        raise ValueError(f"not a weight: {text!r} {unit!r}") from exc
    if not qty.is_finite():
        raise ValueError(f"not a weight: {text!r}")
    grams = qty * factor
    whole = grams.to_integral_value(rounding=ROUND_HALF_EVEN)
    return int(whole), whole == grams


_GRAMS_INT: Final[dict[str, int]] = {"g": 1, "kg": 1000, "t": 1000000}


def _metric_grams(text: str, unit: str) -> int | None:
    """Integer-only path for g/kg/t values that are whole grams (the common case).

    Returns None whenever it is not sure, and the Decimal path decides.
    """
    mult = _GRAMS_INT.get(unit)
    if mult is None:
        return None
    s = text.strip()
    neg = s[:1] == "-"
    if s[:1] in "+-":
        s = s[1:]
    whole, _, frac = s.partition(".")
    digits = whole + frac
    if not digits.isascii() or not digits.isdigit():
        return None
    q, r = divmod(int(digits) * mult, int(10 ** len(frac)))
    if r:
        return None
    return -q if neg else q


def format_weight(weight_g: int, unit: str, decimals: int) -> str:
    """Render grams in ``unit`` with ``decimals`` places (simulator frames)."""
    value = Decimal(weight_g) / GRAMS_PER_UNIT[unit]
    quant = Decimal(1).scaleb(-decimals)
    return str(abs(value).quantize(quant, rounding=ROUND_HALF_EVEN))


def signed_weight(weight_g: int, unit: str, decimals: int) -> str:
    """``format_weight`` with a leading ``-`` for negative weights (no ``+``)."""
    return ("-" if weight_g < 0 else "") + format_weight(weight_g, unit, decimals)


def escape_raw(raw: bytes) -> str:
    """The frame as text, control and non-ASCII bytes escaped (\\x02, \\r ...)."""
    out = []
    for b in raw:
        if b == 0x0D:
            out.append("\\r")
        elif b == 0x0A:
            out.append("\\n")
        elif b == 0x5C:
            out.append("\\\\")
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class ProtocolSpec:
    """One indicator family, declared as data.

    ``command_eol`` ends every command sent to the device (b"" for single-byte
    commands). ``poll`` is sent every poll interval in polled mode, ``probe`` by
    ``scale detect``; command fields are None where the indicator has none.
    """

    name: str
    title: str
    line: LineSettings
    mode: Literal["continuous", "polled"]
    default_unit: str
    has_stable_flag: bool
    command_eol: bytes
    poll: bytes | None
    probe: bytes | None
    zero: bytes | None
    tare: bytes | None
    clear_tare: bytes | None
    parser: Callable[[str], Parser[Reading]]
    encode: Callable[[DeviceState, str], bytes]
    # What catches a corrupted frame: "checksum" (in the frame), "parity" (per byte on
    # the line, checked by the UART: serialport sets INPCK), "none" (format only; the
    # link then delivers a weight of a continuous stream only when two frames agree).
    check: Literal["checksum", "parity", "none"] = "none"

    def command(self, name: str) -> bytes | None:
        """The full bytes for ``poll``/``zero``/``tare``/``clear_tare``, or None."""
        body: bytes | None = getattr(self, name)
        return None if body is None else body + self.command_eol

    def new_parser(self, unit: str | None = None) -> Parser[Reading]:
        return self.parser(unit or self.default_unit)
