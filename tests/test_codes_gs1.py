"""GS1 parsing: element strings, bracketed form, Digital Link, every AI we rely on."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.codes.checks import gs1_check_digit, gs1_check_ok
from edge.codes.gs1 import GS, expand_yymmdd
from edge.codes.parse import GS1Result, ParseError, parse_code

TODAY = date(2026, 11, 28)


def gs1(text: str) -> GS1Result:
    r = parse_code(text, today=TODAY)
    assert isinstance(r, GS1Result), r
    return r


@pytest.mark.parametrize("sid", ["]C1", "]d2", "]Q3", "]e0"])
def test_symbology_ids_with_gs_separators(sid: str) -> None:
    r = gs1(f"{sid}0109521234543213" f"10B2411{GS}" "17261231" "3103001250")
    assert r.symbology == sid
    assert r.ais == {"01": "09521234543213", "10": "B2411", "17": "261231", "3103": "001250"}
    d = r.as_dict()
    assert d["kind"] == "gs1"
    assert d["gtin"] == "09521234543213"
    assert d["batch"] == "B2411"
    assert d["expiry"] == "2026-12-31"
    assert d["net_weight_g"] == 1250
    assert d["net_weight_kg"] == "1.250"


def test_every_required_ai_typed() -> None:
    sscc = "00" + "106141411234567897"
    text = (
        f"]C1{sscc}"
        "0209521234543213"
        "11261101" "13261102" "15261215" "17270131"
        f"10LOT-7{GS}21SER/42{GS}3712{GS}3102012345" "39221999"
    )
    d = gs1(text).as_dict()
    assert d["sscc"] == "106141411234567897"
    assert d["content_gtin"] == "09521234543213"
    assert d["production_date"] == "2026-11-01"
    assert d["packaging_date"] == "2026-11-02"
    assert d["best_before"] == "2026-12-15"
    assert d["expiry"] == "2027-01-31"
    assert d["batch"] == "LOT-7"
    assert d["serial"] == "SER/42"
    assert d["count"] == 12
    assert d["net_weight_g"] == 123450  # 0123.45 kg
    assert d["price"] == "19.99"
    assert d["ais"]["3922"] == "1999"


@pytest.mark.parametrize(
    ("ai", "value", "grams", "kg", "exact"),
    [
        ("3100", "000012", 12000, "12", True),
        ("3101", "000125", 12500, "12.5", True),
        ("3102", "001250", 12500, "12.50", True),
        ("3103", "001250", 1250, "1.250", True),
        ("3104", "012345", 1235, "1.2345", False),
        ("3105", "123456", 1235, "1.23456", False),
    ],
)
def test_310n_decimals_to_grams(ai: str, value: str, grams: int, kg: str, exact: bool) -> None:
    d = gs1(f"(01)09521234543213({ai}){value}").as_dict()
    assert (d["net_weight_g"], d["net_weight_kg"], d["net_weight_exact"]) == (grams, kg, exact)
    assert isinstance(d["net_weight_g"], int)


@pytest.mark.parametrize(
    ("ai", "value", "price"),
    [("3920", "12", "12"), ("3922", "1250", "12.50"), ("3923", "5", "0.005")],
)
def test_392n_price(ai: str, value: str, price: str) -> None:
    assert gs1(f"(01)09521234543213({ai}){value}").as_dict()["price"] == price


def test_393n_price_with_currency() -> None:
    d = gs1("(01)09521234543213(3932)1561250").as_dict()
    assert d["price_currency"] == "156" and d["price"] == "12.50"


def test_bracketed_form() -> None:
    r = gs1("(01)09521234543213(17)261231(10)B2411")
    assert r.form == "bracketed"
    assert r.ais == {"01": "09521234543213", "17": "261231", "10": "B2411"}


def test_bare_element_string_with_gs_is_gs1() -> None:
    # pyzbar and some scanners drop the symbology id; the GS still marks GS1 data.
    r = gs1(f"0109521234543213{GS}10AB{GS}3712")
    assert r.symbology is None and r.ais["37"] == "12"


@pytest.mark.parametrize(
    ("url", "ais"),
    [
        ("https://id.gs1.org/01/09521234543213", {"01": "09521234543213"}),
        ("https://id.gs1.org/01/9521234543213/10/B2411?17=261231",
         {"01": "09521234543213", "10": "B2411", "17": "261231"}),
        ("https://example.com/shop/01/09521234543213/10/AB%2F12/21/S1?3103=001250&linkType=all",
         {"01": "09521234543213", "10": "AB/12", "21": "S1", "3103": "001250"}),
        ("https://id.gs1.org/00/106141411234567897", {"00": "106141411234567897"}),
        ("http://example.com/gtin/09521234543213/lot/L1", {"01": "09521234543213", "10": "L1"}),
    ],
)
def test_digital_link(url: str, ais: dict[str, str]) -> None:
    r = gs1(url)
    assert r.form == "digital-link" and r.ais == ais


def test_plain_url_is_not_gs1() -> None:
    assert parse_code("https://example.com/menu/today", today=TODAY).kind == "plain"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("]C10109521234543214", "bad check digit"),  # GTIN check digit wrong
        ("(00)106141411234567898", "bad check digit"),
        ("(02)09521234543210", "bad check digit"),
        ("]C1011234", "needs 14 characters"),
        ("]C199", "empty value"),
        ("]C177123", "no known AI"),
        ("]C1" + "0109521234543213" + "3712345678901", "at most 8"),  # missing GS after 37
        ("]C1" + "0109521234543213" + "10" + "A" * 21, "at most 20"),
        ("]C1" + "0109521234543213" + "17261331", "month 13"),
        ("]C1" + "0109521234543213" + "17260230", "does not exist"),
        ("]C1" + "01095212345432", "needs 14 characters"),
        ("]C1" + "0109521234543213" + "10AB\u00e9", "charset 82"),
        ("]C1" + "0109521234543213" + "3103001250" + "3102000001", "more than one net weight"),
        ("]C1" + "0109521234543213" + "02" + "09521234543213", "must not appear together"),
        ("(01)09521234543213(01)06901234567892", "twice"),
        ("(01)0952123454321X", "digits only"),
        ("(99)", "empty value"),
        ("(01)", "empty value"),
        ("(77)123", "unknown"),
        ("https://id.gs1.org/01/09521234543213/10", "AI/value pairs"),
        ("https://id.gs1.org/01/09521234543214", "bad check digit"),
        ("]C1", "no element string"),
        ("]C1" + "3922" + "1" * 16, "at most 15"),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_code(text, today=TODAY)


def test_missing_gs_is_caught_or_visible() -> None:
    """Without GS a variable field swallows the rest: either an error or a batch holding it."""
    with pytest.raises(ParseError):
        parse_code("]C10109521234543213" + "3712" + "17261231", today=TODAY)  # 37 too long
    r = gs1("]C10109521234543213" + "10B2411" + "17261231")
    assert r.ais["10"] == "B241117261231" and "17" not in r.ais


def test_date_day_00_is_last_day_of_month() -> None:
    assert expand_yymmdd("240200", 2026) == date(2024, 2, 29)
    assert expand_yymmdd("250200", 2026) == date(2025, 2, 28)
    assert expand_yymmdd("261100", 2026) == date(2026, 11, 30)


def test_date_century_window() -> None:
    assert expand_yymmdd("761231", 2026).year == 2076  # +50
    assert expand_yymmdd("770101", 2026).year == 1977  # +51 -> previous century
    assert expand_yymmdd("990101", 2051).year == 2099
    assert expand_yymmdd("010101", 2051).year == 2101  # -50 -> next century


def test_check_digits() -> None:
    assert gs1_check_digit("952123454321") == 3
    assert gs1_check_ok("09521234543213") and gs1_check_ok("5901234123457")
    assert not gs1_check_ok("5901234123458") and not gs1_check_ok("abc")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=80))
def test_arbitrary_text_only_raises_parse_error(text: str) -> None:
    with contextlib.suppress(ParseError):
        parse_code(text, today=TODAY)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["]C1", "]d2", "]Q3", "]e0", "(", "https://id.gs1.org/01/", ""]),
    st.text(alphabet="0123456789()/?=&" + GS + "ABx", max_size=60),
)
def test_gs1_like_text_only_raises_parse_error(prefix: str, body: str) -> None:
    with contextlib.suppress(ParseError):
        parse_code(prefix + body, today=TODAY)
