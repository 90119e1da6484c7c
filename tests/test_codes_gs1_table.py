"""GS1 on biip's full AI table: the AIs food labels use, every AI family, Digital Link, errors."""

from __future__ import annotations

from datetime import date

import pytest

from edge.codes.gs1 import GS, ai_spec, needs_separator
from edge.codes.gs1_link import parse_digital_link
from edge.codes.parse import GS1Result, ParseError, parse_code

TODAY = date(2026, 11, 28)
GTIN = "0109521234543213"


def gs1(text: str) -> GS1Result:
    r = parse_code(text, today=TODAY)
    assert isinstance(r, GS1Result), r
    return r


def test_food_label_ais_the_old_table_refused() -> None:
    text = (f"]C1{GTIN}10B2411{GS}4221 56{GS}423156276{GS}70032612311430{GS}7007261120261125{GS}"
            f"8005000450{GS}4308+86-571-8888{GS}8200https://example.com/p/1").replace(" ", "")
    r = gs1(text)
    assert r.ais == {"01": "09521234543213", "10": "B2411", "422": "156", "423": "156276",
                     "7003": "2612311430", "7007": "261120261125", "8005": "000450",
                     "4308": "+86-571-8888", "8200": "https://example.com/p/1"}
    d = r.as_dict()
    assert d["origin_country"] == "156"
    assert d["initial_processing_countries"] == ["156", "276"]
    assert d["expiry_time"] == "2026-12-31T14:30"
    assert (d["harvest_date"], d["harvest_date_end"]) == ("2026-11-20", "2026-11-25")
    assert d["product_url"] == "https://example.com/p/1" and d["batch"] == "B2411"


@pytest.mark.parametrize(("ai", "value", "key", "expected"), [
    ("11", "261101", "production_date", "2026-11-01"),
    ("12", "261215", "due_date", "2026-12-15"),
    ("13", "261102", "packaging_date", "2026-11-02"),
    ("15", "270100", "best_before", "2027-01-31"),
    ("16", "261130", "sell_by", "2026-11-30"),
    ("17", "240229", "expiry", "2024-02-29"),
    ("7006", "261010", "first_freeze_date", "2026-10-10"),
    ("7007", "261120", "harvest_date", "2026-11-20"),
    ("7003", "2612319999"[:6] + "0800", "expiry_time", "2026-12-31T08:00"),
])
def test_date_family(ai: str, value: str, key: str, expected: str) -> None:
    assert gs1(f"(01)09521234543213({ai}){value}").as_dict()[key] == expected


@pytest.mark.parametrize(("ai", "value"), [
    ("3103", "001250"), ("3202", "012345"), ("3301", "000125"), ("3512", "001000"),
    ("3612", "000250"), ("3922", "1250"), ("3932", "9781250"), ("8005", "000450"),
])
def test_measures_and_amounts_with_decimals(ai: str, value: str) -> None:
    assert gs1(f"(01)09521234543213({ai}){value}").ais[ai] == value


def test_other_measures_are_kept_raw_and_only_310n_is_net_weight() -> None:
    d = gs1("(01)09521234543213(3301)000125").as_dict()
    assert d["ais"]["3301"] == "000125" and "net_weight_g" not in d
    assert gs1("(01)09521234543213(3932)9781250").as_dict()["price_currency"] == "978"


@pytest.mark.parametrize(("ai", "at_max"), [("10", "A" * 20), ("21", "S" * 20),
                                            ("8200", "h" * 70), ("4308", "1" * 30),
                                            ("30", "9" * 8), ("423", "156" * 5)])
def test_variable_length_at_max_and_over(ai: str, at_max: str) -> None:
    assert gs1(f"]C1{GTIN}{ai}{at_max}").ais[ai] == at_max
    over = at_max + at_max[-1] if ai != "423" else at_max + "156"
    with pytest.raises(ParseError, match=rf"AI \({ai}\) value is {len(over)} characters, "
                                         rf"at most {len(at_max)} allowed"):
        parse_code(f"]C1{GTIN}{ai}{over}", today=TODAY)


def test_gs_separators() -> None:
    # A GS after a predefined-length AI is allowed; a variable one ends at GS or at the end.
    assert gs1(f"]C1{GTIN}{GS}17261231{GS}10L1").ais == {
        "01": "09521234543213", "17": "261231", "10": "L1"}
    assert gs1(f"]C1{GS}{GTIN}10L1{GS}{GS}21S1").ais["21"] == "S1"
    # Fixed length but outside the predefined table (422, 7003): a GS must follow.
    with pytest.raises(ParseError, match=r"AI \(422\) needs exactly 3 characters, got 11 "
                                         r"\(missing GS separator\?\)"):
        parse_code(f"]C1{GTIN}42215617261231", today=TODAY)
    assert gs1(f"]C1{GTIN}422156{GS}17261231").ais["17"] == "261231"
    assert needs_separator("10") and needs_separator("422") and not needs_separator("17")


@pytest.mark.parametrize(("url", "ais"), [
    ("https://example.com/01/09521234543213/10/AB%2F12%21X?17=261231&3103=001250&linkType=all",
     {"01": "09521234543213", "10": "AB/12!X", "17": "261231", "3103": "001250"}),
    ("https://id.gs1.org/01/09521234543213/21/S%25-1", {"01": "09521234543213", "21": "S%-1"}),
    ("https://d.example.cn/shop/gtin/9521234543213/lot/L%2B7?exp=270131",
     {"01": "09521234543213", "10": "L+7", "17": "270131"}),
    ("https://id.gs1.org/01/09521234543213?7003=2612311430&422=156",
     {"01": "09521234543213", "7003": "2612311430", "422": "156"}),
    ("https://id.gs1.org/414/6901234567892", {"414": "6901234567892"}),
])
def test_digital_link(url: str, ais: dict[str, str]) -> None:
    r = gs1(url)
    assert r.form == "digital-link" and r.ais == ais


@pytest.mark.parametrize(("text", "message"), [
    ("(01)09521234543213(4222)1", r"unknown or unsupported AI \(4222\)"),
    ("]C1" + GTIN + "77123", "no known AI at position 16"),
    ("(01)09521234543213(10)", r"AI \(10\) has an empty value"),
    ("(01)0952123454321", r"AI \(01\) needs exactly 14 characters, got 13"),
    ("(422)1566", r"AI \(422\) needs exactly 3 characters, got 4"),
    ("(01)09521234543213(17)26123A", "digits only"),
    ("(01)09521234543213(10)L\u00e97", "charset 82"),
    ("(01)09521234543213(423)1561", r"AI \(423\) value '1561' does not match its format"),
    ("(01)09521234543213(8008)26123125", r"AI \(8008\) value '26123125' does not match"),
    ("(414)6901234567891", r"AI \(414\) 6901234567891: bad check digit"),
    ("(00)106141411234567898", r"AI \(00\) 106141411234567898: bad check digit"),
    ("(01)09521234543213(7003)2612312460", r"AI \(7003\) time '2460' is not hhmm"),
    ("(01)09521234543213(7007)261120261331", "month 13"),
    ("(01)09521234543213(17)260230", "day 30 does not exist"),
    ("(01)09521234543213(10)A(10)B", "twice with different values"),
    ("(01)09521234543213(02)09521234543213", "must not appear together"),
    ("(01)09521234543213(3103)001250(3102)000125", "more than one net weight"),
    ("]C1", "holds no element string"),
    ("]C1" + GTIN[:10], "needs 14 characters, data ends"),
    ("https://id.gs1.org/01/09521234543213/10", "AI/value pairs"),
    ("https://id.gs1.org/01/09521234543214", "bad check digit"),
    ("https://id.gs1.org/01/09521234543213?17=261331", "month 13"),
    ("https://id.gs1.org/01/0952123454321X", "digits only"),
    ("https://id.gs1.org/01/09521234543213/21/S1/10/L1", "Digital Link: Expected one of"),
    ("https://id.gs1.org/01/09521234543213/99/x", "Digital Link: Expected one of"),
])
def test_every_error_names_the_reason(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_code(text, today=TODAY)


def test_digital_link_errors_outside_parse_code() -> None:
    with pytest.raises(ParseError, match="not a valid URI"):
        parse_digital_link("https://[::1/01/09521234543213", 2026)
    with pytest.raises(ParseError, match="no primary key"):
        parse_digital_link("https://example.com/menu/today", 2026)


def test_ai_table_comes_from_biip() -> None:
    spec = ai_spec("7007")
    assert spec is not None and spec.max_len == 12 and not spec.fixed and spec.digits_only
    assert ai_spec("4222") is None and ai_spec("1") is None and ai_spec("01x") is None
    assert len([ai for ai in (f"{n:02d}" for n in range(100)) if ai_spec(ai)]) > 20
