"""The GS1 Application Identifier table, as data.

Each entry: the AI, a short name, the value's format (``N`` digits only, ``X``
GS1 "charset 82"), its length (fixed, or a maximum for variable fields), and
the kind of typed field it feeds. Families such as 310n (net weight, n =
decimals) are expanded into one entry per AI. Lengths follow the GS1 General
Specifications' AI table; AIs whose first two digits are in the spec's list of
predefined lengths (00-04, 11-20, 31-36, 41) never need a GS separator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "sscc", "gtin", "content-gtin", "batch", "date", "serial", "count", "text",
    "weight-kg", "price", "price-iso", "number", "gln",
]


@dataclass(frozen=True)
class AISpec:
    """One Application Identifier: what its value looks like and what it means."""

    ai: str
    name: str
    charset: Literal["N", "X"]
    length: int
    fixed: bool
    kind: Kind
    decimals: int = 0  # for the 31nn-36nn and 39nn families: the AI's last digit


# (ai, name, charset, length, fixed, kind)
_BASE: tuple[tuple[str, str, Literal["N", "X"], int, bool, Kind], ...] = (
    ("00", "SSCC", "N", 18, True, "sscc"),
    ("01", "GTIN", "N", 14, True, "gtin"),
    ("02", "CONTENT", "N", 14, True, "content-gtin"),
    ("10", "BATCH/LOT", "X", 20, False, "batch"),
    ("11", "PROD DATE", "N", 6, True, "date"),
    ("12", "DUE DATE", "N", 6, True, "date"),
    ("13", "PACK DATE", "N", 6, True, "date"),
    ("15", "BEST BEFORE or BEST BY", "N", 6, True, "date"),
    ("16", "SELL BY", "N", 6, True, "date"),
    ("17", "USE BY or EXPIRY", "N", 6, True, "date"),
    ("20", "VARIANT", "N", 2, True, "number"),
    ("21", "SERIAL", "X", 20, False, "serial"),
    ("22", "CPV", "X", 20, False, "text"),
    ("240", "ADDITIONAL ID", "X", 30, False, "text"),
    ("241", "CUST. PART No.", "X", 30, False, "text"),
    ("250", "SECONDARY SERIAL", "X", 30, False, "text"),
    ("251", "REF. TO SOURCE", "X", 30, False, "text"),
    ("30", "VAR. COUNT", "N", 8, False, "count"),
    ("37", "COUNT", "N", 8, False, "count"),
    ("400", "ORDER NUMBER", "X", 30, False, "text"),
    ("401", "GINC", "X", 30, False, "text"),
    ("402", "GSIN", "N", 17, True, "number"),
    ("410", "SHIP TO LOC", "N", 13, True, "gln"),
    ("411", "BILL TO", "N", 13, True, "gln"),
    ("412", "PURCHASE FROM", "N", 13, True, "gln"),
    ("413", "SHIP FOR LOC", "N", 13, True, "gln"),
    ("414", "LOC No.", "N", 13, True, "gln"),
    ("415", "PAY TO", "N", 13, True, "gln"),
    ("416", "PROD/SERV LOC", "N", 13, True, "gln"),
    ("420", "SHIP TO POST", "X", 20, False, "text"),
    ("422", "ORIGIN", "N", 3, True, "number"),
    ("7003", "EXPIRY TIME", "N", 10, True, "number"),
    ("8008", "PROD TIME", "N", 12, False, "number"),
    ("8020", "REF No.", "X", 25, False, "text"),
    ("90", "INTERNAL", "X", 30, False, "text"),
    *((f"9{d}", "INTERNAL", "X", 90, False, "text") for d in range(1, 10)),
)

# 31nn-36nn trade measures (6 digits, n decimals). Only 310n feeds a typed field
# (net weight in kg); the others are kept as raw values in ``ais``.
_MEASURE_PREFIXES = (
    [f"31{d}" for d in range(0, 7)] + [f"32{d}" for d in range(0, 10)]
    + [f"33{d}" for d in range(0, 8)] + [f"34{d}" for d in range(0, 8)]
    + [f"35{d}" for d in range(0, 8)] + [f"36{d}" for d in range(0, 8)]
)


def _build() -> dict[str, AISpec]:
    table: dict[str, AISpec] = {}
    for ai, name, charset, length, fixed, kind in _BASE:
        table[ai] = AISpec(ai, name, charset, length, fixed, kind)
    for prefix in _MEASURE_PREFIXES:
        for n in range(6):
            mkind: Kind = "weight-kg" if prefix == "310" else "number"
            table[prefix + str(n)] = AISpec(prefix + str(n), "MEASURE", "N", 6, True, mkind, n)
    for n in range(10):
        table[f"390{n}"] = AISpec(f"390{n}", "AMOUNT", "N", 15, False, "number", n)
        table[f"391{n}"] = AISpec(f"391{n}", "AMOUNT ISO", "N", 18, False, "number", n)
        table[f"392{n}"] = AISpec(f"392{n}", "PRICE", "N", 15, False, "price", n)
        table[f"393{n}"] = AISpec(f"393{n}", "PRICE ISO", "N", 18, False, "price-iso", n)
    return table


AI_TABLE: dict[str, AISpec] = _build()

# Two-digit AI prefixes whose element strings have a predefined length (GS1 Gen
# Specs figure 7.8.5-2): no FNC1/GS is needed after them.
PREDEFINED_LENGTH_PREFIXES = frozenset(
    ["00", "01", "02", "03", "04", *(str(i) for i in range(11, 21)),
     *(str(i) for i in range(31, 37)), "41"]
)

# Primary keys that may start a GS1 Digital Link path, and the qualifiers each allows.
DL_PRIMARY_KEYS = ("01", "00", "414")
DL_SHORT_NAMES = {"gtin": "01", "sscc": "00", "lot": "10", "ser": "21", "cpv": "22", "exp": "17"}


def lookup(text: str, pos: int) -> AISpec | None:
    """The AI that starts at ``text[pos]``: AIs are prefix-free, so try 2, 3, 4 digits."""
    for n in (2, 3, 4):
        cand = text[pos : pos + n]
        if len(cand) == n and cand in AI_TABLE:
            return AI_TABLE[cand]
    return None


# GS1 AI encodable character set 82 (the charset of "X" values).
CHARSET_82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
