"""A serial probe thermometer: one reading a line, a configurable pattern, decimal °C.

Probe thermometers with a serial or USB-CDC port print lines such as
``T1: -18.5 C`` or ``+023.4C``; models differ, so the line pattern is
configuration: a regular expression whose named group ``c`` (or first group)
holds the temperature in °C. The value is kept as a decimal string exactly as
the probe gave it (``"-18.5"``) — never a float. Values outside -80..200 °C are
refused as line noise. The link reuses the scale link's machinery (reopen with
backoff, states, once-per-change logging); a probe that must be asked gets a
``poll`` line.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from pydantic import Field, field_validator

from core import saferegex
from core.config import Section
from firmware_bridge.link import LinkTiming, SerialLink, StateChange
from firmware_bridge.protocols.base import SKIP, LineParser, LineSettings, Skip

DEFAULT_PATTERN = r"(?:[A-Za-z][A-Za-z0-9 ]*[:=]\s*)?(?P<c>[+-]?\d+(?:\.\d+)?)\s*(?:°\s*|deg\s*)?C?"
LIMITS = (Decimal(-80), Decimal(200))


@dataclass(frozen=True, slots=True)
class TemperatureReading:
    celsius: str  # decimal string, e.g. "-18.5"
    raw: bytes


class TemperatureParser(LineParser[TemperatureReading]):
    """Lines matching ``pattern`` (full match, after trimming) become readings."""

    max_frame = 64

    def __init__(self, pattern: str = DEFAULT_PATTERN) -> None:
        super().__init__()
        why = saferegex.problem(pattern)
        if why is not None:
            raise ValueError(f"bad thermometer pattern {pattern!r}: {why}")
        self._re = saferegex.compile(pattern.encode("utf-8"))  # RE2: linear time
        if self._re.groups < 1:
            raise ValueError("the thermometer pattern needs a group (named c) for the value")
        self._group = self._re.groupindex.get(b"c", 1)

    def decode(self, frame: bytes) -> TemperatureReading | Skip | None:
        m = self._re.fullmatch(frame.strip())
        if m is None:
            text = frame.strip()
            # Banner or status text (no digits at all) is not an error.
            banner = all(0x20 <= b < 0x7F and not 0x30 <= b <= 0x39 for b in text)
            return SKIP if banner else None
        value = m.group(self._group)
        try:
            celsius = Decimal(value.decode("ascii"))
        except (InvalidOperation, UnicodeDecodeError, AttributeError):
            return None
        if not LIMITS[0] <= celsius <= LIMITS[1]:
            return None
        return TemperatureReading(str(celsius), frame)


class ThermometerSection(Section):
    port: str = Field(description="Stable path of the thermometer's serial port.")
    baud: int = Field(default=9600, gt=0, description="Baud rate (8N1).")
    pattern: str = Field(
        default=DEFAULT_PATTERN,
        description="Regex one line must match (RE2 syntax); named group c holds the value in °C.",
    )

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, v: str) -> str:
        why = saferegex.problem(v)
        if why is not None:
            raise ValueError(why)
        return v
    poll: str | None = Field(
        default=None, description="Line to send (with CR LF) to ask for a reading; none: streams."
    )
    poll_interval_ms: int = Field(default=500, ge=50, description="Time between polls.")
    silence_timeout_ms: int = Field(
        default=5000, ge=100, description="No bytes this long: 'silent'; twice: reopen the port."
    )


class ThermometerLink(SerialLink[TemperatureReading]):
    """The thermometer on its own thread; readings on ``readings``."""

    kind = "thermometer"

    def __init__(
        self,
        section: ThermometerSection,
        readings: queue.Queue[TemperatureReading] | None = None,
        on_state: Callable[[StateChange], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.section = section
        TemperatureParser(section.pattern)  # refuse a bad pattern now, not in the thread
        timing = LinkTiming(poll_interval_s=section.poll_interval_ms / 1000,
                            silence_timeout_s=section.silence_timeout_ms / 1000)
        super().__init__(section.port, LineSettings(section.baud), timing, readings, on_state,
                         clock)
        self.parser = TemperatureParser(section.pattern)

    def _begin(self) -> None:
        self.parser = TemperatureParser(self.section.pattern)

    def _poll(self) -> bytes | None:
        return None if self.section.poll is None else self.section.poll.encode() + b"\r\n"

    def _feed(self, data: bytes, now: float) -> tuple[list[TemperatureReading], int]:
        before = self.parser.bad_frames
        got = self.parser.feed(data)
        return got, self.parser.bad_frames - before
