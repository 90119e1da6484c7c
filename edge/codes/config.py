"""Config of code parsing: weight-label layout, staff badge pattern, trace codes, repeat window.

Declared next to the parsers that use it; ``StationConfig.codes`` holds it.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from core import saferegex
from core.config import Section


class WeightLabelSection(Section):
    enabled: bool = Field(
        default=True, description="Parse EAN-13 codes with a configured prefix as weight labels."
    )
    prefixes: list[str] = Field(
        default_factory=lambda: ["2"],
        description="Leading digits that mark an in-store label, e.g. [\"2\"] or [\"21\"].",
    )
    layout: str = Field(
        default="FFIIIIIVVVVVC",
        description=(
            "13 characters, one per EAN digit: F flag, I item code, V value, "
            "K inner price check digit (only over 4 V digits), C the EAN check digit (last)."
        ),
    )
    value: Literal["weight_g", "price_fen"] = Field(
        default="weight_g", description="What the V digits hold: weight in grams or price in fen."
    )

    @field_validator("prefixes")
    @classmethod
    def _digits(cls, v: list[str]) -> list[str]:
        for p in v:
            if not (p.isascii() and p.isdigit()) or not 1 <= len(p) <= 3:
                raise ValueError(f"prefix {p!r} must be 1-3 digits")
        return v

    @field_validator("layout")
    @classmethod
    def _layout(cls, v: str) -> str:
        if len(v) != 13 or set(v) - set("FIVKC"):
            raise ValueError("layout must be 13 characters of F, I, V, K, C")
        if v.count("C") != 1 or not v.endswith("C"):
            raise ValueError("layout must end with the single EAN check digit C")
        if re.fullmatch(r"[^V]*V+[^V]*", v) is None:
            raise ValueError("layout needs one contiguous run of V digits")
        if v.count("K") > 1 or ("K" in v and v.count("V") != 4):
            raise ValueError("an inner check digit K is supported only over exactly 4 V digits")
        return v


def compile_safe(pattern: str) -> object:
    """``pattern`` compiled by RE2 (linear time: no catastrophic backtracking), or ValueError
    (``core.saferegex``: what RE2 cannot compile, or the nested shape like ``(a+)+``)."""
    why = saferegex.problem(pattern)
    if why is not None:
        raise ValueError(f"pattern {pattern[:80]!r}: {why}")
    return saferegex.compile(pattern)


class TraceSchemeSection(Section):
    scheme: str = Field(
        pattern=r"^[a-z][a-z0-9-]{1,31}$",
        description="Id of the scheme in parsed results, e.g. zheshilian.",
    )
    label: str = Field(default="", description="What staff see, e.g. 浙食链 or 承诺达标合格证.")
    pattern: str = Field(
        description=(
            "RE2 regex the whole URL must match; the group named 'code' is the trace code. "
            "Back-references and look-around are refused (linear-time matching)."
        ),
    )

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, v: str) -> str:
        compiled = compile_safe(v)
        if "code" not in getattr(compiled, "groupindex", {}):
            raise ValueError("pattern needs a group named 'code': (?P<code>...)")
        return v


def _default_trace() -> list[TraceSchemeSection]:
    # Shapes of the URL QR codes; hosts to be confirmed against real labels (docs/vision.md).
    return [
        TraceSchemeSection(
            scheme="zheshilian", label="浙食链",
            pattern=r"https?://([a-z0-9-]+\.)*zj\.gov\.cn/[^?]*\?([^#]*&)?"
                    r"(code|traceCode|tc)=(?P<code>[0-9A-Za-z-]{6,64})([&#].*)?",
        ),
        TraceSchemeSection(
            scheme="hegezheng", label="承诺达标合格证",
            pattern=r"https?://([a-z0-9-]+\.)*(moa\.gov\.cn|agri\.cn)/[^?]*\?([^#]*&)?"
                    r"(code|certNo|id)=(?P<code>[0-9A-Za-z-]{6,64})([&#].*)?",
        ),
    ]


class CodesSection(Section):
    weight_label: WeightLabelSection = Field(
        default_factory=WeightLabelSection, description="In-store EAN-13 weight/price labels."
    )
    badge_pattern: str | None = Field(
        default=r"^STAFF-(?P<id>[0-9A-Z]{4,16})$",
        description=(
            "Regex a staff badge code fully matches; a group named 'id' gives the staff id. "
            "Empty or unset disables badges."
        ),
    )
    trace: list[TraceSchemeSection] = Field(
        default_factory=_default_trace,
        description="URL QR codes of traceability schemes (浙食链, 承诺达标合格证, ...): parsed as "
                    "kind 'trace', stored with the line, never used to identify it.",
    )
    repeat_window_s: float = Field(
        default=3.0,
        ge=0,
        description="The same code read again within this many seconds counts once.",
    )

    @field_validator("badge_pattern")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v:
            compile_safe(v)
        return v or None
