"""Check digits: GS1 mod-10 (GTIN, SSCC, EAN) and the in-store price check digit.

Pure functions over digit strings. The price check digit (GS1 General
Specifications, "check digit calculation for price/weight fields") uses four
weighting tables; they are kept as data so a reader can compare them with the
specification line by line.
"""

from __future__ import annotations


def gs1_check_digit(body: str) -> int:
    """The mod-10 check digit for ``body`` (all digits but the check digit).

    Weights 3,1,3,... from the right, as for GTIN-8/12/13/14, SSCC and GLN.
    """
    if not body.isdigit() or not body.isascii():
        raise ValueError("check digit body must be digits")
    total = 0
    for i, ch in enumerate(reversed(body)):
        total += int(ch) * (3 if i % 2 == 0 else 1)
    return (10 - total % 10) % 10


def gs1_check_ok(code: str) -> bool:
    """Whether the last digit of ``code`` is its GS1 mod-10 check digit."""
    if len(code) < 2 or not code.isdigit() or not code.isascii():
        return False
    return gs1_check_digit(code[:-1]) == int(code[-1])


# Weighting tables for the price check digit: digit -> result digit.
# "2-": times 2, tens digit subtracted from units; "3": units of times 3;
# "5-": times 5, tens subtracted from units.
_W2_MINUS = (0, 2, 4, 6, 8, 9, 1, 3, 5, 7)
_W3 = (0, 3, 6, 9, 2, 5, 8, 1, 4, 7)
_W5_MINUS = (0, 5, 9, 4, 8, 3, 7, 2, 6, 1)


def price_check_digit(value: str) -> int:
    """The inner check digit over a 4-digit price/weight field of a weight label.

    Weights 2-, 2-, 3, 5-; the units digit of three times the sum. (The 5-digit
    variant is not supported: config refuses a layout that would need it.)
    """
    if len(value) != 4 or not value.isdigit() or not value.isascii():
        raise ValueError("price check digit needs exactly 4 digits")
    d = [int(c) for c in value]
    total = _W2_MINUS[d[0]] + _W2_MINUS[d[1]] + _W3[d[2]] + _W5_MINUS[d[3]]
    return (total * 3) % 10
