"""GS1 element strings and their bracketed human-readable form, on the ``biip`` library.

Three spellings of one thing: a list of (AI, value) pairs. Each parser turns its
spelling into that list (Digital Link: ``edge/codes/gs1_link.py``) and
:func:`interpret` checks every value and derives typed fields. The GS1 AI
table, each AI's value pattern and the GTIN/SSCC/GLN check digits come from
``biip`` (the full, maintained table); this adapter keeps the station's typed
output and its error messages, which name the AI and the reason. Pure
functions; every failure is a :class:`ParseError`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from biip import ParseConfig
from biip import ParseError as BiipError
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_element_strings import GS1ElementString

from edge.codes.errors import ParseError
from edge.codes.gs1_typed import DATED_AIS, derive, expand_yymmdd

__all__ = ["GS", "GS1_SYMBOLOGY_IDS", "GS1Result", "expand_yymmdd", "interpret",
           "needs_separator", "parse_bracketed", "parse_element_string"]

GS = "\x1d"
# AIM symbology identifiers that mean "GS1 data follows" (leading FNC1).
GS1_SYMBOLOGY_IDS = ("]C1", "]d2", "]Q3", "]e0", "]J1")

# GS1 AI encodable character set 82 (the charset of "X" values).
CHARSET_82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
# Dates are checked here (with the caller's reference year), not by biip.
BIIP_CONFIG = ParseConfig(gs1_element_strings_verify_date=False)


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


@dataclass(frozen=True)
class AISpec:
    """What the station needs of biip's entry for one AI."""

    ai: str
    format: str  # e.g. "N2+X..20"
    separator_required: bool  # variable length, or fixed but outside the predefined table
    max_len: int
    fixed: bool
    digits_only: bool
    charset_82: bool  # every non-numeric part is charset 82 ("X")


@functools.lru_cache(maxsize=1024)
def ai_spec(ai: str) -> AISpec | None:
    """biip's AI entry for exactly ``ai``, or None for an AI the GS1 table lacks."""
    if not (ai.isascii() and ai.isdigit() and 2 <= len(ai) <= 4):
        return None
    try:
        entry = GS1ApplicationIdentifier.extract(ai)
    except BiipError:
        return None
    if entry.ai != ai:
        return None
    parts = entry.format.split("+")[1:]
    max_len = sum(int(n[-1]) if (n := re.findall(r"\d+", p)) else 1 for p in parts)
    fixed = ".." not in entry.format and "[" not in entry.format
    body = "+".join(parts)
    return AISpec(ai, entry.format, entry.separator_required, max_len, fixed,
                  not re.search(r"[XYZ-]", body), not re.search(r"[YZ-]", body))


def ai_at(data: str, pos: int) -> AISpec | None:
    """The AI that starts at ``data[pos]``: AIs are prefix-free, so try 2, 3, 4 digits."""
    for n in (2, 3, 4):
        cand = data[pos:pos + n]
        if len(cand) == n and (spec := ai_spec(cand)) is not None:
            return spec
    return None


def needs_separator(ai: str) -> bool:
    """Whether a GS must follow this AI's value when another element string comes next."""
    spec = ai_spec(ai)
    return spec is None or spec.separator_required


def _check_value(spec: AISpec, value: str, ref_year: int) -> GS1ElementString:
    ai = spec.ai
    if not value:
        raise ParseError(f"AI ({ai}) has an empty value")
    if spec.fixed and len(value) != spec.max_len:
        raise ParseError(f"AI ({ai}) needs exactly {spec.max_len} characters, got {len(value)}"
                         + (" (missing GS separator?)" if len(value) > spec.max_len else ""))
    if len(value) > spec.max_len:
        raise ParseError(f"AI ({ai}) value is {len(value)} characters, at most {spec.max_len}"
                         " allowed (missing GS separator?)")
    if spec.digits_only and not (value.isascii() and value.isdigit()):
        raise ParseError(f"AI ({ai}) must be digits only, got {value!r}")
    if spec.charset_82:
        bad = sorted({c for c in value if c not in CHARSET_82})
        if bad:
            raise ParseError(f"AI ({ai}) has characters outside GS1 charset 82: {bad!r}")
    if ai in DATED_AIS:
        expand_yymmdd(value[:6], ref_year)  # names the bad month or day
    try:
        es = GS1ElementString.parse(ai + value, config=BIIP_CONFIG)
    except BiipError:
        raise ParseError(f"AI ({ai}) value {value!r} does not match its format {spec.format}"
                         ) from None
    for err in (es.gtin_error, es.sscc_error, es.gln_error):
        if err:
            why = "bad check digit" if "check digit" in err.lower() else err
            raise ParseError(f"AI ({ai}) {value}: {why}")
    return es


def interpret(
    pairs: list[tuple[str, str]], form: str, symbology: str | None, ref_year: int
) -> GS1Result:
    """Validate (AI, value) pairs and derive the typed fields."""
    if not pairs:
        raise ParseError("GS1 data holds no element string")
    ais: dict[str, str] = {}
    typed: dict[str, Any] = {}
    for ai, value in pairs:
        spec = ai_spec(ai)
        if spec is None:
            raise ParseError(f"unknown or unsupported AI ({ai})")
        _check_value(spec, value, ref_year)
        if ai in ais:
            if ais[ai] != value:
                raise ParseError(f"AI ({ai}) appears twice with different values")
            continue
        ais[ai] = value
        derive(ai, value, typed, ref_year)
    if "01" in ais and "02" in ais:
        raise ParseError("AI (01) and AI (02) must not appear together")
    if sum(1 for a in ais if a.startswith("310")) > 1:
        raise ParseError("more than one net weight AI (310n)")
    return GS1Result(ais=ais, form=form, symbology=symbology, typed=typed)


def split_element_string(data: str) -> list[tuple[str, str]]:
    """Split concatenated element strings (GS = FNC1 separator) into (AI, value) pairs.

    An AI of predefined length takes exactly its length; any other runs to the
    next GS or the end, so a missing GS shows up as an over-long value.
    """
    pairs: list[tuple[str, str]] = []
    pos = 0
    while pos < len(data):
        if data[pos] == GS:
            pos += 1
            continue
        spec = ai_at(data, pos)
        if spec is None:
            raise ParseError(f"no known AI at position {pos}: {data[pos:pos + 4]!r}")
        pos += len(spec.ai)
        if not spec.separator_required:
            value = data[pos:pos + spec.max_len]
            if len(value) < spec.max_len or GS in value:
                raise ParseError(f"AI ({spec.ai}) needs {spec.max_len} characters, "
                                 "data ends or GS comes first")
        else:
            end = data.find(GS, pos)
            value = data[pos:len(data) if end < 0 else end]
        pos += len(value)
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
    """The human-readable form ``(01)09521234543213(17)261231(10)B2411``.

    Split here rather than by biip's HRI parser, which refuses an empty value
    without naming the AI and cannot hold a ``(`` inside a value.
    """
    marks = list(_BRACKET.finditer(text))
    if not marks or marks[0].start() != 0:
        raise ParseError("bracketed GS1 must start with '(AI)'")
    pairs = []
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        pairs.append((m.group(1), text[m.end():end]))
    return interpret(pairs, "bracketed", None, ref_year)
