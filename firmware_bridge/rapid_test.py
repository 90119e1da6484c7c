"""A rapid-test instrument (快检仪) on a serial line: one result a line (docs/instruments.md).

Pesticide-residue analysers (enzyme-inhibition method, GB/T 5009.199) print
each finished test as a line of comma-separated fields, in GB 18030 (GBK) or
UTF-8; this module reads the common form::

    [编号,]样品,抑制率[%],结果          e.g.  0012,上海青,23.5%,合格

``parse_result`` (pure) turns one decoded line into a ``RapidResult``: the
inhibition rate as a decimal string exactly as printed (0..100, at most two
decimals; ``-`` or empty for a qualitative kit) and the instrument's verdict
(合格/阴性/PASS/NEG: passed; 不合格/阳性/超标/FAIL/POS: failed; ``-``: none). A
line with no field separator, or with no number in the rate field and no
verdict, is a banner or a header (skipped); anything else malformed is
refused and counted. The link reuses the scale link's machinery (reopen with
backoff, states); an instrument speaks only when a test ends, so silence is
normal and never reopens the port.
"""

from __future__ import annotations

import math
import queue
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import Field

from core.config import Section
from firmware_bridge.link import LinkTiming, SerialLink, StateChange
from firmware_bridge.protocols.base import SKIP, LineParser, LineSettings, Skip

PASS_WORDS = frozenset({"合格", "阴性", "PASS", "NEG", "OK"})
FAIL_WORDS = frozenset({"不合格", "阳性", "超标", "FAIL", "POS", "NG"})
NONE_WORDS = frozenset({"", "-", "--"})
SAMPLE_NO = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
RATE = re.compile(r"^(\d{1,3}(?:\.\d{1,2})?)\s*%?$")
SEPARATORS = re.compile(r"[,，]")


@dataclass(frozen=True, slots=True)
class RapidResult:
    sample: str  # what was tested, as the instrument names it
    inhibition_pct: str | None  # decimal string, e.g. "23.5"; None for a qualitative kit
    passed: bool | None  # the instrument's own verdict; None when it gives none
    sample_no: str = ""  # the instrument's test number, when printed
    raw: bytes = b""


def _verdict(word: str) -> bool | Skip | None:
    w = word.strip().upper()
    if w in PASS_WORDS:
        return True
    if w in FAIL_WORDS:
        return False
    return None if w in NONE_WORDS else SKIP


def parse_result(text: str) -> RapidResult | Skip | None:
    """One line (decoded, without its end) as a result, SKIP for a header/banner, None if bad."""
    fields = [f.strip() for f in SEPARATORS.split(text.strip())]
    if len(fields) == 1:
        return SKIP  # no field separator: a banner or status line, never a result
    if len(fields) not in (3, 4):
        return SKIP if not any(c.isdigit() for c in text) else None
    no, sample, rate, word = fields if len(fields) == 4 else ["", *fields]
    verdict = _verdict(word)
    m = RATE.match(rate)
    if m is None and rate not in NONE_WORDS:
        # "抑制率(%)" and a word that is no verdict: a header line, not a bad result.
        return SKIP if isinstance(verdict, Skip) and not any(c.isdigit() for c in rate) else None
    if isinstance(verdict, Skip) or (no and not SAMPLE_NO.match(no)):
        return None
    if not sample or len(sample) > 32 or not sample.isprintable():
        return None
    pct: str | None = None
    if m is not None:
        try:
            value = Decimal(m.group(1))
        except InvalidOperation:
            return None
        if value > 100:
            return None
        pct = str(value)
    if pct is None and verdict is None:
        return None  # neither a rate nor a verdict: nothing was measured
    return RapidResult(sample, pct, verdict, no)


class RapidTestParser(LineParser[RapidResult]):
    """Lines in ``encoding`` become results (any split of the byte stream)."""

    max_frame = 160

    def __init__(self, encoding: str = "gb18030") -> None:
        super().__init__()
        self.encoding = encoding

    def decode(self, frame: bytes) -> RapidResult | Skip | None:
        try:
            text = frame.decode(self.encoding)
        except UnicodeDecodeError:
            return None
        got = parse_result(text)
        if isinstance(got, RapidResult):
            return RapidResult(got.sample, got.inhibition_pct, got.passed, got.sample_no, frame)
        return got


class RapidTestSection(Section):
    port: str = Field(description="Stable path of the rapid-test instrument's serial port.")
    baud: int = Field(default=9600, gt=0, description="Baud rate (8N1).")
    encoding: Literal["gb18030", "utf-8"] = Field(
        default="gb18030", description="Text encoding of its lines (GB 18030 covers GBK and ASCII)."
    )


class RapidTestLink(SerialLink[RapidResult]):
    """The instrument on its own thread; results on ``readings``."""

    kind = "rapid_test"

    def __init__(
        self,
        section: RapidTestSection,
        readings: queue.Queue[RapidResult] | None = None,
        on_state: Callable[[StateChange], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.section = section
        # It prints only when a test ends: never "silent", never reopened for quiet.
        timing = LinkTiming(silence_timeout_s=math.inf)
        super().__init__(section.port, LineSettings(section.baud), timing, readings, on_state, clock)
        self.parser = RapidTestParser(section.encoding)

    def _begin(self) -> None:
        self.parser = RapidTestParser(self.section.encoding)

    def _poll(self) -> bytes | None:
        return None

    def _feed(self, data: bytes, now: float) -> tuple[list[RapidResult], int]:
        before = self.parser.bad_frames
        got = self.parser.feed(data)
        return got, self.parser.bad_frames - before


def format_result(r: RapidResult, encoding: str = "gb18030") -> bytes:
    """The line an instrument prints for ``r`` (the simulator's output), CR LF ended."""
    verdict = "-" if r.passed is None else ("合格" if r.passed else "不合格")
    rate = "-" if r.inhibition_pct is None else f"{r.inhibition_pct}%"
    fields = [r.sample_no, r.sample, rate, verdict] if r.sample_no else [r.sample, rate, verdict]
    return (",".join(fields) + "\r\n").encode(encoding)
