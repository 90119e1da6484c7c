"""In-store EAN-13 weight/price labels (prefix 2), laid out by configuration.

The shop's scale decides the layout (flag, item digits, value digits, an inner
price check digit or not), so the layout is a 13-character pattern from config.
The EAN check digit is always verified; the inner one when the layout has it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.codes.checks import gs1_check_ok, price_check_digit
from edge.codes.config import WeightLabelSection
from edge.codes.errors import ParseError


@dataclass(frozen=True)
class WeightLabel:
    """A parsed weight label: the item code and the weight (g) or price (fen) it carries."""

    code: str
    item: str
    weight_g: int | None
    price_fen: int | None
    kind: str = "weight-label"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "code": self.code, "item": self.item}
        if self.weight_g is not None:
            out["weight_g"] = self.weight_g
        if self.price_fen is not None:
            out["price_fen"] = self.price_fen
        return out


def is_weight_label(text: str, cfg: WeightLabelSection) -> bool:
    """Whether ``text`` is a 13-digit code starting with a configured in-store prefix."""
    return (
        cfg.enabled
        and len(text) == 13
        and text.isascii()
        and text.isdigit()
        and any(text.startswith(p) for p in cfg.prefixes)
    )


def _take(text: str, layout: str, ch: str) -> str:
    return "".join(d for d, c in zip(text, layout, strict=True) if c == ch)


def parse_weight_label(text: str, cfg: WeightLabelSection) -> WeightLabel:
    """Split an in-store EAN-13 per the layout, verifying its check digit(s)."""
    if not (len(text) == 13 and text.isascii() and text.isdigit()):
        raise ParseError("a weight label is exactly 13 digits")
    if not gs1_check_ok(text):
        raise ParseError(f"weight label {text}: bad EAN-13 check digit")
    value = _take(text, cfg.layout, "V")
    inner = _take(text, cfg.layout, "K")
    if inner and price_check_digit(value) != int(inner):
        raise ParseError(f"weight label {text}: bad inner check digit over value {value}")
    item = _take(text, cfg.layout, "I")
    n = int(value)
    if cfg.value == "weight_g":
        return WeightLabel(code=text, item=item, weight_g=n, price_fen=None)
    return WeightLabel(code=text, item=item, weight_g=None, price_fen=n)
