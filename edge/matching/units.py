"""Exact unit conversion: grams from g, kg, 斤 (jin = 500 g) and weighed pieces.

Everything is Decimal; a conversion that would need a float is a bug. ``fmt``
prints a Decimal the way a person writes it (31.8, not 31.800 or 3.18E+1).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from contract.quantity import GRAMS_PER, PIECE_UNITS, UNIT_ZH, fmt

__all__ = ["GRAMS_PER", "PIECE_UNITS", "UNIT_ZH", "fmt"]


def is_weight_unit(unit: str) -> bool:
    return unit in GRAMS_PER


def to_grams(value: Decimal, unit: str, piece_g: int | None = None) -> Decimal | None:
    """Grams in ``value`` of ``unit``; None for pieces without a nominal piece weight."""
    if unit in GRAMS_PER:
        return value * GRAMS_PER[unit]
    if unit in PIECE_UNITS and piece_g is not None:
        return value * piece_g
    if unit in PIECE_UNITS:
        return None
    raise ValueError(f"unknown unit {unit!r}")


def grams_in(grams: Decimal | int, unit: str, piece_g: int | None = None) -> Decimal | None:
    """``grams`` expressed in ``unit`` (exact; None when pieces have no weight)."""
    g = Decimal(grams)
    if unit in GRAMS_PER:
        return g / GRAMS_PER[unit]
    if unit in PIECE_UNITS and piece_g:
        return g / piece_g
    return None


def fen_to_yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}" if fen >= 0 else "-" + fen_to_yuan(-fen)


def round_fen(value: Decimal) -> int:
    """Money is rounded half up to whole fen, once, at the end."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
