"""Weight labels, delivery notes, badges, plain codes and the kind decision."""

from __future__ import annotations

import contextlib
import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.codes.checks import gs1_check_digit, price_check_digit
from edge.codes.config import CodesSection, WeightLabelSection
from edge.codes.parse import Badge, DeliveryNote, ParseError, PlainCode, WeightLabel, parse_code

NOTE = {
    "dn": "DN-20261128-7",
    "order_id": "PO-20261128-0012",
    "supplier_id": "sup-0031",
    "lines": [{
        "line_id": "1", "qty": "30", "unit": "jin", "unit_price_fen": 350, "batch": "B2411",
        "production_date": "2026-11-27", "expiry_date": "2026-12-02",
    }],
}


def ean(body12: str) -> str:
    return body12 + str(gs1_check_digit(body12))


def adn(obj: object) -> str:
    return "ADN1:" + json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def test_weight_label_default_layout() -> None:
    code = ean("201234501250")  # F F I I I I I V V V V V
    r = parse_code(code)
    assert isinstance(r, WeightLabel)
    assert r.as_dict() == {"kind": "weight-label", "code": code, "item": "12345", "weight_g": 1250}


def test_weight_label_bad_ean_check_digit() -> None:
    code = ean("201234501250")
    bad = code[:-1] + str((int(code[-1]) + 1) % 10)
    with pytest.raises(ParseError, match="bad EAN-13 check digit"):
        parse_code(bad)


def test_weight_label_price_layout_with_inner_check() -> None:
    cfg = CodesSection(weight_label=WeightLabelSection(
        prefixes=["22"], layout="FFIIIIIKVVVVC", value="price_fen"))
    value = "1999"
    code = ean("2200042" + str(price_check_digit(value)) + value)
    r = parse_code(code, cfg)
    assert isinstance(r, WeightLabel) and r.price_fen == 1999 and r.item == "00042"
    wrong_k = str((price_check_digit(value) + 1) % 10)
    with pytest.raises(ParseError, match="inner check digit"):
        parse_code(ean("2200042" + wrong_k + value), cfg)
    # another prefix is not a weight label under this config
    assert parse_code(ean("210004201999"), cfg).kind == "plain"


def test_price_check_digit_known_values() -> None:
    # 2-, 2-, 3, 5- weights: 1,2,3,4 -> 2+4+9+8 = 23; 23*3 = 69 -> 9
    assert price_check_digit("1234") == 9
    assert price_check_digit("0000") == 0


@pytest.mark.parametrize(
    "layout", ["FFIIIIIVVVVV", "FFIIIIIVVVVCC", "FFIIVVIIVVVVC", "FFIIIIKVVVVVC", "CFIIIIIVVVVVF"]
)
def test_bad_layouts_refused(layout: str) -> None:
    with pytest.raises(ValueError):
        WeightLabelSection(layout=layout)


def test_weight_labels_disabled() -> None:
    cfg = CodesSection(weight_label=WeightLabelSection(enabled=False))
    r = parse_code(ean("201234501250"), cfg)
    assert isinstance(r, PlainCode) and r.gtin is not None


def test_delivery_note_valid() -> None:
    r = parse_code(adn(NOTE))
    assert isinstance(r, DeliveryNote)
    assert r.as_dict() == {"kind": "delivery-note", "note": NOTE}


def _with(**line: object) -> dict[str, object]:
    return {**NOTE, "lines": [{**NOTE["lines"][0], **line}]}  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ADN1:", "not valid JSON"),
        ("ADN1:{", "not valid JSON"),
        ("ADN1:[]", "is not of type 'object'"),
        (adn({k: v for k, v in NOTE.items() if k != "order_id"}), "'order_id' is a required"),
        (adn({**NOTE, "extra": 1}), "Additional properties"),
        (adn({**NOTE, "lines": []}), "lines"),
        (adn(_with(qty=30)), "lines/0/qty"),
        (adn(_with(qty="3.5.1")), "lines/0/qty"),
        (adn(_with(unit="ton")), "lines/0/unit"),
        (adn(_with(unit_price_fen=3.5)), "lines/0/unit_price_fen"),
        (adn(_with(expiry_date="2026-02-30")), "not a real date"),
        (adn(_with(expiry_date="2026-11-01")), "expiry_date before production_date"),
        (adn({**NOTE, "supplier_id": "S"}), "supplier_id"),
        (adn({**NOTE, "lines": [NOTE["lines"][0], NOTE["lines"][0]]}), "repeated"),
        ("ADN1:" + "x" * 5000, "larger than"),
        ("ADN1:{\"dn\": NaN}", "not valid JSON"),
    ],
)
def test_delivery_note_invalid(text: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_code(text)


def test_badge_by_pattern() -> None:
    r = parse_code("STAFF-A1234")
    assert isinstance(r, Badge) and r.staff_id == "A1234"
    cfg = CodesSection(badge_pattern=r"^E\d{6}$")
    r2 = parse_code("E000123", cfg)
    assert isinstance(r2, Badge) and r2.staff_id == "E000123"
    assert parse_code("STAFF-A1234", CodesSection(badge_pattern=None)).kind == "plain"


def test_bad_badge_regex_refused_by_config() -> None:
    with pytest.raises(ValueError, match="not a valid RE2 regex"):
        CodesSection(badge_pattern="(")


def test_plain_codes() -> None:
    r = parse_code("6901234567892")
    assert isinstance(r, PlainCode) and r.gtin == "06901234567892"
    assert parse_code("6901234567893").as_dict() == {"kind": "plain", "text": "6901234567893"}
    r2 = parse_code("]E06901234567892\r\n")
    assert isinstance(r2, PlainCode) and r2.symbology == "]E0" and r2.gtin == "06901234567892"
    assert parse_code("SUP-0031-PALLET-77").kind == "plain"


@pytest.mark.parametrize("text", ["", "   ", "\r\n", "]E0", "x" * 9000])
def test_empty_or_oversized(text: str) -> None:
    with pytest.raises(ParseError):
        parse_code(text)


@settings(max_examples=300, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4)
    ),
    max_leaves=20,
))
def test_any_json_note_only_raises_parse_error(obj: object) -> None:
    with contextlib.suppress(ParseError):
        parse_code(adn(obj))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=13, max_size=13))
def test_any_13_digits_only_raises_parse_error(code: str) -> None:
    try:
        r = parse_code(code, today=date(2026, 11, 28))
    except ParseError:
        assert code.startswith("2")
        return
    assert r.kind in ("weight-label", "plain")
