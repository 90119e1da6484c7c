"""Typed fields of GS1 values: dates, date-times, weights, prices, countries.

``derive(ai, value, typed, ref_year)`` adds what one already-validated AI
value means to ``typed`` (the keys of ``GS1Result.as_dict()``) and checks what
a pattern cannot: that a date exists. Dates use the GS1 century rule around
the caller's reference year.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from edge.codes.errors import ParseError

DATE_FIELDS = {
    "11": "production_date", "12": "due_date", "13": "packaging_date",
    "15": "best_before", "16": "sell_by", "17": "expiry", "7006": "first_freeze_date",
}
# AIs whose value starts with YYMMDD (biip's list); the date is checked even when not typed.
DATED_AIS = frozenset({*DATE_FIELDS, "4324", "4325", "4326", "7003", "7007", "7011", "8008"})


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


def _hhmm(ai: str, value: str) -> str:
    hh, mm = int(value[:2]), int(value[2:4])
    if hh == 99 and mm == 99 and ai in ("4324", "4325"):
        return ""  # "time not given"
    if hh > 23 or mm > 59:
        raise ParseError(f"AI ({ai}) time {value!r} is not hhmm")
    return f"T{value[:2]}:{value[2:4]}"


def decimal_str(value: str, decimals: int) -> str:
    """Digits with an implied decimal point, as an exact decimal string."""
    n = int(value)
    if decimals == 0:
        return str(n)
    q = Decimal(n).scaleb(-decimals)
    return f"{q:.{decimals}f}"


def _weight(ai: str, value: str, typed: dict[str, Any]) -> None:
    decimals = int(ai[3])
    kg = Decimal(int(value)).scaleb(-decimals)
    grams = (kg * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    typed["net_weight_kg"] = decimal_str(value, decimals)
    typed["net_weight_g"] = int(grams)
    typed["net_weight_exact"] = grams == kg * 1000


_PLAIN = {"01": "gtin", "02": "content_gtin", "00": "sscc", "10": "batch", "21": "serial",
          "8200": "product_url"}


def derive(ai: str, value: str, typed: dict[str, Any], ref_year: int) -> None:
    """Add the typed meaning of one validated AI value to ``typed``."""
    if ai in DATED_AIS:
        day = expand_yymmdd(value[:6], ref_year).isoformat()
        if ai in DATE_FIELDS:
            typed[DATE_FIELDS[ai]] = day
        elif ai == "7003":
            typed["expiry_time"] = day + _hhmm(ai, value[6:10])
        elif ai == "7007":
            typed["harvest_date"] = day
            if len(value) == 12:
                typed["harvest_date_end"] = expand_yymmdd(value[6:], ref_year).isoformat()
        elif ai in ("4324", "4325", "7011") and len(value) >= 10:
            _hhmm(ai, value[6:10])
    elif ai in _PLAIN:
        typed[_PLAIN[ai]] = value
    elif ai in ("30", "37"):
        typed["count"] = int(value)
    elif ai.startswith("310"):
        _weight(ai, value, typed)
    elif ai.startswith("392"):
        typed["price"] = decimal_str(value, int(ai[3]))
    elif ai.startswith("393"):
        typed["price_currency"] = value[:3]
        typed["price"] = decimal_str(value[3:], int(ai[3]))
    elif ai == "422":
        typed["origin_country"] = value
    elif ai == "423":
        typed["initial_processing_countries"] = [value[i:i + 3] for i in range(0, len(value), 3)]


# ISO 3166-1 numeric codes (GS1 AI 422 "country of origin") of the countries food commonly
# comes from, in Chinese for the ledger; any other code is shown as the code itself.
COUNTRIES_ZH = {
    "156": "中国", "344": "中国香港", "446": "中国澳门", "158": "中国台湾", "036": "澳大利亚",
    "554": "新西兰", "840": "美国", "124": "加拿大", "076": "巴西", "032": "阿根廷",
    "152": "智利", "604": "秘鲁", "484": "墨西哥", "858": "乌拉圭", "764": "泰国", "704": "越南",
    "458": "马来西亚", "360": "印度尼西亚", "608": "菲律宾", "356": "印度", "392": "日本",
    "410": "韩国", "643": "俄罗斯", "250": "法国", "276": "德国", "528": "荷兰", "724": "西班牙",
    "208": "丹麦", "380": "意大利", "826": "英国", "372": "爱尔兰", "616": "波兰", "056": "比利时",
}


def country_zh(code: str) -> str:
    """产地 for a GS1 AI 422 value: the country's Chinese name, else ``ISO 3166 <code>``."""
    return COUNTRIES_ZH.get(code, f"ISO 3166 {code}")
