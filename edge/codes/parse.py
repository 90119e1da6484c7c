"""Parsing what a camera or scanner read into typed results.

``parse_code(text, cfg)`` decides the kind (GS1, traceability URL, in-store weight label,
delivery note, staff badge, plain) and returns a result with ``as_dict()`` for
JSON. Every failure is a :class:`ParseError` with a message a technician can act
on; nothing else escapes (a hypothesis test holds this).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from core import saferegex
from edge.codes.checks import gs1_check_ok
from edge.codes.config import CodesSection
from edge.codes.delivery_note import PREFIX as DELIVERY_NOTE_PREFIX
from edge.codes.delivery_note import DeliveryNote, parse_delivery_note
from edge.codes.errors import ParseError
from edge.codes.gs1 import GS, GS1_SYMBOLOGY_IDS, GS1Result, parse_bracketed, parse_element_string
from edge.codes.gs1_link import looks_like_digital_link, parse_digital_link
from edge.codes.trace import TraceCode, match_trace
from edge.codes.weight_label import WeightLabel, is_weight_label, parse_weight_label

__all__ = [
    "Badge", "CodesSection", "DeliveryNote", "GS1Result", "ParseError", "ParsedCode",
    "PlainCode", "TraceCode", "WeightLabel", "parse_code",
]

MAX_TEXT = 8192
_AIM_ID = re.compile(r"^\][A-Za-z][0-9A-Za-z]")


@dataclass(frozen=True)
class Badge:
    """A staff badge; ``staff_id`` is the pattern's ``id`` group or the whole code."""

    code: str
    staff_id: str
    kind: str = "badge"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "code": self.code, "staff_id": self.staff_id}


@dataclass(frozen=True)
class PlainCode:
    """Any other code; ``gtin`` is set for a GTIN-8/12/13/14 with a valid check digit."""

    text: str
    symbology: str | None = None
    gtin: str | None = None
    kind: str = "plain"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "text": self.text}
        if self.symbology:
            out["symbology"] = self.symbology
        if self.gtin:
            out["gtin"] = self.gtin
        return out


ParsedCode = GS1Result | WeightLabel | DeliveryNote | Badge | TraceCode | PlainCode


def parse_code(text: str, cfg: CodesSection | None = None, today: date | None = None) -> ParsedCode:
    """Classify and parse one code as read (an AIM symbology id prefix is allowed).

    ``today`` anchors the century of GS1 YYMMDD dates (default: the current date).
    """
    cfg = cfg or CodesSection()
    ref_year = (today or date.today()).year
    if not isinstance(text, str):
        raise ParseError("code text must be a string")
    text = text.strip("\r\n\t ")
    if not text:
        raise ParseError("empty code")
    if len(text) > MAX_TEXT:
        raise ParseError(f"code is longer than {MAX_TEXT} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ParseError("code text is not valid Unicode (lone surrogate)") from None
    if text.startswith(DELIVERY_NOTE_PREFIX):
        return parse_delivery_note(text)
    symbology = None
    if text[:3] in GS1_SYMBOLOGY_IDS:
        return parse_element_string(text, ref_year)
    if _AIM_ID.match(text):
        symbology, text = text[:3], text[3:]
        if not text:
            raise ParseError(f"symbology identifier {symbology} with no data")
    if text.startswith("(") and re.match(r"\(\d{2,4}\)", text):
        return parse_bracketed(text, ref_year)
    trace = match_trace(text, cfg.trace)
    if trace is not None:
        return trace
    if looks_like_digital_link(text):
        return parse_digital_link(text, ref_year)
    if is_weight_label(text, cfg.weight_label):
        return parse_weight_label(text, cfg.weight_label)
    if cfg.badge_pattern:
        m = saferegex.compile(cfg.badge_pattern).fullmatch(text)  # RE2: linear time
        if m:
            staff_id = m.groupdict().get("id") or text
            return Badge(code=text, staff_id=staff_id)
    if GS in text and text[:2].isdigit():
        # A GS1 code from a reader that dropped the symbology id (pyzbar, some scanners).
        return parse_element_string(text, ref_year)
    gtin = None
    if text.isascii() and text.isdigit() and len(text) in (8, 12, 13, 14) and gs1_check_ok(text):
        gtin = text.zfill(14)
    return PlainCode(text=text, symbology=symbology, gtin=gtin)
