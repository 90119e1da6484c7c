"""GS1 element strings, their bracketed human-readable form and GS1 Digital Link URIs.

Three spellings of one thing: a list of (AI, value) pairs. Each parser turns its
spelling into that list, and :func:`interpret` checks every value against the AI
table (charset, length, check digits, dates) and derives typed fields. Pure
functions; every failure is a :class:`ParseError` naming the AI and the reason.
"""

from __future__ import annotations

import calendar
import re
import urllib.parse
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from edge.codes.checks import gs1_check_ok
from edge.codes.errors import ParseError
from edge.codes.gs1_ais import (
    AI_TABLE,
    CHARSET_82,
    DL_PRIMARY_KEYS,
    DL_SHORT_NAMES,
    PREDEFINED_LENGTH_PREFIXES,
    AISpec,
    lookup,
)

GS = "\x1d"
# AIM symbology identifiers that mean "GS1 data follows" (leading FNC1).
GS1_SYMBOLOGY_IDS = ("]C1", "]d2", "]Q3", "]e0", "]J1")

_DATE_FIELDS = {
    "11": "production_date", "12": "due_date", "13": "packaging_date",
    "15": "best_before", "16": "sell_by", "17": "expiry",
}


@dataclass(frozen=True)
class GS1Result:
    """A parsed GS1 code: raw AI values plus the typed fields the station uses."""

    ais: dict[str, str]
    form: str  # "element-string", "bracketed" or "digital-link"
    symbology: str | None = None
    typed: dict[str, Any] = field(default_factory=dict)
    kind: str = "gs1"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "form": self.form}
        if self.symbology:
            out["symbology"] = self.symbology
        out["ais"] = dict(self.ais)
        out.update(self.typed)
        return out


def expand_yymmdd(value: str, ref_year: int) -> date:
    """A GS1 YYMMDD date; day 00 means the last day of the month.

    The century is chosen per the GS1 rule: the year lies within 49 years
    before and 50 years after ``ref_year``.
    """
    if len(value) != 6 or not value.isdigit() or not value.isascii():
        raise ParseError(f"date {value!r} is not YYMMDD")
    yy, mm, dd = int(value[:2]), int(value[2:4]), int(value[4:])
    diff = yy - ref_year % 100
    century = ref_year // 100
    if diff >= 51:
        century -= 1
    elif diff <= -50:
        century += 1
    year = century * 100 + yy
    if not 1 <= mm <= 12:
        raise ParseError(f"date {value!r}: month {mm:02d} is not 01-12")
    last = calendar.monthrange(year, mm)[1]
    if dd == 0:
        dd = last
    if dd > last:
        raise ParseError(f"date {value!r}: day {dd:02d} does not exist in {year}-{mm:02d}")
    return date(year, mm, dd)


def _decimal_str(value: str, decimals: int) -> str:
    """Digits with an implied decimal point, as an exact decimal string."""
    n = int(value)
    if decimals == 0:
        return str(n)
    q = Decimal(n).scaleb(-decimals)
    return f"{q:.{decimals}f}"


def _check_value(spec: AISpec, value: str) -> None:
    if not value:
        raise ParseError(f"AI ({spec.ai}) has an empty value")
    if spec.fixed and len(value) != spec.length:
        raise ParseError(f"AI ({spec.ai}) needs exactly {spec.length} characters, got {len(value)}")
    if not spec.fixed and len(value) > spec.length:
        raise ParseError(
            f"AI ({spec.ai}) value is {len(value)} characters, at most {spec.length} allowed"
            " (missing GS separator?)"
        )
    if spec.charset == "N":
        if not (value.isascii() and value.isdigit()):
            raise ParseError(f"AI ({spec.ai}) must be digits only, got {value!r}")
    else:
        bad = sorted({c for c in value if c not in CHARSET_82})
        if bad:
            raise ParseError(f"AI ({spec.ai}) has characters outside GS1 charset 82: {bad!r}")
    if spec.kind in ("gtin", "content-gtin", "sscc", "gln") and not gs1_check_ok(value):
        raise ParseError(f"AI ({spec.ai}) {value}: bad check digit")


def interpret(
    pairs: list[tuple[str, str]], form: str, symbology: str | None, ref_year: int
) -> GS1Result:
    """Validate (AI, value) pairs and derive the typed fields."""
    if not pairs:
        raise ParseError("GS1 data holds no element string")
    ais: dict[str, str] = {}
    typed: dict[str, Any] = {}
    for ai, value in pairs:
        spec = AI_TABLE.get(ai)
        if spec is None:
            raise ParseError(f"unknown or unsupported AI ({ai})")
        _check_value(spec, value)
        if ai in ais:
            if ais[ai] != value:
                raise ParseError(f"AI ({ai}) appears twice with different values")
            continue
        ais[ai] = value
        _derive(spec, value, typed, ref_year)
    if "01" in ais and "02" in ais:
        raise ParseError("AI (01) and AI (02) must not appear together")
    if sum(1 for a in ais if a.startswith("310")) > 1:
        raise ParseError("more than one net weight AI (310n)")
    return GS1Result(ais=ais, form=form, symbology=symbology, typed=typed)


def _derive(spec: AISpec, value: str, typed: dict[str, Any], ref_year: int) -> None:
    kind = spec.kind
    if kind == "gtin":
        typed["gtin"] = value
    elif kind == "content-gtin":
        typed["content_gtin"] = value
    elif kind == "sscc":
        typed["sscc"] = value
    elif kind == "batch":
        typed["batch"] = value
    elif kind == "serial":
        typed["serial"] = value
    elif kind == "date":
        typed[_DATE_FIELDS[spec.ai]] = expand_yymmdd(value, ref_year).isoformat()
    elif kind == "count":
        typed["count"] = int(value)
    elif kind == "weight-kg":
        kg = Decimal(int(value)).scaleb(-spec.decimals)
        grams = (kg * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        typed["net_weight_kg"] = _decimal_str(value, spec.decimals)
        typed["net_weight_g"] = int(grams)
        typed["net_weight_exact"] = grams == kg * 1000
    elif kind == "price":
        typed["price"] = _decimal_str(value, spec.decimals)
    elif kind == "price-iso":
        if len(value) < 4:
            raise ParseError(f"AI ({spec.ai}) needs a 3-digit currency code and an amount")
        typed["price_currency"] = value[:3]
        typed["price"] = _decimal_str(value[3:], spec.decimals)


def split_element_string(data: str) -> list[tuple[str, str]]:
    """Split concatenated element strings (GS = FNC1 separator) into (AI, value) pairs.

    A fixed-length AI takes exactly its length; a variable-length one runs to
    the next GS or the end, so a missing GS shows up as an over-long or
    malformed value.
    """
    pairs: list[tuple[str, str]] = []
    pos = 0
    while pos < len(data):
        if data[pos] == GS:
            pos += 1
            continue
        spec = lookup(data, pos)
        if spec is None:
            raise ParseError(f"no known AI at position {pos}: {data[pos:pos + 4]!r}")
        pos += len(spec.ai)
        if spec.fixed:
            value = data[pos : pos + spec.length]
            if len(value) < spec.length or GS in value:
                raise ParseError(
                    f"AI ({spec.ai}) needs {spec.length} characters, data ends or GS comes first"
                )
            pos += spec.length
            if (
                spec.ai[:2] not in PREDEFINED_LENGTH_PREFIXES
                and pos < len(data)
                and data[pos] != GS
            ):
                raise ParseError(f"AI ({spec.ai}) must be followed by a GS separator")
        else:
            end = data.find(GS, pos)
            end = len(data) if end < 0 else end
            value = data[pos:end]
            pos = end
        pairs.append((spec.ai, value))
    return pairs


def parse_element_string(text: str, ref_year: int) -> GS1Result:
    """``]C1``/``]d2``/``]Q3``/``]e0`` + element strings, or a bare GS-separated string."""
    symbology = None
    data = text
    if text[:3] in GS1_SYMBOLOGY_IDS:
        symbology, data = text[:3], text[3:]
    return interpret(split_element_string(data), "element-string", symbology, ref_year)


_BRACKET = re.compile(r"\((\d{2,4})\)")


def parse_bracketed(text: str, ref_year: int) -> GS1Result:
    """The human-readable form ``(01)09521234543213(17)261231(10)B2411``."""
    if not text.startswith("("):
        raise ParseError("bracketed GS1 must start with '(AI)'")
    marks = list(_BRACKET.finditer(text))
    if not marks or marks[0].start() != 0:
        raise ParseError("bracketed GS1 must start with '(AI)'")
    pairs = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        pairs.append((m.group(1), text[m.end() : end]))
    return interpret(pairs, "bracketed", None, ref_year)


def looks_like_digital_link(text: str) -> bool:
    """An http(s) URL whose path holds a GS1 primary key segment (e.g. ``/01/<gtin>``)."""
    if not text.lower().startswith(("http://", "https://")):
        return False
    try:
        path = urllib.parse.urlsplit(text).path
    except ValueError:
        return False
    segs = [s for s in path.split("/") if s]
    keys = set(DL_PRIMARY_KEYS) | {k for k, v in DL_SHORT_NAMES.items() if v in DL_PRIMARY_KEYS}
    return any(s in keys for s in segs[:-1])


def parse_digital_link(text: str, ref_year: int) -> GS1Result:
    """A GS1 Digital Link URI: ``https://host/[prefix/]01/<gtin>[/10/<lot>][?17=YYMMDD&...]``.

    Path segments after the primary key come in (AI, value) pairs; query
    parameters whose names are numeric AIs are data attributes; other query
    parameters (e.g. ``linkType``) are ignored. A GTIN shorter than 14 digits
    is zero-padded, as the Digital Link standard allows GTIN-8/12/13.
    """
    try:
        parts = urllib.parse.urlsplit(text)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    except ValueError as exc:
        raise ParseError(f"not a valid URI: {exc}") from None
    segs = [urllib.parse.unquote(s) for s in parts.path.split("/") if s]
    keys = [DL_SHORT_NAMES.get(s, s) for s in segs]
    start = next((i for i, k in enumerate(keys) if k in DL_PRIMARY_KEYS), None)
    if start is None:
        raise ParseError("Digital Link URI has no primary key (01, 00, 414) in its path")
    rest = segs[start:]
    if len(rest) % 2:
        raise ParseError("Digital Link path must hold AI/value pairs")
    pairs: list[tuple[str, str]] = []
    for i in range(0, len(rest), 2):
        ai = DL_SHORT_NAMES.get(rest[i], rest[i])
        value = rest[i + 1]
        if ai == "01" and value.isdigit() and len(value) in (8, 12, 13):
            value = value.zfill(14)
        pairs.append((ai, value))
    for name, value in query:
        ai = DL_SHORT_NAMES.get(name, name)
        if ai.isdigit() and ai.isascii():
            pairs.append((ai, value))
    return interpret(pairs, "digital-link", None, ref_year)
